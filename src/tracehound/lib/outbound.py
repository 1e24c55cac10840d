"""All outbound HTTP (alert backends, SSO discovery and keys): one guarded client.

INTERFACE ONLY — implemented by the delivery branch. Contract:

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

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        raise NotImplementedError("implemented by the delivery branch")
