"""Search quality on outside data: baselines outside ContextQL against ContextQL's own pipeline, same pairs.

    .venv/bin/python -m bench.search.quality [--sets stdlib,man] [--pairs 3000] [--ablations]

Every query has one relevant document (its pair); recall@10 and MRR@10 over all queries of a set.

Baselines (no ContextQL code): bm25s with and without a Snowball stemmer (PyStemmer); exact dense search
with the bundled model on whole documents (the model reads the first 256 tokens) and on 1,000-character
chunks (a document scores its best chunk); RRF (k = 60) of the better BM25 and the better dense run.
Every baseline reads the document as `title + "\\n" + text`.

ContextQL (`pipeline`): the contexts' passages (`chunks.passages`), their dense vectors from the same model
and their sparse vectors (`sparse.document_vector`), queried with `sparse.query_vector` and the model, scored
exactly with numpy the way the index does it (graph/index/qdrant.py): one point per chunk, sparse score =
sum of query idf x stored weight with Qdrant's idf ln(1 + (N - df + 0.5) / (df + 0.5)) over all points;
`fetch` = 40 points per mode; HYBRID = Qdrant's RRF (1 / (rank + k - 1), k = 2) of the two prefetches,
then the best point per context, first 10 contexts.

Vectors are cached by text under bench/.work/search-embeddings, so a second run only embeds what changed.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.search.outside import Pair, fingerprint, load

WORK = Path(__file__).resolve().parent.parent / ".work" / "search-embeddings"
RESULTS = Path(__file__).resolve().parent.parent / "results"
K = 10
FETCH = 40  # graph/index/qdrant.py: max(limit * 4, 20) for limit 10
QDRANT_RRF_K = 2  # Qdrant's default
RRF_K = 60  # the usual constant from Cormack et al., for the baselines' fusion

Ranking = list[int]  # document numbers, best first


# -- embeddings with a cache ------------------------------------------------------------------------------------

class Vectors:
    """The bundled model, with every vector kept on disk by the sha1 of its text."""

    def __init__(self) -> None:
        from contextql.graph.embeddings.factory import make_embedder

        self.model = make_embedder("fastembed")
        WORK.mkdir(parents=True, exist_ok=True)
        self.path = WORK / (re.sub(r"\W", "_", self.model.name) + ".npz")
        self.cache: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as data:
                self.cache = dict(zip(data["keys"].tolist(), data["vectors"]))
        self.embedded = 0
        self.seconds = 0.0

    def __call__(self, texts: Sequence[str], *, alone: bool = False) -> np.ndarray:
        """Vectors of `texts`. The int8 model quantises activations per batch, so a text's vector moves a
        little (cosine about 0.99) with its batch-mates: `alone` embeds each text by itself, as the server
        embeds a query when no other query is waiting; documents go in batches, as the index worker sends them."""
        keys = [("1:" if alone else "") + hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.cache))
        if missing:
            by_key = dict(zip(keys, texts))
            started = time.perf_counter()
            step = 1 if alone else 256
            for start in range(0, len(missing), step):
                part = missing[start:start + step]
                for key, vector in zip(part, self.model.embed([by_key[k] for k in part])):
                    self.cache[key] = np.asarray(vector, dtype=np.float32)
                if start % 256 == 0:
                    self.save()  # a long run stopped half-way keeps what it embedded
            self.save()
            self.seconds += time.perf_counter() - started
            self.embedded += len(missing)
        return np.stack([self.cache[k] for k in keys])

    def save(self) -> None:
        keys = list(self.cache)
        partial = self.path.with_suffix(f".{os.getpid()}.npz")  # two runs may share the cache: replace, never mix
        np.savez(partial, keys=np.array(keys), vectors=np.stack([self.cache[k] for k in keys]))
        os.replace(partial, self.path)


# -- metrics ----------------------------------------------------------------------------------------------------

def score(rankings: Sequence[Ranking]) -> dict[str, float]:
    """Query i's relevant document is document i."""
    hits = rr = 0.0
    for i, ranking in enumerate(rankings):
        top = ranking[:K]
        if i in top:
            hits += 1
            rr += 1 / (top.index(i) + 1)
    return {"recall@10": round(hits / len(rankings), 4), "mrr@10": round(rr / len(rankings), 4)}


def rrf(runs: Sequence[Sequence[Ranking]], k: int, depth: int = 100) -> list[Ranking]:
    """Per query, the RRF of several rankings: 1 / (k + rank), rank from 1."""
    out = []
    for per_query in zip(*runs):
        fused: dict[int, float] = defaultdict(float)
        for ranking in per_query:
            for rank, doc in enumerate(ranking[:depth], 1):
                fused[doc] += 1 / (k + rank)
        out.append(sorted(fused, key=lambda d: -fused[d]))
    return out


def top(scores: np.ndarray, n: int) -> np.ndarray:
    """Row-wise indices of the n best scores, best first."""
    n = min(n, scores.shape[1])
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


# -- baselines, outside ContextQL --------------------------------------------------------------------------------

def baseline_text(p: Pair) -> str:
    return f"{p.title}\n{p.document}"


def plain_chunks(text: str, size: int = 1_000, overlap: int = 200) -> list[str]:
    """Fixed windows of `size` characters, `overlap` shared, moved to whitespace: the simplest chunker."""
    if len(text) <= size:
        return [text]
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            space = text.rfind(" ", start + size // 2, end)
            end = space if space > start else end
        out.append(text[start:end])
        if end >= len(text):
            break
        start = end - overlap
    return out


def bm25(pairs: list[Pair], stem: bool) -> list[Ranking]:
    import bm25s

    stemmer = None
    if stem:
        import Stemmer

        stemmer = Stemmer.Stemmer("english")
    corpus = bm25s.tokenize([baseline_text(p) for p in pairs], stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    queries = bm25s.tokenize([p.query for p in pairs], stopwords="en", stemmer=stemmer, show_progress=False)
    docs, _ = retriever.retrieve(queries, k=100, show_progress=False, n_threads=1)
    return [[int(d) for d in row] for row in docs]


def dense_whole(pairs: list[Pair], embed: Vectors, q: np.ndarray) -> list[Ranking]:
    d = embed([baseline_text(p) for p in pairs])
    return top(q @ d.T, 100).tolist()


def dense_chunks(pairs: list[Pair], embed: Vectors, q: np.ndarray) -> list[Ranking]:
    texts, owner = [], []
    for i, p in enumerate(pairs):
        for chunk in plain_chunks(baseline_text(p)):
            texts.append(chunk)
            owner.append(i)
    scores = q @ embed(texts).T
    return top(_best_of_owner(scores, np.array(owner), len(pairs)), 100).tolist()


def _best_of_owner(scores: np.ndarray, owner: np.ndarray, owners: int) -> np.ndarray:
    out = np.full((scores.shape[0], owners), -np.inf, dtype=np.float32)
    np.maximum.at(out.T, owner, scores.T)
    return out


# -- ContextQL's pipeline, exact -----------------------------------------------------------------------------------

@dataclass
class Pipeline:
    """The functions ContextQL indexes and queries with; defaults are the code as it is."""

    passages: Callable[[str, str, str], list[str]]
    document_vector: Callable[[str], tuple[list[int], list[float]]]
    query_vector: Callable[[str], tuple[list[int], list[float]]]
    rrf_k: int = QDRANT_RRF_K
    fetch: int = FETCH
    sparse_per_context: bool = False  # one sparse vector over the whole context (chunk 0) instead of per chunk

    @classmethod
    def current(cls, **overrides) -> Pipeline:
        from contextql.graph.embeddings.chunks import passages
        from contextql.graph.embeddings.sparse import document_vector, query_vector

        return cls(passages=passages, document_vector=document_vector, query_vector=query_vector, **overrides)


def context_path(set_name: str, p: Pair) -> str:
    """A path as a user would give it, one level under the set (`/stdlib/json.dumps`, `/man/ls.1`): no
    intermediate parents, so the server's tree holds exactly the pairs' contexts plus `/<set>`."""
    return f"/{set_name}/" + re.sub(r"[^A-Za-z0-9._~@+=,-]", "-", p.id).lstrip(".")[:128]


def run_pipeline(set_name: str, pairs: list[Pair], embed: Vectors, q: np.ndarray, pipe: Pipeline,
                 extra: Sequence[tuple[str, str, str]] = ()) -> dict[str, list[Ranking]]:
    """Rankings per mode; document i is pair i, then `extra` contexts (title, path, content) no query wants."""
    contexts = [(p.title, context_path(set_name, p), p.document) for p in pairs] + list(extra)
    texts, owner = [], []
    for i, (title, path, content) in enumerate(contexts):
        for text in pipe.passages(title, path, content):
            texts.append(text)
            owner.append(i)
    owner_arr = np.array(owner)
    dense_scores = q @ embed(texts).T  # cosine: the vectors are unit length
    # Sparse: an inverted index over points, Qdrant's idf on the query side.
    postings: dict[int, list[tuple[int, float]]] = defaultdict(list)
    if pipe.sparse_per_context:
        whole: dict[int, list[str]] = defaultdict(list)
        for j, i in enumerate(owner):
            whole[i].append(texts[j])
        first = {i: owner.index(i) for i in whole}
        sparse_docs = {first[i]: pipe.document_vector("\n".join(parts)) for i, parts in whole.items()}
    else:
        sparse_docs = {j: pipe.document_vector(t) for j, t in enumerate(texts)}
    for j, (indices, values) in sparse_docs.items():
        for index, value in zip(indices, values):
            postings[index].append((j, value))
    n_points = len(sparse_docs)
    idf = {index: np.log((n_points - len(post) + 0.5) / (len(post) + 0.5) + 1) for index, post in postings.items()}
    dense_top = top(dense_scores, pipe.fetch)
    out: dict[str, list[Ranking]] = {"dense": [], "keyword": [], "hybrid": []}
    for qi, p in enumerate(pairs):
        indices, values = pipe.query_vector(p.query)
        sparse: dict[int, float] = defaultdict(float)
        for index, value in zip(indices, values):
            for j, weight in postings.get(index, ()):
                sparse[j] += value * idf[index] * weight
        # Qdrant returns points in score order; ties keep insertion order here, a detail of no weight.
        sparse_top = sorted(sparse, key=lambda j: -sparse[j])[: pipe.fetch]
        dense_points = dense_top[qi].tolist()
        out["dense"].append(_contexts(dense_points, owner_arr))
        out["keyword"].append(_contexts(sparse_top, owner_arr))
        if not indices:
            out["hybrid"].append(out["dense"][-1])
            continue
        fused: dict[int, float] = defaultdict(float)
        for ranking in (dense_points, sparse_top):
            for rank, j in enumerate(ranking, 1):
                fused[j] += 1 / (rank + pipe.rrf_k - 1)
        out["hybrid"].append(_contexts(sorted(fused, key=lambda j: -fused[j])[: pipe.fetch], owner_arr))
    return out


def _contexts(points: Sequence[int], owner: np.ndarray) -> Ranking:
    """The best point per context, in order (graph/index/qdrant.py `_best_per_key`)."""
    return list(dict.fromkeys(int(owner[j]) for j in points))


# -- the run ----------------------------------------------------------------------------------------------------

def _sparse_with(tokenize: Callable[[str], list[str]]):
    """sparse.py's document and query vectors over another tokeniser (same BM25 weights and hashing)."""
    from collections import Counter

    from contextql.graph.embeddings import sparse

    def document_vector(text: str) -> tuple[list[int], list[float]]:
        counts = Counter(tokenize(text))
        length = sum(counts.values()) or 1
        norm = sparse.K1 * (1 - sparse.B + sparse.B * length / sparse.AVG_LEN)
        weights: dict[int, float] = defaultdict(float)
        for token, tf in counts.items():
            weights[sparse.index_of(token)] += tf * (sparse.K1 + 1) / (tf + norm)
        return list(weights), list(weights.values())

    def query_vector(text: str) -> tuple[list[int], list[float]]:
        indices = sorted({sparse.index_of(t) for t in tokenize(text)})
        return indices, [1.0] * len(indices)

    return document_vector, query_vector


def _words(stems: str) -> Callable[[str], list[str]]:
    """sparse.tokens with another treatment of plain words: `none` (the tokens before stems), `both` (the
    word and its stem). Whole identifiers (`os.path.join`, `err_key_42`) stay as written either way."""
    import Stemmer

    from contextql.graph.embeddings.sparse import _IDENT, _PART, _STOP

    stem = Stemmer.Stemmer("english").stemWord

    def tokenize(text: str) -> list[str]:
        out: list[str] = []
        for match in _IDENT.finditer(text):
            word = match.group(0)
            lower = word.lower()
            parts = [p.lower() for p in _PART.findall(word)]
            if len(parts) != 1 or parts[0] != lower:
                out.append(lower)
            for part in parts:
                if part in _STOP:
                    continue
                out.append(part)
                if stems == "both" and part.isalpha() and stem(part) != part:
                    out.append(stem(part))
        return out

    return tokenize


def ablations() -> dict[str, Pipeline]:
    """Variants that each change one thing of the pipeline, to see where quality is lost."""
    from contextql.graph.embeddings.chunks import passages

    return {
        "pipeline, Qdrant RRF k=60": Pipeline.current(rrf_k=60),
        "pipeline, one sparse vector per context": Pipeline.current(sparse_per_context=True),
        "pipeline, tokens without stems": Pipeline(passages, *_sparse_with(_words("none"))),
        "pipeline, tokens word + stem": Pipeline(passages, *_sparse_with(_words("both"))),
    }


def evaluate(set_name: str, pairs: list[Pair], embed: Vectors, with_ablations: bool) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    timer = time.perf_counter()
    q = embed([p.query for p in pairs], alone=True)
    runs = {"bm25": bm25(pairs, stem=False), "bm25+stem": bm25(pairs, stem=True),
            "dense whole doc": dense_whole(pairs, embed, q), "dense chunks max-sim": dense_chunks(pairs, embed, q)}
    best_sparse = max(("bm25", "bm25+stem"), key=lambda m: score(runs[m])["recall@10"])
    best_dense = max(("dense whole doc", "dense chunks max-sim"), key=lambda m: score(runs[m])["recall@10"])
    runs[f"rrf({best_sparse}, {best_dense})"] = rrf([runs[best_sparse], runs[best_dense]], RRF_K)
    for name, ranking in runs.items():
        rows[f"baseline: {name}"] = score(ranking)
    pipes = {"ContextQL": Pipeline.current(), **(ablations() if with_ablations else {})}
    for label, pipe in pipes.items():
        for mode, ranking in run_pipeline(set_name, pairs, embed, q, pipe).items():
            rows[f"{label} {mode.upper()}"] = score(ranking)
    print(f"{set_name}: {len(pairs)} pairs scored in {time.perf_counter() - timer:.0f} s "
          f"(embedded {embed.embedded} new texts in {embed.seconds:.0f} s so far)", flush=True)
    return rows


def render(report: dict) -> str:
    """The report as a markdown table: set x method x recall@10 x MRR@10."""
    m = report["machine"]
    lines = [f"Commit {m.get('git_commit')}{' (dirty)' if m.get('git_dirty') else ''}; model {report['model']}.", "",
             "| set (pairs) | method | recall@10 | MRR@10 |", "|---|---|---|---|"]
    for set_name, result in report["sets"].items():
        for name, row in result["rows"].items():
            lines.append(f"| {set_name} ({result['pairs']}) | {name} | {row['recall@10']:.3f} | {row['mrr@10']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from bench.machine import describe

    parser = argparse.ArgumentParser(prog="python -m bench.search.quality")
    parser.add_argument("--sets", default="stdlib,man")
    parser.add_argument("--pairs", type=int, default=3_000, help="pairs drawn per set (fewer if the set is smaller)")
    parser.add_argument("--ablations", action="store_true", help="also score pipeline variants")
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    parser.add_argument("--render", type=Path, help="only print the table of a JSON report written before")
    args = parser.parse_args()
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return
    embed = Vectors()
    report: dict = {"machine": describe(), "model": embed.model.name + " (bundled int8 ONNX, fastembed)", "sets": {}}
    for set_name in args.sets.split(","):
        pairs = load(set_name, args.pairs)
        rows = evaluate(set_name, pairs, embed, args.ablations)
        report["sets"][set_name] = {"pairs": len(pairs), "fingerprint": fingerprint(pairs), "rows": rows}
        for name, row in rows.items():
            print(f"  {name:45s} recall@10 {row['recall@10']:.3f}  MRR@10 {row['mrr@10']:.3f}", flush=True)
    out = args.out or RESULTS / f"search-quality-{datetime.date.today().isoformat()}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(render(report))
    print(out)


if __name__ == "__main__":
    main()
