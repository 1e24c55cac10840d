"""The results table: one row per number, one column per database, PASS/MISS on targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Getter = Callable[[dict[str, Any]], Any]


def level(concurrency: int, key: str) -> Getter:
    def get(r: dict[str, Any]) -> Any:
        for entry in r["ingest"]["levels"]:
            if entry["concurrency"] == concurrency:
                return entry[key]
        return None

    return get


def path(*keys: str) -> Getter:
    def get(r: dict[str, Any]) -> Any:
        for key in keys:
            r = r[key]
        return r

    return get


def ingest_errors(r: dict[str, Any]) -> int:
    return sum(entry["errors"] for entry in r["ingest"]["levels"])


def client_cpu(r: dict[str, Any]) -> float:
    return max(entry["client_cpu_pct_of_core"] for entry in r["ingest"]["levels"])


# (label, getter, target as (">=" or "<=", threshold) or None, only for this database)
ROWS: list[tuple[str, Getter, tuple[str, float] | None, str | None]] = [
    ("Ingest c=1: accepted events/s", level(1, "accepted_per_s"), None, None),
    ("Ingest c=1: p50 / p99 ms", lambda r: (level(1, "p50_ms")(r), level(1, "p99_ms")(r)), None, None),
    ("Ingest c=8: accepted events/s", level(8, "accepted_per_s"), (">=", 2500), None),
    ("Ingest c=8: p50 ms", level(8, "p50_ms"), None, None),
    ("Ingest c=8: p99 ms", level(8, "p99_ms"), ("<=", 15), None),
    ("Ingest c=32: accepted events/s", level(32, "accepted_per_s"), None, None),
    ("Ingest c=32: p50 / p99 ms", lambda r: (level(32, "p50_ms")(r), level(32, "p99_ms")(r)), None, None),
    ("Ingest: errors (all levels)", ingest_errors, None, None),
    ("Ingest c=8: web CPU, % of a core", level(8, "server_cpu_pct_of_core"), None, None),
    ("Load generator CPU, % of a core (max)", client_cpu, None, None),
    ("Digest events/s (from first drop)", path("digest", "per_s"), (">=", 1500), None),
    ("Digest events/s (incl. start-up)", path("digest", "per_s_incl_startup"), None, None),
    ("Digest: backlog / first batch after s", lambda r: (r["digest"]["queued"], r["digest"].get("first_batch_after_s")), None, None),
    ("Sustained c=8: accepted events/s", path("sustained", "accepted_per_s"), None, None),
    ("Sustained c=8: digested events/s", path("sustained", "digested_per_s"), None, None),
    ("Sustained end to end (min of both)", path("sustained", "end_to_end_per_s"), (">=", 1000), None),
    ("Sustained: final backlog / p99 ms", lambda r: (r["sustained"]["final_backlog"], r["sustained"]["p99_ms"]), None, None),
    ("RSS idle, serve (MB)", path("startup", "idle_rss_mb"), ("<=", 120), None),
    ("RSS peak under load, serve (MB)", path("sustained", "rss_peak_mb"), ("<=", 250), None),
    ("RSS peak, web alone / worker alone (MB)", lambda r: (r["ingest"]["web_rss_peak_mb"], r["digest"]["worker_rss_peak_mb"]), None, None),
    ("Storage: bytes/event (live pages)", path("storage", "bytes_per_event_live"), ("<=", 4096), "sqlite"),
    ("Storage: bytes/event (file + WAL)", path("storage", "bytes_per_event_file"), None, "sqlite"),
    ("Storage: bytes/event (events + issue tables)", path("storage", "bytes_per_event_events_and_issues"), None, "postgres"),
    ("Storage: events table bytes/event", path("storage", "events_table_bytes_per_event"), None, None),
    ("Storage: payload bytes/event", path("storage", "payload_bytes_per_event"), None, None),
    ("Storage: issue tables bytes/event", path("storage", "issue_tables_bytes_per_event"), None, None),
    ("Start-up to /health/ 200, median s", path("startup", "median_s"), None, None),
    ("Start-up to /health/ 200, worst s", path("startup", "max_s"), ("<=", 1.0), None),
]  # fmt: skip


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, tuple):
        return " / ".join(fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(value: Any, target: tuple[str, float] | None) -> str:
    if target is None or not isinstance(value, (int, float)):
        return ""
    op, threshold = target
    ok = value >= threshold if op == ">=" else value <= threshold
    return " PASS" if ok else " MISS"


def render_table(results: dict[str, dict[str, Any]], markdown: bool = False) -> str:
    kinds = [k for k, r in results.items() if "error" not in r]
    header = ["Metric", *kinds, "Target"]
    rows = [header]
    for label, get, target, only in ROWS:
        cells = []
        for kind in kinds:
            if only and only != kind:
                cells.append("")
                continue
            try:
                value = get(results[kind])
            except (KeyError, TypeError):
                value = None
            cells.append(fmt(value) + verdict(value, target))
        if not any(cells):
            continue
        rows.append([label, *cells, f"{target[0]} {fmt(target[1])}" if target else ""])
    for kind, r in results.items():
        if "error" in r:
            rows.append(
                [f"{kind}: FAILED", *[""] * len(kinds), r["error"].strip().splitlines()[-1]]
            )
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))) for row in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
