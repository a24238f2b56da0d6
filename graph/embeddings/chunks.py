"""What is embedded for a context: title, path and content, long content in overlapping chunks."""

from __future__ import annotations

import re

CHUNK_CHARS = 1_000  # about 250 tokens: the bundled model reads at most 256
OVERLAP_CHARS = 200
_BREAK = re.compile(r"\s+")


def split(text: str, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """Cut `text` into pieces of at most `size` characters overlapping by about `overlap`, at whitespace."""
    text = text.strip()
    if len(text) <= size:
        return [text]
    pieces, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max((m.start() for m in _BREAK.finditer(text, start + size // 2, end)), default=end)
            end = cut if cut > start else end
        pieces.append(text[start:end].strip())
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
        while start < end and not text[start - 1].isspace():  # begin on a word
            start += 1
    return [p for p in pieces if p]


def passages(title: str, path: str, content: str) -> list[str]:
    """The texts embedded for one context; every chunk carries its title and path."""
    head = "\n".join(part for part in (title.strip(), path) if part)
    return [f"{head}\n{chunk}" if chunk else head for chunk in split(content)]
