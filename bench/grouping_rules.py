"""What stack-trace rules cost in grouping: microseconds per `group_event` call.

    .venv/bin/python -m bench.grouping_rules

Prints, per event shape, the time with the built-in rules alone and with a 50-rule
project set, then the worst case a project can configure (1,000 rules against 250 frames
never seen before, so no cached match helps). Run under `flock /tmp/bench.lock`.
"""

from __future__ import annotations

import time
from typing import Any

from tracehound.grouping import ProjectRules, group_event
from tracehound.grouping.enhancers import parse_enhancements
from tracehound.grouping.project_rules import compile_project_rules


def _exception(platform: str, frames: list[dict[str, Any]]) -> dict[str, Any]:
    values = [{"type": "Error", "value": "boom", "stacktrace": {"frames": frames}}]
    return {"platform": platform, "exception": {"values": values}}


def shapes() -> dict[str, dict[str, Any]]:
    node = [
        {
            "abs_path": f"/srv/app/node_modules/lib{i}/index.js",
            "filename": f"/srv/app/node_modules/lib{i}/index.js",
            "function": f"fn{i}",
            "context_line": "  return next(err);",
            "in_app": False,
        }
        for i in range(15)
    ] + [
        {
            "abs_path": f"/srv/app/src/m{i}.js",
            "filename": f"/srv/app/src/m{i}.js",
            "function": f"app{i}",
            "context_line": "throw new Error('x')",
            "in_app": True,
        }
        for i in range(5)
    ]
    python = [
        {
            "module": f"pkg.m{i}",
            "filename": f"pkg/m{i}.py",
            "function": f"f{i}",
            "context_line": "x = y()",
            "in_app": i > 10,
        }
        for i in range(20)
    ]
    native = [
        {"function": name, "package": "/usr/lib/x86_64-linux-gnu/libc.so.6"}
        for name in ("_start", "__libc_start_main", "__libc_start_call_main")
    ] + [
        {"function": f"shop::Cart<int>::step{i}(int) const", "package": "/opt/shop/bin/shop"}
        for i in range(15)
    ]
    java = [
        {"module": f"org.springframework.web.Filter{i}", "function": "doFilter", "in_app": False}
        for i in range(15)
    ] + [
        {
            "module": f"shop.Cart$$Lambda$1{i}/0x0000000800c0b040",
            "function": "apply",
            "in_app": True,
        }
        for i in range(5)
    ]
    return {
        "node (20 frames)": _exception("node", node),
        "python (20 frames)": _exception("python", python),
        "native (18 frames)": _exception("native", native),
        "java (20 frames)": _exception("java", java),
    }


PROJECT_RULES = "\n".join(
    [f"stack.module:vendor{i}.* -app" for i in range(20)]
    + [f"stack.abs_path:**/generated{i}/** -group" for i in range(20)]
    + [f"family:native stack.function:lib{i}::* -group" for i in range(10)]
)


def per_call(event: dict[str, Any], rules: ProjectRules | None, rounds: int = 2000) -> float:
    group_event(event, rules=rules)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            group_event(event, rules=rules)
        best = min(best, (time.perf_counter() - started) / rounds)
    return best * 1e6


def main() -> None:
    project = ProjectRules(parse_enhancements(PROJECT_RULES))
    print(f"{'event':<22}{'built-in only':>16}{'+ 50 project rules':>22}")
    for name, event in shapes().items():
        print(f"{name:<22}{per_call(event, None):>13.1f} µs{per_call(event, project):>19.1f} µs")

    text = "\n".join(
        f"stack.abs_path:**/vendor{i}/** stack.function:fn{i}* -group" for i in range(1000)
    )
    started = time.perf_counter()
    worst = parse_enhancements(text)
    parsed = time.perf_counter() - started
    frames = [{"abs_path": f"/srv/src/m{i}/f{i}.js", "function": f"h{i}"} for i in range(250)]
    started = time.perf_counter()
    worst.apply(frames, "javascript")
    cold = time.perf_counter() - started
    started = time.perf_counter()
    worst.apply(frames, "javascript")
    warm = time.perf_counter() - started
    print(f"1,000 rules: parse {parsed * 1e3:.0f} ms; 250 unseen frames {cold * 1e3:.0f} ms, ")
    print(f"the same frames again {warm * 1e3:.2f} ms (matches cached per frame)")
    hostile_messages()
    fingerprint_path_rules()


def fingerprint_path_rules() -> None:
    """500 fingerprint rules of 16-star path globs against 4 stacks of 250 distinct frames."""
    pattern = "/".join(["*a"] * 16)
    text = "\n".join(f'stack.abs_path:"{pattern}x{i}" -> r{i}' for i in range(500))
    rules = compile_project_rules(text, "")
    values = [
        {
            "type": "E",
            "value": "v",
            "stacktrace": {"frames": [{"abs_path": "a/" * 100 + f"b{i}"} for i in range(250)]},
        }
        for _ in range(4)
    ]
    started = time.perf_counter()
    group_event({"platform": "python", "exception": {"values": values}}, rules=rules)
    took = time.perf_counter() - started
    print(f"500 path fingerprint rules, 4 x 250 frames: group_event {took * 1e3:.0f} ms")


def hostile_messages() -> None:
    """An event of 50 exceptions whose values are 8 KiB separator runs (message cap)."""
    for run in ("a.", "1.", "a-", "0x", "1:"):
        values = [{"type": f"E{i}", "value": run * 4096} for i in range(50)]
        event = {"platform": "python", "exception": {"values": values}}
        started = time.perf_counter()
        group_event(event)
        took = time.perf_counter() - started
        print(f"50 exceptions of {run!r} * 4096: group_event {took * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
