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
    # The name as the log-in form looks it up (stripped, NFKC, any letter case), so
    # " ann", "ANN" or a full-width "ａnn" count against ann: by the user it names when
    # there is one, else by the casefolded name. NUL cannot be stored in PostgreSQL text.
    name = unicodedata.normalize("NFKC", username.strip())[:254].replace(chr(0), "")
    user_id = _resolve(name)
    if user_id is not None:
        return f"user:{user_id}"
    return f"account:{name.casefold()[:150]}"


def _resolve(name: str) -> int | None:
    """The pk of the one user a log-in name (user name or address, any case) names."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    User = get_user_model()
    if "@" in name:
        ids = list(EmailAddress.objects.filter(email__iexact=name).values_list("user_id")[:2])
        if not ids:
            ids = list(User.objects.filter(email__iexact=name).values_list("pk")[:2])
    else:
        ids = list(User.objects.filter(username__iexact=name).values_list("pk")[:2])
    return int(ids[0][0]) if len(ids) == 1 else None


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


# Two-factor codes: wrong TOTP or recovery codes count per user and per address, in the
# same windows and limits as passwords (allauth's own limit is off with ours, see settings).


def _mfa_keys(user_id: int, address: str) -> list[tuple[str, int]]:
    return [
        (f"mfa:{user_id}", FAILURES_PER_ACCOUNT),
        (_address_key(address), FAILURES_PER_ADDRESS),
    ]


def is_mfa_throttled(user_id: int, address: str) -> bool:
    since = timezone.now() - WINDOW
    return any(
        LoginFailure.objects.filter(key=key, at__gte=since).count() >= limit
        for key, limit in _mfa_keys(user_id, address)
    )


def record_mfa_failure(user_id: int, address: str) -> None:
    now = timezone.now()
    LoginFailure.objects.filter(at__lt=now - WINDOW).delete()
    LoginFailure.objects.bulk_create(
        [LoginFailure(key=key, at=now) for key, _ in _mfa_keys(user_id, address)]
    )


def forget_mfa_failures(user_id: int) -> None:
    LoginFailure.objects.filter(key=f"mfa:{user_id}").delete()
