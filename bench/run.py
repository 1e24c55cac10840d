"""Tracehound benchmark: start real processes, drive them with realistic envelopes, print numbers.

    .venv/bin/python bench/run.py [--quick] [--db sqlite|postgres|both] [--gzip]

Phases (docs/benchmarks.md explains each number): ingest throughput and latency with
`tracehound web` alone at several concurrencies; digest rate of `tracehound worker` on a
backlog; start-up time and idle memory of `tracehound serve`; sustained end-to-end rate
and peak memory of `serve` under load; storage per event. Results are printed as a table
and written to bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from tests.e2e.server import Server, drop_postgres, make_server  # noqa: E402

from bench import phases  # noqa: E402
from bench.payloads import Template, build_pool, pool_summary  # noqa: E402
from bench.procs import machine_info  # noqa: E402
from bench.report import render_table  # noqa: E402
from bench.storage import DbProbe, storage  # noqa: E402

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test"


def source_commit() -> str:
    """The checked-out commit, read from .git without running git (the tree may be dirty)."""
    git = ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(f" {ref}"):
                return line.split()[0]
    except OSError:
        pass
    return "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_db = "postgres" if os.environ.get("DATABASE_URL") else "sqlite"
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default=default_db)
    parser.add_argument("--pg-url", default=os.environ.get("DATABASE_URL") or DEFAULT_PG,
                        help="server to create throw-away databases on (default: $DATABASE_URL)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="short phases, for a smoke run")
    parser.add_argument("--duration", type=float, help="seconds per ingest level (10; quick 3)")
    parser.add_argument("--sustain", type=float, help="seconds of end-to-end load (20; quick 5)")
    parser.add_argument("--fill", type=int, help="backlog for the digest phase (5000; quick 2000)")
    parser.add_argument("--prime", type=int, default=1500,
                        help="events digested before timing (one-off work; 0: none)")  # fmt: skip
    parser.add_argument("--concurrency", default="1,8,32", help="ingest levels, comma-separated")
    parser.add_argument("--gzip", action="store_true", help="send gzip-compressed envelopes")
    parser.add_argument("--pool", type=int, default=600, help="distinct request templates")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the Tracehound processes (repeatable)")  # fmt: skip
    parser.add_argument("--quiet-wait", type=float,
                        help="max seconds to wait for an idle machine before each measurement")  # fmt: skip
    parser.add_argument("--data-dir", help="parent directory for the throw-away data dirs")
    parser.add_argument("--keep", action="store_true", help="keep data dirs and databases")
    parser.add_argument("--skip", default="", help="phases to skip: ingest,pipeline")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--show", type=Path, metavar="JSON",
                        help="only print the table of an earlier run's results file")  # fmt: skip
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> phases.Plan:
    quick = args.quick
    return phases.Plan(
        duration=args.duration or (3.0 if quick else 10.0),
        warmup=0.5 if quick else 1.0,
        sustain=args.sustain or (5.0 if quick else 20.0),
        levels=tuple(int(c) for c in args.concurrency.split(",") if c),
        fill=args.fill or (2000 if quick else 5000),
        prime=args.prime,
        startup_trials=1 if quick else 3,
        retries=0 if quick else 2,
        drain_timeout=120.0 if quick else 300.0,
        quiet_wait=args.quiet_wait if args.quiet_wait is not None else (10.0 if quick else 60.0),
    )


@contextmanager
def instance(kind: str, args: argparse.Namespace) -> Iterator[Server]:
    """A set-up Tracehound on a fresh database, with no processes running yet."""
    saved = os.environ.get("DATABASE_URL")
    if kind == "postgres":
        os.environ["DATABASE_URL"] = args.pg_url
    else:
        os.environ.pop("DATABASE_URL", None)
    data_dir = Path(tempfile.mkdtemp(prefix=f"tracehound-bench-{kind}-", dir=args.data_dir))
    try:
        server, pg_url = make_server(data_dir)
    finally:
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved
    server.env["TRACEHOUND_LOG_LEVEL"] = "WARNING"
    for pair in args.env:
        key, _, value = pair.partition("=")
        server.env[key] = value
    try:
        server.setup()
        yield server
    finally:
        server.stop()
        if args.keep:
            print(f"  kept {data_dir}" + (f" and {pg_url}" if pg_url else ""))
        else:
            if pg_url:
                drop_postgres(pg_url)
            shutil.rmtree(data_dir, ignore_errors=True)


def make_pool(server: Server, args: argparse.Namespace) -> list[Template]:
    return build_pool(
        f"127.0.0.1:{server.port}", server.project_id, server.public_key,
        size=args.pool, gzip=args.gzip,
    )  # fmt: skip


def bench_db(kind: str, args: argparse.Namespace, plan: phases.Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    skip = set(args.skip.split(","))
    if "ingest" not in skip:
        print(f"[{kind}] ingest: tracehound web alone, {plan.duration:g} s per level", flush=True)
        with instance(kind, args) as server:
            pool = make_pool(server, args)
            out["pool"] = pool_summary(pool)
            out["ingest"] = phases.ingest_sweep(server, pool, plan)
    if "pipeline" not in skip:
        print(f"[{kind}] digest, start-up, sustained, storage", flush=True)
        with instance(kind, args) as server:
            pool = make_pool(server, args)
            out.setdefault("pool", pool_summary(pool))
            probe = DbProbe(server)
            try:
                if plan.prime:
                    out["prime"] = phases.prime(server, pool, probe, plan)
                out["fill"] = phases.fill_queue(server, pool, plan)
                out["digest"] = phases.digest(server, probe, plan)
                out["startup"], serve = phases.startup(server, plan)
                out["sustained"] = phases.sustained(server, serve, pool, probe, plan)
                out["drained_before_storage"] = phases.drain(server, probe, plan.drain_timeout)
            finally:
                probe.close()
            out["storage"] = storage(server)
            s = out["storage"]
            per = s.get("bytes_per_event_live") or s.get("bytes_per_event_events_and_issues")
            phases.log(f"storage: {s['events']} events, {s['issues']} issues, {per} bytes/event")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show:
        print(render_table(orjson.loads(args.show.read_bytes())["results"], markdown=args.markdown))
        return 0
    plan = make_plan(args)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    started = time.monotonic()
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": vars(args),
        "plan": vars(plan),
        "machine": machine_info(),
        "commit": source_commit(),
        "results": {},
    }
    failed = False
    for kind in kinds:
        try:
            report["results"][kind] = bench_db(kind, args, plan)
        except Exception:
            failed = True
            traceback.print_exc()
            report["results"][kind] = {"error": traceback.format_exc()}
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = results_dir / f"{stamp}-{args.db}{'-quick' if args.quick else ''}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    machine = report["machine"]
    print()
    print(f"{machine['nproc']} CPUs ({machine['cpu_model']}), {machine['ram_gb']} GB RAM;"
          f" gzip={'on' if args.gzip else 'off'}; {'quick' if args.quick else 'full'} run;"
          f" commit {report['commit'][:10]}")  # fmt: skip
    print(render_table(report["results"], markdown=args.markdown))
    print(f"\nwall time {report['wall_seconds']} s; results in {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
