"""The steps every operation goes through, as one Strawberry extension instead of one extension per step.

Strawberry builds each extension per operation and wraps each of its hooks in a context manager per
operation (lookup, `contextlib` wrapper, exit stack): with eight extensions that cost more than the rest of a
`{ __typename }` operation (bench/results/profile-2026-12-02-reqpath.md). Here the steps are plain
functions, run in a fixed order at these points:

- operation start: the shape rules join the validation rules; the token limit becomes a parse option;
- parse: the document from an LRU cache keyed by text and parse options (so the token limit is in the key);
  a document that does not parse is left to Strawberry's own parse step, which reports the syntax error;
- validation: the validation result from an LRU cache (a document whose fragments nest too deeply, expand
  too far or spread in a cycle is refused before the rules: schema/spreads.py); then, for a valid document
  only, the choice of its operation (several and no `operationName`: refused), the subscription access check
  (schema/guard.py) and the caller's `after_validation` steps (cost and rate limits: server/guard/), each
  skipped once an earlier one refused the operation;
- operation end: the caller's `finished` steps get the operation's duration (metrics), then every
  error is rewritten into its client form (schema/errors.py), last, so that nothing after it adds a raw one.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, OperationDefinitionNode, parse
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.schema import validate_document
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType

from .errors import classify
from .guard import check_subscription
from .spreads import refusal

# A step after validation: may set `pre_execution_errors` to refuse the operation (sync or async).
ValidatedStep = Callable[[ExecutionContext], Awaitable[None] | None]
# A step once the operation has ended (normally or not): gets its duration in seconds.
FinishedStep = Callable[[ExecutionContext, float], None]

CACHE_SIZE = 256


class Prepared:
    """One document text, parsed, and its validation errors once known (the schema and rules are the pipeline's)."""

    __slots__ = ("document", "errors")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.errors: list[GraphQLError] | None = None


# graphql-core's words: GraphQL's GetOperation asks for the name when a document holds several operations.
NAME_REQUIRED = "Must provide operation name if query contains multiple operations."


def unnamed_choice(ec: ExecutionContext) -> list[GraphQLError]:
    """A refusal when the document holds several operations and the request names none. Strawberry would run the
    first one: its `operation_name` falls back to the first operation's name (strawberry/types/execution.py)."""
    if ec._provided_operation_name is not None or ec.graphql_document is None:
        return []
    operations = sum(isinstance(d, OperationDefinitionNode) for d in ec.graphql_document.definitions)
    return [GraphQLError(NAME_REQUIRED, extensions={"code": "BAD_REQUEST"})] if operations > 1 else []


# graphql-core stops validating when a document costs more than its work budget (comparing fields that share a
# response name, spreading shared fragments), and says only "Validation aborted.": e.g. 2,400 `__typename`s.
VALIDATION_BUDGET = ("The GraphQL document is too costly to validate: it selects the same fields or fragments too "
                     "many times. Select each field once per selection set, or split the operation.")


def _explained(error: GraphQLError) -> GraphQLError:
    if isinstance(error, ValidationAbortedError) and error.message == "Validation aborted.":
        return GraphQLError(VALIDATION_BUDGET)
    return error


def _prepare(query: str, **options: Any) -> Prepared:
    return Prepared(parse(query, **options))


@dataclass(frozen=True)
class Steps:
    validation_rules: tuple[type[ASTValidationRule], ...]
    max_tokens: int
    max_spread_depth: int
    after_validation: tuple[ValidatedStep, ...] = ()
    finished: tuple[FinishedStep, ...] = ()
    # Keyed by the text and parse options (the token limit): what Strawberry's ParserCache and ValidationCache
    # do, except that the validation result is found by the text too. ValidationCache keys on the document,
    # whose hash walks every node of it on every request (17 us for the point read, 72 us for the children
    # page); a text's hash is one pass over a string. Bounded, so unique documents cannot grow memory.
    prepared: Callable[..., Prepared] = field(
        default_factory=lambda: functools.lru_cache(maxsize=CACHE_SIZE)(_prepare), compare=False)


class OperationPipeline(SchemaExtension):
    """Built per operation by Strawberry (from `pipeline_factory`), so its state is the operation's own.

    The steps are the methods `begin`, `parse`, `validate`, `end`, `stream_result`. Alone on a schema, they are
    called by `PipelineRunner`; beside other extensions (the traced operation), from Strawberry's hooks below.
    """

    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self.document: Prepared | None = None
        self.rules: tuple[type[ASTValidationRule], ...] = ()
        self.start = 0.0

    def begin(self) -> None:
        ec = self.execution_context
        steps = self.steps
        ec.validation_rules = self.rules = ec.validation_rules + steps.validation_rules
        ec.parse_options["max_tokens"] = steps.max_tokens
        self.start = perf_counter()

    def end(self, *, failed: bool) -> None:
        """Metrics whatever happened; the errors' client form when the operation came to an answer."""
        ec = self.execution_context
        seconds = perf_counter() - self.start
        for finished in self.steps.finished:
            finished(ec, seconds)
        if failed:
            return  # Strawberry answers what escaped with an error of its own; the HTTP view classifies it
        result = ec.result
        if result and result.errors:
            result.errors = [classify(e) for e in result.errors]
        elif ec.pre_execution_errors:
            ec.pre_execution_errors = [classify(e) for e in ec.pre_execution_errors]

    def parse(self) -> None:
        ec = self.execution_context
        with contextlib.suppress(GraphQLError):
            self.document = self.steps.prepared(ec.query, **ec.parse_options)
            ec.graphql_document = self.document.document

    async def validate(self) -> None:
        ec = self.execution_context
        ec.pre_execution_errors = self._validated(ec) or unnamed_choice(ec)
        if not ec.pre_execution_errors and ec.operation_type == OperationType.SUBSCRIPTION:
            await check_subscription(ec)
        for step in self.steps.after_validation:
            if ec.pre_execution_errors:
                break
            done = step(ec)
            if inspect.isawaitable(done):
                await done

    def _validated(self, ec: ExecutionContext) -> list[GraphQLError]:
        prepared = self.document
        document = ec.graphql_document
        assert document is not None  # Strawberry validates parsed documents only
        if prepared is None or prepared.document is not document or ec.validation_rules is not self.rules:
            # Another extension changed the document or the rules: not what the cache holds.
            return self._validate(ec, document)
        if prepared.errors is None:
            prepared.errors = self._validate(ec, document)
        return list(prepared.errors)  # the operation's own list: a step may change it, the cache must not

    def _validate(self, ec: ExecutionContext, document: DocumentNode) -> list[GraphQLError]:
        # Before the rules, which walk fragments recursively and expanded (schema/spreads.py).
        refused = refusal(document, self.steps.max_spread_depth, self.steps.max_tokens)
        if refused is not None:
            return [refused]
        return [_explained(error) for error in validate_document(ec.schema._schema, document, ec.validation_rules)]

    @staticmethod
    def stream_result(result: Any) -> None:
        """Each result of a subscription (or other stream), before it is sent."""
        if getattr(result, "errors", None):
            result.errors = [classify(e) for e in result.errors]

    # Strawberry's hooks, when other extensions run beside the pipeline.

    def on_operation(self) -> Iterator[None]:
        self.begin()
        try:
            yield
        except BaseException:
            self.end(failed=True)
            raise
        self.end(failed=False)

    def on_parse(self) -> Iterator[None]:
        self.parse()
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        await self.validate()
        yield

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self.stream_result(result)
        yield


class _Stage:
    """One stage of an operation for `PipelineRunner`: what Strawberry's per-hook context managers do, for one
    extension whose steps are known, without looking hooks up and wrapping them per operation."""

    __slots__ = ("enter", "leave")

    def __init__(self, enter: Callable[[], Any] | None = None, leave: Callable[..., None] | None = None) -> None:
        self.enter, self.leave = enter, leave

    def __enter__(self) -> None:
        if self.enter is not None and inspect.isawaitable(done := self.enter()):
            done.close()  # type: ignore[attr-defined]
            raise RuntimeError("This step of the operation pipeline cannot run synchronously.")

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        if self.leave is not None:
            self.leave(failed=kind is not None)

    async def __aenter__(self) -> None:
        if self.enter is not None and inspect.isawaitable(done := self.enter()):
            await done

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        if self.leave is not None:
            self.leave(failed=kind is not None)


_NOTHING = _Stage()


class PipelineRunner(SchemaExtensionsRunner):
    """Strawberry's extension runner for a schema whose only extension is the pipeline (schema/root.py)."""

    def __init__(self, execution_context: ExecutionContext, pipeline: OperationPipeline) -> None:
        super().__init__(execution_context, [pipeline])
        self.pipeline = pipeline

    def operation(self) -> Any:
        return _Stage(self.pipeline.begin, self.pipeline.end)

    def parsing(self) -> Any:
        return _Stage(self.pipeline.parse)

    def validation(self) -> Any:
        return _Stage(self.pipeline.validate)

    def executing(self) -> Any:
        return _NOTHING

    def on_stream_result(self, result: Any) -> Any:
        return _Stage(functools.partial(self.pipeline.stream_result, result))


def pipeline_factory(
    *, validation_rules: Sequence[type[ASTValidationRule]], max_tokens: int, max_spread_depth: int = 64,
    after_validation: Sequence[ValidatedStep] = (), finished: Sequence[FinishedStep] = (),
) -> Callable[[], OperationPipeline]:
    steps = Steps(tuple(validation_rules), max_tokens, max_spread_depth, tuple(after_validation), tuple(finished))
    return lambda: OperationPipeline(steps)
