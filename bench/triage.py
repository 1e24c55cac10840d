"""Triage reads on a big project: issue list per filter × sort (first page and a cursor
page), the issue page's queries, tag facets and the charts, on SQLite and PostgreSQL.

    flock /tmp/bench.lock .venv/bin/python bench/triage.py [--db sqlite|postgres|both]

The project is bench/seed.py's (1,000,000 events in 10,000 issues through the real
digest code), copied so this benchmark can add its indexes and count rows without
touching the cached original. Server time is the view's own time: a request object
goes straight to the Django view (auth by session user, JSON rendered), median of
RUNS runs after one warm-up, so neither HTTP nor the client is in the numbers.

Counts over time: when the seeded database predates digest writing hourly/daily rows,
they are filled from the events once (one GROUP BY), as digest would have written them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

RUNS = 5
LIMIT = 25
# One query per kind of term; `{release}`, `{user}`, `{short}`... are filled from the data.
FILTERS = [
    "",
    "is:unresolved",
    "is:resolved",
    "is:ignored",
    "is:regressed",
    "is:for_review",
    "is:assigned",
    "is:unassigned",
    "assigned:me",
    "level:fatal",
    "release:{release}",
    "release:latest",
    "!release:{release}",
    "environment:staging",
    "firstSeen:-24h",
    "lastSeen:+7d",
    "times_seen:>100",
    "user.email:{email}",
    "user.id:{user_id}",
    "has:browser",
    "!has:user",
    "server_name:{server}",
    "level:[fatal,warning]",
    "issue:{short}",
    "{words}",
    "zzzz-no-such-text",
    "is:unresolved environment:production level:error",
]
SORTS = ["date", "new", "freq", "user", "priority"]


def timed(call: Any, runs: int = RUNS) -> tuple[float, Any]:
    """Median milliseconds of `runs` calls after a warm-up, and the last result."""
    result = call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def fill_releases() -> None:
    """Release rows from events, if digest did not write any (as it does since issue 6)."""
    import re

    from django.db.models import Count, Max, Min

    from tracehound.events.models import Event
    from tracehound.issues.models import Release

    if Release.objects.exists():
        return
    rows = (
        Event.objects.exclude(release="")
        .values("project_id", "release")
        .annotate(first=Min("timestamp"), last=Max("timestamp"), n=Count("id"))
    )
    releases = []
    for row in rows:
        semver = re.fullmatch(r"(?:[^@]+@)?(\d+)\.(\d+)\.(\d+)", row["release"])
        major, minor, patch = (int(g) for g in semver.groups()) if semver else (None, None, None)
        releases.append(
            Release(
                project_id=row["project_id"],
                version=row["release"],
                first_seen=row["first"],
                last_seen=row["last"],
                times_seen=row["n"],
                major=major,
                minor=minor,
                patch=patch,
            )
        )
    Release.objects.bulk_create(releases)


def fill_counts() -> None:
    """Hourly (14 days) and daily (90 days) count rows from events, if there are none."""
    from django.db import connection, transaction

    from tracehound.issues.models import IssueDailyCount

    if IssueDailyCount.objects.exists():
        return
    if connection.vendor == "postgresql":
        epoch = "CAST(EXTRACT(EPOCH FROM timestamp) AS BIGINT)"
    else:
        epoch = "CAST(strftime('%%s', timestamp) AS INTEGER)"
    now = int(time.time())
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for table, key, size, keep in (
            ("issues_issuehourlycount", "issue_id", 3600, 14),
            ("issues_issuedailycount", "issue_id", 86400, 90),
            ("issues_projecthourlycount", "project_id", 3600, 14),
            ("issues_projectdailycount", "project_id", 86400, 90),
        ):
            cursor.execute(
                f"INSERT INTO {table} ({key}, bucket, count)"
                f" SELECT {key}, {epoch} / {size}, COUNT(*) FROM events_event"
                f" WHERE {epoch} >= %s GROUP BY {key}, {epoch} / {size}",
                [now - keep * 86400],
            )
    print(f"  filled count rows from events in {time.perf_counter() - started:.1f} s")


def measure() -> dict[str, Any]:
    """In a process whose environment names the database: time everything."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracehound.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test import RequestFactory

    from tracehound.api import issue_actions, views
    from tracehound.api import issues as api_issues
    from tracehound.issues.models import Issue, IssueTagValue
    from tracehound.issues.queries import short_id
    from tracehound.issues.stats import issue_series, project_series
    from tracehound.projects.models import OrganizationMember, Project

    call_command("migrate", verbosity=0)
    fill_counts()
    fill_releases()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    project = Project.objects.select_related("organization").get(slug="big")
    org = project.organization.slug
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench")
    OrganizationMember.objects.get_or_create(organization=project.organization, user=user)
    issues = Issue.objects.filter(project=project)
    # Some state for the lifecycle filters, if digest left every issue unresolved.
    if not issues.exclude(status="unresolved").exists():
        ids = list(issues.order_by("id").values_list("id", flat=True))
        Issue.objects.filter(id__in=ids[::5]).update(status="resolved", substatus="")
        Issue.objects.filter(id__in=ids[1::10]).update(
            status="ignored", substatus="archived_forever"
        )
        Issue.objects.filter(id__in=ids[2::10]).update(substatus="regressed")
        Issue.objects.filter(id__in=ids[3::7]).update(assignee=user)
    hot = issues.order_by("-times_seen").first()
    median = issues.order_by("-times_seen")[issues.count() // 2]
    assert hot is not None
    tag = IssueTagValue.objects.filter(issue=median)
    user_value = tag.filter(key="user").values_list("value", flat=True).first() or "id:1"
    fill = {
        "release": tag.filter(key="release").values_list("value", flat=True).first() or "x",
        # bench/seed.py's users have an id, so the `user` tag holds "id:N" and
        # user.email: finds nothing there: the timing is of the search, not the hits.
        "email": f"user{user_value.rpartition(':')[2]}@example.com",
        "user_id": user_value.split(":", 1)[1] if user_value.startswith("id:") else "1",
        "server": tag.filter(key="server_name").values_list("value", flat=True).first() or "x",
        "short": short_id(median),
        "words": median.title.split(":")[0][:40],
    }
    factory = RequestFactory()

    def get(view: Any, path: str, params: dict[str, str], *args: Any) -> Any:
        request = factory.get(path, params)
        request.user = user
        response = view(request, *args)
        assert response.status_code == 200, (path, params, response.content[:300])
        return response

    results: dict[str, Any] = {"vendor": connection.vendor, "issues": issues.count()}
    results["events"] = hot.times_seen and sum(issues.values_list("times_seen", flat=True))
    results["tag_rows"] = IssueTagValue.objects.filter(issue__project=project).count()
    lists: dict[str, dict[str, list[float]]] = {}
    path = f"/api/0/projects/{org}/{project.slug}/issues/"
    for template in FILTERS:
        query = template.format(**fill)
        lists[query] = {}
        for sort in SORTS:
            params = {"query": query, "sort": sort, "limit": str(LIMIT)}
            first_ms, response = timed(
                lambda p=params: get(views.project_issues, path, p, org, project.slug)
            )
            link = response["Link"]
            cursor = link.split('rel="next"; results="')[1]
            has_next = cursor.startswith("true")
            cursor = cursor.split('cursor="')[1].split('"')[0]
            next_ms = 0.0
            if has_next:
                params = {**params, "cursor": cursor}
                next_ms, _ = timed(
                    lambda p=params: get(views.project_issues, path, p, org, project.slug)
                )
            lists[query][sort] = [round(first_ms, 1), round(next_ms, 1)]
        worst = max(max(v) for v in lists[query].values())
        print(f"  {query[:50]!r:54} worst {worst:7.1f} ms", flush=True)
    results["lists"] = lists
    if os.environ.get("TRIAGE_LISTS_ONLY"):
        return results
    page: dict[str, float] = {}
    for label, issue in (("hot", hot), ("median", median)):
        base, sid = f"/api/0/issues/{issue.id}/", str(issue.id)
        requests = [
            ("issue", issue_actions.issue_detail, "", {}, ()),
            ("event latest", api_issues.issue_event, "events/latest/", {}, ("latest",)),
            ("event oldest", api_issues.issue_event, "events/oldest/", {}, ("oldest",)),
            (
                "event recommended",
                api_issues.issue_event,
                "events/recommended/",
                {},
                ("recommended",),
            ),
            ("events list", api_issues.issue_events, "events/", {}, ()),
            (
                "events env=staging",
                api_issues.issue_events,
                "events/",
                {"environment": "staging"},
                (),
            ),
            ("tag facets", api_issues.issue_tags, "tags/", {}, ()),
            ("tag user values", api_issues.issue_tag_values, "tags/user/values/", {}, ("user",)),
        ]
        for name, view, suffix, params, extra in requests:
            page[f"{label}: {name}"] = timed(
                lambda v=view, p=f"{base}{suffix}", q=params, e=(sid, *extra): get(v, p, q, *e)
            )[0]
        page[f"{label}: 14d chart"] = timed(lambda i=issue.id: issue_series([i], "14d"))[0]
        page[f"{label}: 24h chart"] = timed(lambda i=issue.id: issue_series([i], "24h"))[0]
    page["project 14d chart"] = timed(lambda: project_series(project.id, "14d"))[0]
    page["project 90d chart"] = timed(lambda: project_series(project.id, "90d"))[0]
    results["page"] = {k: round(v, 1) for k, v in page.items()}
    for k, v in results["page"].items():
        print(f"  {k:40} {v:7.1f} ms", flush=True)
    # userCount: the foundation counts `user` tag rows per listed issue at read time
    # (issues.queries.user_counts on this branch); issue 6's digest keeps the count in
    # Issue.users_seen instead. Both, for the 25 issues with the most events:
    from tracehound.issues.queries import user_counts

    top = list(issues.order_by("-times_seen").values_list("id", flat=True)[:LIMIT])
    results["user_counts_ms"] = {
        "counting tag rows": round(timed(lambda: user_counts(top))[0], 1),
        "users_seen column": round(
            timed(lambda: list(Issue.objects.filter(id__in=top).values_list("id", "users_seen")))[
                0
            ],
            1,
        ),
    }
    print(f"  userCount of the 25 biggest issues: {results['user_counts_ms']}", flush=True)
    results["hot_issue_events"] = hot.times_seen
    results["top_tag_keys_hot"] = list(
        IssueTagValue.objects.filter(issue=hot)
        .values("key")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("key", "n")[:3]
    )
    return results


def digest_cost(events: int, with_index: bool) -> dict[str, Any]:
    """In a process on a fresh database: store_batch time for `events` seeded events,
    with or without the tag-value search index (processing is not timed)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracehound.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from bench import seed
    from tracehound.digest.process import ProjectGrouping
    from tracehound.digest.store import store_batch
    from tracehound.projects.actions import create_project

    call_command("migrate", verbosity=0)
    if not with_index:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX tagvalue_key_value")
    project, _ = create_project(seed.ORG, seed.PROJECT, platform="python")
    plan = seed.Plan(events=events, issues=max(events // 10, 1), end=time.time())
    picks = seed.issue_of_events(plan)
    versions = {project.id: ProjectGrouping(project.grouping_version)}
    stored, spent, batch = 0, 0.0, 500
    for first in range(0, plan.events, batch):
        chunk = (plan, first, picks[first : first + batch], project.id, versions[project.id])
        items = seed.process_chunk((*chunk, None))
        started = time.perf_counter()
        with transaction.atomic():
            stored += store_batch(items, versions)
        spent += time.perf_counter() - started
    return {"events": stored, "store_s": round(spent, 2), "per_s": round(stored / spent)}


def fresh_database(kind: str, name: str) -> dict[str, str]:
    import shutil

    from bench import seed

    target = seed.CACHE / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    env = {"TRACEHOUND_DATA_DIR": str(target)}
    if kind == "postgres":
        base = os.environ.get("DATABASE_URL") or seed.DEFAULT_PG
        env["DATABASE_URL"] = seed.pg_url(base, name)
        seed.reset(env)
    return env


def source_database(kind: str) -> dict[str, str]:
    """bench/seed.py's seeded database: the one in TRIAGE_SEED_DIR (another checkout's
    bench/.cache, only read) if it is complete, else our own, seeded here if needed.
    Ours on PostgreSQL has its own name, so seeding it never drops another checkout's."""
    from bench import seed

    plan = seed.Plan()
    base_pg = os.environ.get("DATABASE_URL") or seed.DEFAULT_PG
    env = seed.cache_env(kind, plan, base_pg)
    if shared := os.environ.get("TRIAGE_SEED_DIR"):
        theirs = {
            **env,
            "TRACEHOUND_DATA_DIR": str(Path(shared) / Path(env["TRACEHOUND_DATA_DIR"]).name),
        }
        if seed.count_events(theirs) is not None:
            return theirs
    if kind == "postgres":
        env["DATABASE_URL"] = seed.pg_url(base_pg, "th_triage_seed")
    if seed.count_events(env) is None:
        seed.reset(env)
        run = {k: v for k, v in os.environ.items() if not k.startswith("TRACEHOUND_")}
        run.pop("DATABASE_URL", None)
        run.update(env, TRACEHOUND_LOG_LEVEL="WARNING")
        args = [
            "--events",
            str(plan.events),
            "--issues",
            str(plan.issues),
            "--end",
            str(time.time()),
        ]
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "seed.py"), "--here", *args], env=run, check=True
        )
    return env


def markdown(report: dict[str, Any]) -> str:
    """The results as docs/benchmarks.md tables: worst of first page and cursor page per
    filter (as written in FILTERS: the values differ per database) and sort, then the
    issue page."""
    kinds = list(report)
    head = "| filter | " + " | ".join(f"{k[:2]} {s}" for k in kinds for s in SORTS) + " |"
    lines = [head, "|" + " --- |" * (1 + len(kinds) * len(SORTS))]
    rows = {k: list(report[k]["lists"].values()) for k in kinds}
    for n, template in enumerate(FILTERS):
        cells = [f"{max(rows[k][n][s]):.0f}" for k in kinds for s in SORTS]
        lines.append(f"| `{template or '(empty)'}` | " + " | ".join(cells) + " |")
    lines += ["", "| issue page | " + " | ".join(kinds) + " |"]
    lines.append("| --- |" + " --- |" * len(kinds))
    for name in report[kinds[0]].get("page", {}):
        cells = [f"{report[k]['page'][name]:.1f}" for k in kinds]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def copy_pg_database(url: str, template: str, name: str) -> None:
    """CREATE DATABASE ... TEMPLATE, which needs the template to have no sessions: an
    autovacuum worker busy on it is asked to stop (it starts again later), up to a minute."""
    import psycopg

    from bench import seed

    with seed.pg_admin(url) as conn:
        for attempt in range(30):
            try:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 29:
                    raise
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND backend_type = 'autovacuum worker'",
                    [template],
                )
                time.sleep(2)


def seeded_copy(kind: str) -> dict[str, str]:
    """A private copy of the seeded database, so our migration can add indexes."""
    import shutil
    import sqlite3

    from bench import seed

    source = source_database(kind)
    target = seed.CACHE / f"triage-{kind}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    shutil.copy(Path(source["TRACEHOUND_DATA_DIR"]) / "secret_key", target / "secret_key")
    copy = {"TRACEHOUND_DATA_DIR": str(target)}
    if kind == "postgres":
        name = f"th_triage_{os.getpid()}"
        template = source["DATABASE_URL"].rsplit("/", 1)[1]
        copy_pg_database(source["DATABASE_URL"], template, name)
        copy["DATABASE_URL"] = seed.pg_url(source["DATABASE_URL"], name)
        return copy
    # The backup API reads the source (WAL included) without writing to it.
    src = sqlite3.connect(
        f"file:{Path(source['TRACEHOUND_DATA_DIR']) / 'tracehound.sqlite3'}?mode=ro", uri=True
    )
    with sqlite3.connect(target / "tracehound.sqlite3") as dst:
        src.backup(dst)
    src.close()
    return copy


def run_here(script: str, env: dict[str, str], *args: str) -> Any:
    """Run `script --here ARGS` in a child process on the database `env` names; returns
    the JSON it prints last on stderr, or None (its stderr shown) when it failed."""
    run = {k: v for k, v in os.environ.items() if not k.startswith("TRACEHOUND_")}
    run.pop("DATABASE_URL", None)
    run.update(env, TRACEHOUND_LOG_LEVEL="WARNING")
    done = subprocess.run(
        [sys.executable, script, "--here", *args], env=run, stderr=subprocess.PIPE, text=True
    )
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(done.stderr.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--digest-cost",
        type=int,
        metavar="EVENTS",
        help="instead: store_batch time with and without the tag-value index",
    )
    parser.add_argument("--without-index", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--markdown", action="store_true", help="print --out's results as tables")
    parser.add_argument("--out", default=str(ROOT / "bench" / ".cache" / "triage.json"))
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(Path(args.out).read_text())))
        return 0
    if args.here:
        if args.digest_cost:
            result = digest_cost(args.digest_cost, not args.without_index)
        else:
            result = measure()
        print(json.dumps(result), file=sys.stderr)
        return 0
    from bench import seed

    if args.digest_cost:
        for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
            for flag in ([], ["--without-index"]) * 2:
                env = fresh_database(kind, "th_triage_digest")
                result = run_here(__file__, env, "--digest-cost", str(args.digest_cost), *flag)
                if result is None:
                    return 1
                label = "without" if flag else "with"
                print(f"[{kind}] {label} the tag-value index: {result}", flush=True)
                seed.drop_copy(env)
        return 0

    report: dict[str, Any] = {}
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
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
    print(f"results in {args.out}; {urlencode({'db': args.db})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
