"""Turn one queued payload into plain data ready to store. No database access here."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from tracehound.digest.databag import clean_text
from tracehound.digest.limits import MAX_CHARS
from tracehound.digest.normalize import event_id_or_none, normalize_event
from tracehound.digest.scrub import scrub_event
from tracehound.digest.tags import event_tags
from tracehound.grouping import GroupingResult, group_event
from tracehound.grouping.project_rules import project_rules
from tracehound.lib.compression import compress_payload
from tracehound.lib.envelope import (
    Envelope,
    Item,
    parse_envelope,
)

# Largest count kept from a client report; store.py saturates sums at it. Far below
# the 64-bit columns, so adding two never overflows; JSON readers keep it exact.
MAX_QUANTITY = 2**53 - 1


Failure = tuple[int, str]  # (queue id, error): an item kept and marked failed


def describe(exc: BaseException) -> str:
    """An error as stored beside a failed item: its last line, bounded."""
    return "".join(traceback.format_exception_only(exc)).strip()[:2000]


class ProjectGrouping(NamedTuple):
    """A project's grouping settings, loaded once per batch and sent to digest children.

    `secondary_version` is set only during a grouping upgrade's transition window:
    events are grouped with both versions and stored under either's existing issue.
    """

    version: str
    secondary_version: str = ""
    fingerprint_rules: str = ""
    stacktrace_rules: str = ""


class DigestError(Exception):
    """The payload cannot be turned into stored data; it is kept and marked failed."""


@dataclass(slots=True)
class ProcessedEvent:
    event_id: str
    timestamp: datetime
    received_at: datetime
    level: str
    release: str
    environment: str
    platform: str
    tags: list[tuple[str, str]]
    grouping: GroupingResult
    payload: bytes  # zstd of the normalized, scrubbed event JSON
    # Hashes of the secondary grouping version (transition window), else empty.
    secondary_hashes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ProcessedAttachment:
    event_id: str
    name: str
    content_type: str
    attachment_type: str
    size: int
    data: bytes  # zstd


@dataclass(slots=True)
class ProcessedReport:
    event_id: str
    feedback_id: str
    name: str
    email: str
    comments: str
    url: str


@dataclass(slots=True)
class ProcessedItem:
    queue_id: int
    project_id: int
    received_at: float
    event: ProcessedEvent | None = None
    attachments: list[ProcessedAttachment] = field(default_factory=list)
    reports: list[ProcessedReport] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def process_event(
    payload: dict[str, Any],
    *,
    event_id: str | None,
    received_at: float,
    sent_at: str | None,
    client_ip: str | None,
    grouping: ProjectGrouping,
    dictionary: bytes | None = None,
    may_hold_nul: bool = True,
) -> ProcessedEvent:
    event = normalize_event(
        payload,
        event_id=event_id,
        received_at=received_at,
        sent_at=sent_at,
        client_ip=client_ip,
        may_hold_nul=may_hold_nul,
    )
    scrub_event(event)
    result, secondary = group_with(event, grouping)
    tags = event_tags(event)
    event["tags"] = [list(pair) for pair in tags]
    event["title"] = result.title
    event["culprit"] = event.get("culprit") or result.culprit
    event["metadata"] = result.metadata
    event["type"] = result.type
    event["grouping"] = {"version": grouping.version, "hashes": result.hashes}
    return ProcessedEvent(
        event_id=event["event_id"],
        timestamp=to_datetime(event["timestamp"]),
        received_at=to_datetime(received_at),
        level=event.get("level") or "error",
        release=event.get("release") or "",
        environment=event.get("environment") or "",
        platform=event.get("platform") or "",
        tags=tags,
        grouping=result,
        payload=compress_payload(orjson.dumps(event), dictionary),
        secondary_hashes=secondary,
    )


def group_with(
    event: dict[str, Any], grouping: ProjectGrouping
) -> tuple[GroupingResult, list[str]]:
    """Group with the project's version, and with the secondary one during a transition.

    The one place the project's grouping settings reach `group_event`: the project's
    fingerprint and stack-trace rules (compiled once per text, cached) apply to both.
    """
    rules = project_rules(grouping.fingerprint_rules, grouping.stacktrace_rules)
    result = group_event(event, grouping.version, rules=rules)
    if not grouping.secondary_version or grouping.secondary_version == grouping.version:
        return result, []
    try:
        secondary = group_event(event, grouping.secondary_version, rules=rules).hashes
    except ValueError:  # a version this build no longer knows: primary hashes only
        return result, []
    return result, [h for h in secondary if h not in result.hashes]


def report_from_user_report(data: dict[str, Any]) -> ProcessedReport:
    if not isinstance(data, dict):
        raise DigestError("user_report item is not a JSON object")
    event_id = event_id_or_none(data.get("event_id")) or ""  # a bad id loses no report
    return ProcessedReport(
        event_id=event_id,
        feedback_id=event_id,
        name=clean_text(data.get("name"), MAX_CHARS["report.name"]),
        email=clean_text(data.get("email"), MAX_CHARS["report.email"]),
        comments=clean_text(data.get("comments"), MAX_CHARS["report.comments"]),
        url="",
    )


def report_from_feedback(data: dict[str, Any], envelope_event_id: str | None) -> ProcessedReport:
    contexts = data.get("contexts") if isinstance(data, dict) else None
    feedback = contexts.get("feedback") if isinstance(contexts, dict) else None
    if not isinstance(feedback, dict):
        feedback = {}
    comments = clean_text(feedback.get("message"), MAX_CHARS["report.comments"])
    if not comments:
        raise DigestError("feedback item has no contexts.feedback.message")
    return ProcessedReport(
        event_id=event_id_or_none(feedback.get("associated_event_id")) or "",
        feedback_id=event_id_or_none(data.get("event_id")) or envelope_event_id or "",
        name=clean_text(feedback.get("name"), MAX_CHARS["report.name"]),
        email=clean_text(feedback.get("contact_email"), MAX_CHARS["report.email"]),
        comments=comments,
        url=clean_text(feedback.get("url"), MAX_CHARS["report.url"]),
    )


def add_client_report(stats: dict[str, int], data: dict[str, Any]) -> None:
    for group in (
        "discarded_events",
        "rate_limited_events",
        "filtered_events",
        "filtered_sampling_events",
    ):
        for entry in data.get(group) or ():
            if not isinstance(entry, dict):
                continue
            # NUL cannot be stored in a PostgreSQL text column.
            reason = str(entry.get("reason") or group.removesuffix("_events"))
            reason = reason.replace("\x00", "")[:48]
            category = str(entry.get("category") or "default").replace("\x00", "")[:32]
            quantity = entry.get("quantity")
            if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0:
                key = f"discarded:{reason}:{category}"
                # Bounded: SDKs send counts, an attacker 2**64; the column holds 2**63 - 1.
                stats[key] = min(stats.get(key, 0) + quantity, MAX_QUANTITY)


def process_queue_item(
    queue_id: int,
    project_id: int,
    received_at: float,
    client_ip: str,
    meta: dict[str, Any],
    body: bytes,
    grouping: ProjectGrouping,
    dictionary: bytes | None = None,
) -> ProcessedItem:
    result = ProcessedItem(queue_id=queue_id, project_id=project_id, received_at=received_at)
    for kind, count in (meta.get("counts") or {}).items():
        result.stats[f"received:{kind}"] = result.stats.get(f"received:{kind}", 0) + count
    if not body:
        return result
    envelope: Envelope = parse_envelope(body)
    event_id = envelope.event_id
    sent_at = envelope.headers.get("sent_at")
    for item in envelope.items:
        handle_item(result, item, envelope, event_id, sent_at, client_ip, grouping, dictionary)
    return result


def handle_item(
    result: ProcessedItem,
    item: Item,
    envelope: Envelope,
    event_id: str | None,
    sent_at: Any,
    client_ip: str,
    grouping: ProjectGrouping,
    dictionary: bytes | None,
) -> None:
    kind = item.type
    if kind == "attachment":
        if event_id is None:
            raise DigestError("attachment without an event_id in the envelope header")
        headers = item.headers
        result.attachments.append(
            ProcessedAttachment(
                event_id=event_id,
                name=clean_text(headers.get("filename"), MAX_CHARS["attachment.name"]),
                content_type=clean_text(
                    headers.get("content_type"), MAX_CHARS["attachment.content_type"]
                )
                or "application/octet-stream",
                attachment_type=clean_text(
                    headers.get("attachment_type"), MAX_CHARS["attachment.attachment_type"]
                )
                or "event.attachment",
                size=len(item.payload),
                data=compress_payload(item.payload),
            )
        )
        return
    data = orjson.loads(item.payload)
    if kind == "event":
        result.event = process_event(
            data,
            event_id=event_id,
            received_at=result.received_at,
            sent_at=sent_at if isinstance(sent_at, str) else None,
            client_ip=client_ip or None,
            grouping=grouping,
            dictionary=dictionary,
            # A NUL in JSON text is always the escape `\u0000` (raw control characters
            # are invalid JSON): a byte search rules it out for nearly every event.
            may_hold_nul=b"\\u0000" in item.payload,
        )
    elif kind == "user_report":
        result.reports.append(report_from_user_report(data))
    elif kind == "feedback":
        result.reports.append(report_from_feedback(data, event_id))
    elif kind == "client_report":
        add_client_report(result.stats, data)
