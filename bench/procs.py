"""Process trees, memory and CPU from /proc (Linux only, no extra dependencies)."""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return data[data.rindex(")") + 2 :].split()


def descendants(roots: list[int]) -> list[int]:
    """`roots` and all their live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = [], [pid for pid in roots if os.path.exists(f"/proc/{pid}")]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(roots: list[int]) -> int:
    return sum(rss_bytes(pid) for pid in descendants(roots))


def tree_detail(roots: list[int]) -> list[dict[str, object]]:
    """RSS per process of the trees, with a short command line, largest first."""
    out = []
    for pid in descendants(roots):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        # "python -m granian ..." / "python -m tracehound.cli serve ..." -> "granian" / "serve"
        name = argv[2] if len(argv) > 2 and argv[1] == "-m" else argv[0]
        if name == "tracehound.cli" and len(argv) > 3:
            name = f"tracehound {argv[3]}"
        out.append({"pid": pid, "process": name, "rss_mb": round(rss_bytes(pid) / 2**20, 1)})
    return sorted(out, key=lambda p: -p["rss_mb"])


def cpu_times(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) per pid."""
    out = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            out[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def pids_named(name: str) -> list[int]:
    """Processes whose command name (as in /proc/<pid>/stat) is `name`, e.g. postgres."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    head = f.read(64)
            except OSError:
                continue
            if head[head.find(b"(") + 1 : head.find(b")")].decode(errors="replace") == name:
                found.append(int(entry))
    return found


class CpuMeter:
    """CPU used between start() and stop() by a process tree, by PostgreSQL, by the machine."""

    def __init__(self, roots: Callable[[], list[int]]):
        self.roots = roots
        self.before: dict[int, float] = {}
        self.db_before: dict[int, float] = {}
        self.machine_before = (0, 0)
        self.started = 0.0

    @staticmethod
    def machine() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]
        return sum(values) - idle, sum(values)

    def start(self) -> None:
        self.before = cpu_times(descendants(self.roots()))
        self.db_before = cpu_times(pids_named("postgres"))
        self.machine_before = self.machine()
        self.started = time.monotonic()

    def stop(self) -> dict[str, float]:
        after = cpu_times(descendants(self.roots()))
        used = sum(t - self.before.get(pid, 0.0) for pid, t in after.items())
        db_after = cpu_times(pids_named("postgres"))
        db_used = sum(t - self.db_before.get(pid, 0.0) for pid, t in db_after.items())
        busy, total = self.machine()
        busy0, total0 = self.machine_before
        wall = max(1e-9, time.monotonic() - self.started)
        return {
            "server_cpu_pct_of_core": round(100 * used / wall, 1),
            "postgres_cpu_pct_of_core": round(100 * db_used / wall, 1),
            "machine_busy_pct": round(100 * (busy - busy0) / max(1, total - total0), 1),
        }


def wait_for_quiet(max_wait: float, threshold_pct: float = 20.0) -> tuple[float, float]:
    """Wait (up to max_wait s) for a second in which the machine is mostly idle.

    Other people's test runs on a shared box skew every number; this lets them finish.
    Returns (seconds waited, busy % of the last one-second sample).
    """
    started = time.monotonic()
    while True:
        busy0, total0 = CpuMeter.machine()
        time.sleep(1.0)
        busy, total = CpuMeter.machine()
        pct = 100 * (busy - busy0) / max(1, total - total0)
        waited = time.monotonic() - started
        if pct <= threshold_pct or waited >= max_wait:
            return round(waited, 1), round(pct, 1)


class RssSampler(threading.Thread):
    """Sample the summed RSS of the process trees under `roots()` every `interval` s."""

    def __init__(self, roots: Callable[[], list[int]], interval: float = 0.1):
        super().__init__(daemon=True)
        self.roots = roots
        self.interval = interval
        self.peak = 0
        self.peak_detail: list[dict[str, object]] = []
        self.last = 0
        self.samples = 0
        self.cpu = 0.0  # this thread's own CPU seconds, so the load generator can subtract it
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self._stop_event.is_set():
            started = time.thread_time()
            roots = self.roots()
            rss = tree_rss(roots)
            detail = tree_detail(roots) if rss > self.peak else None
            with self._lock:
                self.last = rss
                if detail is not None:
                    self.peak, self.peak_detail = rss, detail
                self.samples += 1
                self.cpu += time.thread_time() - started
            self._stop_event.wait(self.interval)

    def own_cpu(self) -> float:
        with self._lock:
            return self.cpu

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def machine_info() -> dict[str, object]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
