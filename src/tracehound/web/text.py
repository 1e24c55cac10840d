"""Small wording helpers shared by the pages and the charts (pure)."""

from __future__ import annotations


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 event`, `2,000 events`; `words` for irregular plurals (`hashes`)."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"
