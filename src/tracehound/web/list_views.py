"""The issue list: Sentry's search language, sorts, cursor pages, sparklines, and bulk
actions on the ticked issues. A query error is shown under the search box with its
position (status 400); a refused bulk action likewise."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from tracehound.accounts.access import get_project
from tracehound.issues import actions
from tracehound.issues.actions import ActionError
from tracehound.issues.filters import SortError, search_issues, sort_and_paginate
from tracehound.issues.models import Environment, Issue
from tracehound.issues.queries import format_short_id
from tracehound.issues.search import QueryError
from tracehound.issues.stats import issue_series
from tracehound.lib.ids import parse_id
from tracehound.lib.pagination import CursorError
from tracehound.projects.models import Project
from tracehound.web.charts import sparkline
from tracehound.web.text import plural
from tracehound.web.views import public_base_url

DEFAULT_QUERY = "is:unresolved"
PAGE_SIZE = 25
SORT_NAMES = {
    "date": "Last seen",
    "new": "First seen",
    "freq": "Events",
    "user": "Users",
    "priority": "Priority",
}
FILTERS = {
    "Unresolved": "is:unresolved",
    "Assigned to me": "is:unresolved assigned:me",
    "Unassigned": "is:unresolved is:unassigned",
    "For review": "is:unresolved is:for_review",
    "Ignored": "is:ignored",
    "Resolved": "is:resolved",
}


def list_state(data: Any) -> dict[str, Any]:
    """query, sort and environments as the list's GET (or a bulk form's hidden fields) has them."""
    query = data.get("query")
    return {
        "query": DEFAULT_QUERY if query is None else str(query)[:2000],
        "sort": str(data.get("sort") or "date"),
        "environment": [e for e in data.getlist("environment") if e],
    }


def list_url(proj: Project, state: dict[str, Any], **extra: str) -> str:
    params: list[tuple[str, str]] = [("query", state["query"]), ("sort", state["sort"])]
    params += [("environment", e) for e in state["environment"]]
    params += list(extra.items())
    return (
        f"{reverse('project-issues', args=[proj.organization.slug, proj.slug])}?{urlencode(params)}"
    )


def query_error_context(query: str, error: QueryError) -> dict[str, Any]:
    """The query split around the error position, so the page can mark it."""
    at = max(0, min(error.position, len(query)))
    return {
        "message": error.message,
        "position": error.position,
        "before": query[:at],
        "at": query[at : at + 1] or " ",
        "after": query[at + 1 :],
    }


def issue_rows(proj: Project, issues: list[Issue]) -> list[dict[str, Any]]:
    series = issue_series([i.id for i in issues], "24h")
    return [
        {
            "issue": i,
            "short_id": format_short_id(proj.slug, i.short_id),
            # charts.py escapes every text it writes.
            "sparkline": mark_safe(sparkline(series.get(i.id, []))),  # noqa: S308
        }
        for i in issues
    ]


class ListError(ValueError):
    """A list parameter that cannot be used; the message names it."""


def check_for_nul(state: dict[str, Any]) -> None:
    """No stored text holds NUL, and PostgreSQL refuses it in a parameter: a clear 400."""
    if "\x00" in state["query"]:
        raise QueryError("NUL characters are not allowed", state["query"].index("\x00"))
    if any("\x00" in e for e in state["environment"]):
        raise ListError("environment must not contain NUL characters")


def shown(state: dict[str, Any]) -> dict[str, Any]:
    """The state as the page may echo it (a NUL shown as U+FFFD)."""
    return {
        **state,
        "query": state["query"].replace("\x00", "\ufffd"),
        "environment": [e.replace("\x00", "\ufffd") for e in state["environment"]],
    }


def render_list(
    request: HttpRequest, proj: Project, state: dict[str, Any], *, error: Any = None
) -> HttpResponse:
    context: dict[str, Any] = {
        "project": proj,
        "state": shown(state),
        "sorts": SORT_NAMES,
        "filters": [
            {
                "name": name,
                "url": list_url(proj, {**state, "query": q}),
                "current": q == state["query"],
            }
            for name, q in FILTERS.items()
        ],
        "environments": list(
            Environment.objects.filter(project=proj).order_by("name").values_list("name", flat=True)
        ),
        "rows": [],
        "query_error": None,
        "action_error": error,
    }
    key = proj.key_to_show()
    context["dsn"] = key.dsn(public_base_url(request)) if key else None
    try:
        check_for_nul(state)
        issues = search_issues(
            [proj], state["query"], request.user, environment=state["environment"]
        )
        page = sort_and_paginate(issues, state["sort"], request.GET.get("cursor"), PAGE_SIZE)
    except QueryError as query_error:
        context["query_error"] = query_error_context(context["state"]["query"], query_error)
        return render(request, "tracehound/project_issues.html", context, status=400)
    except (SortError, CursorError, ListError) as list_error:
        context["list_error"] = str(list_error)
        return render(request, "tracehound/project_issues.html", context, status=400)
    context["rows"] = issue_rows(proj, list(page.rows))
    if page.has_next:
        context["next_url"] = list_url(proj, state, cursor=str(page.next))
    if page.has_previous:
        context["previous_url"] = list_url(proj, state, cursor=str(page.previous))
    return render(request, "tracehound/project_issues.html", context, status=400 if error else 200)


@login_required
def project_issues(request: HttpRequest, org: str, project: str) -> HttpResponse:
    proj = get_project(request, org, project, scope="event:read")
    return render_list(request, proj, list_state(request.GET))


def ticked_issues(request: HttpRequest, proj: Project) -> list[Issue]:
    """The issues ticked in the form, all of this project (else 404), in id order: the
    order digest locks issues in, so a bulk change and a digest batch never deadlock."""
    raw = request.POST.getlist("id")
    ids = [parse_id(str(value)) for value in raw]
    if any(pk is None for pk in ids):
        raise Http404("issue not found")
    issues = list(
        Issue.objects.filter(project=proj, id__in=ids).select_related("project").order_by("id")
    )
    if len(issues) != len(set(ids)):
        raise Http404("issue not found")
    if not issues:
        raise ActionError("id", "tick at least one issue")
    return issues


def bulk_resolve(request: HttpRequest, issues: list[Issue]) -> str:
    for issue in issues:
        actions.resolve(issue, request.user)
    return f"Resolved {plural(len(issues), 'issue')}."


def bulk_unresolve(request: HttpRequest, issues: list[Issue]) -> str:
    for issue in issues:
        actions.unresolve(issue, request.user)
    return f"Unresolved {plural(len(issues), 'issue')}."


def bulk_ignore(request: HttpRequest, issues: list[Issue]) -> str:
    for issue in issues:
        actions.ignore(issue, request.user)
    return f"Ignored {plural(len(issues), 'issue')}."


def bulk_merge(request: HttpRequest, issues: list[Issue]) -> str:
    if len(issues) < 2:
        raise ActionError("id", "tick at least two issues to merge")
    survivor = actions.merge_issues(issues, request.user)
    into = format_short_id(survivor.project.slug, survivor.short_id)
    return f"Merged {plural(len(issues), 'issue')} into {into}."


BULK_ACTIONS = {
    "resolve": bulk_resolve,
    "unresolve": bulk_unresolve,
    "ignore": bulk_ignore,
    "merge": bulk_merge,
}


@login_required
@require_POST
def bulk_action(request: HttpRequest, org: str, project: str) -> HttpResponse:
    """Resolve, ignore, merge or delete the ticked issues; all of them or none."""
    action = str(request.POST.get("action", ""))
    scope = "event:admin" if action == "delete" else "event:write"
    proj = get_project(request, org, project, scope=scope)
    state = list_state(request.POST)
    try:
        issues = ticked_issues(request, proj)
        if action == "delete":
            return bulk_delete(request, proj, issues, state)
        if action not in BULK_ACTIONS:
            raise ActionError(
                "action", "action must be resolve, unresolve, ignore, merge or delete"
            )
        with transaction.atomic():
            done = BULK_ACTIONS[action](request, issues)
    except ActionError as error:
        return render_list(request, proj, state, error=error)
    except Issue.DoesNotExist:
        raise Http404("issue not found") from None  # deleted by someone else meanwhile
    messages.success(request, done)
    return redirect(list_url(proj, state))


def bulk_delete(
    request: HttpRequest, proj: Project, issues: list[Issue], state: dict[str, Any]
) -> HttpResponse:
    """Deleting asks first: the confirmation page posts back with confirmed=1."""
    discard = request.POST.get("discard") == "1"
    if request.POST.get("confirmed") != "1":
        context = {"issues": issues, "discard": discard, "project": proj, "state": state}
        return render(request, "tracehound/confirm_delete.html", context)
    actions.delete_issues(issues, request.user, discard=discard)
    messages.success(request, f"Deleted {plural(len(issues), 'issue')}.")
    return redirect(list_url(proj, state))
