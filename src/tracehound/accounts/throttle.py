"""Log-in throttling: too many recent failures for an account, or from an address, refuse
further attempts until the oldest of them leaves the window."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tracehound.accounts.models import LoginFailure

WINDOW = timedelta(minutes=15)
FAILURES_PER_ACCOUNT = 5
# Higher: people behind one NAT share an address.
FAILURES_PER_ADDRESS = 20


def _account_key(username: str) -> str:
    # NUL cannot be stored in PostgreSQL text; such a name never logs in anyway.
    return f"account:{username[:150].replace(chr(0), '')}"


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    return [
        (_account_key(username), FAILURES_PER_ACCOUNT),
        (f"ip:{address[:64].replace(chr(0), '')}", FAILURES_PER_ADDRESS),
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
