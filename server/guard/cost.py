"""A query's cost, estimated from the document before anything runs (Strawberry has no such analysis).

Every field costs 1. A field taking `first` multiplies what is under it by `first` (the
default page size when absent, the maximum page size at most); any other list field by
`list_factor` (a connection's `edges` is its page, already counted by `first`). Fragments count where they are spread. `createContexts(inputs:)` counts its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from contextql.schema.memo import MISSING, NodeMemo


@dataclass(frozen=True)
class CostModel:
    default_first: int = 20
    max_first: int = 100
    list_factor: int = 10


def estimate(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
    variables: Mapping[str, Any] | None, model: CostModel,
) -> int:
    return estimate_once(schema, document, operation_name, variables, model)[0]


def estimate_once(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
    variables: Mapping[str, Any] | None, model: CostModel,
) -> tuple[int, bool]:
    """The cost, and whether it holds for any variables (no variable sets a `first` or an `inputs` count)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1:
        return 0, True  # graphql-core reports the missing or ambiguous operation
    operation = operations[0]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walker = _Walker(schema, fragments, variables or {}, model)
    cost = walker.cost(operation.selection_set, schema.get_root_type(operation.operation), frozenset())
    return cost, not walker.read_variables


class CostMemo:
    """Costs of documents that hold for any variables, per document (by identity: the schema's parse cache hands
    every request of one text the same document) and operation name. Walking the document again for every
    request of the same text cost about 2 % of a point read's CPU. Bounded like the parse cache."""

    def __init__(self, model: CostModel, size: int = 512) -> None:
        self.model = model
        self._known = NodeMemo(size)

    def cost(self, schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
             variables: Mapping[str, Any] | None) -> int:
        known = self._known.get((document,), operation_name)
        if known is not MISSING:
            return int(known)
        cost, constant = estimate_once(schema, document, operation_name, variables, self.model)
        if constant:
            self._known.put((document,), cost, operation_name)
        return cost


class _Walker:
    def __init__(self, schema, fragments, variables, model) -> None:
        self.schema, self.fragments, self.variables, self.model = schema, fragments, variables, model
        self.read_variables = False

    def cost(self, selections: SelectionSetNode | None, parent: Any, spread: frozenset[str]) -> int:
        if selections is None:
            return 0
        total = 0
        for node in selections.selections:
            if isinstance(node, FieldNode):
                definition = getattr(parent, "fields", {}).get(node.name.value) if parent is not None else None
                child_type = get_named_type(definition.type) if definition is not None else None
                total += 1 + self.multiplier(node, definition) * self.cost(node.selection_set, child_type, spread)
            elif isinstance(node, InlineFragmentNode):
                condition = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                total += self.cost(node.selection_set, condition, spread)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:  # unknown or cyclic: validation reports it
                    continue
                total += self.cost(
                    fragment.selection_set, self.schema.get_type(fragment.type_condition.name.value), spread | {name}
                )
        return total

    def multiplier(self, node: FieldNode, definition: Any) -> int:
        if definition is None:
            return 1
        arguments = {a.name.value: a.value for a in node.arguments or ()}
        if "first" in definition.args:
            value = self.value(arguments.get("first"))
            size = self.model.default_first if not isinstance(value, int) or isinstance(value, bool) else value
            return max(1, min(size, self.model.max_first))
        if "inputs" in arguments:  # bulk mutations: one unit of work per input
            value = self.value(arguments["inputs"])
            if isinstance(value, list):
                return max(1, len(value))
        if node.name.value in ("edges", "nodes"):  # a connection's page: `first` above already counted it
            return 1
        field_type = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        return self.model.list_factor if isinstance(field_type, GraphQLList) else 1

    def value(self, node: Any) -> Any:
        if isinstance(node, VariableNode):
            self.read_variables = True
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            try:
                return int(node.value)
            except ValueError:
                return None
        if isinstance(node, ListValueNode):
            return list(node.values)
        return None
