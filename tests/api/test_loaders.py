"""`RememberingLoader.remember` behaves as `clear(key).prime(key, value)`, paid for only when loaded."""

from __future__ import annotations

from typing import Any

from contextql.resolvers.loaders import RememberingLoader


class Echo(RememberingLoader):
    """Loads `key` as `loaded:key`, counting batches."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Any]] = []

    async def batch_load_fn(self, keys: list[Any]) -> list[Any]:
        self.batches.append(list(keys))
        return [f"loaded:{key}" for key in keys]


async def test_a_remembered_value_is_served_without_a_batch_and_overrides_the_cache():
    loader = Echo()
    assert await loader.load("a") == "loaded:a"
    loader.remember("a", "remembered:a")
    loader.remember("b", None)
    assert await loader.load("a") == "remembered:a"
    assert await loader.load("b") is None
    assert await loader.load_many(["a", "b"]) == ["remembered:a", None]
    assert loader.batches == [["a"]]


async def test_the_newest_of_remember_and_prime_wins_and_clear_forgets():
    loader = Echo()
    loader.remember("a", "remembered")
    loader.prime("a", "primed")  # after: the primed entry is newer
    assert await loader.load("a") == "primed"
    loader.prime("b", "primed")
    loader.remember("b", "remembered")  # after: remembered is newer
    assert await loader.load("b") == "remembered"
    loader.remember("c", "remembered")
    loader.clear("c")
    loader.remember("d", "remembered")
    loader.clear_all()
    assert await loader.load_many(["c", "d"]) == ["loaded:c", "loaded:d"]
    assert loader.batches == [["c", "d"]]
