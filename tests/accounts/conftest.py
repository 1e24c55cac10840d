from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    # allauth counts emails sent (resets, verifications) in the cache; tests start at zero.
    from django.core.cache import cache

    cache.clear()
