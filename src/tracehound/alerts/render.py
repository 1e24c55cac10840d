"""Text helpers shared by the alert backends: event data can hold anything (NUL,
1 MB words, markup, huge numbers), and each service has limits and a markup of its own.

Plain functions on plain strings, so every backend cuts and escapes the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tracehound.alerts.base import Notification

# C0 controls except tab and newline, DEL, and lone surrogates: they break JSON
# consumers, mail headers and card renderers.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")
ELLIPSIS = "…"


def clean(text: object) -> str:
    """`text` as a printable string: controls removed, line ends normalised."""
    value = text if isinstance(text, str) else str(text)
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def window(text: object, limit: int) -> tuple[str, bool]:
    """The part of `text` that can matter for `limit` characters (cleaning and
    whitespace folding only shrink it), and whether anything lies beyond: a 1 MB title
    is never scanned whole."""
    value = text if isinstance(text, str) else str(text)
    size = limit * 4 + 16
    return value[:size], len(value) > size


def truncate(text: object, limit: int) -> str:
    """At most `limit` characters, ending in an ellipsis when cut."""
    raw, more = window(text, limit)
    value = clean(raw)
    if len(value) <= limit and not more:
        return value
    return value[: max(limit - 1, 0)] + ELLIPSIS if limit > 0 else ""


def one_line(text: object, limit: int) -> str:
    """A single line (titles, headers, subjects): newlines and tabs become spaces."""
    raw, more = window(text, limit)
    folded = re.sub(r"\s+", " ", clean(raw)).strip()
    if len(folded) <= limit and not more:
        return folded
    return folded[: max(limit - 1, 0)] + ELLIPSIS if limit > 0 else ""


def slack_escape(text: str) -> str:
    """Slack mrkdwn/plain text: only &, < and > are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_escape(text: str) -> str:
    """Backslash-escape Markdown punctuation (Teams TextBlocks render a Markdown subset)."""
    return _MARKDOWN.sub(r"\\\1", text)


def fit(text: object, limit: int, escape: Callable[[str], str] = str) -> str:
    """At most `limit` characters *after* escaping (escaping grows text: '<' is four
    characters in Slack), ending in an ellipsis when cut. `escape` works per character."""
    raw, more = window(text, limit)
    value = clean(raw)
    if len(value) <= limit and not more:
        escaped = escape(value)
        if len(escaped) <= limit:
            return escaped
    out: list[str] = []
    size = 0
    for char in value[:limit]:
        piece = escape(char)
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + ELLIPSIS if limit > 0 else ""


def headline(notification: Notification, limit: int = 150) -> str:
    """One line saying why this was sent: "New issue: KeyError: 'id'"."""
    title = notification.issue.title if notification.issue else "Test notification"
    return one_line(f"{notification.reason}: {title}" if notification.reason else title, limit)


def count(value: object) -> str:
    """A count as text, whatever it is (2**64, None, a string from a plugin)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return one_line(value, 40)
    return f"{value:,}" if abs(value) < 10**30 else f"{value:.3e}"


def facts(notification: Notification) -> list[tuple[str, str]]:
    """The label/value pairs every chat backend shows, each one line and short."""
    out = [("Project", one_line(notification.project_name or notification.project, 100))]
    issue = notification.issue
    if issue is not None:
        out += [
            ("Issue", one_line(issue.short_id, 60)),
            ("Level", one_line(issue.level, 20)),
            ("Events", count(issue.times_seen)),
            ("Users", count(issue.users_seen)),
        ]
    event = notification.event
    if event is not None:
        if event.environment:
            out.append(("Environment", one_line(event.environment, 100)))
        if event.release:
            out.append(("Release", one_line(event.release, 100)))
    if notification.rule:
        out.append(("Rule", one_line(notification.rule, 100)))
    return out


def issue_url(notification: Notification) -> str:
    """The issue's link, or the project's on a notification without an issue."""
    if notification.issue is not None and notification.issue.url:
        return notification.issue.url
    from django.conf import settings

    return f"{settings.BASE_URL}/{notification.organization}/{notification.project}/"


# Integers JSON consumers read exactly (JavaScript's safe range); larger ones are sent as
# strings, which also keeps orjson (64-bit at most) from failing on 2**64.
SAFE_INT = 2**53 - 1


def json_safe(value: object, text_limit: int = 1000, depth: int = 0) -> object:
    """`value` made safe to serialise: strings cleaned and cut, huge integers and
    non-finite floats as strings, containers cut to 50 items and 5 levels."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -SAFE_INT <= value <= SAFE_INT else str(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dict) and depth < 5:
        return {
            truncate(k, 100): json_safe(v, text_limit, depth + 1)
            for k, v in list(value.items())[:50]
        }
    if isinstance(value, list | tuple) and depth < 5:
        return [json_safe(v, text_limit, depth + 1) for v in value[:50]]
    return truncate(value, text_limit)
