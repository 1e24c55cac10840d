"""Tags derived from an event, as Sentry shows them beside the SDK's own tags."""

from __future__ import annotations

from typing import Any

from tracehound.digest.limits import MAX_CHARS

MAX_KEY = MAX_CHARS["tag.key"]
MAX_VALUE = MAX_CHARS["tag.value"]


def user_tag(user: Any) -> str | None:
    if not isinstance(user, dict):
        return None
    for field, prefix in (
        ("id", "id"),
        ("email", "email"),
        ("username", "username"),
        ("ip_address", "ip"),
    ):
        value = user.get(field)
        if value not in (None, ""):
            return f"{prefix}:{value}"
    return None


def context_name(contexts: dict[str, Any], key: str) -> str | None:
    ctx = contexts.get(key)
    if not isinstance(ctx, dict) or not ctx.get("name"):
        return None
    name = str(ctx["name"])
    version = ctx.get("version")
    return f"{name} {version}" if version else name


def event_tags(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The event's tags (first value per key wins) plus derived ones, as string pairs."""
    tags: dict[str, str] = {}
    for pair in event.get("tags") or ():
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and pair[0] and pair[1] is not None:
            key, value = str(pair[0])[:MAX_KEY], str(pair[1])[:MAX_VALUE]
            tags.setdefault(key, value)
    derived: dict[str, Any] = {
        "level": event.get("level"),
        "environment": event.get("environment"),
        "release": event.get("release"),
        "dist": event.get("dist"),
        "server_name": event.get("server_name"),
        "logger": event.get("logger"),
        "transaction": event.get("transaction"),
        "user": user_tag(event.get("user")),
    }
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        derived["runtime"] = context_name(contexts, "runtime")
        derived["os"] = context_name(contexts, "os")
        derived["browser"] = context_name(contexts, "browser")
    request = event.get("request")
    if isinstance(request, dict) and isinstance(request.get("url"), str):
        derived["url"] = request["url"].split("?", 1)[0]
    values = (event.get("exception") or {}).get("values") or []
    if values and isinstance(values[-1], dict):
        mechanism = values[-1].get("mechanism")
        if isinstance(mechanism, dict):
            if isinstance(mechanism.get("handled"), bool):
                derived["handled"] = "yes" if mechanism["handled"] else "no"
            if mechanism.get("type"):
                derived["mechanism"] = mechanism["type"]
    for key, value in derived.items():
        if value not in (None, "") and key not in tags:
            tags[key] = str(value)[:MAX_VALUE]
    return list(tags.items())
