"""All outbound HTTP (alert backends, SSO discovery and keys): one guarded client.

A BASIC VERSION (requests, timeouts, no redirects, redaction) — the guard, address
pinning and body cap are added by the delivery branch. Contract:

- `Outbound(redact=("secret", …))`: a client for one delivery attempt (or one SSO fetch).
- `client.request(method, url, *, json=None, data=None, headers=None, auth=None,
  timeout=(5.0, 20.0), max_bytes=1_000_000) -> Response`
  - timeouts always; TLS verified; never follows redirects (a 3xx is returned as is);
  - resolves the host and refuses (raises `Blocked`) private, loopback, link-local,
    multicast, reserved and unspecified addresses unless inside a CIDR of
    settings.TRACEHOUND_OUTBOUND_ALLOW (env TRACEHOUND_OUTBOUND_ALLOW, comma-separated);
    connects to the address it checked (no DNS rebinding between check and connect);
  - sends `User-Agent: Tracehound/<version>`;
  - reads at most `max_bytes` of the body;
  - network failures raise `OutboundError` with `.sent` True when the request may have
    reached the receiver (timeout or reset after sending: the outcome is unknown);
  - every call is appended to `client.calls` as a `Call` with the URL and any error text
    redacted (each string in `redact` replaced by "[redacted]").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class OutboundError(Exception):
    """The request failed without an HTTP answer; `sent`: it may have been received."""

    def __init__(self, message: str, *, sent: bool = False) -> None:
        super().__init__(message)
        self.sent = sent


class Blocked(OutboundError):
    """The address is not allowed (private, loopback, link-local, …)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    elapsed_ms: int

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        import orjson

        return orjson.loads(self.body)


@dataclass
class Call:
    method: str
    url: str  # redacted
    status: int | None
    elapsed_ms: int
    error: str = ""
    excerpt: str = ""  # first 2 KB of the response body, redacted


@dataclass
class Outbound:
    redact: tuple[str, ...] = ()
    calls: list[Call] = field(default_factory=list)

    def hide(self, text: str) -> str:
        for secret in self.redact:
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: tuple[float, float] = (5.0, 20.0),
        max_bytes: int = 1_000_000,
    ) -> Response:
        import time

        import orjson
        import requests

        body = data if json is None else orjson.dumps(json)
        sent_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if json is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        started = time.perf_counter()
        try:
            r = requests.request(
                method,
                url,
                data=body,
                headers=sent_headers,
                auth=auth,
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            ms = int((time.perf_counter() - started) * 1000)
            # Unknown outcome unless the connection was never made (the delivery branch
            # makes this exact by connecting itself).
            never = isinstance(exc, requests.ConnectTimeout) or "NewConnectionError" in repr(exc)
            sent = not never
            message = self.hide(f"{type(exc).__name__}: {exc}")[:1000]
            self.calls.append(Call(method, self.hide(url)[:500], None, ms, error=message))
            raise OutboundError(message, sent=sent) from None
        ms = int((time.perf_counter() - started) * 1000)
        content = r.content[:max_bytes]
        response = Response(
            r.status_code, {k.lower(): v for k, v in r.headers.items()}, content, ms
        )
        excerpt = self.hide(content[:2048].decode("utf-8", "replace"))
        self.calls.append(Call(method, self.hide(url)[:500], r.status_code, ms, excerpt=excerpt))
        return response


USER_AGENT = "Tracehound/0.1"
