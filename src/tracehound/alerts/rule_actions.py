"""Alert rule actions (create, update, enable/disable, delete) and the audit entries of
rule and channel changes.

The web form, the CLI and the API all call these, so a bad rule is refused the same way
everywhere: `ConfigError(field, message)` naming the field, nothing saved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from tracehound.accounts import audit
from tracehound.alerts.base import ConfigError
from tracehound.alerts.models import AlertRule, Channel
from tracehound.lib.ids import parse_id
from tracehound.projects.models import Project

LEVELS = ("debug", "info", "warning", "error", "fatal")  # ascending
MAX_WINDOW = 30 * 24 * 60  # minutes: the counts-over-time rows go back 30 days
MAX_COUNT = 10**9
MAX_TAG_FILTERS = 20
NAME_MAX = 200
CLI = "command line"
UNSET: Any = object()


def check_name(name: Any) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > NAME_MAX or "\0" in text:
        raise ConfigError("name", f"must be 1 to {NAME_MAX} characters")
    return text


def is_list(value: Any) -> bool:
    """A list-like value: not a string, and not an object (whose keys would be iterated)."""
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))


def check_triggers(triggers: Any) -> list[str]:
    if not is_list(triggers):
        raise ConfigError("triggers", "must be a list of triggers")
    found: list[str] = []
    for trigger in triggers:
        if not isinstance(trigger, str) or trigger not in AlertRule.TRIGGERS:
            known = ", ".join(AlertRule.TRIGGERS)
            raise ConfigError("triggers", f"unknown trigger {str(trigger)[:40]!r} (known: {known})")
        if trigger not in found:
            found.append(trigger)
    if not found:
        raise ConfigError("triggers", "choose at least one trigger")
    return found


def check_threshold(field: str, value: Any) -> tuple[int, int] | None:
    """(count, window minutes) or None; both are needed and bounded."""
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ConfigError(field, "needs a count and a window in minutes")
    count, window = value
    for part, what in ((count, "count"), (window, "window")):
        if part is None:
            raise ConfigError(field, f"needs a {what}")
        if isinstance(part, bool) or not isinstance(part, int):
            raise ConfigError(field, f"the {what} must be a whole number")
    if not 1 <= count <= MAX_COUNT:
        raise ConfigError(field, f"the count must be between 1 and {MAX_COUNT}")
    if not 1 <= window <= MAX_WINDOW:
        raise ConfigError(field, f"the window must be between 1 minute and 30 days ({MAX_WINDOW})")
    return count, window


def check_level(level: Any) -> str:
    if level in ("", None):
        return ""
    if not isinstance(level, str) or level.lower() not in LEVELS:
        raise ConfigError("min_level", f"must be one of {', '.join(LEVELS)}")
    return level.lower()


def check_text(field: str, value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\0" in value or len(value.strip()) > limit:
        raise ConfigError(field, f"must be text of at most {limit} characters")
    return value.strip()


def check_tag_filters(filters: Any) -> list[dict[str, str]]:
    if not is_list(filters):
        raise ConfigError("tag_filters", "must be a list of {key, op, value}")
    cleaned: list[dict[str, str]] = []
    for item in filters:
        if not isinstance(item, Mapping):
            raise ConfigError("tag_filters", "each must be an object with key, op and value")
        key = check_text("tag_filters", item.get("key"), 200)
        if not key:
            raise ConfigError("tag_filters", "a tag condition needs a key")
        op = item.get("op", "eq")
        if op not in AlertRule.TAG_OPS:
            raise ConfigError(
                "tag_filters",
                f"unknown operator {str(op)[:20]!r} (known: {', '.join(AlertRule.TAG_OPS)})",
            )
        value = check_text("tag_filters", item.get("value", ""), 200)
        cleaned.append({"key": key, "op": str(op), "value": value})
    if len(cleaned) > MAX_TAG_FILTERS:
        raise ConfigError("tag_filters", f"at most {MAX_TAG_FILTERS} tag conditions")
    return cleaned


def check_throttle(minutes: Any) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_WINDOW:
        raise ConfigError("throttle_minutes", f"must be between 0 and {MAX_WINDOW} minutes")
    return int(minutes)


def find_channels(project: Project, channels: Any) -> list[Channel]:
    """The organization's channels named (by name, id, Channel, or {"id"} / {"name"} as
    the API answers them); unknown ones refused."""
    if not is_list(channels):
        raise ConfigError("channels", "must be a list of channel names or ids")
    found: list[Channel] = []
    org_channels = Channel.objects.filter(organization_id=project.organization_id)
    for item in channels:
        ref = item
        if isinstance(item, Mapping):  # {"id", "name"}: the id decides, as an id
            ref = item.get("id") if item.get("id") is not None else item.get("name")
            pk = parse_id(str(ref)) if item.get("id") is not None else None
            if pk is not None:
                ref = pk
        row = channel_by_ref(project, org_channels, ref)
        if row is None:
            raise ConfigError("channels", f"no channel {str(ref)[:100]!r} in this organization")
        if row not in found:
            found.append(row)
    return found


def channel_by_ref(project: Project, org_channels: QuerySet[Channel], ref: Any) -> Channel | None:
    """One channel of the organization by a Channel, an id, or a name (else None)."""
    if isinstance(ref, Channel):
        return ref if ref.organization_id == project.organization_id else None
    if isinstance(ref, int) and not isinstance(ref, bool):
        pk = parse_id(ref)  # 2**64 is no id, not a database error
        return None if pk is None else org_channels.filter(pk=pk).first()
    if isinstance(ref, str):
        # A name, or an id as the API answers it ("3") when no channel has that name.
        row = org_channels.filter(name=ref[:100]).first()
        pk = parse_id(ref)
        if row is None and pk is not None:
            row = org_channels.filter(pk=pk).first()
        return row
    return None


def checked_fields(project: Project, values: Mapping[str, Any]) -> dict[str, Any]:
    """The model fields for `values` (keys as create_rule's arguments), each checked."""
    out: dict[str, Any] = {}
    if "triggers" in values:
        out["triggers"] = check_triggers(values["triggers"])
    for field in ("frequency", "users"):
        if field in values:
            pair = check_threshold(field, values[field])
            out[f"{field}_count"], out[f"{field}_window"] = pair or (None, None)
    if "environment" in values:
        out["environment"] = check_text("environment", values["environment"], 64)
    if "min_level" in values:
        out["min_level"] = check_level(values["min_level"])
    if "release" in values:
        out["release"] = check_text("release", values["release"], 200)
    if "tag_filters" in values:
        out["tag_filters"] = check_tag_filters(values["tag_filters"])
    if "throttle_minutes" in values:
        out["throttle_minutes"] = check_throttle(values["throttle_minutes"])
    if "channels" in values:
        out["channels"] = find_channels(project, values["channels"])
    return out


def check_thresholds_present(rule: AlertRule) -> None:
    """A frequency or users trigger needs its count and window."""
    for trigger in ("frequency", "users"):
        if trigger in rule.triggers and getattr(rule, f"{trigger}_count") is None:
            raise ConfigError(trigger, f"the {trigger} trigger needs a count and a window")


def record(
    action: str,
    target: AlertRule | Channel,
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """An audit entry for a rule or channel change (`actor` None and no request: the CLI)."""
    organization_id = (
        target.project.organization_id if isinstance(target, AlertRule) else target.organization_id
    )
    audit.record(
        action,
        request=request,
        actor=actor,
        actor_label="" if (actor is not None or request is not None) else CLI,
        organization=_organization(organization_id),
        target=target,
        target_type="alert_rule" if isinstance(target, AlertRule) else "channel",
        data=data,
    )


def _organization(pk: int) -> Any:
    from tracehound.projects.models import Organization

    return Organization.objects.get(pk=pk)


def _actor_user(actor: Any) -> Any:
    user = getattr(actor, "user", actor)
    return user if getattr(user, "pk", None) else None


@transaction.atomic
def create_rule(
    project: Project,
    name: str,
    *,
    triggers: Iterable[str],
    frequency: tuple[int, int] | None = None,
    users: tuple[int, int] | None = None,
    environment: str = "",
    min_level: str = "",
    release: str = "",
    tag_filters: Iterable[Mapping[str, Any]] = (),
    throttle_minutes: int = 30,
    channels: Iterable[Any] = (),
    enabled: bool = True,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> AlertRule:
    """A new rule of `project`; raises ConfigError naming the bad field, saving nothing."""
    if not isinstance(enabled, bool):
        raise ConfigError("enabled", "must be true or false")
    fields = checked_fields(
        project,
        {
            "triggers": triggers,
            "frequency": frequency,
            "users": users,
            "environment": environment,
            "min_level": min_level,
            "release": release,
            "tag_filters": tag_filters,
            "throttle_minutes": throttle_minutes,
            "channels": channels,
        },
    )
    chosen = fields.pop("channels")
    rule = AlertRule(
        project=project,
        name=check_name(name),
        created_at=datetime.now(tz=UTC),
        created_by=_actor_user(actor),
        enabled=enabled,
        **fields,
    )
    check_thresholds_present(rule)
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise ConfigError("name", f"a rule named {rule.name!r} already exists") from None
    rule.channels.set(chosen)
    record("alert_rule.create", rule, actor=actor, request=request, data=describe(rule))
    return rule


@transaction.atomic
def update_rule(
    rule: AlertRule,
    *,
    name: str | None = None,
    actor: Any = None,
    request: HttpRequest | None = None,
    **values: Any,
) -> AlertRule:
    """Change the fields given (create_rule's keyword names; `enabled` too)."""
    known = {
        "triggers", "frequency", "users", "environment", "min_level", "release",
        "tag_filters", "throttle_minutes", "channels", "enabled",
    }  # fmt: skip
    for key in values:
        if key not in known:
            raise ConfigError(key, "is not a field of an alert rule")
    enabled = values.pop("enabled", None)
    if enabled is not None and not isinstance(enabled, bool):
        raise ConfigError("enabled", "must be true or false")
    fields = checked_fields(rule.project, values)
    chosen = fields.pop("channels", None)
    for key, value in fields.items():
        setattr(rule, key, value)
    if name is not None:
        rule.name = check_name(name)
        if (
            AlertRule.objects.filter(project=rule.project, name=rule.name)
            .exclude(pk=rule.pk)
            .exists()
        ):
            raise ConfigError("name", f"a rule named {rule.name!r} already exists")
    if enabled is not None:
        rule.enabled = enabled
    check_thresholds_present(rule)
    rule.save()
    if chosen is not None:
        rule.channels.set(chosen)
    action = "alert_rule.update"
    if enabled is not None and not fields and chosen is None and name is None:
        action = "alert_rule.enable" if enabled else "alert_rule.disable"
    record(action, rule, actor=actor, request=request, data=describe(rule))
    return rule


@transaction.atomic
def delete_rule(rule: AlertRule, *, actor: Any = None, request: HttpRequest | None = None) -> None:
    record("alert_rule.delete", rule, actor=actor, request=request, data={"name": rule.name})
    rule.delete()


def describe(rule: AlertRule) -> dict[str, Any]:
    """The rule's settings for the audit log and the API."""
    return {
        "name": rule.name,
        "enabled": rule.enabled,
        "triggers": list(rule.triggers),
        "frequency": None
        if rule.frequency_count is None
        else {"count": rule.frequency_count, "window": rule.frequency_window},
        "users": None
        if rule.users_count is None
        else {"count": rule.users_count, "window": rule.users_window},
        "environment": rule.environment,
        "min_level": rule.min_level,
        "release": rule.release,
        "tag_filters": list(rule.tag_filters),
        "throttle_minutes": rule.throttle_minutes,
    }


# -- channels: the actions are alerts/channels.py's; these add the audit entries --------


def create_channel(
    organization: Any,
    name: str,
    kind: str,
    values: Mapping[str, Any],
    *,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> tuple[Channel, dict[str, str]]:
    from tracehound.alerts import channels

    with transaction.atomic():
        channel, shown_once = channels.create_channel(
            organization, name, kind, values, actor=_actor_user(actor)
        )
        record("channel.create", channel, actor=actor, request=request, data={"kind": kind})
    return channel, shown_once


def update_channel(
    channel: Channel,
    values: Mapping[str, Any],
    *,
    name: str | None = None,
    enabled: bool | None = None,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> Channel:
    """Settings and name (secrets left blank are kept), then enabled if given."""
    from tracehound.alerts import channels

    with transaction.atomic():
        if values or name is not None:
            channels.update_channel(channel, values, name=name)
            changed = sorted(values)  # names only: values may be secrets
            record("channel.update", channel, actor=actor, request=request, data={"set": changed})
        if enabled is not None and enabled != channel.enabled:
            set_channel_enabled(channel, enabled, actor=actor, request=request)
    return channel


def set_channel_enabled(
    channel: Channel, enabled: bool, *, actor: Any = None, request: HttpRequest | None = None
) -> None:
    from tracehound.alerts import channels

    with transaction.atomic():
        reason = "" if enabled else "disabled by a person"
        channels.set_enabled(channel, enabled, reason)
        action = "channel.enable" if enabled else "channel.disable"
        record(action, channel, actor=actor, request=request)


def delete_channel(
    channel: Channel, *, actor: Any = None, request: HttpRequest | None = None
) -> None:
    """Delete a channel, its outbox rows and log (rules simply lose it)."""
    with transaction.atomic():
        record("channel.delete", channel, actor=actor, request=request, data={"kind": channel.kind})
        channel.delete()
