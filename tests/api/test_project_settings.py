"""`/api/0/projects/{org}/{project}/`: grouping settings saved only when valid, in Sentry's shape."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.conftest import make_user
from tracehound.grouping import DEFAULT_GROUPING_VERSION, group_event
from tracehound.grouping.project_rules import project_rules
from tracehound.projects.models import OrganizationMember, Project, ProjectTeam, Team, TeamMember

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/0/projects/acme/backend/"
RULES = (
    "# one issue for the database being down\n"
    "error.type:OperationalError -> database-down\n"
    'error.value:"connection refused*" -> refused, {{ transaction }} title="Refused"\n'
)


def put(api, user, data: Any):
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    return api(URL, user, method="PUT", body=body, headers={"Content-Type": "application/json"})


def stored(project) -> Project:
    return Project.objects.get(pk=project.id)


@pytest.fixture
def admin(project):
    user = make_user("admin")
    membership = OrganizationMember.objects.create(
        organization=project.project.organization, user=user, role=OrganizationMember.Role.ADMIN
    )
    # An admin changes the projects of their teams.
    team = Team.objects.create(organization=project.project.organization, slug="t", name="t")
    ProjectTeam.objects.create(team=team, project=project.project)
    TeamMember.objects.create(team=team, member=membership)
    return user


def test_get_answers_the_project_in_sentrys_shape(api, project, member):
    Project.objects.filter(pk=project.id).update(auto_resolve_days=7)
    response = api(URL, member)
    assert response.status == 200
    body = response.json()
    assert body == {
        "id": str(project.id),
        "slug": "backend",
        "name": "backend",
        "platform": "python",
        "dateCreated": body["dateCreated"],
        "organization": {
            "id": str(project.project.organization_id),
            "slug": "acme",
            "name": "acme",
        },
        "fingerprintingRules": "",
        "groupingEnhancements": "",
        "groupingConfig": DEFAULT_GROUPING_VERSION,
        "secondaryGroupingConfig": None,
        "secondaryGroupingExpiry": None,
        "resolveAge": 168,
    }
    assert body["dateCreated"].endswith("Z")


def test_an_owner_saves_fingerprint_rules_and_they_group_events(api, project, owner):
    response = put(api, owner, {"fingerprintingRules": RULES})
    assert response.status == 200, response.body
    assert response.json()["fingerprintingRules"] == RULES
    saved = stored(project)
    assert saved.fingerprint_rules == RULES
    rules = project_rules(saved.fingerprint_rules, saved.stacktrace_rules)
    event = {"platform": "python", "exception": {"values": [{"type": "OperationalError"}]}}
    expected = hashlib.md5(b"database-down").hexdigest()
    assert group_event(event, saved.grouping_version, rules=rules).hashes == [expected]


def test_an_admin_may_change_settings_too(api, project, admin):
    assert put(api, admin, {"fingerprintingRules": RULES}).status == 200


def test_a_malformed_rule_is_refused_naming_its_line_and_nothing_is_saved(api, project, owner):
    text = "type:A -> a\n\ncolour:red -> x\n"
    response = put(api, owner, {"fingerprintingRules": text, "groupingConfig": "nope"})
    assert response.status == 400
    body = response.json()
    assert body["fingerprintingRules"] == [
        "line 3, column 1: unknown matcher 'colour' (known: app, error.type, error.value,"
        " family, function, level, logger, message, module, package, path, release, sdk,"
        " stack.abs_path, stack.function, stack.module, stack.package, tags.<name>, type, value)"
    ]
    assert body["detail"].startswith("Invalid fingerprintingRules: line 3, column 1")
    assert stored(project).fingerprint_rules == ""


def test_a_malformed_stack_trace_rule_names_its_field_and_line(api, project, owner):
    text = "stack.module:requests.* -app\nnot a rule at all\n"
    response = put(api, owner, {"groupingEnhancements": text, "fingerprintingRules": RULES})
    assert response.status == 400
    body = response.json()
    assert list(body) == ["detail", "groupingEnhancements"]
    assert body["groupingEnhancements"][0].startswith("line 2, column ")
    assert stored(project).fingerprint_rules == ""


def test_valid_stack_trace_rules_are_saved(api, project, owner):
    text = "stack.module:requests.* -app\nfamily:native function:std::* -group\n"
    response = put(api, owner, {"groupingEnhancements": text})
    assert response.status == 200, response.body
    assert stored(project).stacktrace_rules == text


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"fingerprintingRules": 5}, "fingerprintingRules", "must be a string"),
        ({"fingerprintingRules": "type:A\x00 -> a"}, "fingerprintingRules", "line 1, column 7"),
        ({"fingerprintingRules": "x" * 70_000}, "fingerprintingRules", "limited to 65536"),
        ({"fingerprintingRules": "error.type:[z-a] -> x"}, "fingerprintingRules", "column 12"),
        ({"fingerprintingRules": "type:a -> a\npath:[a-\\] -> x"}, "fingerprintingRules", "line 2"),
        ({"groupingEnhancements": "function:[z-a] -app"}, "groupingEnhancements", "'['"),
        ({"groupingEnhancements": ["a"]}, "groupingEnhancements", "must be a string"),
        ({"groupingConfig": "newstyle:1999-01-01"}, "groupingConfig", "unknown grouping config"),
        ({"groupingConfig": None}, "groupingConfig", "must be a grouping config name"),
        ({"secondaryGroupingConfig": 1}, "secondaryGroupingConfig", "must be a grouping config"),
        ({"secondaryGroupingConfig": "x"}, "secondaryGroupingConfig", "unknown grouping config"),
        (b'{"secondaryGroupingExpiry": 18446744073709551616}', "secondaryGroupingExpiry", "unix"),
        (b'{"secondaryGroupingExpiry": NaN}', "secondaryGroupingExpiry", "unix timestamp"),
        ({"secondaryGroupingExpiry": -1}, "secondaryGroupingExpiry", "must be between 0 and"),
        ({"secondaryGroupingExpiry": 1e300}, "secondaryGroupingExpiry", "unix timestamp"),
        ({"secondaryGroupingExpiry": True}, "secondaryGroupingExpiry", "unix timestamp"),
    ],
)
def test_bad_values_answer_400_naming_the_field(api, project, owner, data, field, message):
    response = put(api, owner, data)
    assert response.status == 400, response.body
    body = response.json()
    assert message in body[field][0]
    assert field in body["detail"]
    saved = stored(project)
    assert (saved.fingerprint_rules, saved.grouping_version) == ("", DEFAULT_GROUPING_VERSION)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"fingerprintingRules": "\\ud800 -> x"}', "fingerprintingRules: is not valid Unicode"),
        (b'{"\\ud800": 1}', "is not valid Unicode"),
        (b'{"name": "renamed"}', "Unsupported field(s): name"),
    ],
)
def test_bodies_that_are_not_settings_answer_400(api, project, owner, body, detail):
    response = put(api, owner, body)
    assert response.status == 400
    assert detail in response.json()["detail"]


def test_a_member_may_read_but_not_change_settings(api, project, member):
    assert api(URL, member).status == 200
    response = put(api, member, {"fingerprintingRules": RULES})
    assert response.status == 403
    assert response.json()["detail"] == "Missing scope: project:write"
    assert stored(project).fingerprint_rules == ""


def test_another_organizations_project_is_not_found(api, project, outsider):
    assert api(URL, outsider).status == 404
    assert put(api, outsider, {"fingerprintingRules": RULES}).status == 404


def test_a_new_grouping_version_keeps_the_old_one_as_secondary_for_30_days(api, project, owner):
    # A project made under an older grouping, as an imported Sentry project would be.
    Project.objects.filter(pk=project.id).update(grouping_version="mobile:2021-02-12")
    response = put(api, owner, {"groupingConfig": DEFAULT_GROUPING_VERSION})
    assert response.status == 200, response.body
    body = response.json()
    assert body["groupingConfig"] == DEFAULT_GROUPING_VERSION
    assert body["secondaryGroupingConfig"] == "mobile:2021-02-12"
    expected = (timezone.now() + timedelta(days=30)).timestamp()
    assert abs(body["secondaryGroupingExpiry"] - expected) < 60
    saved = stored(project)
    assert saved.secondary_grouping_version == "mobile:2021-02-12"
    assert saved.secondary_grouping_expiry is not None


def test_saving_the_same_version_does_not_start_a_transition(api, project, owner):
    response = put(api, owner, {"groupingConfig": DEFAULT_GROUPING_VERSION})
    assert response.json()["secondaryGroupingConfig"] is None


def test_the_secondary_version_and_expiry_can_be_set_and_cleared(api, project, owner):
    response = put(
        api,
        owner,
        {
            "secondaryGroupingConfig": DEFAULT_GROUPING_VERSION,
            "secondaryGroupingExpiry": 2_000_000_000,
        },
    )
    assert response.status == 200, response.body
    assert response.json()["secondaryGroupingExpiry"] == 2_000_000_000
    response = put(api, owner, {"secondaryGroupingConfig": None, "secondaryGroupingExpiry": None})
    body = response.json()
    assert (body["secondaryGroupingConfig"], body["secondaryGroupingExpiry"]) == (None, None)


def test_other_methods_answer_405(api, project, owner):
    assert api(URL, owner, method="POST").status == 405


# --- the command line ---------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("project", *args, stdout=out)
    return out.getvalue()


def test_the_rules_command_saves_rules_from_files(project, tmp_path: Path):
    rules = tmp_path / "fingerprints.txt"
    rules.write_text(RULES)
    assert "Saved" in run("rules", "acme/backend", "--fingerprint-file", str(rules))
    assert stored(project).fingerprint_rules == RULES
    assert "error.type:OperationalError -> database-down" in run("rules", "acme/backend")


def test_the_rules_command_refuses_a_malformed_file_naming_the_line(project, tmp_path: Path):
    rules = tmp_path / "fingerprints.txt"
    rules.write_text("type:A -> a\ntype:B ->\n")
    with pytest.raises(CommandError, match=r"fingerprintingRules: line 2, column 10: expected a"):
        run("rules", "acme/backend", "--fingerprint-file", str(rules))
    assert stored(project).fingerprint_rules == ""


def test_the_rules_command_reports_unreadable_files_and_unknown_projects(project, tmp_path: Path):
    with pytest.raises(CommandError, match="cannot read"):
        run("rules", "acme/backend", "--fingerprint-file", str(tmp_path / "missing.txt"))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(CommandError, match="not UTF-8"):
        run("rules", "acme/backend", "--stacktrace-file", str(binary))
    with pytest.raises(CommandError, match="no project acme/nope"):
        run("rules", "acme/nope")


def test_the_grouping_command_switches_versions_with_a_transition(project):
    Project.objects.filter(pk=project.id).update(grouping_version="mobile:2021-02-12")
    output = run("grouping", "acme/backend", DEFAULT_GROUPING_VERSION, "--transition-days", "7")
    assert f"backend: {DEFAULT_GROUPING_VERSION} (also mobile:2021-02-12 until " in output
    saved = stored(project)
    assert saved.secondary_grouping_expiry is not None
    remaining = saved.secondary_grouping_expiry - timezone.now()
    assert timedelta(days=6, hours=23) < remaining <= timedelta(days=7)


def test_the_grouping_command_refuses_unknown_versions_and_bad_windows(project):
    with pytest.raises(CommandError, match="groupingConfig: unknown grouping config"):
        run("grouping", "acme/backend", "newstyle:1999-01-01")
    with pytest.raises(CommandError, match="transitionDays: must be between 0 and 3650"):
        run("grouping", "acme/backend", DEFAULT_GROUPING_VERSION, "--transition-days", "-1")
