"""Channel actions: create, update, enable/disable, delete; reading a channel's settings.

Settings a backend declares `secret` are stored encrypted (`lib.secrets_box`) in
`Channel.secrets`; the rest in `Channel.config`. Forms, the CLI and the API all go
through `create_channel` / `update_channel`, so they refuse the same bad settings with
the same messages (`ConfigError` naming the setting).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import IntegrityError, transaction

from tracehound.alerts import registry
from tracehound.alerts.base import Backend, ConfigError
from tracehound.alerts.models import Channel, Notification
from tracehound.lib import secrets_box
from tracehound.projects.models import Organization

NAME_MAX = 100
# What public_config shows for a secret; sent back (a GET → PUT round trip), it means
# "unchanged".
SET, UNREADABLE = "[set]", "[unreadable]"


def backend_class(kind: str) -> type[Backend]:
    cls = registry.get(kind)
    if cls is None:
        known = ", ".join(sorted(registry.backends()))
        raise ConfigError("kind", f"unknown kind {kind[:64]!r} (known: {known})")
    return cls


def check_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > NAME_MAX or "\0" in name:
        raise ConfigError("name", f"must be 1 to {NAME_MAX} characters")
    return name


def split(cls: type[Backend], cleaned: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    secret_names = {s.name for s in cls.settings if s.secret}
    config = {k: v for k, v in cleaned.items() if k not in secret_names}
    secrets = {k: v for k, v in cleaned.items() if k in secret_names and is_set(v)}
    return config, secrets_box.encrypt(orjson.dumps(secrets).decode()) if secrets else ""


def is_set(value: Any) -> bool:
    """A secret worth storing and reporting "[set]": not None, "", {} or []."""
    return value is not None and value != "" and value != {} and value != []


def readable_secrets(channel: Channel) -> dict[str, Any] | None:
    """The channel's secrets, or None when they cannot be decrypted (SECRET_KEY changed
    without a fallback): pages and the API still show the channel, and an update treats
    them as unset so entering them again repairs it."""
    try:
        return secrets_of(channel)
    except secrets_box.SecretUnreadable:
        return None


def secrets_of(channel: Channel) -> dict[str, Any]:
    if not channel.secrets:
        return {}
    value = orjson.loads(secrets_box.decrypt(channel.secrets))
    return value if isinstance(value, dict) else {}


def full_config(channel: Channel) -> dict[str, Any]:
    """Every setting with secrets decrypted (raises secrets_box.SecretUnreadable)."""
    return {**channel.config, **secrets_of(channel)}


def backend_for(channel: Channel) -> Backend | None:
    """The channel's backend with its settings, or None when its kind is not installed."""
    cls = registry.get(channel.kind)
    return None if cls is None else cls(full_config(channel))


def public_config(channel: Channel) -> dict[str, Any]:
    """The settings safe to show: secrets replaced by "[set]" (a non-empty value is
    stored), "" (none), or "[unreadable]" (stored under a SECRET_KEY no longer known)."""
    cls = registry.get(channel.kind)
    secret_names = {s.name for s in cls.settings if s.secret} if cls else set()
    shown = {k: v for k, v in channel.config.items() if k not in secret_names}
    stored = readable_secrets(channel)
    for name in secret_names:
        if stored is None:
            shown[name] = UNREADABLE
        else:
            shown[name] = SET if is_set(stored.get(name)) else ""
    return shown


@transaction.atomic
def create_channel(
    organization: Organization, name: str, kind: str, values: Mapping[str, Any], actor: Any = None
) -> tuple[Channel, dict[str, str]]:
    """Returns the channel and the generated settings to show once (a signing secret)."""
    cls = backend_class(kind)
    name = check_name(name)
    cleaned = cls.clean(values)
    shown_once = cls.generate(cleaned)
    config, secrets = split(cls, cleaned)
    try:
        with transaction.atomic():
            channel = Channel.objects.create(
                organization=organization,
                name=name,
                kind=kind,
                config=config,
                secrets=secrets,
                created_at=datetime.now(tz=UTC),
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        raise ConfigError("name", f"a channel named {name!r} already exists") from None
    return channel, shown_once


@transaction.atomic
def update_channel(channel: Channel, values: Mapping[str, Any], name: str | None = None) -> Channel:
    """Change settings; a secret setting left out, blank or "[set]" keeps its stored value (an
    unreadable one is dropped: it must be entered again, which repairs the channel)."""
    cls = backend_class(channel.kind)
    stored = readable_secrets(channel)
    current = {**channel.config, **(stored or {})}
    secret_names = {s.name for s in cls.settings if s.secret}
    merged = {**{k: v for k, v in current.items() if v is not None}}
    for key, value in values.items():
        if key in secret_names and (value is None or value in ("", SET, UNREADABLE)):
            continue  # blank, or what public_config answered: sent back unchanged
        merged[key] = value
    cleaned = cls.clean(merged)
    if stored is None:
        # A setting the server generates at creation (a webhook's signing secret) is not
        # silently dropped or replaced by one nobody has seen: it must be entered.
        for key in cls.generate(dict(cleaned)):
            raise ConfigError(key, "could not be decrypted (SECRET_KEY changed): enter it again")
    channel.config, channel.secrets = split(cls, cleaned)
    if name is not None:
        channel.name = check_name(name)
        if (
            Channel.objects.filter(organization_id=channel.organization_id, name=channel.name)
            .exclude(pk=channel.pk)
            .exists()
        ):
            raise ConfigError("name", f"a channel named {channel.name!r} already exists")
    channel.save()
    return channel


def set_enabled(channel: Channel, enabled: bool, reason: str = "") -> None:
    """Enable (clearing the failure run) or disable a channel. Disabling suppresses its
    pending notifications; tickets and PagerDuty incidents owed stay pending so enabling
    it again sends them."""
    with transaction.atomic():
        channel.enabled = enabled
        channel.disabled_reason = "" if enabled else reason[:500]
        if enabled:
            channel.failing_since = None
        channel.save(update_fields=["enabled", "disabled_reason", "failing_since"])
        cls = registry.get(channel.kind)
        if not enabled and (cls is None or cls.max_age is not None):
            Notification.objects.filter(channel=channel, state=Notification.State.PENDING).update(
                state=Notification.State.SUPPRESSED
            )
