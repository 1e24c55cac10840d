"""Parsed search terms (issues.search) as a QuerySet over Issue, and the issue sorts.

Every filter reads issue columns or the per-issue tag-value rows digest keeps
(IssueTagValue), never events: `release:`, `environment:`, `user.*:` and any tag are an
EXISTS on the unique (issue, key, value) index. Free text is `icontains` over title and
culprit: a scan of the project's issues (no index helps a substring match), cheap at
tens of thousands of issues per project; see docs/benchmarks.md.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Floor, Greatest
from django.utils import timezone

from tracehound.issues.actions import latest_release as latest_release  # also for the API
from tracehound.issues.models import Issue, IssueTagValue
from tracehound.issues.search import ShortId, Term, parse_query
from tracehound.lib.pagination import Page, SortKey, paginate, parse_cursor
from tracehound.projects.models import Project, TeamMember

MAX_LIMIT = 1000


class SortError(ValueError):
    """An unknown sort; the message names `sort`."""


class EpochSeconds(Func):
    """Whole seconds since the epoch of a datetime column, on SQLite and PostgreSQL."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400.0) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)"
        return self.as_sql(compiler, connection, template=template, **extra)


class Log10(Func):
    """Base-10 logarithm in floating point: PostgreSQL's LOG(10, x) works in `numeric`,
    arbitrary precision, ten times slower over a project's issues."""

    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django registers a two-argument LOG(base, x) on SQLite.
        return self.as_sql(compiler, connection, template="LOG(10, %(expressions)s)", **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "LOG(CAST(%(expressions)s AS DOUBLE PRECISION))"
        return self.as_sql(compiler, connection, template=template, **extra)


def with_priority(issues: QuerySet[Any]) -> QuerySet[Any]:
    """Sentry's classic priority score: log10(events) * 600 + last seen (unix seconds).

    Ten times the events weighs as much as being seen 10 minutes later: recency wins
    over volume in the long run, volume wins among issues seen at about the same time.
    Both terms only grow, so cursors over it stay stable.
    """
    events = Greatest(F("times_seen"), Value(1))
    frequency = Cast(Floor(Log10(events) * Value(600.0)), BigIntegerField())
    annotated: QuerySet[Any] = issues.annotate(priority=frequency + EpochSeconds("last_seen"))
    return annotated


SORTS: dict[str, SortKey] = {
    "date": SortKey("last_seen", is_date=True),
    "new": SortKey("first_seen", is_date=True),
    "freq": SortKey("times_seen", is_date=False),
    "user": SortKey("users_seen", is_date=False),
    "priority": SortKey("priority", is_date=False, annotate=with_priority),
}


def search_issues(
    projects: Iterable[Project],
    query: str,
    user: Any,
    *,
    environment: list[str] | None = None,
) -> QuerySet[Issue]:
    """The issues of `projects` matching `query`; raises QueryError for a bad query."""
    terms = parse_query(query)
    project_ids = [p.id for p in projects]
    issues = Issue.objects.filter(project_id__in=project_ids)
    if environment:
        issues = issues.filter(tag_exists("environment", environment))
    now = timezone.now()
    for term in terms:
        condition = term_condition(term, user, project_ids, now)
        issues = issues.filter(~condition if term.negated else condition)
    return issues.select_related("project__organization", "assignee", "assignee_team")


def sort_and_paginate(issues: QuerySet[Issue], sort: str, cursor: str | None, limit: int) -> Page:
    """One page of `issues` in `sort` order; SortError / CursorError name what was wrong."""
    if sort not in SORTS:
        raise SortError(f"unsupported sort {sort[:100]!r}; use one of: {', '.join(SORTS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    return paginate(issues, SORTS[sort], parse_cursor(cursor) if cursor else None, limit)


def tag_exists(key: str, values: list[str] | None = None) -> Q:
    rows = IssueTagValue.objects.filter(issue_id=OuterRef("id"), key=key)
    if values is not None:
        rows = rows.filter(value__in=values)
    return Q(Exists(rows))


def strings(term: Term) -> list[str]:
    return [v for v in term.values if isinstance(v, str)]


def term_condition(term: Term, user: Any, project_ids: list[int], now: datetime) -> Q:
    key = term.key
    if key == "is":
        return any_of(STATUS_CONDITIONS[v](now) for v in strings(term))
    if key == "assigned":
        return any_of(assigned_condition(v, user) for v in strings(term))
    if key == "level":
        return Q(level__in=[v.lower() for v in strings(term)])
    if key == "release":
        return release_condition(strings(term), project_ids)
    if key == "environment":
        return tag_condition("environment", strings(term))
    if key == "first_release":
        return Q(first_release__in=strings(term))
    if key in ("first_seen", "last_seen", "times_seen"):
        return comparison(key, term, now)
    if key == "has":
        return tag_exists_any(strings(term))
    if key == "user":
        # The `user` tag holds one identity per event ("id:7", else "email:…", …); digest
        # tags the event's other user fields `user.email`, `user.username`, `user.ip`.
        values = strings(term)
        return tag_condition("user", [f"{term.tag}:{v}" for v in values]) | tag_condition(
            f"user.{term.tag}", values
        )
    if key == "tag":
        return tag_condition(term.tag, strings(term))
    if key == "issue":
        return any_of(issue_condition(v) for v in term.values)
    if key == "text":
        return any_of(Q(title__icontains=v) | Q(culprit__icontains=v) for v in strings(term))
    raise AssertionError(f"unhandled search key {key!r}")


def any_of(conditions: Iterable[Q]) -> Q:
    return functools.reduce(lambda a, b: a | b, conditions)


def tag_condition(key: str, values: list[str]) -> Q:
    """Issues with any of `values` for tag `key`; `key:""` means the tag is absent."""
    present = [v for v in values if v != ""]
    conditions = [tag_exists(key, present)] if present else []
    if len(present) < len(values):
        conditions.append(~tag_exists(key))
    return any_of(conditions)


class HasTag(Expression):
    """`has:KEY`: the issue has any value for tag KEY, probed per issue through the
    unique (issue, key, value) index.

    A plain EXISTS lets PostgreSQL turn it into a hash (anti-)join over every row of that
    key in the whole table: a million `user` rows, ~100 ms, where 10,000 probes cost
    ~15 ms. `OFFSET 0` keeps the subquery correlated. SQLite always probes per row.
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        issue = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())
        fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
        sql = (
            f"EXISTS (SELECT 1 FROM issues_issuetagvalue hk WHERE hk.issue_id = {issue}.id"
            f" AND hk.key = %s{fence})"
        )
        return sql, [self.key]


def tag_exists_any(keys: list[str]) -> Q:
    return any_of(Q(HasTag(k)) for k in keys)


def unresolved_with(*substatus: str) -> Q:
    return Q(status=Issue.Status.UNRESOLVED, substatus__in=substatus)


# Sentry moves a new issue to ongoing once it is 7 days old; the row keeps "new" (nothing
# rewrites it), so searches and the serializer apply the age here.
NEW_FOR = timedelta(days=7)


def new_until(now: datetime) -> Q:
    return unresolved_with(Issue.Substatus.NEW) & Q(first_seen__gte=now - NEW_FOR)


def shown_substatus(issue: Issue, now: datetime) -> str:
    """The issue's substatus as Sentry would show it now: "new" older than 7 days is
    "ongoing"."""
    if issue.substatus == Issue.Substatus.NEW and issue.first_seen < now - NEW_FOR:
        return Issue.Substatus.ONGOING
    return issue.substatus


STATUS_CONDITIONS: dict[str, Any] = {
    "unresolved": lambda now: Q(status=Issue.Status.UNRESOLVED),
    "resolved": lambda now: Q(status=Issue.Status.RESOLVED),
    "ignored": lambda now: Q(status=Issue.Status.IGNORED),
    "archived": lambda now: Q(status=Issue.Status.IGNORED),
    "regressed": lambda now: unresolved_with(Issue.Substatus.REGRESSED),
    "assigned": lambda now: Q(assignee__isnull=False) | Q(assignee_team__isnull=False),
    "unassigned": lambda now: Q(assignee__isnull=True, assignee_team__isnull=True),
    # Sentry's "For Review": unresolved issues new (within 7 days) or regressed, not yet
    # marked reviewed.
    "for_review": lambda now: new_until(now) | unresolved_with(Issue.Substatus.REGRESSED),
    # Sentry's "New": first seen within 7 days and not reviewed.
    "new": new_until,
    "ongoing": lambda now: (
        unresolved_with(Issue.Substatus.ONGOING)
        | (unresolved_with(Issue.Substatus.NEW) & Q(first_seen__lt=now - NEW_FOR))
    ),
}


def assigned_condition(value: str, user: Any) -> Q:
    """me, none, my_teams (teams of the caller), #team-slug, a username or an email."""
    if value.lower() == "me":
        return Q(assignee_id=getattr(user, "id", None)) if user is not None else Q(pk__in=[])
    if value.lower() == "none":
        return Q(assignee__isnull=True, assignee_team__isnull=True)
    if value.lower() == "my_teams":
        if user is None or getattr(user, "id", None) is None:
            return Q(pk__in=[])
        teams = TeamMember.objects.filter(member__user_id=user.id).values("team_id")
        return Q(assignee_team_id__in=teams)
    if value.startswith("#"):
        return Q(assignee_team__slug=value[1:])
    return Q(assignee__username=value) | Q(assignee__email__iexact=value)


def release_condition(values: list[str], project_ids: list[int]) -> Q:
    """`release:X`: issues that had events in release X; `latest` is each project's
    latest release (semver order when versions parse, else first seen)."""
    named = [v for v in values if v != "latest"]
    conditions = [tag_condition("release", named)] if named else []
    if "latest" in values:
        for project_id in project_ids:
            latest = latest_release(project_id)
            if latest is not None:
                conditions.append(
                    Q(project_id=project_id) & tag_exists("release", [latest.version])
                )
    return any_of(conditions) if conditions else Q(pk__in=[])


def comparison(key: str, term: Term, now: datetime) -> Q:
    if term.op == "range":
        start, end = term.values
        return Q(**{f"{key}__gte": start, f"{key}__lt": end})
    value = term.values[0]
    if isinstance(value, timedelta):
        value = now - value
    lookup = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}[term.op]
    return Q(**{f"{key}__{lookup}": value})


def issue_condition(value: object) -> Q:
    if isinstance(value, ShortId):
        return Q(project__slug__iexact=value.project_slug, short_id=value.number)
    return Q(pk=value)


def short_id_lookup(projects: Iterable[Project], query: str) -> QuerySet[Issue] | None:
    """For `shortIdLookup`: the issue a query that is just a short id names, if any."""
    from tracehound.issues.search import parse_short_id

    short = parse_short_id(query)
    if short is None:
        return None
    return Issue.objects.filter(
        project_id__in=[p.id for p in projects],
        project__slug__iexact=short.project_slug,
        short_id=short.number,
    ).select_related("project__organization", "assignee", "assignee_team")
