"""The depth of fragments spreading one another (schema/spreads.py), against a plain recursive reading of
it, on generated documents: chains, diamonds, cycles, unknown fragments, spreads inside fields and inline
fragments."""

from __future__ import annotations

from graphql import parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contextql.schema.spreads import spread_depth

# A fragment spreads some others (by index), each inside a field, an inline fragment or at its top level.
graphs = st.integers(0, 8).flatmap(lambda n: st.lists(
    st.lists(st.tuples(st.integers(0, n + 1), st.sampled_from(["top", "field", "inline"])), max_size=3),
    min_size=n, max_size=n))


def _document(graph: list[list[tuple[int, str]]]) -> str:
    def spread(target: int, where: str) -> str:
        name = f"F{target}"  # F{n} and F{n+1} are not defined: unknown fragments count for nothing
        return {"top": f"...{name}", "field": f"parent {{ ...{name} }}",
                "inline": f"... on Context {{ ...{name} }}"}[where]

    fragments = [f"fragment F{i} on Context {{ path {' '.join(spread(t, w) for t, w in edges)} }}"
                 for i, edges in enumerate(graph)]
    return '{ context(path: "/") { path } } ' + " ".join(fragments)


def _reference(graph: list[list[tuple[int, str]]]) -> int | None:
    def longest(i: int, seen: frozenset[int]) -> int | None:
        best = 0
        for target, _ in graph[i]:
            if target >= len(graph):
                continue
            if target in seen:
                return None
            below = longest(target, seen | {target})
            if below is None:
                return None
            best = max(best, below)
        return 1 + best

    depths = [longest(i, frozenset({i})) for i in range(len(graph))]
    return None if None in depths else max(depths, default=0)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(graph=graphs)
def test_spread_depth_is_the_longest_chain_or_none_for_a_cycle(graph):
    assert spread_depth(parse(_document(graph))) == _reference(graph)


def test_a_chain_longer_than_the_stack_is_measured_without_recursion():
    length = 20_000
    chain = " ".join(f"fragment F{i} on Context {{ ...F{i + 1} }}" for i in range(length - 1))
    document = parse("{ context(path: \"/\") { ...F0 } } " + chain + f" fragment F{length - 1} on Context {{ path }}",
                     max_tokens=None)
    assert spread_depth(document) == length
