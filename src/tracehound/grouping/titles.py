"""How an issue is shown: title, culprit and metadata, in the forms Sentry uses.

- error:   "ValueError: invalid literal for int()" (first line of the value, 100 chars),
           or just the type when there is no value.
- default: the formatted message's first line, or "<unlabeled event>".
- csp:     the report's message, e.g. "Blocked 'script' from 'evil.example'".

Culprit: the transaction when the SDK set one; else the crashing frame (the
newest in-app frame, or the newest frame when none is in-app), written
"module in function" or, for JavaScript, "function(filename)"; else the request URL.
"""

from __future__ import annotations

from typing import Any

from tracehound.grouping import csp
from tracehound.grouping.config import JAVASCRIPT_PLATFORMS, GroupingConfig
from tracehound.grouping.enhancers import Enhancements
from tracehound.grouping.exceptions import Exception_, ExceptionSelection
from tracehound.grouping.frames import Frame, frame_platform, frame_states, is_in_app, is_url
from tracehound.grouping.strategies import logentry_of, thread_stacktrace

TITLE_LENGTH = 100
CULPRIT_LENGTH = 200  # Relay's cap
METADATA_VALUE_LENGTH = 1024
UNLABELED = "<unlabeled event>"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip() if lines else ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


# --- crashing frame ------------------------------------------------------------


def _frames(stacktrace: Any) -> list[Frame]:
    if not isinstance(stacktrace, dict):
        return []
    frames = stacktrace.get("frames")
    if not isinstance(frames, list):
        return []
    return [frame for frame in frames if isinstance(frame, dict)]


def crash_frame(
    event: dict[str, Any],
    selection: ExceptionSelection | None,
    platform: str,
    config: GroupingConfig | None = None,
    rules: Enhancements | None = None,
) -> Frame | None:
    """The newest in-app frame of the first stack that has frames (else its newest frame).

    With a `config`, in-app is decided as grouping decides it: by the SDK, then by the
    built-in and the project's stack-trace rules (`-app` on a library moves the culprit).
    """
    stacks: list[Any] = []
    if selection is not None:
        stacks.append(selection.main.get("stacktrace"))
        stacks.extend(exception.get("stacktrace") for exception in reversed(selection.grouped))
    stacks.append(event.get("stacktrace"))
    stacks.append(thread_stacktrace(event))
    for stacktrace in stacks:
        frames = _frames(stacktrace)
        if frames:
            # Built-in rules only decide frames whose in_app the SDK left unset (but for
            # JavaScript dependencies, which is_in_app knows): when the SDK set every
            # frame and the project has no rules, the SDK's flags are the answer.
            sdk_decided = rules is None and all(type(f.get("in_app")) is bool for f in frames)
            if config is not None and not sdk_decided:
                in_app = frame_states(frames, platform, config, rules).in_app
                for index in range(len(frames) - 1, -1, -1):
                    if in_app[index]:
                        return frames[index]
                return frames[-1]
            for frame in reversed(frames):
                if is_in_app(frame, frame_platform(frame, platform)):
                    return frame
            return frames[-1]
    return None


def in_app_frame_mix(exceptions: list[Exception_]) -> str:
    """Whether the frames are all app code, all library code, or both ("system-only" if none)."""
    in_app = system = False
    for exception in exceptions:
        for frame in _frames(exception.get("stacktrace")):
            if frame.get("in_app") is True:
                in_app = True
            else:
                system = True
    if in_app:
        return "mixed" if system else "in-app-only"
    return "system-only"


# --- culprit ---------------------------------------------------------------------


def frame_culprit(frame: Frame, platform: str) -> str:
    function = _text(frame.get("function"))
    if frame_platform(frame, platform) in JAVASCRIPT_PLATFORMS:
        filename = _text(frame.get("filename")) or _text(frame.get("abs_path"))
        if filename.startswith(("http://", "https://")):  # the origin is noise in a title
            parts = filename.split("/", 3)
            filename = "/" + (parts[3] if len(parts) > 3 else "")
        if not function and not filename:
            return ""
        return f"{function or '?'}({filename or '?'})"
    location = _text(frame.get("module")) or _text(frame.get("filename"))
    if not location and not function:
        return ""
    return f"{location or '?'} in {function or '?'}"


def culprit(event: dict[str, Any], frame: Frame | None, platform: str) -> str:
    transaction = _text(event.get("transaction")).strip()
    if transaction:
        return truncate(transaction, CULPRIT_LENGTH)
    report = event.get("csp")
    if isinstance(report, dict) and frame is None:
        return truncate(csp.violated_directive(report), CULPRIT_LENGTH)
    if frame is None and (found := hostname_report(event)) is not None:
        return truncate(found[1], CULPRIT_LENGTH)
    if frame is not None:
        text = frame_culprit(frame, platform)
        if text:
            return truncate(text, CULPRIT_LENGTH)
    request = event.get("request")
    if isinstance(request, dict):
        url = _text(request.get("url")).strip()
        if url and is_url(url):
            return truncate(url, CULPRIT_LENGTH)
    return ""


# --- titles and metadata --------------------------------------------------------------


def error_title_and_metadata(
    main: Exception_, frame: Frame | None, exceptions: list[Exception_]
) -> tuple[str, dict[str, Any]]:
    exception_type = _text(main.get("type")).strip() or "Error"
    value = _text(main.get("value"))
    line = first_line(value)
    title = f"{exception_type}: {truncate(line, TITLE_LENGTH)}" if line else exception_type
    metadata = {
        "type": exception_type,
        "value": truncate(value, METADATA_VALUE_LENGTH),
        "filename": _text(frame.get("filename")) if frame else "",
        "function": _text(frame.get("function")) if frame else "",
        "in_app_frame_mix": in_app_frame_mix(exceptions),
    }
    return title, metadata


def is_synthetic_message(main: Exception_, event: dict[str, Any]) -> bool:
    mechanism = main.get("mechanism")
    return (
        not _text(main.get("type")).strip()
        and isinstance(mechanism, dict)
        and mechanism.get("synthetic") is True
        and message_title(event) != UNLABELED
    )


def message_title(event: dict[str, Any]) -> str:
    logentry = logentry_of(event)
    if logentry is not None:
        for key in ("formatted", "message"):
            line = first_line(_text(logentry.get(key)))
            if line:
                return truncate(line, TITLE_LENGTH)
    return UNLABELED


def csp_title_and_metadata(
    event: dict[str, Any], report: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    message = message_title(event)
    if message == UNLABELED:
        message = csp.report_message(report)
    metadata = {
        "directive": csp.effective_directive(report),
        "uri": csp.blocked_origin(report),
        "message": message,
    }
    return truncate(message, TITLE_LENGTH), metadata


def hostname_report(event: dict[str, Any]) -> tuple[str, str] | None:
    """(event key, host) of an HPKP, Expect-Staple or Expect-CT report, else None."""
    for key in csp.HOSTNAME_REPORTS:
        hostname = csp.report_hostname(event, key)
        if hostname:
            return key, hostname
    return None


def hostname_report_title_and_metadata(
    event: dict[str, Any], key: str, hostname: str
) -> tuple[str, dict[str, Any]]:
    """The report's own message (ingest writes one), else Sentry's wording for its type."""
    message = message_title(event)
    if message == UNLABELED:
        message = csp.HOSTNAME_TITLES[key].format(hostname=hostname)
    return truncate(message, TITLE_LENGTH), {"origin": hostname, "message": message}
