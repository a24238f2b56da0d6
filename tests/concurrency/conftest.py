"""Fixtures of the race tests: the real app over each real backend (tests/api/conftest.py) and a seed."""

from __future__ import annotations

import os
import random
import zlib

import pytest

from tests.api.conftest import api  # noqa: F401  (the in-process GraphQL client, re-exported as a fixture)

# One seed for the whole run, printed with every failure; set CONTEXTQL_RACE_SEED to replay a run.
SEED = int(os.environ.get("CONTEXTQL_RACE_SEED", "20240611"))


@pytest.fixture
def rng(request) -> random.Random:
    """A generator seeded from the run's seed and the test's name (so tests do not shift each other)."""
    return random.Random(SEED ^ zlib.crc32(request.node.originalname.encode()))
