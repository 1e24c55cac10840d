"""The delivery worker: claims due outbox rows, sends them, logs every attempt.

A notification row (`models.Notification`) is written in the transaction of the change
that caused it; this module turns it into at most one successful send:

- Claiming marks a row `in_flight` with a lease (`locked_until`) in a short transaction
  (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two workers never take one row; SQLite: a
  conditional UPDATE under its single writer lock). A worker killed mid-send leaves the
  row in flight until the lease passes; then it is claimable again.
- The lease is also the claim's token: just before each send the worker renews it with
  an UPDATE conditional on the value it was given, and writes the outcome under the same
  condition. A row whose lease ran out and was claimed by another worker is skipped (not
  sent twice); a batch is small, so its last row is sent long before its lease ends.
- Serial backends (ticket systems, PagerDuty) get at most one row in flight per channel,
  and a channel's rows for one issue go in the order they were made: a regression comment
  never overtakes the ticket's create, a resolve never overtakes its trigger.
- The send happens outside any transaction; afterwards one short transaction writes the
  DeliveryAttempt (the delivery log), the row's new state, the channel's health and, for
  a ticket, the ExternalIssueLink.
- Failures retry with exponential backoff and jitter, never sooner than a Retry-After;
  chat rows (backend `max_age`) expire when stale; tickets, PagerDuty and webhooks never
  expire. A permanent failure (`DeliveryError(disable_channel=True)`: 401/403/404/410), or
  a channel failing for TRACEHOUND_ALERT_DISABLE_AFTER_DAYS, disables the channel and
  mails the organization's owners.
- Nothing a backend does (raise anything, hang until the timeout, answer garbage) stops
  the worker: it is a logged, retryable failure.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef, Q

from tracehound.alerts import registry
from tracehound.alerts.base import Backend, Delivery, DeliveryError, Link, Sent
from tracehound.alerts.base import Notification as Message
from tracehound.alerts.models import Channel, DeliveryAttempt, ExternalIssueLink, Notification
from tracehound.lib import secrets_box
from tracehound.lib.outbound import Outbound, OutboundError, parse_retry_after

log = logging.getLogger("tracehound.alerts.delivery")

State = Notification.State
Outcome = DeliveryAttempt.Outcome

# A claimed row is ours this long: longer than any backend's calls (a search, a create
# and a comment at 25 s each), short enough that a killed worker's rows come back soon.
LEASE_SECONDS = 300.0
# Backoff: BASE·2^(attempt-1), at most the cap, times a jitter in [0.5, 1.5).
BACKOFF_BASE = 10.0
CHAT_BACKOFF_CAP = 15 * 60.0  # chat rows expire after their max_age anyway
BACKOFF_CAP = 6 * 3600.0
RETRY_AFTER_CAP = 24 * 3600.0  # a receiver asking for a week is not believed
# A kind whose plugin is not installed: its rows wait, checked again this often.
UNKNOWN_KIND_RECHECK = timedelta(minutes=10)
PRUNE_EVERY = 600.0
IDLE_SLEEP = 1.0


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def now_utc() -> datetime:
    return datetime.now(tz=UTC)


# ---------------------------------------------------------------------------- claiming


def due_q(now: datetime) -> Q:
    """Pending and due, or in flight with a lease that ran out (its worker died)."""
    return Q(state=State.PENDING, next_attempt_at__lte=now) | Q(
        state=State.IN_FLIGHT, locked_until__lt=now
    )


def serial_ok_q(now: datetime) -> Q:
    """For a serial channel: no other row in flight on the channel, and no older
    unfinished row for the same issue (order of creation is kept per issue).

    A row in flight with a lapsed lease still counts: its worker may be sending it now.
    That row is itself due, so it is claimed again (and the channel moves on) first."""
    others = Notification.objects.filter(channel_id=OuterRef("channel_id")).exclude(
        id=OuterRef("id")
    )
    busy = others.filter(state=State.IN_FLIGHT)
    earlier = others.filter(
        issue_id=OuterRef("issue_id"),
        created_at__lt=OuterRef("created_at"),
        state__in=(State.PENDING, State.IN_FLIGHT),
    )
    return ~Exists(busy) & (Q(issue_id=None) | ~Exists(earlier))


def serial_kinds() -> list[str]:
    return [kind for kind, cls in registry.backends().items() if cls.serial]


def postpone_unknown_kinds(now: datetime) -> None:
    """Rows of kinds not installed wait (not lost): look again in UNKNOWN_KIND_RECHECK."""
    known = list(registry.backends())
    stuck = Notification.objects.filter(due_q(now)).exclude(channel__kind__in=known)
    for row in stuck.select_related("channel")[:500]:
        Notification.objects.filter(id=row.id, state__in=(State.PENDING, State.IN_FLIGHT)).update(
            state=State.PENDING,
            locked_until=None,
            next_attempt_at=now + UNKNOWN_KIND_RECHECK,
            last_error=f"kind {row.channel.kind!r} is not installed; waiting for it"[:1000],
        )


def claim(limit: int, now: datetime | None = None) -> list[Notification]:
    """Mark up to `limit` due rows in flight for this worker and return them."""
    now = now or now_utc()
    lease = lease_until(now)
    # The loop asks every second: with nothing due, one indexed read and no write
    # transaction (on SQLite a write transaction takes the lock ingest needs).
    if not Notification.objects.filter(due_q(now)).exists():
        return []
    postpone_unknown_kinds(now)
    serial = serial_kinds()
    candidates = (
        Notification.objects.filter(due_q(now), channel__enabled=True)
        .filter(channel__kind__in=list(registry.backends()))
        .filter(~Q(channel__kind__in=serial) | serial_ok_q(now))
        .order_by("next_attempt_at", "created_at")
    )
    claimed: list[Notification] = []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        rows = list(candidates.select_related("channel")[: limit * 2])
        serial_taken: set[int] = set()
        for row in rows:
            if len(claimed) >= limit:
                break
            if row.channel.kind in serial:
                if row.channel_id in serial_taken or not lock_channel(row.channel_id):
                    continue
                serial_taken.add(row.channel_id)
                # Re-check under the channel lock: another worker may have just committed
                # a claim on this channel.
                if not Notification.objects.filter(serial_ok_q(now), id=row.id).exists():
                    continue
            won = Notification.objects.filter(due_q(now), id=row.id).update(
                state=State.IN_FLIGHT, locked_until=lease
            )
            if won:
                row.state, row.locked_until = State.IN_FLIGHT, lease
                claimed.append(row)
    return claimed


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=setting("TRACEHOUND_ALERT_LEASE_SECONDS", LEASE_SECONDS))


def renew(row: Notification) -> bool:
    """Extend this worker's lease on `row` just before a send; False when the row is no
    longer ours (the lease ran out and another worker claimed it, or it finished)."""
    lease = lease_until(now_utc())
    won = Notification.objects.filter(
        id=row.id, state=State.IN_FLIGHT, locked_until=row.locked_until
    ).update(locked_until=lease)
    if won:
        row.locked_until = lease
    return bool(won)


def lock_channel(channel_id: int) -> bool:
    """PostgreSQL: serialize claims on one serial channel (skip it if another worker is
    claiming on it now). SQLite's IMMEDIATE transaction already serializes writers."""
    if connection.vendor != "postgresql":
        return True
    locked = Channel.objects.select_for_update(skip_locked=True).filter(id=channel_id)
    return bool(list(locked.values_list("id", flat=True)))  # evaluated: the lock is taken


# ---------------------------------------------------------------------------- one attempt


def backoff(attempt: int, cls: type[Backend] | None, retry_after: float | None) -> float:
    """Seconds until the next attempt: exponential with jitter, at least Retry-After."""
    cap = CHAT_BACKOFF_CAP if cls is not None and cls.max_age is not None else BACKOFF_CAP
    delay = min(cap, BACKOFF_BASE * 2 ** min(attempt - 1, 30)) * random.uniform(0.5, 1.5)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return float(delay)


NEXT_STATE: dict[str, str] = {
    Outcome.SUCCEEDED: State.SUCCEEDED,
    Outcome.RETRY: State.PENDING,
    Outcome.FAILED: State.FAILED,
    Outcome.EXPIRED: State.EXPIRED,
}


class Result:
    """What one attempt came to, before it is written down."""

    def __init__(self, outcome: str, error: str = "", sent: Sent | None = None) -> None:
        self.outcome = outcome
        self.error = error
        self.sent = sent
        self.retry_after: float | None = None
        self.disable = False
        self.status: int | None = None
        self.kept_pending = False  # unknown kind: not an attempt, just postponed
        self.skipped = False  # a kind the backend does not handle: nothing was sent


def run_backend(row: Notification, backend: Backend, http: Outbound, delivery: Delivery) -> Result:
    """Call the backend and classify what happened; never raises."""
    try:
        message = Message.from_payload(row.id.hex, row.payload)
    except Exception as exc:
        return Result(Outcome.FAILED, f"unreadable notification payload: {exc}")
    try:
        sent = backend.send(message, delivery)
    except DeliveryError as exc:
        result = Result(Outcome.RETRY if exc.retryable else Outcome.FAILED, http.hide(exc.message))
        result.retry_after = exc.retry_after
        result.disable = exc.disable_channel
        result.status = exc.status
        last = http.last
        if result.retry_after is None and exc.retryable and last and last.status in (429, 503):
            result.retry_after = parse_retry_after(last.headers.get("retry-after"))
        return result
    except OutboundError as exc:
        return Result(Outcome.RETRY, http.hide(str(exc)))
    except Exception as exc:
        log.warning("backend %s raised", backend.kind, exc_info=True)
        return Result(Outcome.RETRY, http.hide(f"{type(exc).__name__}: {exc}"))
    if not isinstance(sent, Sent):
        return Result(Outcome.RETRY, f"backend returned {type(sent).__name__}, not Sent")
    return Result(Outcome.SUCCEEDED, sent=sent)


def keep_owed(result: Result, cls: type[Backend]) -> None:
    """A ticket or incident (a backend whose rows never expire) is still owed when its
    channel is disabled: the row waits, sent once someone fixes and enables the channel."""
    if result.disable and cls.max_age is None:
        result.outcome = Outcome.RETRY
        result.error += " (the channel is disabled; sent when it is enabled again)"


def attempt(row: Notification, *, log_unknown: bool = False) -> DeliveryAttempt | None:
    """One attempt at a row this worker holds (in flight); writes everything down.

    Returns the DeliveryAttempt, or None when the row's kind is not installed (it is
    postponed, not attempted) unless `log_unknown` asks to log that as an attempt, and
    None when the row is no longer this worker's (see `renew`): nothing is sent.
    """
    if not renew(row):
        log.warning("notification %s is no longer held by this worker: skipped", row.id)
        return None
    started_at = now_utc()
    clock = time.perf_counter()
    channel = Channel.objects.get(id=row.channel_id)
    row.channel = channel
    cls = registry.get(channel.kind)
    http = Outbound()
    dropped: list[bool] = []
    result: Result
    if cls is None:
        result = Result(Outcome.RETRY, f"kind {channel.kind!r} is not installed; waiting for it")
        result.kept_pending = True
    elif cls.max_age is not None and started_at - row.created_at > cls.max_age:
        result = Result(Outcome.EXPIRED, f"older than {cls.max_age} ({cls.label} alerts expire)")
    elif row.kind not in cls.handles:
        result = Result(
            Outcome.SUCCEEDED, sent=Sent(excerpt=f"not sent: {cls.label} ignores {row.kind}")
        )
        result.skipped = True
    else:
        try:
            backend = cls(full_config_of(channel))
        except secrets_box.SecretUnreadable as exc:
            result = Result(Outcome.FAILED, str(exc))
        except Exception as exc:
            result = Result(Outcome.RETRY, f"cannot load the channel's settings: {exc}"[:1000])
        else:
            http = Outbound(redact=tuple(backend.redactions()))
            delivery = Delivery(
                http=http,
                link=link_for(row),
                progress=dict(row.progress or {}),
                attempt=row.attempts + 1,
                drop_link=lambda: dropped.append(True),
            )
            result = run_backend(row, backend, http, delivery)
            keep_owed(result, cls)
            row.progress = delivery.progress
    if result.kept_pending and not log_unknown:
        release_unknown(row, result.error)
        return None
    duration = int((time.perf_counter() - clock) * 1000)
    return record(row, cls, http, result, started_at, duration, bool(dropped))


def full_config_of(channel: Channel) -> dict[str, Any]:
    from tracehound.alerts.channels import full_config

    return full_config(channel)


def link_for(row: Notification) -> Link | None:
    if row.issue_id is None:
        return None
    found = ExternalIssueLink.objects.filter(issue_id=row.issue_id, channel_id=row.channel_id)
    link = found.first()
    return None if link is None else Link(link.external_id, link.external_key, link.url)


def release_unknown(row: Notification, error: str) -> None:
    Notification.objects.filter(id=row.id).update(
        state=State.PENDING,
        locked_until=None,
        next_attempt_at=now_utc() + UNKNOWN_KIND_RECHECK,
        last_error=error[:1000],
    )


def record(
    row: Notification,
    cls: type[Backend] | None,
    http: Outbound,
    result: Result,
    started_at: datetime,
    duration_ms: int,
    drop_link: bool,
) -> DeliveryAttempt:
    """The one short transaction after a send: log, row, channel, ticket link."""
    now = now_utc()
    number = row.attempts + 1
    max_attempts = int(setting("TRACEHOUND_ALERT_MAX_ATTEMPTS", 30))
    next_state: str
    if row.kind == "test" and result.outcome == Outcome.RETRY:
        # "Send a test notification" is one delivery now: a failed test is not queued
        # for later (nor kept for a re-enabled channel); the log keeps the attempt.
        result.outcome = Outcome.FAILED
        result.error = f"{result.error} (a test notification is not retried)"
        result.kept_pending = False
        next_state = State.FAILED
    elif result.outcome == Outcome.RETRY and result.kept_pending:
        next_state = State.PENDING
    elif result.outcome == Outcome.RETRY and number >= max_attempts:
        result.outcome = Outcome.FAILED
        result.error = f"{result.error} (gave up after {number} attempts)"
        next_state = State.FAILED
    else:
        next_state = NEXT_STATE[result.outcome]
    last = http.calls[-1] if http.calls else None
    status = last.status if last is not None else None
    if status is None and result.sent is not None:
        status = result.sent.status
    if status is None:
        status = result.status
    excerpt = last.excerpt if last is not None else ""
    if not excerpt and result.sent is not None:
        excerpt = http.hide(result.sent.excerpt)[:2048]
    error = http.hide(result.error)[:1000]
    if result.kept_pending:
        delay = UNKNOWN_KIND_RECHECK.total_seconds()
    else:
        delay = backoff(number, cls, result.retry_after)
    with transaction.atomic():
        entry = DeliveryAttempt.objects.create(
            notification_id=row.id,
            number=number,
            started_at=started_at,
            duration_ms=max(0, duration_ms),
            method=last.method[:8] if last else "",
            url=last.url[:500] if last else "",
            status_code=status,
            response_excerpt=excerpt,
            error=error,
            outcome=result.outcome,
            calls=[asdict(c) for c in http.calls],
        )
        token = row.locked_until
        row.attempts = number
        row.state = next_state
        row.locked_until = None
        row.last_status = status
        row.last_error = error
        if next_state == State.PENDING:
            row.next_attempt_at = now + timedelta(seconds=delay)
        if next_state == State.SUCCEEDED:
            row.delivered_at = now
        fields = ("attempts", "state", "locked_until", "last_status", "last_error")
        changes = {name: getattr(row, name) for name in fields}
        changes.update(
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            progress=row.progress,
        )
        # Only while the claim is still ours: a worker that took the row over after our
        # lease ran out owns its state now (the attempt is logged either way).
        ours = Notification.objects.filter(id=row.id, state=State.IN_FLIGHT, locked_until=token)
        if not ours.update(**changes):
            log.warning("notification %s was claimed by another worker mid-send", row.id)
        if drop_link and row.issue_id is not None:
            ExternalIssueLink.objects.filter(
                issue_id=row.issue_id, channel_id=row.channel_id
            ).delete()
        if result.sent is not None and row.issue_id is not None:
            remember_ticket(row, result.sent, now)
        counts = result.outcome in (Outcome.SUCCEEDED, Outcome.RETRY, Outcome.FAILED)
        if counts and not result.kept_pending and not result.skipped:
            channel_health(row.channel, result, error, now)
    return entry


def remember_ticket(row: Notification, sent: Sent, now: datetime) -> None:
    if not (sent.external_id or sent.external_key or sent.external_url):
        return
    ExternalIssueLink.objects.update_or_create(
        issue_id=row.issue_id,
        channel_id=row.channel_id,
        defaults={
            "external_id": sent.external_id[:200],
            "external_key": sent.external_key[:200],
            "url": sent.external_url[:1000],
            "last_synced_at": now,
        },
        create_defaults={
            "external_id": sent.external_id[:200],
            "external_key": sent.external_key[:200],
            "url": sent.external_url[:1000],
            "last_synced_at": now,
            "created_at": now,
        },
    )


def channel_health(channel: Channel, result: Result, error: str, now: datetime) -> None:
    """Success clears the failure run; a failure extends it and may disable the channel."""
    locked = Channel.objects.select_for_update().get(id=channel.id)
    if result.outcome == Outcome.SUCCEEDED:
        locked.last_success_at = now
        locked.failing_since = None
        locked.save(update_fields=["last_success_at", "failing_since"])
        return
    locked.last_failure_at = now
    locked.failing_since = locked.failing_since or now
    locked.last_error = error[:1000]
    locked.save(update_fields=["last_failure_at", "failing_since", "last_error"])
    days = float(setting("TRACEHOUND_ALERT_DISABLE_AFTER_DAYS", 3))
    reason = ""
    if result.disable:
        reason = f"Disabled after a permanent failure: {error}"
    elif now - locked.failing_since >= timedelta(days=days):
        since = locked.failing_since.strftime("%Y-%m-%d %H:%M UTC")
        reason = f"Disabled after failing since {since}: {error}"
    if reason and locked.enabled:
        disable(locked, reason)


def disable(channel: Channel, reason: str) -> None:
    from tracehound.alerts.channels import set_enabled

    set_enabled(channel, False, reason[:500])
    log.warning("channel %s (%s) disabled: %s", channel.id, channel.kind, reason)
    transaction.on_commit(lambda: mail_owners(channel.id, reason))


def mail_owners(channel_id: int, reason: str) -> None:
    from tracehound.alerts.owners_mail import channel_disabled

    try:
        channel_disabled(Channel.objects.select_related("organization").get(id=channel_id), reason)
    except Exception:
        log.exception("could not mail the owners about disabled channel %s", channel_id)


# ---------------------------------------------------------------------------- public API


def deliver_one(row: Notification) -> DeliveryAttempt:
    """Claim `row` now (due or not) and make one attempt, with the worker's bookkeeping.

    For "send a test notification" and the CLI. A row another worker holds is waited for
    (up to a minute) and its latest attempt returned; so is a row already finished.
    """
    now = now_utc()
    lease = lease_until(now)
    claimable = Q(state=State.PENDING) | Q(state=State.IN_FLIGHT, locked_until__lt=now)
    won = Notification.objects.filter(claimable, id=row.id).update(
        state=State.IN_FLIGHT, locked_until=lease
    )
    if won:
        row.refresh_from_db()
        entry = attempt(row, log_unknown=True)
        if entry is not None:
            return entry
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = Notification.objects.get(id=row.id)
        if current.state != State.IN_FLIGHT:
            break
        time.sleep(0.2)
    latest = DeliveryAttempt.objects.filter(notification_id=row.id).order_by("-number").first()
    if latest is None:
        raise LookupError(f"notification {row.id} was not attempted (state {row.state})")
    return latest


def deliver_due(limit: int = 10) -> int:
    """One pass of the worker: claim up to `limit` due rows and attempt each."""
    rows = claim(limit)
    pause = float(os.environ.get("TRACEHOUND_TEST_DELIVERY_PAUSE", "0") or 0)
    if rows and pause > 0:
        # Test hook (the crash test): hold the claimed rows before sending, so a kill -9
        # lands between the claim and the send.
        log.warning("TRACEHOUND_TEST_DELIVERY_PAUSE: holding %d rows for %g s", len(rows), pause)
        time.sleep(pause)
    for row in rows:
        try:
            attempt(row)
        except DatabaseError:
            raise  # the loop waits and reconnects; the lease brings the rows back
        except Exception:
            # A bug in our bookkeeping: the row comes back when its lease runs out.
            log.exception("delivery of notification %s failed unexpectedly", row.id)
    return len(rows)


def prune(now: datetime | None = None) -> int:
    """Forget finished rows (and their attempts) older than TRACEHOUND_ALERT_KEEP_DAYS."""
    now = now or now_utc()
    days = float(setting("TRACEHOUND_ALERT_KEEP_DAYS", 30))
    old = Notification.objects.filter(
        state__in=(State.SUCCEEDED, State.EXPIRED, State.SUPPRESSED),
        created_at__lt=now - timedelta(days=days),
    )
    total = 0
    while ids := list(old.values_list("id", flat=True)[:500]):
        with transaction.atomic():
            DeliveryAttempt.objects.filter(notification_id__in=ids).delete()
            Notification.objects.filter(id__in=ids).delete()
        total += len(ids)
    return total


def run_delivery(stop: threading.Event) -> None:
    """The loop `tracehound worker` runs in a thread: deliver, prune now and then."""
    log.info("delivery worker started (%s)", connection.vendor)
    last_prune = 0.0
    try:
        while not stop.is_set():
            try:
                handled = deliver_due()
                if time.monotonic() - last_prune > PRUNE_EVERY:
                    prune()
                    last_prune = time.monotonic()
            except Exception as exc:
                if isinstance(exc, DatabaseError):
                    log.warning("delivery paused: %s", exc)
                else:
                    log.exception("delivery paused by an unexpected error")
                connection.close()
                stop.wait(2.0)
                continue
            if not handled:
                stop.wait(IDLE_SLEEP)
    finally:
        connection.close()
        log.info("delivery worker stopped")
