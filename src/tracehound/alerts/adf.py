"""Atlassian Document Format (ADF) builder: Jira Cloud's v3 API only takes rich text as ADF.

Plain functions on plain data. Event data can hold anything, so every text goes through
`clean()`: ADF text nodes must be non-empty, JSON cannot carry lone surrogates, and Jira
refuses NUL and most control characters. Lengths are capped (title 2,000, culprit 2,000, frames
8,000 characters) so that a 1 MB word never pushes a description past Jira's 32,767-character
field limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tracehound.alerts.base import Notification

Node = dict[str, Any]

# C0 controls but tab and newline, DEL, C1 controls, lone surrogates, and non-characters.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")


def clean(text: object, limit: int, *, one_line: bool = False) -> str:
    """`text` with what ADF/JSON/Jira refuse removed, at most `limit` characters."""
    value = _FORBIDDEN.sub("", str(text))
    if one_line:
        value = _SPACES.sub(" ", value).strip()
    if len(value) > limit:
        value = value[: max(limit - 1, 0)] + "…"
    return value


def text(value: object, *marks: Node, limit: int = 2000) -> Node | None:
    """A text node, or None when nothing printable is left (ADF forbids empty text)."""
    cleaned = clean(value, limit)
    if not cleaned:
        return None
    node: Node = {"type": "text", "text": cleaned}
    if marks:
        node["marks"] = list(marks)
    return node


def strong() -> Node:
    return {"type": "strong"}


def code() -> Node:
    return {"type": "code"}


def link(href: str) -> Node:
    return {"type": "link", "attrs": {"href": clean(href, 2000, one_line=True)}}


def paragraph(*parts: Node | None) -> Node:
    return {"type": "paragraph", "content": [p for p in parts if p is not None]}


def code_block(lines: Iterable[str], language: str = "") -> Node:
    body = clean("\n".join(lines), 8000)
    node: Node = {"type": "codeBlock", "content": [{"type": "text", "text": body}] if body else []}
    if language:
        node["attrs"] = {"language": clean(language, 40, one_line=True)}
    return node


def doc(*blocks: Node) -> Node:
    return {"type": "doc", "version": 1, "content": list(blocks)}


def frame_line(frame: dict[str, Any]) -> str:
    """`module.function (file:line)` for one stack frame."""
    where = str(frame.get("filename") or frame.get("module") or "?")
    lineno = frame.get("lineno")
    function = str(frame.get("function") or "?")
    place = f"{where}:{lineno}" if isinstance(lineno, int) else where
    return clean(f"{function} ({place})", 300, one_line=True)


def _facts(notification: Notification) -> list[Node]:
    issue = notification.issue
    event = notification.event
    blocks: list[Node] = []
    if issue is not None:
        blocks.append(
            paragraph(
                text(
                    f"Events: {issue.times_seen} · Users: {issue.users_seen} · "
                    f"Level: {issue.level or '?'}",
                    limit=200,
                ),
            )
        )
        blocks.append(
            paragraph(
                text(
                    f"First seen: {issue.first_seen.isoformat(timespec='seconds')} · "
                    f"Last seen: {issue.last_seen.isoformat(timespec='seconds')}",
                    limit=200,
                )
            )
        )
    if event is not None and (event.environment or event.release):
        blocks.append(
            paragraph(
                text("Environment: ", strong()),
                text(event.environment or "(none)", code(), limit=200),
                text(" · "),
                text("Release: ", strong()),
                text(event.release or "(none)", code(), limit=200),
            )
        )
    return blocks


def _link_paragraph(notification: Notification) -> Node:
    url = notification.issue.url if notification.issue else ""
    if not url:
        return paragraph(text(f"Project: {notification.project_name}", limit=300))
    return paragraph(text("Open in Tracehound", link(url)))


def description(notification: Notification) -> Node:
    """The ticket's description: title, culprit, top in-app frames, counts, a link."""
    issue = notification.issue
    blocks: list[Node] = [paragraph(text(notification.reason, strong(), limit=300))]
    if issue is not None:
        blocks.append(paragraph(text(issue.title, limit=2000)))
        if issue.culprit:
            blocks.append(paragraph(text("Culprit: ", strong()), text(issue.culprit, code())))
        if issue.frames:
            blocks.append(code_block((frame_line(f) for f in issue.frames[:15]), "text"))
    blocks.extend(_facts(notification))
    blocks.append(_link_paragraph(notification))
    return doc(*blocks)


def comment(notification: Notification) -> Node:
    """A comment on an existing ticket: why it is back, the counts, a link."""
    blocks: list[Node] = [paragraph(text(notification.reason, strong(), limit=300))]
    blocks.extend(_facts(notification))
    blocks.append(_link_paragraph(notification))
    return doc(*blocks)
