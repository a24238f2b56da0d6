"""Retrieval sets from text the project did not write, built offline from what is on this machine.

Each set is a list of pairs (query, document): the document is the one relevant answer to its query.

- `stdlib`: docstrings of Python's standard library (functions, classes and methods, via `inspect`).
  Query = the docstring's first sentence; document = the rest of the docstring; title = the qualified
  name (`json.dumps`). The name is part of the document for every method (ContextQL gets it as the
  title, the baselines as the first line of the text), so nobody gets more than the others.
- `man`: the manual pages under /usr/share/man (sections 1, 3, 5, 7, 8; without the alpha/beta copies of the
  gcloud pages), parsed from their roff source.
  Query = the description in the NAME line (`ls - list directory contents` -> "list directory contents");
  document = the DESCRIPTION section; title = the page name (`ls(1)`).

Fairness rules, the same for both sets: a query must be at least 3 words and must not occur verbatim
(case and spacing folded) in its document; documents shorter than 60 characters are dropped; a
document text seen twice is kept once; a query text that belongs to two documents is dropped (it
would have two right answers). Then `pairs` are drawn with a fixed seed. Built sets are cached as
JSON under bench/.work/search-corpora (ignored by git), so every run scores the same pairs.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import inspect
import json
import pkgutil
import random
import re
import sys
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

CACHE = Path(__file__).resolve().parent.parent / ".work" / "search-corpora"
SEED = 12
MIN_DOC_CHARS = 60
MIN_QUERY_WORDS = 3
MAX_DOC_CHARS = 2_500  # some DESCRIPTIONs run to 100 kB; their opening is what answers the NAME line, and embedding is slow here


@dataclass(frozen=True)
class Pair:
    id: str  # unique within the set; the ContextQL path is built from it
    title: str
    query: str
    document: str


# -- Python standard library ----------------------------------------------------------------------------------

# Modules that open windows, print on import, or are not a library.
_SKIP_MODULES = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "lib2to3", "pydoc_data",
                 "__main__", "test", "ensurepip", "venv", "idle"}
_SENTENCE = re.compile(r"(?<=[a-z0-9)`'\"])\.(?:\s|$)")


def _first_sentence(doc: str) -> tuple[str, str] | None:
    text = inspect.cleandoc(doc).strip()
    paragraph_end = text.find("\n\n")
    head = text if paragraph_end < 0 else text[:paragraph_end]
    m = _SENTENCE.search(head)
    cut = m.end() if m else len(head)
    query, rest = " ".join(head[:cut].split()), text[cut:].strip()
    if re.match(r"^[\w.]+\(", query):  # a signature line (builtins), not a sentence
        return None
    return query, rest


def _stdlib_modules() -> list[str]:
    """Every importable public stdlib module, packages' submodules too (`os.path`, `email.utils`, ...)."""
    names: set[str] = set()
    todo = sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in _SKIP_MODULES)
    while todo:
        name = todo.pop()
        try:
            module = importlib.import_module(name)
        except BaseException:  # some modules exit or refuse the platform on import
            continue
        names.add(name)
        for info in pkgutil.iter_modules(getattr(module, "__path__", None) or []):
            sub = f"{name}.{info.name}"
            if not info.name.startswith("_") and info.name not in _SKIP_MODULES and "test" not in info.name:
                todo.append(sub)
    for name in ("os.path",):
        names.add(name)
    return sorted(names)


def _stdlib_members() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    seen: set[int] = set()  # an object re-exported by several modules counts once, under the first name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in _stdlib_modules():
            module = importlib.import_module(name)
            for attr, obj in sorted(vars(module).items()):
                if attr.startswith("_") or id(obj) in seen:
                    continue
                if inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.isclass(obj):
                    seen.add(id(obj))
                    out.append((f"{name}.{attr}", obj))
                if inspect.isclass(obj):
                    for m, f in sorted(vars(obj).items()):
                        if m.startswith("_") or id(f) in seen:
                            continue
                        if isinstance(f, (classmethod, staticmethod, property)) or inspect.isfunction(f) \
                                or inspect.ismethoddescriptor(f):
                            seen.add(id(f))
                            out.append((f"{name}.{attr}.{m}", f))
    return out


def _stdlib_candidates() -> list[Pair]:
    out = []
    for qualname, obj in _stdlib_members():
        doc = getattr(obj, "__doc__", None)
        split = _first_sentence(doc) if isinstance(doc, str) else None
        if split:
            out.append(Pair(id=qualname, title=qualname, query=split[0], document=split[1]))
    return out


# -- manual pages -----------------------------------------------------------------------------------------------

_ESCAPES = [
    (re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[+-]?\d"), ""),  # size changes
    (re.compile(r"\\\*(?:\[[^\]]*\]|\(..|.)"), ""),  # defined strings (mostly quotes in pod pages)
    (re.compile(r"\\\((?:em|en|hy)"), "-"),
    (re.compile(r"\\\(.."), ""),
    (re.compile(r"\\\[[^\]]*\]"), ""),
    (re.compile(r"\\[-e]"), lambda m: "-" if m.group(0) == "\\-" else "\\"),
    (re.compile(r"\\[&|^%:,/!]"), ""),
    (re.compile(r"\\ "), " "),
    (re.compile(r'\\".*'), ""),  # comments
]
_TEXT_MACROS = re.compile(r"^\.(?:B|I|BR|RB|IR|RI|BI|IB|SM|SB|TP|IP|HP|LP|PP|P|Nm|Ar|Fl|Xr|Nd|Pa|Em|Sy|Dv|Ev|Cm)\b\s*")


def _plain(line: str) -> str:
    for pattern, repl in _ESCAPES:
        line = pattern.sub(repl, line)  # type: ignore[arg-type]
    return line.replace('"', "").strip()


def _sections(source: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in source.splitlines():
        m = re.match(r'^\.(?:SH|Sh)\s+"?([^"]*)"?\s*$', raw)
        if m:
            current = sections.setdefault(m.group(1).strip().upper(), [])
            continue
        if current is None or raw.startswith(("'", '.\\"', '\\"')):
            continue
        if raw.startswith(".Nd "):  # mdoc: the description of the NAME line
            raw = "- " + raw[4:]
        elif raw.startswith("."):
            m2 = _TEXT_MACROS.match(raw)
            if not m2:
                continue  # layout request (.sp, .RS, .nf, .de ...): no text
            raw = raw[m2.end():]
        text = _plain(raw)
        if text:
            current.append(text)
    return sections


def _man_candidates(root: Path = Path("/usr/share/man"), sections: tuple[str, ...] = ("1", "3", "5", "7", "8")) -> list[Pair]:
    out = []
    seen_files: set[Path] = set()
    for section in sections:
        for path in sorted((root / f"man{section}").glob("*")):
            real = path.resolve()
            if path.name.startswith(("gcloud_alpha", "gcloud_beta")):
                continue  # preview copies of the gcloud pages: the same text twice more
            if path.is_symlink() or real in seen_files or not path.is_file():
                continue
            seen_files.add(real)
            try:
                raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            except (OSError, EOFError):
                continue
            source = raw.decode("utf-8", errors="replace")
            if source.lstrip().startswith(".so "):
                continue  # a redirect to another page
            parts = _sections(source)
            name_line = " ".join(parts.get("NAME", []))
            description = " ".join(parts.get("DESCRIPTION", []))
            m = re.match(r"^(.+?)\s+(?:-+|—)\s+(.+)$", name_line)
            if not m or not description:
                continue
            page = path.name.removesuffix(".gz")
            out.append(Pair(id=page, title=f"{m.group(1).split(',')[0].strip()}({section})", query=m.group(2).strip(),
                            document=description[:MAX_DOC_CHARS]))
    return out


# -- shared rules -----------------------------------------------------------------------------------------------

def _fold(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _fair(candidates: list[Pair]) -> list[Pair]:
    query_count = Counter(_fold(p.query) for p in candidates)
    seen_docs: set[str] = set()
    out = []
    for p in candidates:
        folded_doc = _fold(p.document)
        if (len(p.document) < MIN_DOC_CHARS or len(p.query.split()) < MIN_QUERY_WORDS
                or query_count[_fold(p.query)] > 1 or _fold(p.query) in folded_doc or folded_doc in seen_docs):
            continue
        seen_docs.add(folded_doc)
        out.append(p)
    return out


BUILDERS = {"stdlib": _stdlib_candidates, "man": _man_candidates}


def load(name: str, pairs: int, seed: int = SEED) -> list[Pair]:
    """`pairs` pairs of set `name`, drawn with `seed`; built once and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    full = CACHE / f"{name}-all.json"
    if not full.exists():
        items = _fair(BUILDERS[name]())
        full.write_text(json.dumps([asdict(p) for p in items]))
    everything = [Pair(**p) for p in json.loads(full.read_text())]
    chosen = random.Random(seed).sample(everything, min(pairs, len(everything)))
    return sorted(chosen, key=lambda p: p.id)


def fingerprint(pairs: list[Pair]) -> str:
    """Short hash of the exact pairs, written next to every result so runs can be matched."""
    return hashlib.sha256(json.dumps([asdict(p) for p in pairs]).encode()).hexdigest()[:12]


if __name__ == "__main__":
    for set_name in BUILDERS:
        sample = load(set_name, 4)
        total = len(json.loads((CACHE / f"{set_name}-all.json").read_text()))
        print(set_name, total, "eligible pairs")
        for p in sample:
            print(f"  [{p.title}] Q: {p.query!r}\n    D: {p.document[:160]!r}")
