"""State changes of issues, as named actions: the one home for them.

Digest calls the set-based ones once per batch; views and the API call the others.
"""

from __future__ import annotations

from django.db import connection

from tracehound.issues.models import Issue


def reopen_regressed_issues(issue_ids: list[int]) -> None:
    """A new event on a resolved issue is a regression: the issue is unresolved again.

    Ignored issues stay ignored. One statement for a whole digest batch; ids are taken
    in order so concurrent workers lock rows in the same order.
    """
    if not issue_ids:
        return
    ids = sorted(set(issue_ids))
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE issues_issue SET status = %s WHERE status = %s AND id IN ({placeholders})",
            [Issue.Status.UNRESOLVED, Issue.Status.RESOLVED, *ids],
        )


def resolve_issue(issue: Issue) -> None:
    """Mark the issue resolved; its next event reopens it (see reopen_regressed_issues)."""
    set_issue_status(issue, Issue.Status.RESOLVED)


def unresolve_issue(issue: Issue) -> None:
    set_issue_status(issue, Issue.Status.UNRESOLVED)


def set_issue_status(issue: Issue, status: Issue.Status) -> None:
    issue.status = status
    issue.save(update_fields=["status"])
