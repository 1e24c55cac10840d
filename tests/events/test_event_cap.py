"""The per-issue cap: one hot bug cannot fill the disk, and its counters stay exact."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.envelopes import envelope, exception_event, item
from tracehound.events.models import Attachment, Event, UserReport
from tracehound.events.retention import run_retention
from tracehound.issues import actions
from tracehound.issues.models import Activity, Issue, IssueTagValue
from tracehound.issues.queries import issue_feedback

pytestmark = pytest.mark.django_db(transaction=True)


def send_hot(
    wsgi, project, timestamps: list[float], attach_to: int = -1, feedback_on: int = -1
) -> list[str]:
    ids = []
    for n, ts in enumerate(timestamps):
        event_id = uuid.uuid4().hex
        extra = [item("attachment", b"x", filename="a.txt")] if n == attach_to else []
        if n == feedback_on:
            report = {"event_id": event_id, "name": "Ann", "email": "a@b.c", "comments": "broke"}
            extra.append(item("user_report", report))
        event = exception_event("HotError", event_id=event_id, timestamp=ts, user={"id": str(n)})
        body = envelope(event, *extra, event_id=event_id)
        response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
        assert response.status == 200
        ids.append(event_id)
    return ids


def four_an_hour(hours: int, start: float) -> list[float]:
    return [start + h * 3600 + m * 60 for h in range(hours) for m in (1, 2, 3, 4)]


def test_the_cap_keeps_the_first_event_the_latest_n_and_one_per_hour(
    wsgi, project, digest_all, settings
):
    settings.TRACEHOUND_ISSUE_EVENT_CAP = 5
    start = (time.time() // 3600 - 30) * 3600  # on an hour boundary, 30 hours ago
    ids = send_hot(wsgi, project, four_an_hour(6, start), attach_to=1)  # 24 events, hours 0-5
    digest_all()
    issue = Issue.objects.get()
    tags_before = list(IssueTagValue.objects.values_list("key", "value", "times_seen"))

    run_retention()

    # Latest 5: events 19-23. Before them, the first of each hour: 0, 4, 8, 12, 16.
    kept = [0, 4, 8, 12, 16, 19, 20, 21, 22, 23]
    assert set(Event.objects.values_list("event_id", flat=True)) == {ids[n] for n in kept}
    assert not Attachment.objects.exists()  # event 1's attachment went with it
    issue.refresh_from_db()
    assert issue.times_seen == 24
    assert list(IssueTagValue.objects.values_list("key", "value", "times_seen")) == tags_before

    run_retention()  # nothing more to do
    assert Event.objects.count() == len(kept)

    # Three more (hour 6): 19-21 leave the latest five; hour 4 has its sample (16) and
    # 20 becomes hour 5's.
    ids += send_hot(wsgi, project, four_an_hour(7, start)[24:27])
    digest_all()
    run_retention()
    kept = [0, 4, 8, 12, 16, 20, 22, 23, 24, 25, 26]
    assert set(Event.objects.values_list("event_id", flat=True)) == {ids[n] for n in kept}
    issue.refresh_from_db()
    assert issue.times_seen == 27


def test_issues_within_the_cap_and_a_cap_of_zero_keep_everything(
    wsgi, project, digest_all, settings
):
    start = (time.time() // 3600 - 30) * 3600
    send_hot(wsgi, project, four_an_hour(3, start))
    digest_all()
    settings.TRACEHOUND_ISSUE_EVENT_CAP = 12
    run_retention()
    assert Event.objects.count() == 12
    settings.TRACEHOUND_ISSUE_EVENT_CAP = 0
    run_retention(datetime.now(UTC) + timedelta(days=1))
    assert Event.objects.count() == 12


def test_the_cap_keeps_user_feedback_and_the_event_of_a_regression(
    wsgi, project, digest_all, settings
):
    """Feedback stays for the retention period (its own age decides), with its event, so
    the issue still shows it; the event a regression was recorded with stays too."""
    settings.TRACEHOUND_ISSUE_EVENT_CAP = 2
    # All in the current hour (but for a test run across an hour's end): the first is
    # that hour's sample, the rest beyond the latest two are over the cap.
    ids = send_hot(wsgi, project, [time.time()] * 4, feedback_on=2)
    digest_all()
    actions.resolve(Issue.objects.get(), None)
    ids += send_hot(wsgi, project, [time.time()] * 4)
    digest_all()
    regression = Activity.objects.get(type="set_regression")
    assert regression.data["event_id"] == ids[4]

    run_retention()

    kept = {ids[n] for n in (0, 2, 4, 6, 7)}
    assert set(Event.objects.values_list("event_id", flat=True)) == kept
    assert [r.event_id for r in issue_feedback(Issue.objects.get())] == [ids[2]]
    # Past the retention, by its own age, the feedback goes with the rest.
    run_retention(datetime.now(UTC) + timedelta(days=settings.TRACEHOUND_RETENTION_DAYS + 1))
    assert not UserReport.objects.exists()
