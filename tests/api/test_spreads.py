"""What fragments expand to (schema/spreads.py), against a plain recursive reading of the same document, on
generated documents: chains, diamonds, fragments spread several times, cycles, unknown fragments, spreads
inside fields and inline fragments."""

from __future__ import annotations

from graphql import parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contextql.schema.spreads import Cycle, Expansion, expand

# Fragment i writes some fields and spreads some others (by index; n and n + 1 are not defined), each spread
# at the fragment's top level, inside a field or inside an inline fragment.
Graph = list[tuple[int, list[tuple[int, str]]]]
graphs = st.integers(0, 8).flatmap(lambda n: st.lists(
    st.tuples(st.integers(0, 3), st.lists(st.tuples(st.integers(0, n + 1), st.sampled_from(["top", "field", "inline"])),
                                          max_size=4)),
    min_size=n, max_size=n))


def _document(graph: Graph, operation_spreads: list[int]) -> str:
    def spread(target: int, where: str) -> str:
        return {"top": f"...F{target}", "field": f"parent {{ ...F{target} }}",
                "inline": f"... on Context {{ ...F{target} }}"}[where]

    fragments = [f"fragment F{i} on Context {{ path {' title' * own} {' '.join(spread(t, w) for t, w in edges)} }}"
                 for i, (own, edges) in enumerate(graph)]
    operation = '{ context(path: "/") { id ' + " ".join(f"...F{t}" for t in operation_spreads) + " } }"
    return operation + " " + " ".join(fragments)


def _fields_written(where: str) -> int:
    return {"top": 0, "field": 1, "inline": 0}[where]


def _reference(graph: Graph, operation_spreads: list[int]) -> tuple[int, int] | None:
    """(longest chain, fields of the operation expanded), or None for a cycle, by plain recursion."""
    def walk(i: int, seen: frozenset[int]) -> tuple[int, int] | None:
        own, edges = graph[i]
        depth, fields = 0, 1 + own  # `path` and the titles
        for target, where in edges:
            fields += _fields_written(where)
            if target >= len(graph):
                continue
            if target in seen:
                return None
            below = walk(target, seen | {target})
            if below is None:
                return None
            depth, fields = max(depth, below[0]), fields + below[1]
        return 1 + depth, fields

    walked = [walk(i, frozenset({i})) for i in range(len(graph))]
    if None in walked:
        return None
    fields = 2 + sum(walked[t][1] for t in operation_spreads if t < len(graph))  # type: ignore[index]
    return max((w[0] for w in walked), default=0), fields  # type: ignore[index]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(graph=graphs, operation_spreads=st.lists(st.integers(0, 9), max_size=3))
def test_expansion_is_the_longest_chain_and_the_expanded_fields_or_a_cycle(graph, operation_spreads):
    expected = _reference(graph, operation_spreads)
    found = expand(parse(_document(graph, operation_spreads)), cap=10**9)
    if expected is None:
        assert isinstance(found, Cycle)
        names = [int(name[1:]) for name in found.names]  # each spreads the next, the last the first
        assert all(names[(k + 1) % len(names)] in {t for t, _ in graph[n][1]} for k, n in enumerate(names))
    else:
        assert found == Expansion(*expected)


def test_a_chain_longer_than_the_stack_is_measured_without_recursion():
    length = 20_000
    chain = " ".join(f"fragment F{i} on Context {{ ...F{i + 1} }}" for i in range(length - 1))
    document = parse('{ context(path: "/") { ...F0 } } ' + chain + f" fragment F{length - 1} on Context {{ path }}",
                     max_tokens=None)
    assert expand(document, cap=10) == Expansion(depth=length, fields=2)


def test_an_exponential_expansion_is_counted_in_linear_time_and_capped():
    levels = 200  # 2**200 fields written out
    fragments = " ".join(f"fragment F{i} on Context {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    document = parse('{ context(path: "/") { ...F0 } } ' + fragments + f" fragment F{levels} on Context {{ path }}")
    assert expand(document, cap=5_001) == Expansion(depth=levels + 1, fields=5_001)
