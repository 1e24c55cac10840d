"""Secrets at rest (integration credentials, SSO client secrets), encrypted with a key
derived from SECRET_KEY.

Rotation: set the new SECRET_KEY and put the old one in SECRET_KEY_FALLBACKS
(TRACEHOUND_SECRET_KEY_FALLBACKS, comma-separated); values encrypted with an old key
still decrypt, and `tracehound rotate-secrets` (or any save) re-encrypts them with the
new one. Then drop the old key.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

_INFO = b"tracehound secrets at rest v1"


class SecretUnreadable(Exception):
    """The value was encrypted with a key that is neither SECRET_KEY nor a fallback."""


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(_INFO + b"\0" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _box() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(str(k)) for k in keys if k])


def encrypt(plain: str) -> str:
    return "" if plain == "" else _box().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "a stored secret cannot be decrypted: SECRET_KEY changed without keeping the"
            " old key in SECRET_KEY_FALLBACKS"
        ) from None


def rotate(token: str) -> str:
    """The value re-encrypted with the current SECRET_KEY."""
    return _box().rotate(token.encode()).decode() if token else ""
