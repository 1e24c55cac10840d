"""Server time of the triage UI pages on a big project, on SQLite and PostgreSQL: the
issue list (filters × sorts, with sparklines) and the issue page (event, navigation,
facets, activity, chart) of the busiest and the median issue.

    flock /tmp/bench.lock .venv/bin/python bench/ui_pages.py [--db sqlite|postgres|both]

The database is a private copy of bench/seed.py's (1,000,000 events, 10,000 issues),
made as bench/triage.py makes it (TRIAGE_SEED_DIR may name another checkout's
bench/.cache). A request object goes straight to the view, templates rendered; median
of RUNS runs after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

FILTERS = [
    "is:unresolved",
    "is:unresolved assigned:me",
    "is:unresolved is:unassigned",
    "is:ignored",
    "level:error times_seen:>100",
    "release:latest",
    "Error",
]
SORTS = ["date", "new", "freq", "user", "priority"]


def measure() -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracehound.settings")
    os.environ.setdefault("BASE_URL", "http://testserver")  # the host RequestFactory sends
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import RequestFactory

    from bench.triage import fill_counts, timed
    from tracehound.issues.models import Issue
    from tracehound.projects.models import OrganizationMember, Project
    from tracehound.web import issue_views, list_views

    call_command("migrate", verbosity=0)
    fill_counts()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    project = Project.objects.select_related("organization").get(slug="big")
    org = project.organization.slug
    user, _ = get_user_model().objects.get_or_create(username="bench")
    OrganizationMember.objects.get_or_create(organization=project.organization, user=user)
    issues = Issue.objects.filter(project=project)
    hot = issues.order_by("-times_seen").first()
    median = issues.order_by("-times_seen")[issues.count() // 2]
    assert hot is not None
    factory = RequestFactory()

    def get(view: Any, params: dict[str, str], *args: Any) -> Any:
        request = factory.get("/", params)
        request.user = user
        response = view(request, *args)
        assert response.status_code == 200, (view, params, response.content[-500:])
        return response

    results: dict[str, Any] = {"vendor": connection.vendor, "issues": issues.count()}
    lists: dict[str, dict[str, float]] = {}
    for query in FILTERS:
        lists[query] = {}
        for sort in SORTS:
            params = {"query": query, "sort": sort}
            ms, _ = timed(lambda p=params: get(list_views.project_issues, p, org, project.slug))
            lists[query][sort] = round(ms, 1)
        print(f"  list {query!r:34} worst {max(lists[query].values()):7.1f} ms", flush=True)
    results["lists"] = lists
    page: dict[str, float] = {}
    for label, issue in (("hot", hot), ("median", median)):
        for period in ("24h", "14d", "90d"):
            ms, _ = timed(
                lambda i=issue, p=period: get(issue_views.issue_detail, {"period": p}, org, i.id)
            )
            page[f"{label} issue page, {period} chart"] = round(ms, 1)
        ms, _ = timed(lambda i=issue: get(issue_views.issue_event, {}, org, i.id, "oldest"))
        page[f"{label} oldest event page"] = round(ms, 1)
    results["page"] = page
    results["hot_issue_events"] = hot.times_seen
    for k, v in page.items():
        print(f"  {k:40} {v:7.1f} ms", flush=True)
    return results


def is_seeded(kind: str) -> bool:
    """Seeding takes long: this benchmark only uses a finished seed, never starts one."""
    from bench import seed

    base_pg = os.environ.get("DATABASE_URL") or seed.DEFAULT_PG
    env = seed.cache_env(kind, seed.Plan(), base_pg)
    if shared := os.environ.get("TRIAGE_SEED_DIR"):
        env["TRACEHOUND_DATA_DIR"] = str(Path(shared) / Path(env["TRACEHOUND_DATA_DIR"]).name)
    return seed.count_events(env) is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "bench" / ".cache" / "ui_pages.json"))
    args = parser.parse_args()
    if args.here:
        print(json.dumps(measure()), file=sys.stderr)
        return 0
    from bench import seed
    from bench.triage import run_here, seeded_copy

    report: dict[str, Any] = {}
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        if not is_seeded(kind):
            print(f"[{kind}] no seeded database yet: run bench/seed.py first", flush=True)
            continue
        copy = seeded_copy(kind)
        try:
            print(f"[{kind}] timing on {copy}", flush=True)
            result = run_here(__file__, copy)
            if result is None:
                return 1
            report[kind] = result
        finally:
            seed.drop_copy(copy)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
