"""The generated permission tests' world and route list (tests/test_permissions*.py).

Every route of the URL configuration is listed by walking it (through includes), and
each route's parameters are filled from PARAMS, keyed by parameter name, from one
"target": the objects of one project (its organization, team, issue, event,
attachment, DSN key). A route with a parameter PARAMS does not know fails the tests,
so a new endpoint cannot be forgotten: add the parameter there (one line).

The world: organization acme with projects p1 (given to team t1) and p2 (team t2),
organization beta with project pb (team tb); one issue with an event and an attachment
in each project.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

FIXTURE = Path(__file__).parent / "fixtures" / "envelopes" / "python-attachment.envelope"
EVENT_ID = "1fc2723a2b98401a91d4fe8a52652642"  # the fixture's event


@dataclass
class Target:
    """The objects of one project, to fill a route's parameters with."""

    org: Any
    project: Any
    team: Any
    issue: Any
    event: Any
    attachment: Any
    key: Any  # the project's DSN key
    tag_key: str
    extra: dict[str, Any] = field(default_factory=dict)


# Parameter name -> its value for a target. Other branches' routes add theirs here.
PARAMS: dict[str, Callable[[Target], str]] = {
    "org": lambda t: t.org.slug,
    "project": lambda t: t.project.slug,
    "team": lambda t: t.team.slug,
    "issue_id": lambda t: str(t.issue.id),
    "event_id": lambda t: t.event.event_id,
    "event_ref": lambda t: t.event.event_id,
    "attachment_id": lambda t: str(t.attachment.id),
    "key": lambda t: t.tag_key,  # an issue's tag key (api/issues.py)
    "key_id": lambda t: t.key.public_key,
    "action": lambda t: "resolve",  # a web issue action
    "token_id": lambda t: str(t.extra["org_token"].id),  # web/tokens.py
    "member_id": lambda t: str(t.extra["member"].id),  # api/organizations.py
    "channel_id": lambda t: str(t.extra["channel"].id),  # api/alerts.py, web/alerts.py
    "rule_id": lambda t: str(t.extra["rule"].id),  # an alert rule of the project
}

# Parameters that name an object inside a project: a member outside the project's
# teams must get 404 for them. Routes with only `org` (and `team`) are organization-wide.
PROJECT_BOUND = frozenset({"project", "issue_id", "event_id", "attachment_id", "key_id", "rule_id"})

# Pages anyone may open (log-in, sign-up, invitations by their secret link, SSO).
# alerts/opt-out/: a signed one-click link from alert email (the token is the authority).
PUBLIC_PREFIXES = ("login/", "logout/", "accounts/", "sso/", "invitations/", "alerts/opt-out/")

# The catch-all JSON 404 of /api/0/ (not an endpoint).
SKIPPED_VIEWS = frozenset({"tracehound.api.views.unknown_endpoint"})
# API endpoints for browser sessions only (a token gets 403 whatever its scopes).
SESSION_ONLY_VIEWS = frozenset({"tracehound.api.tokens.api_tokens"})

_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")


@dataclass(frozen=True)
class Route:
    pattern: str  # the joined route, e.g. "api/0/projects/<slug:org>/<slug:project>/"
    view: Callable[..., Any]
    params: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.view.__module__}.{self.view.__name__}"

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/0/")

    @property
    def is_session_only(self) -> bool:
        return self.name in SESSION_ONLY_VIEWS

    @property
    def is_public(self) -> bool:
        return self.pattern.startswith(PUBLIC_PREFIXES)

    @property
    def is_project_bound(self) -> bool:
        return bool(PROJECT_BOUND & set(self.params))

    @property
    def scopes(self) -> dict[str, str]:
        """The API method -> scope table of api_endpoint (HEAD is GET's)."""
        return {m: s for m, s in getattr(self.view, "required_scopes", {}).items() if m != "HEAD"}

    def url(self, target: Target) -> str:
        """The path for `target`; KeyError naming a parameter PARAMS lacks."""
        missing = [p for p in self.params if p not in PARAMS]
        if missing:
            raise KeyError(f"add {missing[0]} to the table (tests/permissions.py PARAMS)")

        def fill(match: re.Match[str]) -> str:
            return PARAMS[match.group("name")](target)

        text = self.pattern
        if "(?P<" in text:
            text = _REGEX_GROUP.sub(fill, text).replace("^", "").replace("$", "")
        return "/" + _ROUTE_PARAM.sub(fill, text)


def _pattern_text(pattern: Any) -> str:
    if isinstance(pattern, RoutePattern):
        return str(pattern._route)
    if isinstance(pattern, RegexPattern):
        # A negative lookahead (e.g. the project pages refusing reserved first
        # segments) matches no text: drop it.
        regex = re.sub(r"\(\?!(?:[^()]|\([^()]*\))*\)", "", str(pattern._regex))
        return regex.lstrip("^").rstrip("$").replace("\\", "")
    return str(pattern)


def _walk(resolver: URLResolver, prefix: str) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        text = prefix + _pattern_text(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry, text)
        elif isinstance(entry, URLPattern):
            names = [m.group("name") for m in _ROUTE_PARAM.finditer(text)]
            names += [m.group("name") for m in _REGEX_GROUP.finditer(text)]
            yield Route(text, entry.callback, tuple(names))


def all_routes() -> list[Route]:
    """Every route of the URL configuration, but the catch-all of /api/0/."""
    routes = [r for r in _walk(get_resolver(), "") if r.name not in SKIPPED_VIEWS]
    assert len(routes) > 30, "the URL walk found too few routes"
    return routes


# -- the world ---------------------------------------------------------------------------


@dataclass
class World:
    p1: Target  # acme, team t1
    p2: Target  # acme, team t2
    pb: Target  # beta
    users: dict[str, Any]


def _ingest(wsgi: Callable[..., Any], project: Any, key: Any) -> None:
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={key.public_key}, sentry_version=7"}
    response = wsgi("POST", f"/api/{project.id}/envelope/", FIXTURE.read_bytes(), headers=auth)
    assert response.status == 200, response.body


def _target(org: Any, project: Any, team: Any, key: Any) -> Target:
    from tracehound.events.models import Attachment, Event
    from tracehound.issues.models import IssueTagValue

    event = Event.objects.get(project=project, event_id=EVENT_ID)
    tag = IssueTagValue.objects.filter(issue_id=event.issue_id).order_by("key").first()
    assert tag is not None
    return Target(
        org=org,
        project=project,
        team=team,
        issue=event.issue,
        event=event,
        attachment=Attachment.objects.filter(project=project, event_id=EVENT_ID).order_by("id")[0],
        key=key,
        tag_key=tag.key,
    )


def build_world(wsgi: Callable[..., Any], digest_all: Callable[[], int]) -> World:
    from django.contrib.auth import get_user_model

    from tracehound.accounts.models import ApiToken
    from tracehound.projects.actions import create_project
    from tracehound.projects.models import OrganizationMember, ProjectTeam, Team, TeamMember

    made = {}
    for org_slug, project_slug, team_slug in (
        ("acme", "p1", "t1"),
        ("acme", "p2", "t2"),
        ("beta", "pb", "tb"),
    ):
        project, key = create_project(org_slug, project_slug, platform="python")
        team = Team.objects.create(
            organization=project.organization, slug=team_slug, name=team_slug
        )
        ProjectTeam.objects.create(team=team, project=project)
        _ingest(wsgi, project, key)
        made[project_slug] = (project.organization, project, team, key)
    digest_all()

    User = get_user_model()

    def user(name: str, org: Any = None, role: str = "", teams: tuple[Any, ...] = ()) -> Any:
        person = User.objects.create_user(name, password="correct horse battery")
        if org is not None:
            membership = OrganizationMember.objects.create(organization=org, user=person, role=role)
            for team in teams:
                TeamMember.objects.create(team=team, member=membership)
        return person

    acme, beta = made["p1"][0], made["pb"][0]
    org_tokens = {
        org.slug: ApiToken.issue(None, "ci", scopes=["org:read"], organization=org)[0]
        for org in (acme, beta)
    }
    users = {
        "owner": user("owner", acme, "owner"),
        "member_t2": user("member_t2", acme, "member", (made["p2"][2],)),
        "beta_member": user("beta_member", beta, "member", (made["pb"][2],)),
        "outsider": user("outsider"),
    }
    targets = {name: _target(*made[name]) for name in ("p1", "p2", "pb")}
    members = {
        "acme": OrganizationMember.objects.get(user=users["owner"], organization=acme),
        "beta": OrganizationMember.objects.get(user=users["beta_member"], organization=beta),
    }
    for target in targets.values():
        target.extra["org_token"] = org_tokens[target.org.slug]
        target.extra["member"] = members[target.org.slug]
        _alerts(target)
    return World(p1=targets["p1"], p2=targets["p2"], pb=targets["pb"], users=users)


def _alerts(target: Target) -> None:
    """A channel of the target's organization (of a kind not installed: nothing is sent)
    and an alert rule of its project using it."""
    from datetime import UTC, datetime

    from tracehound.alerts.models import AlertRule, Channel

    now = datetime.now(tz=UTC)
    channel = Channel.objects.create(
        organization=target.org,
        name=f"channel-of-{target.project.slug}",
        kind="uninstalled_plugin",
        created_at=now,
    )
    rule = AlertRule.objects.create(
        project=target.project, name="rule", triggers=["new_issue"], created_at=now
    )
    rule.channels.add(channel)
    target.extra["channel"] = channel
    target.extra["rule"] = rule


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def send(client: Any, method: str, path: str, **extra: Any) -> Any:
    """One request through the test client; writes carry an empty JSON object."""
    body = "{}" if method in ("POST", "PUT", "PATCH") else ""
    return client.generic(method, path, body, content_type="application/json", **extra)


def snapshot() -> dict[str, Any]:
    """What a refused request must not change: rows of the models a request could write."""
    from tracehound.accounts.models import ApiToken, AuditLogEntry, Invitation
    from tracehound.alerts.models import AlertRule, Channel, Notification
    from tracehound.events.models import Attachment, Event
    from tracehound.issues.models import Activity, Issue, IssueBookmark
    from tracehound.projects.models import (
        Organization,
        OrganizationMember,
        Project,
        ProjectKey,
        ProjectTeam,
        Team,
        TeamMember,
    )

    counted = (
        ApiToken, AuditLogEntry, Invitation, Attachment, Event, Activity, IssueBookmark,
        Organization, OrganizationMember, Project, ProjectKey, ProjectTeam, Team, TeamMember,
        AlertRule, Channel, Notification,
    )  # fmt: skip
    state: dict[str, Any] = {m.__name__: m.objects.count() for m in counted}
    # The test logs its callers in and out: those entries are the test's, not the request's.
    state["AuditLogEntry"] = AuditLogEntry.objects.exclude(action__in=("login", "logout")).count()
    state["issues"] = sorted(
        Issue.objects.values_list("id", "status", "substatus", "assignee_id", "project_id")
    )
    state["projects"] = sorted(
        Project.objects.values_list("id", "fingerprint_rules", "stacktrace_rules")
    )
    state["roles"] = sorted(OrganizationMember.objects.values_list("id", "role"))
    state["keys"] = sorted(ProjectKey.objects.values_list("id", "is_active"))
    state["revoked"] = sorted(ApiToken.objects.values_list("id", "revoked_at"))
    state["channels"] = sorted(Channel.objects.values_list("id", "name", "enabled", "config"))
    state["rules"] = sorted(AlertRule.objects.values_list("id", "name", "enabled", "triggers"))
    return state
