"""The hash Sentry uses: MD5 over the contributing values, UTF-8, with no separators."""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import md5


def hash_values(values: Iterable[str]) -> str:
    joined = "".join(values).encode("utf-8", "surrogatepass")
    return md5(joined, usedforsecurity=False).hexdigest()


# What an event hashes to when nothing in it contributes: md5 of no values.
FALLBACK_HASH = hash_values(())
