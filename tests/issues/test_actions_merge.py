"""Merge, unmerge and delete, on issues made by the real ingest and digest path."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import call_wsgi
from tests.envelopes import envelope, exception_event, item
from tests.issues.test_actions_support import activity_types, digest, issue_of, send
from tracehound.events.models import Attachment, Event, UserReport
from tracehound.issues import actions
from tracehound.issues.actions import ActionError
from tracehound.issues.models import (
    Activity,
    GroupHash,
    GroupTombstone,
    Issue,
    IssueBookmark,
    IssueDailyCount,
    IssueHourlyCount,
    IssueTagValue,
)
from tracehound.projects.models import Project
from tracehound.queue.models import QueueItem

pytestmark = pytest.mark.django_db(transaction=True)


def users(issue: Issue) -> dict[str, int]:
    rows = IssueTagValue.objects.filter(issue_id=issue.pk, key="user")
    return dict(rows.values_list("value", "times_seen"))


def hashes(issue: Issue) -> list[str]:
    return sorted(GroupHash.objects.filter(issue_id=issue.pk).values_list("hash", flat=True))


@pytest.fixture
def three(project):
    """Issues with 3, 2 and 1 events; users 1-2, 2-3 and 4."""
    a = [issue_of(project, "AError", user={"id": u}) for u in ("1", "2", "1")][-1]
    b = [issue_of(project, "BError", user={"id": u}) for u in ("2", "3")][-1]
    c = issue_of(project, "CError", user={"id": "4"})
    return Issue.objects.get(pk=a.pk), Issue.objects.get(pk=b.pk), c


def test_merging_keeps_the_issue_with_most_events_and_moves_everything(project, member, three):
    a, b, c = three
    b_hashes, c_hashes = hashes(b), hashes(c)
    actions.add_comment(b, member, "seen in prod")
    actions.set_bookmark(c, member, True)
    IssueHourlyCount.objects.create(issue=a, bucket=500_000, count=3)
    IssueHourlyCount.objects.create(issue=b, bucket=500_000, count=2)
    IssueHourlyCount.objects.create(issue=c, bucket=500_001, count=1)

    survivor = actions.merge_issues([c, b, a], member)

    assert survivor.pk == a.pk
    assert list(Issue.objects.values_list("pk", flat=True)) == [a.pk]
    row = Issue.objects.get()
    assert row.times_seen == 6 == Event.objects.filter(issue=row).count()
    assert row.first_seen == min(i.first_seen for i in three)
    assert row.last_seen == max(i.last_seen for i in three)
    assert users(row) == {"id:1": 2, "id:2": 2, "id:3": 1, "id:4": 1}
    assert row.users_seen == 4
    assert set(b_hashes + c_hashes) <= set(hashes(row))
    rows = IssueHourlyCount.objects.filter(issue=row, bucket__gte=500_000)  # digest's are now
    assert dict(rows.values_list("bucket", "count")) == {500_000: 5, 500_001: 1}
    assert list(IssueBookmark.objects.values_list("issue", flat=True)) == [a.pk]
    # Each issue's first_seen (written by digest) moves with it; the merge comes last.
    assert activity_types(row) == ["first_seen"] * 3 + ["note", "merge"]
    merge = Activity.objects.get(type="merge")
    assert merge.user == member
    assert [m["id"] for m in merge.data["issues"]] == [str(b.pk), str(c.pk)]
    assert merge.data["issues"][0]["shortId"] == f"BACKEND-{b.short_id}"


def test_a_later_event_of_a_merged_issue_lands_in_the_survivor(project, member, three):
    a, b, _ = three
    actions.merge_issues([a, b], member)
    send(project, "BError", user={"id": "9"})
    digest()
    row = Issue.objects.get(pk=a.pk)
    assert row.times_seen == 6 == Event.objects.filter(issue=row).count()
    assert set(users(row)) == {"id:1", "id:2", "id:3", "id:9"}
    assert Issue.objects.count() == 2  # the survivor and CError


def test_merging_into_an_ignored_issue_keeps_its_more_events_condition(project, member, three):
    """The merged events and users were not seen after the ignore: the base moves with them,
    so "N more events / users" still counts only what arrives later."""
    a, b, _ = three  # a: 3 events, users 1-2; b: 2 events, users 2-3
    actions.ignore(a, member, count=3, user_count=2)
    survivor = actions.merge_issues([a, b], member)
    assert survivor.pk == a.pk
    row = Issue.objects.get(pk=a.pk)
    assert (row.times_seen, row.users_seen) == (5, 3)
    assert (row.ignore_base_times_seen, row.ignore_base_users_seen) == (5, 3)
    send(project, "AError", user={"id": "1"})
    send(project, "AError", user={"id": "5"})  # 2 more events, 1 more user
    digest()
    assert Issue.objects.get(pk=a.pk).status == "ignored"
    send(project, "AError", user={"id": "1"})  # the 3rd more event
    digest()
    row = Issue.objects.get(pk=a.pk)
    assert row.status == "unresolved"
    unignored = Activity.objects.get(issue_id=a.pk, type="set_unresolved")
    assert unignored.data == {"reason": "unignored", "condition": {"ignoreCount": 3}}


def test_merging_needs_two_issues_of_one_project(project, member, outsider, three):
    a, _, _ = three
    with pytest.raises(ActionError) as err:
        actions.merge_issues([a, a], member)
    assert err.value.field == "id"
    other = Issue.objects.create(
        project=Project.objects.get(slug="web"),
        short_id=1,
        title="theirs",
        grouping_version="x",
        first_seen=a.first_seen,
        last_seen=a.last_seen,
    )
    with pytest.raises(ActionError):
        actions.merge_issues([a, other], member)
    assert Issue.objects.count() == 4
    assert not Activity.objects.exclude(type="first_seen").exists()


def test_unmerging_splits_hashes_and_their_events_into_a_new_issue(project, member, three):
    a, b, c = three
    b_hashes = hashes(b)
    survivor = actions.merge_issues([a, b, c], member)

    new = actions.unmerge(survivor, member, b_hashes)

    new = Issue.objects.get(pk=new.pk)
    old = Issue.objects.get(pk=a.pk)
    assert hashes(new) == b_hashes
    assert new.times_seen == 2 == Event.objects.filter(issue=new).count()
    assert old.times_seen == 4 == Event.objects.filter(issue=old).count()
    assert users(new) == {"id:2": 1, "id:3": 1} and new.users_seen == 2
    assert users(old) == {"id:1": 2, "id:2": 1, "id:4": 1} and old.users_seen == 3
    assert new.title.startswith("BError") and new.metadata["type"] == "BError"
    assert new.short_id == 4 and new.status == "unresolved" and new.substatus == "new"
    assert (new.first_seen, new.last_seen) == (b.first_seen, b.last_seen)
    assert survivor.times_seen == 4  # the caller's instance follows
    assert activity_types(old)[-1] == "unmerge_source"
    assert activity_types(new) == ["unmerge_destination"]
    source = Activity.objects.get(type="unmerge_source")
    assert source.data == {"hashes": b_hashes, "destination_id": str(new.pk)}
    # New events of those hashes go to the new issue now.
    send(project, "BError", user={"id": "2"})
    digest()
    assert Issue.objects.get(pk=new.pk).times_seen == 3


def test_unmerge_moves_counts_over_time_with_the_events(project, member, three):
    a, b, _ = three
    b_hashes = hashes(b)
    survivor = actions.merge_issues([a, b], member)
    bucket = int(b.last_seen.timestamp()) // 3600
    IssueHourlyCount.objects.update_or_create(issue=survivor, bucket=bucket, defaults={"count": 5})
    new = actions.unmerge(survivor, member, b_hashes)
    rows = IssueHourlyCount.objects.filter(issue__in=[survivor, new], bucket=bucket)
    assert dict(rows.values_list("issue", "count")) == {survivor.pk: 3, new.pk: 2}


def test_unmerge_moves_counts_at_the_time_digest_counted_them(project, member):
    """Digest counts an event whose timestamp is older than the retention (a wrong client
    clock) at its received time; unmerge takes the moved events out of the same buckets."""
    Project.objects.filter(pk=project.id).update(retention_days=7)
    skewed = time.time() - 10 * 86400
    a = issue_of(project, "AError", events=2, timestamp=skewed)
    b = issue_of(project, "BError")
    a_hashes = hashes(a)
    survivor = actions.merge_issues([a, b], member)
    new = actions.unmerge(survivor, member, a_hashes)
    for issue in (survivor, new):
        issue.refresh_from_db()
        for model in (IssueHourlyCount, IssueDailyCount):
            rows = model.objects.filter(issue_id=issue.pk)
            assert sum(rows.values_list("count", flat=True)) == issue.times_seen, model
            assert all(n > 0 for n in rows.values_list("count", flat=True)), model
    assert (survivor.times_seen, new.times_seen) == (1, 2)
    now_hour = int(time.time()) // 3600
    assert set(IssueHourlyCount.objects.filter(issue=new).values_list("bucket", flat=True)) <= {
        now_hour - 1,
        now_hour,
    }


@pytest.mark.parametrize(
    "bad",
    [[], "abc", [5], ["x" * 33], ["not a hash!"], ["0" * 32]],
)
def test_bad_unmerge_hashes_are_refused_and_change_nothing(project, member, three, bad):
    a, b, _ = three
    survivor = actions.merge_issues([a, b], member)
    before = (hashes(survivor), Issue.objects.count(), Activity.objects.count())
    with pytest.raises(ActionError) as err:
        actions.unmerge(survivor, member, bad)
    assert err.value.field == "id"
    assert (hashes(survivor), Issue.objects.count(), Activity.objects.count()) == before


def test_unmerge_must_leave_the_issue_a_hash(project, member, three):
    a, _, _ = three
    with pytest.raises(ActionError) as err:
        actions.unmerge(a, member, hashes(a))
    assert "at least one" in err.value.message
    assert Issue.objects.count() == 3


# -- delete ----------------------------------------------------------------------------


def send_with_extras(project) -> str:
    """An event with an attachment and user feedback about it."""
    event_id = uuid.uuid4().hex
    report = {"event_id": event_id, "name": "Ann", "email": "a@example.com", "comments": "boom"}
    body = envelope(
        exception_event("DelError", event_id=event_id),
        item("attachment", b"log line", filename="log.txt"),
        item("user_report", report),
        event_id=event_id,
    )
    response = call_wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200
    return event_id


def test_deleting_removes_events_attachments_feedback_and_hashes(project, member, three):
    send_with_extras(project)
    digest()
    doomed = Issue.objects.get(metadata__type="DelError")
    assert Attachment.objects.count() == 1 and UserReport.objects.count() == 1
    actions.delete_issues([doomed, three[1]], member)
    assert set(Issue.objects.values_list("pk", flat=True)) == {three[0].pk, three[2].pk}
    assert Event.objects.count() == 4
    assert not Attachment.objects.exists() and not UserReport.objects.exists()
    assert not GroupHash.objects.filter(issue__isnull=True).exists()
    assert not GroupTombstone.objects.exists()
    # Without discard the group comes back as a new issue.
    send(project, "DelError")
    digest()
    again = Issue.objects.get(metadata__type="DelError")
    assert again.pk != doomed.pk and again.times_seen == 1


def test_deleting_many_events_goes_in_chunks(project, member, monkeypatch):
    from tracehound.issues import merging

    monkeypatch.setattr(merging, "CHUNK", 2)
    issue = issue_of(project, "ManyError", events=5)
    actions.delete_issues([issue], member)
    assert not Event.objects.exists() and not Issue.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_delete_and_discard_leaves_a_tombstone_owning_the_hashes(project, member, three):
    a, b, _ = three
    a_hashes = hashes(a)
    actions.delete_issues([a], member, discard=True)
    tomb = GroupTombstone.objects.get()
    assert (tomb.title, tomb.actor, tomb.project_id) == (a.title, member, project.id)
    assert tomb.created_at <= datetime.now(tz=UTC)
    owned = GroupHash.objects.filter(tombstone=tomb)
    assert sorted(owned.values_list("hash", flat=True)) == a_hashes
    assert not owned.filter(issue__isnull=False).exists()
    assert not Issue.objects.filter(pk=a.pk).exists()
    assert not Event.objects.filter(issue_id=a.pk).exists()
    assert Issue.objects.get(pk=b.pk).times_seen == 2  # others untouched


def test_an_event_of_a_discarded_issue_is_dropped_by_digest(project, member, three):
    a, _, _ = three
    actions.delete_issues([a], member, discard=True)
    event_id = send(project, "AError", user={"id": "1"})
    digest()
    assert not Issue.objects.filter(metadata__type="AError").exists()
    assert not Event.objects.filter(event_id=event_id).exists()
    assert not QueueItem.objects.exists()  # dropped on purpose, not failed
    assert GroupTombstone.objects.get().times_discarded == 1


# -- settle: waiting for digest batches in flight (PostgreSQL) ---------------------------

ON_POSTGRES = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="SQLite has one writer: nothing to wait for"
)


def hold_transaction(opened: threading.Event, release: threading.Event, ended: list[str]) -> None:
    """A transaction that stays open until `release` is set, as a digest batch in flight."""
    from django.db import connection, transaction

    try:
        with transaction.atomic():
            Issue.objects.count()
            opened.set()
            release.wait(10)
            ended.append("committing")
    finally:
        connection.close()


@ON_POSTGRES
def test_settle_waits_for_the_transactions_running_when_it_started():
    from tracehound.issues.merging import settle

    opened, release, ended = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=hold_transaction, args=(opened, release, ended))
    holder.start()
    assert opened.wait(10)
    threading.Timer(0.3, release.set).start()
    settle(timeout=10)
    assert ended == ["committing"]  # settle returned only after the transaction ended
    holder.join()


@ON_POSTGRES
def test_settle_gives_up_after_its_timeout(caplog):
    from tracehound.issues.merging import settle

    opened, release, ended = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=hold_transaction, args=(opened, release, ended))
    holder.start()
    assert opened.wait(10)
    settle(timeout=0.2)
    assert ended == [] and "still running" in caplog.text
    release.set()
    holder.join()
