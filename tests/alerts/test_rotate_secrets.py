"""Rotating SECRET_KEY: channel secrets re-encrypted by `tracehound rotate-secrets`."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from tracehound.alerts.channels import create_channel, full_config
from tracehound.alerts.models import Channel
from tracehound.lib.secrets_box import SecretUnreadable
from tracehound.projects.models import Organization

pytestmark = pytest.mark.django_db

URL = "https://hooks.slack.com/services/T000/B000/abcdefSECRET"


def test_rotation_moves_secrets_to_the_new_key(settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "old-key-" + "x" * 40, []
    org = Organization.objects.create(slug="acme", name="Acme")
    channel, _ = create_channel(org, "ops", "slack", {"webhook_url": URL})
    stored = Channel.objects.get().secrets
    assert URL not in stored

    # New key first, the old one kept as a fallback: still readable, then rotated.
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = (
        "new-key-" + "y" * 40,
        [settings.SECRET_KEY],
    )
    out = io.StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "re-encrypted 1 secrets" in out.getvalue()
    assert Channel.objects.get().secrets != stored

    # The old key dropped: the rotated secret still reads.
    settings.SECRET_KEY_FALLBACKS = []
    assert full_config(Channel.objects.get())["webhook_url"] == URL


def test_a_secret_no_key_reads_is_reported_and_kept(settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "lost-key-" + "z" * 40, []
    org = Organization.objects.create(slug="acme", name="Acme")
    create_channel(org, "ops", "slack", {"webhook_url": URL})
    stored = Channel.objects.get().secrets
    settings.SECRET_KEY = "another-key-" + "w" * 40
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 secrets could not be decrypted"):
        call_command("rotate_secrets", stderr=err)
    assert "cannot be decrypted" in err.getvalue()
    assert Channel.objects.get().secrets == stored
    with pytest.raises(SecretUnreadable):
        full_config(Channel.objects.get())
