"""BM25-style sparse vectors for keyword matching (Qdrant applies the IDF part).

Tokens are lower-cased words plus whole identifiers (`ERR_KEY_42`, `rotate_api_keys`,
`os.path.join`) and their parts, so an exact error code or function name matches even
when the dense model does not know it. Words (and identifiers' word parts) become their
English Snowball stem (`rotating`, `rotates` -> `rotat`), so other forms of a word match
(bench/results/search-quality-2026-12-01.md, two outside sets: KEYWORD recall@10 +0.011 to
+0.024, MRR@10 +0.007 to +0.025; keeping the word beside its stem was worse on man pages). Whole identifiers
are never stemmed. Indices are stable 31-bit hashes of the token, so an index written with
other tokens (before stems) must be rebuilt (`contextql reindex`).
"""

from __future__ import annotations

import re
import threading
import zlib
from collections import Counter

import Stemmer

# Changes whenever `tokens` or `index_of` would give another vector for the same text: an index that
# recorded another version holds keyword vectors that no longer meet the queries' (1: no stems, 2: stems).
TOKENS_VERSION = 2
K1 = 1.2
B = 0.75
AVG_LEN = 120.0  # typical tokens per passage; only shapes length normalisation
_IDENT = re.compile(r"[A-Za-z0-9_]+(?:[.\-:/][A-Za-z0-9_]+)*")
_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_STOP = frozenset(
    "a an and are as at be by for from how i in is it of on or that the this to we what when where which who why "
    "with do does did you your can".split()
)


_local = threading.local()  # a PyStemmer Stemmer must not be shared between threads


def _stem(word: str) -> str:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWord(word)


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for match in _IDENT.finditer(text):
        word = match.group(0)
        lower = word.lower()
        parts = [p.lower() for p in _PART.findall(word)]
        if len(parts) != 1 or parts[0] != lower:
            out.append(lower)  # the whole identifier, as written
        for part in parts:
            if part in _STOP:
                continue
            out.append(_stem(part) if part.isalpha() else part)
    return out


def index_of(token: str) -> int:
    return zlib.crc32(token.encode()) & 0x7FFFFFFF


def document_vector(text: str) -> tuple[list[int], list[float]]:
    """BM25 term weights (saturated term frequency with length normalisation)."""
    counts = Counter(tokens(text))
    length = sum(counts.values()) or 1
    norm = K1 * (1 - B + B * length / AVG_LEN)
    weights: dict[int, float] = {}
    for token, tf in counts.items():
        i = index_of(token)
        weights[i] = weights.get(i, 0.0) + tf * (K1 + 1) / (tf + norm)
    return list(weights), list(weights.values())


def query_vector(text: str) -> tuple[list[int], list[float]]:
    indices = sorted({index_of(t) for t in tokens(text)})
    return indices, [1.0] * len(indices)
