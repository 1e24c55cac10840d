"""Log-in throttling: too many recent failures for an account, or from an address, refuse
further attempts until the oldest of them leaves the window."""

from __future__ import annotations

import ipaddress
import unicodedata
from datetime import timedelta

from django.utils import timezone

from tracehound.accounts.models import LoginFailure

WINDOW = timedelta(minutes=15)
FAILURES_PER_ACCOUNT = 5
# Higher: people behind one NAT share an address.
FAILURES_PER_ADDRESS = 20


def _account_key(username: str) -> str:
    # The name as the log-in form looks it up (stripped, NFKC), so " ann" or a
    # full-width "ａnn" count against ann. NUL cannot be stored in PostgreSQL text.
    name = unicodedata.normalize("NFKC", username.strip())
    return f"account:{name[:150].replace(chr(0), '')}"


def _address_key(address: str) -> str:
    # One IPv6 host usually holds a whole /64: count the network, not each address.
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address[:64].replace(chr(0), '')}"
    if ip.version == 6:
        return f"ip:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"ip:{ip}"


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    return [
        (_account_key(username), FAILURES_PER_ACCOUNT),
        (_address_key(address), FAILURES_PER_ADDRESS),
    ]


def is_login_throttled(username: str, address: str) -> bool:
    since = timezone.now() - WINDOW
    return any(
        LoginFailure.objects.filter(key=key, at__gte=since).count() >= limit
        for key, limit in _keys(username, address)
    )


def record_login_failure(username: str, address: str) -> None:
    now = timezone.now()
    LoginFailure.objects.filter(at__lt=now - WINDOW).delete()  # the table stays small
    LoginFailure.objects.bulk_create(
        [LoginFailure(key=key, at=now) for key, _ in _keys(username, address)]
    )


def forget_login_failures(username: str) -> None:
    """After a successful log-in; the address's failures stay (they may be guesses at others)."""
    LoginFailure.objects.filter(key=_account_key(username)).delete()
