"""A labelled retrieval set from text we did not write: docstrings of the Python standard library.

Each documented public function/class/method becomes a context: path /py/<module>/<name>, title
empty, content = its docstring WITHOUT the first (summary) line. The summary line becomes the
query whose one relevant answer is that context. Deterministic (sorted, no randomness).
"""

from __future__ import annotations

import importlib
import inspect
import re

MODULES = (
    "os", "os.path", "shutil", "pathlib", "json", "csv", "re", "string", "textwrap", "difflib", "datetime",
    "calendar", "collections", "heapq", "bisect", "functools", "itertools", "operator", "random", "statistics",
    "math", "decimal", "fractions", "hashlib", "hmac", "secrets", "base64", "binascii", "zlib", "gzip", "bz2",
    "lzma", "zipfile", "tarfile", "tempfile", "glob", "fnmatch", "subprocess", "socket", "ssl", "select",
    "selectors", "asyncio", "threading", "multiprocessing", "queue", "sched", "contextlib", "abc", "types",
    "typing", "dataclasses", "enum", "inspect", "ast", "dis", "tokenize", "pickle", "copy", "pprint", "reprlib",
    "logging", "argparse", "getopt", "configparser", "email", "mailbox", "mimetypes", "html", "html.parser",
    "xml.dom.minidom", "xml.etree.ElementTree", "urllib.parse", "urllib.request", "http.client", "http.server",
    "http.cookies", "ftplib", "smtplib", "uuid", "ipaddress", "wave", "colorsys", "locale", "gettext", "codecs",
    "unicodedata", "struct", "array", "weakref", "gc", "traceback", "warnings", "unittest", "doctest", "pdb",
    "timeit", "trace", "sqlite3", "shelve", "dbm", "platform", "sysconfig", "zipimport", "pkgutil", "importlib",
)


def _summary(doc: str) -> tuple[str, str] | None:
    lines = inspect.cleandoc(doc).splitlines()
    if len(lines) < 3:
        return None
    summary, body = lines[0].strip(), "\n".join(lines[1:]).strip()
    if len(summary) < 25 or len(body) < 60 or re.match(r"^[\w.]+\(", summary):  # skip signature lines
        return None
    return summary, body


def distractors(need: int) -> list[dict]:
    """Paragraphs of installed packages' descriptions (METADATA): more text, no query points at it."""
    from importlib import metadata

    out: list[dict] = []
    for dist in sorted(metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        body = dist.metadata.get_payload() or dist.metadata.get("Description") or ""
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if len(p.strip()) > 120]
        name = re.sub(r"[^A-Za-z0-9_-]", "-", dist.metadata["Name"] or "pkg")
        for i, paragraph in enumerate(paragraphs[:40]):
            out.append({"path": f"/pkg/{name}/p{i}", "content": paragraph[:3_000]})
            if len(out) >= need:
                return out
    return out


def build_all(total: int = 2_400) -> tuple[list[dict], list[dict]]:
    """Stdlib docstrings (with queries) plus package-description distractors up to `total` contexts."""
    contexts, queries = build(total)
    seen = {c["path"] for c in contexts}
    contexts += [c for c in distractors(total - len(contexts)) if c["path"] not in seen]
    return contexts, queries


def build(limit_contexts: int = 2_500) -> tuple[list[dict], list[dict]]:
    """(contexts, queries): contexts are dicts of path/content; queries of text/path."""
    contexts: dict[str, dict] = {}
    queries: list[dict] = []
    seen_summaries: set[str] = set()
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        members = []
        for attr, obj in sorted(vars(module).items()):
            if attr.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj)):
                continue
            members.append((attr, obj))
            if inspect.isclass(obj):
                members += [(f"{attr}.{m}", f) for m, f in sorted(vars(obj).items())
                            if not m.startswith("_") and inspect.isfunction(f)]
        for attr, obj in members:
            doc = getattr(obj, "__doc__", None)
            split = _summary(doc) if isinstance(doc, str) else None
            if split is None:
                continue
            path = "/py/" + name.replace(".", "-") + "/" + attr.replace(".", "-")
            if path in contexts:
                continue
            contexts[path] = {"path": path, "content": split[1]}
            if split[0] not in seen_summaries:
                seen_summaries.add(split[0])
                queries.append({"text": split[0], "path": path})
            if len(contexts) >= limit_contexts:
                return list(contexts.values()), queries
    return list(contexts.values()), queries
