"""Profile a Tracehound process under the benchmark's load with py-spy, print the hotspots.

    .venv/bin/pip install py-spy     # a tool for you, not a project dependency
    .venv/bin/python bench/profile.py ingest|digest|serve [--db sqlite|postgres] [--seconds 15]
    .venv/bin/python bench/profile.py stages [--rounds 5]
    .venv/bin/python bench/profile.py store [--db sqlite|postgres] [--batches 10]

ingest: `tracehound web` alone at --concurrency; digest: `tracehound worker` draining a
backlog (recorded from the first digested batch on); serve: web + worker under load.
Writes py-spy's collapsed stacks to bench/results/profiles/ and prints the functions with
the most samples, by self time and inclusive time, per process role.

stages: no server and no py-spy; times each step of processing one queued event in this
process (what a digest child does) over the benchmark's request pool, in µs per event.
store: no processes either; times `store_batch` (what the worker does per batch) on a fresh
database, split by SQL statement.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import phases, run  # noqa: E402
from bench.loadgen import run_load  # noqa: E402
from bench.payloads import build_pool  # noqa: E402
from bench.storage import DbProbe  # noqa: E402


def py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if not found:
        sys.exit("py-spy not found: .venv/bin/pip install py-spy")
    return found


def record(pid: int, seconds: float, out: Path, rate: int, gil: bool) -> subprocess.Popen:
    command = [py_spy(), "record", "--pid", str(pid), "--subprocesses", "--duration",
               str(int(seconds)), "--rate", str(rate), "--format", "raw", "--output", str(out)]  # fmt: skip
    if gil:
        command.append("--gil")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def short(frame: str) -> str:
    """'func (/long/path/to/pkg/module.py:123)' -> 'func (pkg/module.py)'."""
    name, _, where = frame.partition(" (")
    parts = Path(where.rstrip(")").rsplit(":", 1)[0]).parts
    keep = parts[parts.index("tracehound") :] if "tracehound" in parts else parts[-3:]
    return f"{name} ({'/'.join(keep)})"


def analyze(path: Path, top: int) -> str:
    """Self and inclusive sample shares per function, per process, from collapsed stacks.

    Shares are of the samples that had Python frames; samples of threads parked in native
    code (granian's Rust threads, idle blocking threads) are counted apart.
    """
    by_process: dict[str, tuple[Counter, Counter, list[int]]] = {}
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        procs = [f for f in frames if f.startswith("process ")]
        process = procs[-1] if procs else "process"
        frames = [short(f) for f in frames if not f.startswith(("process ", "thread "))]
        count = int(count_text)
        self_c, incl_c, totals = by_process.setdefault(process, (Counter(), Counter(), [0, 0]))
        if not frames:
            totals[1] += count
            continue
        totals[0] += count
        self_c[frames[-1]] += count
        for frame in set(frames):
            incl_c[frame] += count
    lines = []
    for process, (self_c, incl_c, totals) in sorted(
        by_process.items(), key=lambda kv: -kv[1][2][0]
    ):
        lines.append(f"\n== {process[:150]}")
        lines.append(f"   {totals[0]} samples with Python frames, {totals[1]} without")
        for title, counter in (("self", self_c), ("inclusive", incl_c)):
            lines.append(f"-- top {title}")
            for frame, count in counter.most_common(top):
                lines.append(f"{100 * count / max(1, totals[0]):6.1f}%  {frame}")
    return "\n".join(lines)


def stage_times(rounds: int, size: int) -> dict[str, float]:
    """µs per event for each step of `process_event`, the best of `rounds` over the pool.

    The steps are the ones of digest/process.py, called one by one so each is timed
    alone; the payload dictionary is trained first, from this pool, as a live install
    trains it from its first events.
    """
    import orjson

    from tracehound.digest.normalize import normalize_event
    from tracehound.digest.scrub import scrub_event
    from tracehound.digest.tags import event_tags
    from tracehound.grouping import group_event
    from tracehound.lib.compression import compress_payload, train_payload_dictionary
    from tracehound.lib.envelope import parse_envelope

    pool = build_pool("127.0.0.1:1", 1, "0" * 32, size=size)
    bodies = [bytes(t.raw[t.raw.index(b"\r\n\r\n") + 4 :]) for t in pool]
    items = [parse_envelope(body).items[0].payload for body in bodies]
    dictionary = train_payload_dictionary(items[:1000], dict_id=1)
    clock = time.thread_time_ns  # CPU time: other processes on the box skew wall time
    names = ("envelope", "json", "normalize", "scrub", "group", "tags", "dumps", "compress")
    best = dict.fromkeys(names, float("inf"))
    for _ in range(rounds):
        spent = dict.fromkeys(names, 0)
        for body in bodies:
            t0 = clock()
            payload = parse_envelope(body).items[0].payload
            t1 = clock()
            event = orjson.loads(payload)
            t2 = clock()
            normalize_event(event, event_id=None, received_at=time.time(), sent_at=None,
                            client_ip="203.0.113.9", may_hold_nul=b"\\u0000" in payload)  # fmt: skip
            t3 = clock()
            scrub_event(event)
            t4 = clock()
            grouping = group_event(event, "newstyle:2023-01-11")
            t5 = clock()
            event["tags"] = [list(pair) for pair in event_tags(event)]
            event["grouping"] = {"hashes": grouping.hashes}
            t6 = clock()
            data = orjson.dumps(event)
            t7 = clock()
            compress_payload(data, dictionary)
            t8 = clock()
            marks = (t0, t1, t2, t3, t4, t5, t6, t7, t8)
            for name, start, end in zip(names, marks, marks[1:], strict=False):
                spent[name] += end - start
        for name in names:
            best[name] = min(best[name], spent[name] / len(bodies) / 1000)
    best["total"] = sum(best[name] for name in names)
    return best


def store_costs(db: str, batches: int, size: int) -> str:
    """Where `store_batch` spends a batch's time, per kind of SQL statement (in-process).

    A fresh Tracehound (as the benchmark sets one up) gets batches of processed pool
    events with fresh ids; the first few (new issues) are not counted. Each statement's
    time is taken around the driver call, so it includes the round trip.
    """
    bench_args = run.parse_args(["--db", db])
    with run.instance(db, bench_args) as server:
        os.environ["TRACEHOUND_DATA_DIR"] = str(server.data_dir)
        if db == "postgres":
            os.environ["DATABASE_URL"] = server.env["DATABASE_URL"]
        else:
            os.environ.pop("DATABASE_URL", None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracehound.settings")
        import django

        django.setup()
        from django.db import connection, transaction

        from tracehound.digest.process import ProjectGrouping, process_queue_item
        from tracehound.digest.store import store_batch
        from tracehound.projects.models import Project

        version = ProjectGrouping(Project.objects.get(id=server.project_id).grouping_version)
        pool = build_pool("127.0.0.1:1", server.project_id, server.public_key, size=600)
        spent: Counter[str] = Counter()
        calls: Counter[str] = Counter()
        totals = {"store_batch": 0.0, "commit": 0.0}

        def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            start = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                key = " ".join(sql.split())[:72]
                spent[key] += time.perf_counter() - start
                calls[key] += 1

        warmup = 5
        counted = 0
        for number in range(warmup + batches):
            items = []
            for index in range(size):
                raw = pool[(number * size + index) % len(pool)].render(
                    os.urandom(16).hex().encode()
                )
                body = bytes(raw[raw.index(b"\r\n\r\n") + 4 :])
                items.append(process_queue_item(index, server.project_id, time.time(), "203.0.113.9", {}, body, version))  # fmt: skip
            measure = number >= warmup
            if measure:
                counted += 1
            start = time.perf_counter()
            with transaction.atomic():
                with connection.execute_wrapper(timed):
                    store_batch(items, {server.project_id: version})
                stored = time.perf_counter()
            if measure:
                totals["store_batch"] += stored - start
                totals["commit"] += time.perf_counter() - stored
            else:
                spent, calls = Counter(), Counter()
        connection.close()
    lines = [f"{db}: {counted} batches of {size} events (after {warmup} warm-up batches)"]
    for name, seconds in totals.items():
        lines.append(f"{1000 * seconds / counted:8.2f} ms/batch  {name}")
    sql_total = sum(spent.values())
    lines.append(f"{1000 * sql_total / counted:8.2f} ms/batch  SQL statements (in store_batch)")
    lines.append(
        f"{1000 * (totals['store_batch'] - sql_total) / counted:8.2f} ms/batch  Python in store_batch"
    )
    for key, seconds in spent.most_common():
        lines.append(
            f"{1000 * seconds / counted:8.2f} ms/batch {calls[key] / counted:6.1f}x  {key}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", choices=["ingest", "digest", "serve", "stages", "store", "show"],
                        help="what to profile, or `show` to re-read --file")  # fmt: skip
    parser.add_argument("--file", type=Path, help="collapsed stacks to analyze (with show)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--gil", action="store_true", help="only sample the GIL holder (CPU)")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the pool (stages)")
    parser.add_argument("--pool", type=int, default=600, help="distinct events (stages)")
    parser.add_argument("--batches", type=int, default=10, help="batches to time (store)")
    parser.add_argument("--batch-size", type=int, default=200, help="events per batch (store)")
    args = parser.parse_args()
    if args.role == "show":
        print(analyze(args.file, args.top))
        return
    if args.role == "store":
        print(store_costs(args.db, args.batches, args.batch_size))
        return
    if args.role == "stages":
        for name, micros in stage_times(args.rounds, args.pool).items():
            print(f"{name:>10} {micros:8.1f} µs/event")
        return
    bench_args = run.parse_args(["--db", args.db] + (["--gzip"] if args.gzip else []))
    out_dir = ROOT / "bench" / "results" / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{datetime.now():%Y%m%d-%H%M%S}-{args.role}-{args.db}.txt"
    with run.instance(args.db, bench_args) as server:
        pool = run.make_pool(server, bench_args)
        if args.role == "digest":
            probe = DbProbe(server)
            phases.prime(server, pool, probe, phases.Plan())  # one-off work, not profiled
            # Enough backlog for the whole recording at a few thousand events/s.
            phases.fill_queue(server, pool, phases.Plan(fill=int(args.seconds * 2000)))
            depth0 = probe.depth()
            worker = server.spawn("worker")
            while probe.depth() == depth0:
                time.sleep(0.02)
            spy = record(worker.pid, args.seconds, out, args.rate, args.gil)
            spy.wait()
            probe.close()
        else:
            proc = phases.start(server, "web" if args.role == "ingest" else "serve")
            run_load("127.0.0.1", server.port, pool, concurrency=args.concurrency, duration=1)
            spy = record(proc.pid, args.seconds, out, args.rate, args.gil)
            load = threading.Thread(
                target=run_load,
                args=("127.0.0.1", server.port, pool),
                kwargs={"concurrency": args.concurrency, "duration": args.seconds + 1},
            )
            load.start()
            spy.wait()
            load.join()
        if spy.returncode:
            sys.exit(f"py-spy failed: {spy.stderr.read().decode()[-2000:]}")
    print(f"collapsed stacks: {out.relative_to(ROOT)}")
    print(analyze(out, args.top))


if __name__ == "__main__":
    main()
