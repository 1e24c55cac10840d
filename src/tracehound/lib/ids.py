"""Database ids written by clients (URLs, DSNs): parsed strictly, never a 500."""

from __future__ import annotations

MAX_ID = 2**63 - 1  # ids are signed 64-bit columns on both databases


def parse_id(value: int | str) -> int | None:
    """A positive 64-bit id in ASCII digits, else None.

    `str.isdigit` and `int` accept "²", "٣" or "1_0"; the database cannot take 2**63.
    """
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None
