"""The built-in chat, webhook, paging and email backends, and the answer handling they
share: one place maps an HTTP answer to `Sent` or `DeliveryError` (reference §1.8)."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Collection
from urllib.parse import urlsplit

from django.conf import settings

from tracehound.alerts.base import ConfigError, DeliveryError, Sent
from tracehound.alerts.settings_check import split_url
from tracehound.lib.outbound import Blocked, Outbound, OutboundError, Response, parse_retry_after

# Seconds to wait for an answer (Standard Webhooks asks for 15 to 30).
READ_TIMEOUT = 20.0
# Retry-After values beyond this are clamped (a receiver must not park a row for weeks).
MAX_RETRY_AFTER = 24 * 3600.0


def retry_after(response: Response, default: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), else `default`;
    at most MAX_RETRY_AFTER."""
    seconds = parse_retry_after(response.headers.get("retry-after"))
    return default if seconds is None else min(seconds, MAX_RETRY_AFTER)


def excerpt(response: Response, limit: int = 200) -> str:
    return response.text[:limit].replace("\n", " ").strip()


def post(
    http: Outbound, url: str, body: bytes, headers: dict[str, str], timeout: float | None = None
) -> Response:
    """POST raw bytes; a network failure becomes a retryable DeliveryError."""
    try:
        return http.request(
            "POST",
            url,
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=(5.0, timeout or READ_TIMEOUT),
        )
    except Blocked as exc:
        raise DeliveryError(f"address refused: {exc}", retryable=False) from None
    except OutboundError as exc:
        raise DeliveryError(f"no answer: {exc}") from None


def classify(
    response: Response,
    *,
    ok: Collection[int],
    permanent: Collection[int] = (),
    disable: Collection[int] = (),
    retry_default: float | None = None,
) -> Sent:
    """`Sent` for a status in `ok`; otherwise a DeliveryError: `disable` statuses disable
    the channel, `permanent` ones are not retried, anything else (3xx, 429, 5xx, an
    unexpected status) is retried, after Retry-After when the receiver gave one."""
    status = response.status
    if status in ok:
        return Sent(status=status, excerpt=excerpt(response))
    message = f"HTTP {status}: {excerpt(response) or '(empty body)'}"
    if 300 <= status < 400:
        message = f"HTTP {status}: redirects are not followed"
    if status in disable:
        raise DeliveryError(message, retryable=False, disable_channel=True, status=status)
    if status in permanent:
        raise DeliveryError(message, retryable=False, status=status)
    wait = retry_after(response, retry_default if status == 429 else None)
    raise DeliveryError(message, retry_after=wait, status=status)


def is_allowed_http(host: str) -> bool:
    """An http:// (not https) URL is accepted only for an IP address inside
    TRACEHOUND_OUTBOUND_ALLOW: a receiver inside the network the operator vouched for."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    allowed = getattr(settings, "TRACEHOUND_OUTBOUND_ALLOW", ()) or ()
    return any(address in network for network in allowed)


def check_service_url(setting: str, url: str) -> None:
    """https, or http to an allowed address (see is_allowed_http); raises ConfigError,
    also for a malformed URL (`https://[::1`) or a port out of range."""
    parts = split_url(setting, url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_allowed_http(parts.hostname or ""):
        return
    raise ConfigError(
        setting,
        "must be an https:// URL (http:// only to an address in TRACEHOUND_OUTBOUND_ALLOW)",
    )


def secret_url_redactions(url: str) -> tuple[str, ...]:
    """A URL that is its own credential, and the parts of it that error texts quote
    alone ("…Max retries exceeded with url: /services/T0/B0/token"): path and query."""
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    pieces = [url, tail if len(parts.path) > 1 else "", parts.query]
    return tuple(p for p in pieces if len(p) >= 8)


def hashed_target(kind: str, secret: str) -> str:
    """A serialisation key for a secret target (a webhook URL, a routing key) that
    reveals nothing when the worker stores or logs it."""
    return f"{kind}:{hashlib.sha256(secret.encode()).hexdigest()[:16]}"
