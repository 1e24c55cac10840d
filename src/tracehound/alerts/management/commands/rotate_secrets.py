"""`tracehound rotate-secrets`: re-encrypt every secret at rest with the current key.

Rotating SECRET_KEY: start with the new key as SECRET_KEY and the old one in
TRACEHOUND_SECRET_KEY_FALLBACKS (secrets still decrypt with it), run this command, then
drop the old key. A secret that no key can read is reported and left as it is.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django.core.management.base import CommandError
from django.db import transaction

from tracehound.accounts.models import SsoProvider
from tracehound.alerts.models import Channel
from tracehound.lib import secrets_box
from tracehound.lib.command import OperatorCommand


class Command(OperatorCommand):
    help = "Re-encrypt channel and SSO secrets with the current SECRET_KEY."

    def handle(self, *args: Any, **options: Any) -> None:
        done = unreadable = 0
        with transaction.atomic():
            for model, field in ((Channel, "secrets"), (SsoProvider, "client_secret_encrypted")):
                for row in model.objects.select_for_update().exclude(**{field: ""}).order_by("pk"):
                    try:
                        setattr(row, field, secrets_box.rotate(getattr(row, field)))
                    except InvalidToken:
                        unreadable += 1
                        self.stderr.write(
                            f"{model.__name__} {row.pk}: cannot be decrypted with SECRET_KEY"
                            " or a fallback; left as it is"
                        )
                        continue
                    row.save(update_fields=[field])
                    done += 1
        self.stdout.write(f"re-encrypted {done} secrets")
        if unreadable:
            raise CommandError(f"{unreadable} secrets could not be decrypted")
