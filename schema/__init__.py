"""The GraphQL schema: Strawberry types, inputs and the root Query / Mutation."""

from .root import build_schema

__all__ = ["build_schema"]
