"""What alert rules cost digest: events/s with no rules and with 10 rules per project.

    flock /tmp/bench.lock .venv/bin/python -m bench.alerts [--events 6000] [--database-url URL]

In-process, on a fresh database (a temporary SQLite file, or the PostgreSQL database
given, which is flushed first): envelopes go through the real ingest (WSGI) into the
queue, then the real digest worker (`queue.worker.digest_batch`) is timed until the
queue is empty. Four projects, 40 issues each, 20 users, two environments, tags.

For each configuration ("no rules", "10 rules per project": new issue, regression,
frequency over 5 and 120 minutes, users over 60 minutes, and filters on environment,
level, release "latest" and tags, each to two channels), three phases are timed: "new"
(every issue is created by the phase), "repeat" (the same issues again: frequency and
users are counted and cross their thresholds) and "steady" (once more: the rules that
fired are throttled, the rest are counted). Prints events/s per phase and outbox rows.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROJECTS = 4
ISSUES = 40
USERS = 20


def setup(database_url: str | None) -> None:
    os.environ.setdefault("TRACEHOUND_DATA_DIR", tempfile.mkdtemp(prefix="bench-alerts-"))
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracehound.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if database_url:
        call_command("flush", interactive=False, verbosity=0)


def rules_for(project: Any, channels: list[Any]) -> None:
    from tracehound.alerts.models import AlertRule

    specs: list[dict[str, Any]] = [
        {"triggers": ["new_issue"]},
        {"triggers": ["new_issue", "regression"], "environment": "production"},
        {"triggers": ["regression"], "min_level": "error"},
        {"triggers": ["frequency"], "frequency_count": 1000, "frequency_window": 5},
        {"triggers": ["frequency"], "frequency_count": 50, "frequency_window": 120},
        {"triggers": ["users"], "users_count": 10, "users_window": 60},
        {"triggers": ["new_issue"], "release": "latest"},
        {"triggers": ["new_issue"], "tag_filters": [{"key": "browser", "op": "eq", "value": "Firefox"}]},
        {"triggers": ["new_issue", "unignored"], "min_level": "fatal"},
        {"triggers": ["frequency", "users"], "frequency_count": 5, "frequency_window": 1,
         "users_count": 3, "users_window": 10, "environment": "staging"},
    ]  # fmt: skip
    for i, spec in enumerate(specs):
        rule = AlertRule.objects.create(
            project=project, name=f"rule {i}", created_at=datetime.now(UTC), **spec
        )
        rule.channels.set(channels)


def make_projects(org: str, with_rules: bool) -> list[Any]:
    from tracehound.alerts.models import Channel
    from tracehound.projects.actions import create_project

    made = []
    for p in range(PROJECTS):
        project, key = create_project(org, f"p{p}", platform="python")
        made.append((project, key))
    if with_rules:
        organization = made[0][0].organization
        channels = [
            Channel.objects.create(
                organization=organization,
                name=f"hook {i}",
                kind="webhook",
                config={"url": "https://hooks.example.com/"},
                created_at=datetime.now(UTC),
            )
            for i in range(2)
        ]
        for project, _ in made:
            rules_for(project, channels)
    return made


def ingest(projects: list[Any], events: int, rng: random.Random) -> None:
    from tests.conftest import call_wsgi
    from tests.envelopes import envelope
    from tests.issues.digesting import error

    for n in range(events):
        project, key = projects[n % len(projects)]
        event = error(
            f"Error{rng.randrange(ISSUES)}",
            release=rng.choice(["1.0.0", "1.1.0"]),
            environment=rng.choice(["production", "staging"]),
            user=f"u{rng.randrange(USERS)}",
            tags={"browser": rng.choice(["Firefox", "Chrome"]), "server": f"web-{n % 7}"},
        )
        event_id = uuid.uuid4().hex
        auth = f"Sentry sentry_key={key.public_key}, sentry_version=7"
        response = call_wsgi(
            "POST",
            f"/api/{project.id}/envelope/",
            envelope(event, event_id=event_id),
            headers={"X-Sentry-Auth": auth},
        )
        assert response.status == 200, response.body


def digest() -> tuple[int, float]:
    from tracehound.queue.worker import digest_batch

    started = time.perf_counter()
    total = 0
    while handled := digest_batch():
        total += handled
    return total, time.perf_counter() - started


def run(label: str, org: str, with_rules: bool, events: int) -> None:
    from tracehound.alerts.models import Notification

    projects = make_projects(org, with_rules)
    rng = random.Random(8)
    before = Notification.objects.count()
    for phase in ("new", "repeat", "steady"):
        ingest(projects, events, rng)
        handled, seconds = digest()
        made = Notification.objects.count() - before
        before += made
        print(
            f"{label:<22} {phase:<7} {handled:>6} events {seconds:7.2f} s"
            f" {handled / seconds:8.0f} events/s  outbox rows {made}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup(args.database_url)
    from django.db import connection

    print(f"database: {connection.vendor}; {args.events} events per phase", flush=True)
    run("no rules", "bench-plain", False, args.events)
    run("10 rules per project", "bench-rules", True, args.events)


if __name__ == "__main__":
    main()
