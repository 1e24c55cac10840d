"""Normalization of the request and user interfaces, and client IP inference (see normalize.py)."""

from __future__ import annotations

from typing import Any

from tracehound.digest.databag import (
    Meta,
    coerce_str,
    normalize_pairs,
    trim_databag,
    trim_string,
)
from tracehound.digest.limits import MAX_CHARS

# SDKs for these platforms predate `sdk.settings.infer_ip` and always wanted the IP.
LEGACY_IP_PLATFORMS = frozenset({"javascript", "cocoa", "objc"})


def normalize_request(event: dict[str, Any], meta: Meta, client_ip: str | None) -> None:
    request = event.get("request")
    if request is None:
        return
    if not isinstance(request, dict):
        del event["request"]
        return
    for key in ("url", "method"):
        if key in request:
            text = coerce_str(request[key])
            if text is None:
                del request[key]
            else:
                request[key] = trim_string(
                    text, MAX_CHARS[f"request.{key}"], meta, ["request", key]
                )
    for key in ("headers", "cookies", "query_string"):
        if key not in request:
            continue
        raw = request[key]
        # Cookie and query strings may come unparsed; the scrubber parses them.
        value = raw if isinstance(raw, str) and key != "headers" else normalize_pairs(raw)
        if value is None:
            del request[key]
        else:
            request[key] = trim_databag(value, meta, ["request", key], max_bytes=8192)
    env = request.get("env")
    if env is not None and not isinstance(env, dict):
        del request["env"]
    elif env and env.get("REMOTE_ADDR") == "{{auto}}":
        if client_ip:
            env["REMOTE_ADDR"] = client_ip
        else:
            del env["REMOTE_ADDR"]
    if "data" in request:
        request["data"] = trim_databag(
            request["data"], meta, ["request", "data"], max_string=8192, max_bytes=16 * 1024
        )


def normalize_user(event: dict[str, Any], meta: Meta, client_ip: str | None) -> None:
    user = event.get("user")
    if user is not None and not isinstance(user, dict):
        del event["user"]
        user = None
    sdk = event.get("sdk")
    settings = sdk.get("settings") if isinstance(sdk, dict) else None
    infer_ip = settings.get("infer_ip") if isinstance(settings, dict) else None

    ip = user.get("ip_address") if user else None
    if ip == "{{auto}}":
        ip = client_ip
    elif ip is None and infer_ip != "never":
        request = event.get("request")
        env = request.get("env") if isinstance(request, dict) else None
        remote = env.get("REMOTE_ADDR") if isinstance(env, dict) else None
        if isinstance(remote, str) and remote:
            ip = remote
        elif infer_ip == "auto" or (
            infer_ip is None and event.get("platform") in LEGACY_IP_PLATFORMS
        ):
            ip = client_ip

    ip = coerce_str(ip)
    if ip:
        if user is None:
            user = event["user"] = {}
        user["ip_address"] = ip
    elif user is not None:
        user.pop("ip_address", None)
    if user:
        _normalize_user_fields(user, meta)


def _normalize_user_fields(user: dict[str, Any], meta: Meta) -> None:
    for key in ("id", "email", "username", "name", "segment", "ip_address"):
        if key in user:
            text = coerce_str(user[key])
            cap = MAX_CHARS["user.email" if key == "email" else "user.field"]
            if text is None:
                del user[key]
            else:
                user[key] = trim_string(text, cap, meta, ["user", key])
    trim_databag(user, meta, ["user"], max_bytes=8192)
