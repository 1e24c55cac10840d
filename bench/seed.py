"""A big project for the query and retention benchmarks, made through the real digest code.

    .venv/bin/python bench/seed.py [--db sqlite|postgres|both] [--events 1000000] [--issues 10000]

Events are realistic Python SDK events (bench/payloads.py shapes, trimmed to ~5 KB),
skewed like real traffic: issue popularity follows a Zipf law (the hottest issue gets
~14 % of all events, the tail one or two each), users too; several releases over time,
three environments, four levels, 1 % with an attachment and 0.5 % with user feedback;
timestamps spread evenly over `days` (35) ending now, received a moment after. Each
event goes through `process_queue_item` (parse, normalize, scrub, group, compress) in
child processes and is stored by `digest.store.store_batch` in batches, as the worker
does; only the queue table is skipped.

The result is cached: SQLite in bench/.cache/seed-sqlite-<events>-<issues>/, PostgreSQL as the
database th_seed_<events>_<issues>. A complete cache is reused; an incomplete one is
made again. Other benchmarks get one with `seeded_database(kind, ...)`, which returns
the environment (TRACEHOUND_DATA_DIR, DATABASE_URL) to run Tracehound on it, or copy it
with `copy_seeded(...)` when they change it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import orjson  # noqa: E402

from bench.payloads import make_event, make_shape  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"
ORG, PROJECT = "seed", "big"
ENVIRONMENTS = (("production", 80), ("staging", 15), ("development", 5))
LEVELS = (("error", 80), ("warning", 10), ("fatal", 5), ("info", 5))
RELEASE_DAYS = 5  # a new release every five days
USERS = 50_000


@dataclass(frozen=True)
class Plan:
    events: int = 1_000_000
    issues: int = 10_000
    days: float = 35.0
    end: float = 0.0  # unix time of the last event; 0 = now
    seed: int = 1

    @property
    def start(self) -> float:
        return self.end - self.days * 86400


def zipf_cumulative(n: int, s: float) -> list[float]:
    return list(accumulate(1 / (rank + 1) ** s for rank in range(n)))


def issue_of_events(plan: Plan) -> list[int]:
    """The issue (0 = hottest) of every event, in time order; every issue gets one."""
    rng = random.Random(plan.seed)
    cumulative = zipf_cumulative(plan.issues, 1.1)
    total = cumulative[-1]
    picks = [bisect_left(cumulative, rng.random() * total) for _ in range(plan.events)]
    missing = sorted(set(range(plan.issues)) - set(picks))
    for issue, position in zip(missing, rng.sample(range(plan.events), len(missing)), strict=True):
        picks[position] = issue
    return picks


def weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_envelope(plan: Plan, index: int, shape: Any, rng: random.Random) -> tuple[bytes, float]:
    """One event (and sometimes an attachment or feedback): envelope bytes, receive time."""
    ts = plan.start + (index + rng.random()) * (plan.days * 86400 / plan.events)
    event_id = f"{plan.seed:04x}{index:028x}"
    event = make_event(rng, shape, event_id, unique=False)
    # ~5 KB instead of ~13: keeps a million events within minutes on two cores.
    event["breadcrumbs"]["values"] = event["breadcrumbs"]["values"][:8]
    event["modules"] = dict(list(event["modules"].items())[:10])
    user = min(int(USERS * rng.random() ** 3), USERS - 1)  # a few very active users
    event["user"] = {"id": str(user), "email": f"user{user}@example.com"}
    event["timestamp"] = ts
    event["level"] = weighted(rng, LEVELS)
    event["environment"] = weighted(rng, ENVIRONMENTS)
    event["release"] = f"backend@2.{int((ts - plan.start) // (RELEASE_DAYS * 86400))}.0"
    for crumb in event["breadcrumbs"]["values"]:
        crumb["timestamp"] = ts - 1
    header = {"event_id": event_id, "sent_at": rfc3339(ts)}
    payload = orjson.dumps(event)
    items = [({"type": "event", "length": len(payload)}, payload)]
    if rng.random() < 0.01:
        log = b"".join(b"%d INFO request handled in %d ms\n" % (i, i * 7) for i in range(40))
        items.append(({"type": "attachment", "filename": "app.log", "length": len(log)}, log))
    if rng.random() < 0.005:
        report = orjson.dumps(
            {"event_id": event_id, "name": "Ann", "email": "ann@example.com",
             "comments": "The page went blank after I pressed Pay."}
        )  # fmt: skip
        items.append(({"type": "user_report", "length": len(report)}, report))
    body = orjson.dumps(header) + b"\n"
    for item_header, item_payload in items:
        body += orjson.dumps(item_header) + b"\n" + item_payload + b"\n"
    return body, ts + 0.2 + rng.random()


_shapes: list[Any] = []


def process_chunk(args: tuple[Plan, int, list[int], int, Any, bytes | None]) -> list[Any]:
    """In a child: build and digest-process events [first, first + len(issues))."""
    from tracehound.digest.process import process_queue_item

    plan, first, issues, project_id, grouping, dictionary = args
    if not _shapes:
        shape_rng = random.Random(plan.seed * 7919)
        _shapes.extend(make_shape(shape_rng, unique=False) for _ in range(plan.issues))
    out = []
    for offset, issue in enumerate(issues):
        index = first + offset
        rng = random.Random(plan.seed * 1_000_003 + index)
        body, received = event_envelope(plan, index, _shapes[issue], rng)
        meta = {"counts": {"error": 1}}
        out.append(
            process_queue_item(index, project_id, received, "", meta, body, grouping, dictionary)
        )
    return out


def seed_project(plan: Plan, *, processes: int = 2, batch: int = 2000) -> dict[str, Any]:
    """Digest `plan.events` events into project seed/big of the configured database."""
    from django.db import transaction

    from tracehound.digest.process import ProjectGrouping
    from tracehound.digest.store import store_batch
    from tracehound.events.codec import current_dictionary, train_dictionary_if_due
    from tracehound.projects.actions import create_project

    project, _ = create_project(ORG, PROJECT, platform="python")
    versions = {project.id: ProjectGrouping(project.grouping_version)}
    picks = issue_of_events(plan)
    chunks = [
        (plan, first, picks[first : first + batch], project.id, versions[project.id])
        for first in range(0, plan.events, batch)
    ]
    started = time.monotonic()
    stored = 0

    def store(items: list[Any]) -> None:
        nonlocal stored
        with transaction.atomic():
            stored += store_batch(items, versions)
        if stored and stored % 50_000 < batch:
            rate = stored / (time.monotonic() - started)
            print(f"  {stored} events stored, {rate:.0f} events/s", flush=True)

    # The first batch without a dictionary, as on a fresh install; then it is trained.
    store(process_chunk((*chunks[0], None)))
    train_dictionary_if_due()
    dictionary = current_dictionary()
    rest = [(*chunk, dictionary) for chunk in chunks[1:]]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        for items in pool.imap(process_chunk, rest):
            store(items)
    seconds = time.monotonic() - started
    return {"events": stored, "seconds": round(seconds, 1), "per_s": round(stored / seconds, 1)}


# Cached databases.


def pg_url(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def pg_admin(base: str) -> Any:
    import psycopg

    return psycopg.connect(pg_url(base, "postgres"), autocommit=True)


def cache_env(kind: str, plan: Plan, base_pg: str) -> dict[str, str]:
    env = {"TRACEHOUND_DATA_DIR": str(CACHE / f"seed-{kind}-{plan.events}-{plan.issues}")}
    if kind == "postgres":
        env["DATABASE_URL"] = pg_url(base_pg, f"th_seed_{plan.events}_{plan.issues}")
    return env


def count_events(env: dict[str, str]) -> int | None:
    """Events of the seeded project, or None if the database is missing or unfinished."""
    query = (
        "SELECT COUNT(*) FROM events_event e JOIN projects_project p ON p.id = e.project_id"
        f" WHERE p.slug = '{PROJECT}'"
    )
    marker = Path(env["TRACEHOUND_DATA_DIR"]) / "seeded"
    if not marker.exists():
        return None
    try:
        if "DATABASE_URL" in env:
            import psycopg

            with psycopg.connect(env["DATABASE_URL"]) as conn:
                return int(conn.execute(query).fetchone()[0])
        with sqlite3.connect(Path(env["TRACEHOUND_DATA_DIR"]) / "tracehound.sqlite3") as conn:
            return int(conn.execute(query).fetchone()[0])
    except Exception:
        return None


def reset(env: dict[str, str]) -> None:
    data_dir = Path(env["TRACEHOUND_DATA_DIR"])
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    if "DATABASE_URL" in env:
        name = urlsplit(env["DATABASE_URL"]).path.lstrip("/")
        with pg_admin(env["DATABASE_URL"]) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')


def seeded_database(
    kind: str, plan: Plan | None = None, base_pg: str | None = None
) -> dict[str, str]:
    """The environment of a database holding the seeded project, seeding it if needed."""
    plan = plan or Plan()
    base_pg = base_pg or os.environ.get("DATABASE_URL") or DEFAULT_PG
    env = cache_env(kind, plan, base_pg)
    if count_events(env) is None:
        reset(env)
        run = {k: v for k, v in os.environ.items() if not k.startswith("TRACEHOUND_")}
        run.pop("DATABASE_URL", None)
        run.update(env, TRACEHOUND_LOG_LEVEL="WARNING")
        args = ["--events", str(plan.events), "--issues", str(plan.issues)]
        args += ["--days", str(plan.days), "--end", str(plan.end or time.time())]
        subprocess.run([sys.executable, __file__, "--here", *args], env=run, check=True)
    return env


def copy_seeded(env: dict[str, str], target_dir: Path) -> dict[str, str]:
    """A throw-away copy of a seeded database (for benchmarks that change it)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    copy = {"TRACEHOUND_DATA_DIR": str(target_dir)}
    source = Path(env["TRACEHOUND_DATA_DIR"])
    shutil.copy(source / "secret_key", target_dir / "secret_key")
    if "DATABASE_URL" in env:
        name = f"th_copy_{os.getpid()}_{int(time.time())}"
        template = urlsplit(env["DATABASE_URL"]).path.lstrip("/")
        with pg_admin(env["DATABASE_URL"]) as conn:
            # FILE_COPY copies the files and syncs them. The default (WAL_LOG) writes
            # the whole database (2 GB) to the WAL, and the checkpoints that sets off
            # write it again, while the benchmark has started measuring.
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        copy["DATABASE_URL"] = pg_url(env["DATABASE_URL"], name)
    else:
        with sqlite3.connect(source / "tracehound.sqlite3") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy(source / "tracehound.sqlite3", target_dir / "tracehound.sqlite3")
    os.sync()  # the copy's dirty pages are on disk before anything is measured
    return copy


def drop_copy(copy: dict[str, str]) -> None:
    if "DATABASE_URL" in copy:
        name = urlsplit(copy["DATABASE_URL"]).path.lstrip("/")
        with pg_admin(copy["DATABASE_URL"]) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(copy["TRACEHOUND_DATA_DIR"], ignore_errors=True)


# Each new issue was owed the default rule's email when it appeared, over the 35 days:
# the seed's history has them delivered, not 10,000 waiting for the first worker (a
# backlog the benchmarks would measure instead of what they are about).
SETTLE_NOTIFICATIONS = (
    "UPDATE alerts_notification SET state = 'succeeded', attempts = 1 WHERE state = 'pending'"
)


def seed_here(plan: Plan) -> None:
    """Seed the database this process's environment names (Django is set up here)."""
    import django
    from django.core.management import call_command

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracehound.settings")
    django.setup()
    call_command("migrate", verbosity=0)
    kind = "postgres" if os.environ.get("DATABASE_URL") else "sqlite"
    print(f"[{kind}] seeding {plan.events} events in {plan.issues} issues", flush=True)
    result = seed_project(plan, processes=max(2, os.cpu_count() or 1))
    from django.db import connection

    from tracehound.queue.housekeeping import prune_old_rows

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM issues_issue")
        issues = cursor.fetchone()[0]
        cursor.execute(SETTLE_NOTIFICATIONS)
    # The worker's upkeep prunes per-minute alert counts as it goes; seeding 35 days
    # without it left ~800,000 rows, whose one-statement prune then ran during the
    # benchmarks (0.7-1 s on PostgreSQL; an ingest commit beside it waited 136 ms).
    prune_old_rows()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
    print(
        f"[{kind}] stored {result['events']} events in {issues} issues in {result['seconds']} s:"
        f" {result['per_s']} events/s (processing in child processes + store_batch)",
        flush=True,
    )
    (Path(os.environ["TRACEHOUND_DATA_DIR"]) / "seeded").write_text(orjson.dumps(result).decode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=Plan.events)
    parser.add_argument("--issues", type=int, default=Plan.issues)
    parser.add_argument("--days", type=float, default=Plan.days)
    parser.add_argument("--end", type=float, default=0.0, help="unix time of the last event")
    parser.add_argument("--pg-url", default=os.environ.get("DATABASE_URL") or DEFAULT_PG)
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    plan = Plan(args.events, args.issues, args.days, args.end or time.time())
    if args.here:
        seed_here(plan)
        return 0
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        env = seeded_database(kind, plan, args.pg_url)
        done = Path(env["TRACEHOUND_DATA_DIR"]) / "seeded"
        print(f"[{kind}] {env} ({done.read_text()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
