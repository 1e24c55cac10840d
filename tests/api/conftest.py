"""Helpers for API tests: tokens for the cast, and requests through the real WSGI stack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Response, call_wsgi

ApiCall = Callable[..., Response]


def bearer(user: Any) -> dict[str, str]:
    from tracehound.accounts.models import ApiToken

    return {"Authorization": f"Bearer {ApiToken.issue(user)[1]}"}


@pytest.fixture
def api() -> ApiCall:
    """`api(path, user, method="GET", query="", headers=...)`: a request with `user`'s token."""

    def call(
        path: str,
        user: Any = None,
        *,
        method: str = "GET",
        query: str = "",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Response:
        all_headers = {**(bearer(user) if user is not None else {}), **(headers or {})}
        return call_wsgi(method, path, body, headers=all_headers, query=query)

    return call
