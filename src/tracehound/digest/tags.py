"""Tags derived from an event, as Sentry shows them beside the SDK's own tags."""

from __future__ import annotations

from typing import Any

from tracehound.digest.limits import MAX_CHARS
from tracehound.digest.useragent import Named, parse_browser, parse_os

MAX_KEY = MAX_CHARS["tag.key"]
MAX_VALUE = MAX_CHARS["tag.value"]


USER_FIELDS = (("id", "id"), ("email", "email"), ("username", "username"), ("ip_address", "ip"))


def user_tags(user: Any) -> dict[str, Any]:
    """`user` = the first identity the event has ("id:7", else "email:…", …), as Sentry
    tags it; `user.email`, `user.username`, `user.ip` for the other fields it has, so a
    search by them finds the event too. The one `user` holds gets no second row."""
    if not isinstance(user, dict):
        return {}
    tags: dict[str, Any] = {}
    for field, name in USER_FIELDS:
        value = user.get(field)
        if value in (None, ""):
            continue
        if not tags:
            tags["user"] = f"{name}:{value}"
        elif name != "id":  # the id is always the `user` tag when present
            tags[f"user.{name}"] = value
    return tags


def context_named(contexts: dict[str, Any], key: str) -> Named | None:
    ctx = contexts.get(key)
    if not isinstance(ctx, dict) or ctx.get("name") in (None, ""):
        return None
    version = ctx.get("version")
    return Named(str(ctx["name"]), "" if version in (None, "") else str(version))


def named_tags(derived: dict[str, Any], key: str, named: Named | None) -> None:
    """`browser` = "Chrome 120.0", `browser.name` = "Chrome", as Sentry tags them."""
    if named is None:
        return
    derived[key] = f"{named.name} {named.version}" if named.version else named.name
    derived[f"{key}.name"] = named.name


def user_agent(request: dict[str, Any]) -> str | None:
    for pair in request.get("headers") or ():
        if (
            isinstance(pair, (list, tuple))
            and len(pair) == 2
            and isinstance(pair[0], str)
            and pair[0].lower() == "user-agent"
            and isinstance(pair[1], str)
        ):
            return pair[1]
    return None


def device_name(contexts: dict[str, Any]) -> str | None:
    device = contexts.get("device")
    if not isinstance(device, dict):
        return None
    for field in ("model", "family"):
        if device.get(field) not in (None, ""):
            return str(device[field])
    return None


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
        **user_tags(event.get("user")),
    }
    contexts = event.get("contexts")
    if not isinstance(contexts, dict):
        contexts = {}
    named_tags(derived, "runtime", context_named(contexts, "runtime"))
    browser = context_named(contexts, "browser")
    os_ = context_named(contexts, "os") or context_named(contexts, "client_os")
    derived["device"] = device_name(contexts)
    request = event.get("request")
    if isinstance(request, dict):
        if isinstance(request.get("url"), str):
            derived["url"] = request["url"].split("?", 1)[0].split("#", 1)[0]
        if browser is None or os_ is None:
            ua = user_agent(request)
            if ua:
                browser = browser or parse_browser(ua)
                os_ = os_ or parse_os(ua)
    named_tags(derived, "browser", browser)
    named_tags(derived, "os", os_)
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
