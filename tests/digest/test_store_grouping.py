"""A grouping upgrade never re-buckets old issues: during the transition window digest
looks up the hashes of both versions, and old issues learn their new-version hashes."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from tests.issues.digesting import error, send

from tracehound.digest.process import ProjectGrouping
from tracehound.grouping import DEFAULT_GROUPING_VERSION
from tracehound.grouping.config import CONFIGS, GroupingConfig
from tracehound.grouping.enhancers import BUILTIN_2023_01_11
from tracehound.issues.models import GroupHash, Issue
from tracehound.queue.worker import project_groupings

pytestmark = pytest.mark.django_db(transaction=True)

# A second config, registered for these tests: it ignores source lines, so events with a
# context line get other hashes than under the real version.
NEW = "test:no-context-lines"


@pytest.fixture(autouse=True)
def second_config(monkeypatch):
    monkeypatch.setitem(
        CONFIGS,
        NEW,
        GroupingConfig(id=NEW, contextline_platforms=frozenset(), builtin_rules=BUILTIN_2023_01_11),
    )


def with_line(type_: str = "ValueError") -> dict:
    event = error(type_)
    event["exception"]["values"][0]["stacktrace"]["frames"][0]["context_line"] = "raise it()"
    return event


def upgrade(project, expiry: datetime) -> None:
    p = project.project
    p.secondary_grouping_version, p.grouping_version = p.grouping_version, NEW
    p.secondary_grouping_expiry = expiry
    p.save(
        update_fields=[
            "grouping_version",
            "secondary_grouping_version",
            "secondary_grouping_expiry",
        ]
    )


def hash_versions(issue: Issue) -> list[str]:
    return sorted(GroupHash.objects.filter(issue=issue).values_list("grouping_version", flat=True))


def test_old_issues_keep_their_events_through_and_after_the_transition(wsgi, project, digest_all):
    send(wsgi, project, with_line())
    digest_all()
    old = Issue.objects.get()
    upgrade(project, datetime.now(tz=UTC) + timedelta(days=1))
    send(wsgi, project, with_line())  # only its secondary (old-version) hash is known
    digest_all()
    assert Issue.objects.get() == old
    assert hash_versions(old) == [DEFAULT_GROUPING_VERSION, NEW]  # learnt its new hash
    # After the window only the new version is computed, and still finds the old issue.
    project.project.secondary_grouping_expiry = datetime.now(tz=UTC) - timedelta(seconds=1)
    project.project.save(update_fields=["secondary_grouping_expiry"])
    send(wsgi, project, with_line())
    digest_all()
    old.refresh_from_db()
    assert (Issue.objects.count(), old.times_seen) == (1, 3)


def test_new_issues_in_the_window_get_new_version_hashes_only(wsgi, project, digest_all):
    upgrade(project, datetime.now(tz=UTC) + timedelta(days=1))
    send(wsgi, project, with_line("TypeError"))
    digest_all()
    assert hash_versions(Issue.objects.get()) == [NEW]


def test_the_secondary_version_is_used_only_before_its_expiry(project):
    upgrade(project, datetime.now(tz=UTC) + timedelta(hours=1))
    assert project_groupings({project.id}) == {
        project.id: ProjectGrouping(NEW, DEFAULT_GROUPING_VERSION, "", "")
    }
    project.project.secondary_grouping_expiry = datetime.now(tz=UTC) - timedelta(seconds=1)
    project.project.save(update_fields=["secondary_grouping_expiry"])
    assert project_groupings({project.id})[project.id].secondary_version == ""


def test_a_secondary_version_this_build_does_not_know_is_left_out(wsgi, project, digest_all):
    p = project.project
    p.secondary_grouping_version = "retired:2019-01-01"
    p.secondary_grouping_expiry = datetime.now(tz=UTC) + timedelta(days=1)
    p.save(update_fields=["secondary_grouping_version", "secondary_grouping_expiry"])
    send(wsgi, project, with_line())
    digest_all()
    assert hash_versions(Issue.objects.get()) == [DEFAULT_GROUPING_VERSION]


def set_rules(project, fingerprint: str = "", stacktrace: str = "") -> None:
    p = project.project
    p.fingerprint_rules, p.stacktrace_rules = fingerprint, stacktrace
    p.save(update_fields=["fingerprint_rules", "stacktrace_rules"])


def test_project_fingerprint_rules_apply_at_digest(wsgi, project, digest_all):
    """Two exception types are two issues; a rule naming both makes them one, titled."""
    send(wsgi, project, error("DatabaseError"))
    send(wsgi, project, error("OperationalError"))
    digest_all()
    assert Issue.objects.count() == 2
    set_rules(
        project,
        'error.type:"DatabaseError" -> database-error title="Database"\n'
        "error.type:OperationalError -> database-error",
    )
    send(wsgi, project, error("DatabaseError"))
    send(wsgi, project, error("OperationalError"))
    digest_all()
    newest = Issue.objects.order_by("-id").first()
    assert Issue.objects.count() == 3
    assert (newest.times_seen, newest.title) == (2, "Database")


def test_project_stacktrace_rules_apply_at_digest(wsgi, project, digest_all):
    """Marking every frame -group leaves type and value to group on: two events that
    differ only in their frames' functions join one issue."""
    first, second = error("KeyError"), error("KeyError")
    second["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] = "other"
    send(wsgi, project, first)
    send(wsgi, project, second)
    digest_all()
    assert Issue.objects.count() == 2
    set_rules(project, stacktrace="stack.function:* -group")
    third, fourth = error("KeyError"), error("KeyError")
    fourth["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] = "other"
    send(wsgi, project, third)
    send(wsgi, project, fourth)
    digest_all()
    assert Issue.objects.count() == 3
    assert Issue.objects.order_by("-id").first().times_seen == 2


@pytest.fixture
def hash_issue_key_checked_at_insert(transactional_db):
    """Django's foreign keys are checked at commit on PostgreSQL, which hides lock order;
    checked at insert, a hash takes its issue's key-share lock when it is inserted."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'issues_grouphash'::regclass"
            " AND contype = 'f' AND conname LIKE %s",
            ["%issue_id%"],
        )
        [name] = cursor.fetchone()
        cursor.execute(f"ALTER TABLE issues_grouphash ALTER CONSTRAINT {name} NOT DEFERRABLE")
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE issues_grouphash ALTER CONSTRAINT {name} DEFERRABLE INITIALLY DEFERRED"
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.usefixtures("hash_issue_key_checked_at_insert")
def test_a_hash_added_to_old_issues_locks_them_in_id_order(wsgi, project, digest_all, caplog):
    """Adding a hash to an existing issue locks the issue (the foreign key): digest must
    lock its issues in id order first, as deleting issues does, or the two deadlock."""
    events = [with_line("AError"), with_line("BError")]
    for event in events:
        send(wsgi, project, event)
    digest_all()
    upgrade(project, datetime.now(tz=UTC) + timedelta(days=1))
    for event in events:
        send(wsgi, project, {**event, "event_id": uuid.uuid4().hex})
    digest_all()  # the issues learn their new-version hashes; now we know their order
    new = GroupHash.objects.filter(grouping_version=NEW).order_by("hash")
    first, second = (h.issue_id for h in new)
    if first < second:  # make the first hash's issue the higher id: swap the issues' hashes
        of_first = list(GroupHash.objects.filter(issue_id=first).values_list("id", flat=True))
        GroupHash.objects.filter(issue_id=second).update(issue_id=first)
        GroupHash.objects.filter(id__in=of_first).update(issue_id=second)
        first, second = second, first
    new.delete()
    for event in events:
        send(wsgi, project, {**event, "event_id": uuid.uuid4().hex})
    locked = threading.Event()
    errors: list[BaseException] = []

    def delete_issues() -> None:  # locks in id order, as actions.delete_issues does
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT id FROM issues_issue WHERE id = %s FOR UPDATE", [second])
                locked.set()
                time.sleep(0.5)  # digest now waits for `second`
                cursor.execute("SELECT id FROM issues_issue WHERE id = %s FOR UPDATE", [first])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def digest() -> None:
        assert locked.wait(10)
        digest_all()
        connection.close()

    threads = [threading.Thread(target=t) for t in (delete_issues, digest)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sorted(Issue.objects.values_list("times_seen", flat=True)) == [3, 3]
    assert GroupHash.objects.filter(grouping_version=NEW).count() == 2
