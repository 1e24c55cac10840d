"""The issue write API in Sentry's shapes: update, delete, bulk, merge, hashes, comments."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.issues.test_actions_support import bare_issue, digest, issue_of
from tracehound.events.models import Event
from tracehound.issues.models import (
    Activity,
    GroupHash,
    GroupTombstone,
    Issue,
    IssueBookmark,
    IssueSeen,
    Release,
)

pytestmark = pytest.mark.django_db(transaction=True)


def put(api, path: str, user: Any, body: Any, query: str = ""):
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return api(
        path,
        user,
        method="PUT",
        body=raw,
        query=query,
        headers={"Content-Type": "application/json"},
    )


def state(issue: Issue) -> tuple[Any, ...]:
    row = Issue.objects.filter(pk=issue.pk).values().get()
    return (
        row,
        Activity.objects.count(),
        IssueSeen.objects.count(),
        IssueBookmark.objects.count(),
    )


def url(issue: Issue, suffix: str = "") -> str:
    return f"/api/0/issues/{issue.pk}/{suffix}"


BULK = "/api/0/projects/acme/backend/issues/"


# -- one issue -------------------------------------------------------------------------


def test_resolving_answers_the_new_status(api, project, member):
    issue = bare_issue(project)
    response = put(api, url(issue), member, {"status": "resolved"})
    assert response.status == 200, response.body
    body = response.json()
    assert (body["status"], body["statusDetails"]) == ("resolved", {})
    assert body["id"] == str(issue.pk)
    activity = Activity.objects.get()
    assert (activity.type, activity.user) == ("set_resolved", member)


def test_resolving_in_a_release_and_in_the_latest_one(api, project, member):
    issue = bare_issue(project)
    for version, major in (("1.0.0", 1), ("2.0.0", 2)):
        Release.objects.create(
            project_id=project.id,
            version=version,
            first_seen=issue.first_seen,
            last_seen=issue.first_seen,
            major=major,
            minor=0,
            patch=0,
        )
    body = {"status": "resolved", "statusDetails": {"inRelease": "1.0.0"}}
    assert put(api, url(issue), member, body).json()["statusDetails"] == {"inRelease": "1.0.0"}
    body = {"status": "resolved", "statusDetails": {"inRelease": "latest"}}
    assert put(api, url(issue), member, body).json()["statusDetails"] == {"inRelease": "2.0.0"}
    answer = put(api, url(issue), member, {"status": "resolvedInNextRelease"}).json()
    assert (answer["status"], answer["statusDetails"]) == ("resolved", {"inNextRelease": True})
    assert Issue.objects.get(pk=issue.pk).resolved_release == "2.0.0"


def test_ignoring_with_conditions_echoes_them(api, project, member):
    issue = bare_issue(project)
    details = {"ignoreCount": 100, "ignoreWindow": 60}
    answer = put(api, url(issue), member, {"status": "ignored", "statusDetails": details}).json()
    assert (answer["status"], answer["statusDetails"]) == ("ignored", details)
    assert answer["substatus"] == "archived_until_condition_met"
    answer = put(api, url(issue), member, {"statusDetails": {"ignoreDuration": 30}}).json()
    assert answer["status"] == "ignored" and "ignoreUntil" in answer["statusDetails"]
    answer = put(api, url(issue), member, {"status": "unresolved"}).json()
    assert (answer["status"], answer["statusDetails"]) == ("unresolved", {})


def test_assigning_by_username_email_or_id_and_unassigning(api, project, owner, member):
    issue = bare_issue(project)
    member.email = "member@example.com"
    member.save()
    for value in ("member", "member@example.com", f"user:{member.pk}", str(member.pk)):
        answer = put(api, url(issue), owner, {"assignedTo": value}).json()
        assert answer["assignedTo"] == {
            "type": "user",
            "id": str(member.pk),
            "name": "member",
            "email": "member@example.com",
        }
    assert put(api, url(issue), owner, {"assignedTo": None}).json()["assignedTo"] is None
    assert put(api, url(issue), owner, {"assignedTo": ""}).json()["assignedTo"] is None
    types = list(Activity.objects.values_list("type", flat=True))
    assert types == ["assigned", "unassigned"]  # the same assignee again writes nothing


def test_seen_bookmark_and_review_are_per_user(api, project, owner, member):
    issue = bare_issue(project, substatus="new")
    body = {"hasSeen": True, "isBookmarked": True, "substatus": "ongoing"}
    answer = put(api, url(issue), member, body).json()
    assert (answer["hasSeen"], answer["isBookmarked"], answer["substatus"]) == (
        True,
        True,
        "ongoing",
    )
    assert IssueSeen.objects.get().user == member
    assert IssueBookmark.objects.get().user == member
    answer = put(api, url(issue), member, {"hasSeen": False, "isBookmarked": False}).json()
    assert (answer["hasSeen"], answer["isBookmarked"]) == (False, False)
    assert not IssueSeen.objects.exists() and not IssueBookmark.objects.exists()


def test_unknown_keys_are_ignored_as_sentry_does(api, project, member):
    issue = bare_issue(project)
    body = {"isSubscribed": True, "whatever": [1], "statusDetails": {"someday": 1}}
    response = put(api, url(issue), member, body)
    assert response.status == 200
    assert not Activity.objects.exists()
    assert Issue.objects.get(pk=issue.pk).status == "unresolved"


def test_an_oversized_body_is_a_json_400(api, project, member):
    issue = bare_issue(project)
    before = state(issue)
    body = b'{"status": "resolved", "pad": "' + b"x" * 3_000_000 + b'"}'
    response = put(api, url(issue), member, body)
    assert response.status == 400
    assert "detail" in response.json()
    assert state(issue) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "done"}, "status"),
        ({"status": 5}, "status"),
        ({"status": "resolved", "statusDetails": []}, "statusDetails"),
        ({"status": "resolved", "statusDetails": {"inRelease": "9.9"}}, "inRelease"),
        ({"status": "resolved", "statusDetails": {"inRelease": 5}}, "inRelease"),
        ({"status": "resolved", "statusDetails": {"inRelease": "latest"}}, "inRelease"),
        ({"status": "resolved", "statusDetails": {"inNextRelease": "yes"}}, "inNextRelease"),
        ({"status": "resolved", "statusDetails": {"inCommit": {"commit": "abc"}}}, "inCommit"),
        ({"status": "ignored", "statusDetails": {"ignoreCount": "5"}}, "ignoreCount"),
        ({"status": "ignored", "statusDetails": {"ignoreCount": 0}}, "ignoreCount"),
        ({"status": "ignored", "statusDetails": {"ignoreDuration": 1e300}}, "ignoreDuration"),
        ({"status": "ignored", "statusDetails": {"ignoreWindow": 5}}, "ignoreWindow"),
        ({"status": "ignored", "statusDetails": {"ignoreUserCount": -1}}, "ignoreUserCount"),
        ({"status": "ignored", "statusDetails": {"ignoreUserWindow": True}}, "ignoreUserWindow"),
        (
            b'{"status": "ignored", "statusDetails": {"ignoreCount": 18446744073709551616}}',
            "ignoreCount",
        ),
        ({"assignedTo": "nobody"}, "assignedTo"),
        ({"assignedTo": "outsider"}, "assignedTo"),
        ({"assignedTo": 5}, "assignedTo"),
        ({"assignedTo": "team:backend"}, "assignedTo"),
        ({"assignedTo": "a\x00b"}, "assignedTo"),
        ({"assignedTo": "x" * 1_000_000}, "assignedTo"),
        ({"hasSeen": "yes"}, "hasSeen"),
        ({"isBookmarked": 1}, "isBookmarked"),
        ({"substatus": "regressed"}, "substatus"),
        # A bad field after a good one: the good one is not applied either.
        ({"status": "resolved", "isBookmarked": "no"}, "isBookmarked"),
        (b"[1, 2]", "body"),
        (b"{not json", "body"),
        (b"\xff\xfe", "body"),
        # A lone surrogate reads in Python but no database stores it.
        (b'{"status": "\\ud800"}', "body"),
        (b'{"assignedTo": "\\udfff"}', "body"),
        (b'{"status": "resolved", "statusDetails": {"inRelease": "\\ud800"}}', "body"),
        (b'{"status": "resolved", "statusDetails": {"inRelease": "1.0\\u0000"}}', "inRelease"),
    ],
)
def test_bad_values_answer_400_naming_the_field_and_change_nothing(
    api, project, member, outsider, body, field
):
    issue = bare_issue(project)
    before = state(issue)
    response = put(api, url(issue), member, body)
    assert response.status == 400, response.body
    answer = response.json()
    assert answer["detail"].startswith(f"{field}: ")
    assert answer[field] == [answer["detail"][len(field) + 2 :]]
    assert state(issue) == before


def test_deleting_an_issue_answers_202_and_removes_its_events(api, project, member):
    issue = issue_of(project, "GoneError", events=2)
    response = api(url(issue), member, method="DELETE")
    assert response.status == 202
    assert not Issue.objects.exists() and not Event.objects.exists()
    assert api(url(issue), member).status == 404


def test_another_organizations_issue_is_not_found(api, project, member, outsider):
    issue = bare_issue(project)
    before = state(issue)
    assert put(api, url(issue), outsider, {"status": "resolved"}).status == 404
    assert api(url(issue), outsider, method="DELETE").status == 404
    for suffix in ("hashes/", "comments/", "activities/"):
        assert api(url(issue, suffix), outsider).status == 404
    body = orjson.dumps({"text": "hi"})
    assert api(url(issue, "comments/"), outsider, method="POST", body=body).status == 404
    assert state(issue) == before


def test_the_organization_scoped_routes_check_the_organization(api, project, member):
    issue = bare_issue(project)
    path = f"/api/0/organizations/acme/issues/{issue.pk}/"
    assert put(api, path, member, {"status": "resolved"}).json()["status"] == "resolved"
    assert api(f"/api/0/organizations/other/issues/{issue.pk}/", member).status == 404


def test_events_and_tags_have_organization_scoped_routes_too(api, project, member, outsider):
    from tracehound.projects.models import Organization, OrganizationMember

    issue = issue_of(project, "ScopedError", events=2)
    event_id = Event.objects.filter(issue=issue).values_list("event_id", flat=True).first()
    # A member of both organizations still finds acme's issue only under acme.
    OrganizationMember.objects.create(
        organization=Organization.objects.get(slug="other-org"),
        user=member,
        role=OrganizationMember.Role.MEMBER,
    )
    for suffix in (
        "events/",
        "events/latest/",
        f"events/{event_id}/",
        "tags/",
        "tags/level/",
        "tags/level/values/",
    ):
        plain = api(url(issue, suffix), member)
        scoped = api(f"/api/0/organizations/acme/issues/{issue.pk}/{suffix}", member)
        assert (plain.status, scoped.status) == (200, 200), suffix
        assert scoped.json() == plain.json(), suffix
        foreign = api(f"/api/0/organizations/other-org/issues/{issue.pk}/{suffix}", member)
        assert foreign.status == 404, suffix


def test_a_browser_session_needs_the_csrf_token_to_change_an_issue(client, project, member):
    issue = bare_issue(project)
    client.force_login(member)
    client.handler.enforce_csrf_checks = True
    response = client.put(url(issue), b'{"status": "resolved"}', content_type="application/json")
    assert response.status_code == 403
    assert Issue.objects.get(pk=issue.pk).status == "unresolved"


def test_head_reads_the_issue_and_never_changes_it(client, api, project, member):
    issue = bare_issue(project)
    body = b'{"status": "resolved"}'
    response = api(url(issue), member, method="HEAD", body=body)
    assert response.status == 200
    client.force_login(member)
    client.handler.enforce_csrf_checks = True  # HEAD is a safe method: no CSRF check
    response = client.generic("HEAD", url(issue), body, content_type="application/json")
    assert response.status_code == 200
    assert Issue.objects.get(pk=issue.pk).status == "unresolved"
    assert not Activity.objects.exists()


def test_the_put_answer_is_the_issue_as_get_shows_it(api, project, member):
    issue = issue_of(project, "SeenError")
    api(url(issue, "comments/"), member, method="POST", body=orjson.dumps({"text": "hi"}))
    answer = put(api, url(issue), member, {"isBookmarked": True, "hasSeen": True}).json()
    shown = api(url(issue), member).json()
    assert (answer["numComments"], answer["isBookmarked"], answer["hasSeen"]) == (1, True, True)
    assert answer == shown


# -- bulk ------------------------------------------------------------------------------


def test_bulk_resolving_by_id_skips_ids_of_other_projects(api, project, member, outsider):
    from tracehound.projects.models import Project

    a, b, c = (bare_issue(project) for _ in range(3))
    foreign = Issue.objects.create(
        project=Project.objects.get(slug="web"),
        short_id=1,
        title="theirs",
        grouping_version="x",
        first_seen=a.first_seen,
        last_seen=a.last_seen,
    )
    query = f"id={a.pk}&id={b.pk}&id={foreign.pk}"
    response = put(api, BULK, member, {"status": "resolved"}, query=query)
    assert response.status == 200
    assert response.json() == {"status": "resolved", "statusDetails": {}, "substatus": None}
    statuses = dict(Issue.objects.values_list("pk", "status"))
    assert statuses == {
        a.pk: "resolved",
        b.pk: "resolved",
        c.pk: "unresolved",
        foreign.pk: "unresolved",
    }


def test_bulk_with_nothing_matching_answers_204(api, project, member):
    response = put(api, BULK, member, {"status": "resolved"}, query="id=999999")
    assert response.status == 204


def test_bulk_status_change_without_ids_uses_the_query_and_status(api, project, member):
    a = bare_issue(project)
    b = bare_issue(project, status="ignored", substatus="archived_forever")
    response = put(api, BULK, member, {"status": "resolved"}, query="query=is:unresolved")
    assert response.status == 200
    assert Issue.objects.get(pk=a.pk).status == "resolved"
    assert Issue.objects.get(pk=b.pk).status == "ignored"
    response = put(api, BULK, member, {"status": "unresolved"}, query="status=ignored")
    assert response.status == 200
    assert Issue.objects.get(pk=b.pk).status == "unresolved"
    assert Issue.objects.get(pk=a.pk).status == "resolved"


@pytest.mark.parametrize(
    ("query", "body", "field"),
    [
        ("", {"assignedTo": "member"}, "id"),
        ("", {"merge": 1}, "id"),
        ("", {"discard": True}, "id"),
        ("id=abc", {"status": "resolved"}, "id"),
        ("id=1&status=open", {"status": "resolved"}, "status"),
        ("id=1", {"merge": "yes"}, "merge"),
        ("id=1", {"discard": "yes"}, "discard"),
    ],
)
def test_bad_bulk_requests_answer_400(api, project, member, query, body, field):
    issue = bare_issue(project)
    before = state(issue)
    query = query.replace("id=1", f"id={issue.pk}")
    response = put(api, BULK, member, body, query=query)
    assert response.status == 400, response.body
    assert response.json()["detail"].startswith(f"{field}: ")
    assert state(issue) == before


def test_bulk_merge_answers_parent_and_children(api, project, member):
    a = issue_of(project, "AError", events=3)
    b = issue_of(project, "BError", events=1)
    response = put(api, BULK, member, {"merge": 1}, query=f"id={a.pk}&id={b.pk}")
    assert response.status == 200
    assert response.json() == {"merge": {"parent": str(a.pk), "children": [str(b.pk)]}}
    assert list(Issue.objects.values_list("pk", "times_seen")) == [(a.pk, 4)]


def test_merging_one_issue_is_refused(api, project, member):
    a = bare_issue(project)
    response = put(api, BULK, member, {"merge": True}, query=f"id={a.pk}")
    assert response.status == 400 and response.json()["detail"].startswith("id: ")


def test_bulk_delete_and_discard(api, project, member):
    a = issue_of(project, "AError")
    b = issue_of(project, "BError")
    c = issue_of(project, "CError")
    assert api(BULK, member, method="DELETE").status == 400
    assert api(BULK, member, method="DELETE", query=f"id={a.pk}").status == 204
    response = put(api, BULK, member, {"discard": True}, query=f"id={b.pk}")
    assert response.status == 204
    assert list(Issue.objects.values_list("pk", flat=True)) == [c.pk]
    assert GroupHash.objects.filter(tombstone=GroupTombstone.objects.get()).exists()


# -- hashes, comments, activity ---------------------------------------------------------


def test_hashes_list_with_their_latest_event_and_unmerge(api, project, member):
    a = issue_of(project, "AError", events=2)
    b = issue_of(project, "BError", events=1)
    b_hash = GroupHash.objects.get(issue=b).hash
    put(api, BULK, member, {"merge": 1}, query=f"id={a.pk}&id={b.pk}")
    rows = api(url(a, "hashes/"), member).json()
    assert {r["id"] for r in rows} == set(GroupHash.objects.values_list("hash", flat=True))
    mine = next(r for r in rows if r["id"] == b_hash)
    assert mine["latestEvent"]["groupID"] == str(a.pk)
    assert mine["latestEvent"]["metadata"]["type"] == "BError"

    response = api(url(a, "hashes/"), member, method="DELETE", query=f"id={b_hash}")
    assert response.status == 202
    new = Issue.objects.exclude(pk=a.pk).get()
    assert (new.times_seen, Issue.objects.get(pk=a.pk).times_seen) == (1, 2)
    response = api(url(a, "hashes/"), member, method="DELETE", query="id=nothex!")
    assert response.status == 400 and response.json()["detail"].startswith("id: ")
    last = GroupHash.objects.get(issue=a).hash
    response = api(url(a, "hashes/"), member, method="DELETE", query=f"id={last}")
    assert response.status == 400


def test_the_hashes_list_finds_latest_events_by_index_in_a_fixed_number_of_queries(
    api, project, member
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    issue = issue_of(project, "HashError", events=2)
    latest = Event.objects.filter(issue=issue).order_by("-id").first()

    def listed() -> tuple[int, list[Any]]:
        with CaptureQueriesContext(connection) as queries:
            rows = api(url(issue, "hashes/"), member).json()
        return len(queries), rows

    count, rows = listed()
    assert [r["latestEvent"]["eventID"] for r in rows] == [latest.event_id]
    for i in range(5):  # hashes without events of their own (merged in, say)
        GroupHash.objects.create(
            project_id=project.id, hash=f"{i:032x}", issue=issue, grouping_version="legacy"
        )
    more, rows = listed()
    assert more == count and len(rows) == 6
    assert [r["latestEvent"] for r in rows[1:]] == [None] * 5
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, Event._meta.db_table)
    assert indexes["event_issue_hash"]["columns"] == ["issue_id", "primary_hash", "id"]


def test_comments_are_notes_in_the_activity_shape(api, project, member):
    issue = bare_issue(project)
    path = url(issue, "comments/")
    response = api(path, member, method="POST", body=orjson.dumps({"text": "cache again"}))
    assert response.status == 201
    note = response.json()
    assert (note["type"], note["data"]) == ("note", {"text": "cache again"})
    assert note["user"]["username"] == "member" and note["dateCreated"].endswith("Z")
    assert api(path, member).json() == [note]
    for bad in (b"{}", b'{"text": ""}', b'{"text": 5}'):
        response = api(path, member, method="POST", body=bad)
        assert response.status == 400 and response.json()["detail"].startswith("text: ")
    response = api(path, member, method="POST", body=b'{"text": "hi \\ud800"}')
    assert response.status == 400 and response.json()["detail"].startswith("body: text: ")
    assert Activity.objects.count() == 1


def test_activities_list_every_change_newest_first(api, project, member):
    issue = bare_issue(project)
    put(api, url(issue), member, {"status": "resolved"})
    put(api, url(issue), member, {"status": "unresolved"})
    body = api(url(issue, "activities/"), member).json()
    assert [a["type"] for a in body["activity"]] == ["set_unresolved", "set_resolved"]
    assert body["activity"][0]["user"]["id"] == str(member.pk)


def test_digested_events_after_an_api_resolve_reopen_the_issue(api, project, member):
    issue = issue_of(project, "AgainError")
    put(api, url(issue), member, {"status": "resolved"})
    issue_of(project, "AgainError")
    digest()
    assert Issue.objects.get(pk=issue.pk).status == "unresolved"
