"""A grouping upgrade never re-buckets old issues: during the transition window digest
looks up the hashes of both versions, and old issues learn their new-version hashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.issues.digesting import error, send

from tracehound.digest.process import ProjectGrouping
from tracehound.grouping import DEFAULT_GROUPING_VERSION
from tracehound.grouping.config import CONFIGS, GroupingConfig
from tracehound.issues.models import GroupHash, Issue
from tracehound.queue.worker import project_groupings

pytestmark = pytest.mark.django_db(transaction=True)

# A second config, registered for these tests: it ignores source lines, so events with a
# context line get other hashes than under the real version.
NEW = "test:no-context-lines"


@pytest.fixture(autouse=True)
def second_config(monkeypatch):
    monkeypatch.setitem(CONFIGS, NEW, GroupingConfig(id=NEW, contextline_platforms=frozenset()))


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
