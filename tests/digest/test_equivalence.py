"""Normalize + scrub give byte-for-byte the output recorded before they were optimized.

tests/digest/data/equivalence.json.gz holds inputs (every JSON item of every real-SDK
fixture, benchmark events, hand-written hostile events) with the serialized event that
`normalize_event` then `scrub_event` made of each, under three scrubbing configurations,
as recorded from the unoptimized code (commit ae18be6, plus the fix that drops
`"breadcrumbs": null`, which made normalize fail). On top, seeded mutants of those
inputs (hostile values planted at random places) are checked against the SHA-256 of the
output recorded then. A speed-up of normalize, scrub, pii, databag, stacktraces or
interfaces must leave every one of them unchanged.

Rewrite the data only for an intended change of output:
    .venv/bin/python -m tests.digest.test_equivalence --write
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import pathlib
import random
import sys
from typing import Any

import orjson
import pytest

from tracehound.digest.databag import _Bag, _trim, trim_databag
from tracehound.digest.normalize import normalize_event
from tracehound.digest.pii import find_sensitive_spans
from tracehound.digest.scrub import scrub_event
from tracehound.lib.envelope import parse_envelope

DATA = pathlib.Path(__file__).parent / "data" / "equivalence.json.gz"
HOSTILE = pathlib.Path(__file__).parent / "data" / "hostile_events.json"
FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "envelopes"
RECEIVED_AT = 1_795_341_823.5
CLIENT_IP = "203.0.113.9"
MUTANTS = 400

CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "ip": {"scrub_ip_addresses": True},
    "fields": {
        "scrub_ip_addresses": True,
        "sensitive_fields": ("quantity", "Order", " "),
        "safe_fields": ("password", "X-Api-Key", "sessionid"),
    },
}


def run(payload: bytes, sent_at: str | None, config: dict[str, Any]) -> bytes:
    """What digest does with an event item before grouping, serialized (or the error)."""
    event = orjson.loads(payload)
    try:
        normalize_event(
            event,
            event_id=None,
            received_at=RECEIVED_AT,
            sent_at=sent_at,
            client_ip=CLIENT_IP,
            may_hold_nul=b"\\u0000" in payload,
        )
        if isinstance(event.get("event_id"), str):  # random when the input has none
            event["event_id"] = "0" * 32
        scrub_event(event, **config)
        return orjson.dumps(event)
    except Exception as exc:  # a crash is output too: it must stay the same
        return f"error: {type(exc).__name__}".encode()


# --- inputs -------------------------------------------------------------------------


def fixture_inputs() -> list[tuple[str, bytes, str | None]]:
    inputs = []
    for path in sorted(FIXTURES.glob("*.envelope")):
        envelope = parse_envelope(path.read_bytes())
        sent_at = envelope.headers.get("sent_at")
        for index, item in enumerate(envelope.items):
            if item.type == "attachment" or not item.payload.startswith(b"{"):
                continue
            name = f"{path.stem}/{index}:{item.type}"
            inputs.append(
                (name, bytes(item.payload), sent_at if isinstance(sent_at, str) else None)
            )
    return inputs


def bench_inputs(count: int) -> list[tuple[str, bytes, str | None]]:
    sys.path.insert(0, str(pathlib.Path(__file__).parent.parent.parent))
    from bench.payloads import make_event, make_shape

    rng = random.Random(11)
    inputs = []
    for n in range(count):
        unique = n % 4 == 3
        event = make_event(rng, make_shape(rng, unique), f"{n:032x}", unique)
        inputs.append((f"bench/{n}", orjson.dumps(event), "2024-05-01T12:00:00.000000Z"))
    return inputs


def hostile_inputs() -> list[tuple[str, bytes, str | None]]:
    events = orjson.loads(HOSTILE.read_bytes())
    return [(f"hostile/{name}", orjson.dumps(event), None) for name, event in events.items()]


# --- mutants ---------------------------------------------------------------------------

PII = [
    "4111 1111 1111 1111", "card 5500-0000-0000-0004 ok", "ssn 123-45-6789.", "x=078-05-1120",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJ\n-----END RSA PRIVATE KEY-----",
    "https://user:hunter2@db.example/x?token=abc&page=2&api_key=&sessionid=9",
    "/home/alice/app.py", "C:\\Users\\bob\\x.dll", "/Users/carol", "at 10.0.0.1:80 and 1.2.3.4.5",
    "2001:db8::8a2e:370:7334", "::1", "fe80::1%eth0", "std::vector::at", "a[::2]",
    "session=abc; csrftoken=x; theme=dark", "sessionid=1; Path=/; HttpOnly", "[Filtered]",
    "[ip]", "?password=x&Order=7", "&quantity=3", "255.255.255.255", "256.1.1.1", "1.2.3",
    "4111\x1c1111\x1f1111\x0b1111", "5500\xa00000\xa00000\xa00004", "3782 822463 10005",
    "4111\u20031111\u20031111\u20031111", "jörg 123-45-6789 /home/jörg", "6011-0000-0000-0004x",
]  # fmt: skip
SCALARS = [
    "", "\x00", "a\x00b", "x" * 9000, "é" * 600, 0, -1, 2**63, 2**64 - 1, 1.8e19, 1e300,
    -1e300, -0.0, 0.5, True, False, None, "{{auto}}", "warn", "NaN", "2024-02-30T00:00:00",
    "1700000000.5", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z", "{}", "%s %d {0}",
]  # fmt: skip
KEYS = [
    "password", "api_key", "X-Api-Key", "token", "safe", "values", "frames", "stacktrace",
    "raw_stacktrace", "data", "vars", "headers", "cookies", "query_string", "env", "\x00",
    "a\x00b", "Authorization", "Cookie", "Set-Cookie", "quantity", "Order", "sessionid",
    "type", "value", "message", "formatted", "params", "filename", "abs_path", "context_line",
    "pre_context", "lineno", "in_app", "mechanism", "handled", "REMOTE_ADDR", "ip_address",
    "exception", "threads", "breadcrumbs", "logentry", "tags", "user", "request", "contexts",
    "extra", "sdk", "modules", "timestamp", "level", "fingerprint", "_meta", "debug_meta", "",
]  # fmt: skip


def hostile_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(SCALARS)
    if roll < 0.6:
        return rng.choice(PII)
    if roll < 0.65:
        node: Any = "deep"
        for level in range(rng.choice((6, 40, 140))):
            node = [node] if level % 2 else {"k": node}
        return node
    if roll < 0.7:
        return [rng.choice(PII + SCALARS) for _ in range(rng.choice((3, 60, 300)))]
    if roll < 0.75:
        return {f"k{i}": rng.choice(PII + SCALARS) for i in range(rng.choice((3, 60, 300)))}
    if depth > 2:
        return rng.choice(SCALARS)
    if roll < 0.88:
        return {rng.choice(KEYS): hostile_value(rng, depth + 1) for _ in range(rng.randint(1, 4))}
    return [hostile_value(rng, depth + 1) for _ in range(rng.randint(1, 4))]


def mutate(event: Any, rng: random.Random) -> Any:
    """Plant 1–8 hostile values at random places (replacing values, adding keys)."""
    for _ in range(rng.randint(1, 8)):
        node, parent, slot = event, None, None
        while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, slot = node, rng.choice(keys)
            node = node[slot]
        if isinstance(node, dict) and rng.random() < 0.5:
            node[rng.choice(KEYS)] = hostile_value(rng)
        elif parent is not None:
            parent[slot] = hostile_value(rng)
    return event


def mutants(cases: list[tuple[str, bytes, str | None]]) -> list[tuple[bytes, str | None]]:
    rng = random.Random(2026)
    out = []
    for _ in range(MUTANTS):
        _, payload, sent_at = rng.choice(cases)
        event = mutate(copy.deepcopy(orjson.loads(payload)), rng)
        out.append((orjson.dumps(event), sent_at if rng.random() < 0.7 else "2020-01-01T00:00:00Z"))
    return out


def digest(output: bytes) -> str:
    return hashlib.sha256(output).hexdigest()[:24]


# --- the tests -------------------------------------------------------------------------


def load() -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(gzip.decompress(DATA.read_bytes()))
    return data


RECORDED = load() if DATA.exists() else {"cases": [], "mutants": {}}


@pytest.mark.parametrize("case", RECORDED["cases"], ids=lambda case: case["name"])
def test_normalize_and_scrub_output_is_unchanged(case: dict[str, Any]):
    payload = case["payload"].encode()
    for name, config in CONFIGS.items():
        output = run(payload, case["sent_at"], config).decode()
        assert not output.startswith("error: "), name
        assert output == case["expected"][name], name


def test_every_fixture_including_later_ones_goes_through_without_error():
    # Fixtures added after the snapshot have no unoptimized output to compare with.
    recorded = {case["name"] for case in RECORDED["cases"]}
    assert {name for name, _, _ in hostile_inputs()} <= recorded
    for name, payload, sent_at in fixture_inputs():
        for config in CONFIGS.values():
            assert not run(payload, sent_at, config).startswith(b"error: "), name


@pytest.mark.parametrize("config", list(CONFIGS))
def test_hostile_mutants_give_the_recorded_output(config: str):
    cases = [(c["name"], c["payload"].encode(), c["sent_at"]) for c in RECORDED["cases"]]
    expected = RECORDED["mutants"][config]
    outputs = [run(payload, sent_at, CONFIGS[config]) for payload, sent_at in mutants(cases)]
    failed = [index for index, output in enumerate(outputs) if output.startswith(b"error: ")]
    assert not failed, f"hostile mutants that make normalize or scrub fail: {failed[:20]}"
    got = [digest(output) for output in outputs]
    assert len(got) == len(expected) == MUTANTS
    changed = [index for index, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    assert not changed, f"mutants with a different output: {changed[:20]}"


def write() -> None:
    cases = fixture_inputs() + bench_inputs(16) + hostile_inputs()
    recorded = [
        {
            "name": name,
            "payload": payload.decode(),
            "sent_at": sent_at,
            "expected": {c: run(payload, sent_at, CONFIGS[c]).decode() for c in CONFIGS},
        }
        for name, payload, sent_at in cases
    ]
    # The mutants are made from the recorded payloads, as the test makes them.
    again = [(c["name"], c["payload"].encode(), c["sent_at"]) for c in recorded]
    made = mutants(again)
    data = {
        "cases": recorded,
        "mutants": {c: [digest(run(p, s, CONFIGS[c])) for p, s in made] for c in CONFIGS},
    }
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_bytes(gzip.compress(orjson.dumps(data, option=orjson.OPT_INDENT_2), mtime=0))
    errors = sum(1 for c in recorded for v in c["expected"].values() if v.startswith("error"))
    mutant_errors = {c: sum(1 for p, s in made if run(p, s, CONFIGS[c]).startswith(b"error"))
                     for c in CONFIGS}  # fmt: skip
    print(f"{len(recorded)} cases ({errors} errors), {len(made)} mutants ({mutant_errors})")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    write()


# --- the fast paths against the general ones they stand in for --------------------------


def test_small_flat_bags_are_left_exactly_as_the_general_trim_leaves_them():
    rng = random.Random(5)
    values: list[Any] = ["", "", "ab", "x" * 7, "y" * 512, "w" * 513, 0, 1.5, True, None, "é" * 9]
    for _ in range(5000):
        bag = {rng.choice(["k", "key", "ключ", "x" * 30]) + str(n): rng.choice(values)
               for n in range(rng.randint(0, 12))}  # fmt: skip
        # Around where the budget runs out before the last item (what _trim charges).
        charged = 2 + sum(
            len(k) + (len(v) + 6 if isinstance(v, str) else 12) for k, v in bag.items()
        )
        max_bytes = max(1, charged + rng.randint(-40, 8))
        fast_meta: dict[str, Any] = {}
        fast = trim_databag(copy.deepcopy(bag), fast_meta, ["bag"], max_bytes=max_bytes)
        general_meta: dict[str, Any] = {}
        general = _trim(copy.deepcopy(bag), 1, ["bag"], _Bag(5, 512, max_bytes, general_meta))
        assert (fast, fast_meta) == (general, general_meta), (bag, max_bytes)


def test_ascii_text_gets_the_spans_the_unicode_search_finds():
    rng = random.Random(6)
    separators = ["", "", " ", "-", "\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1f", "_", "."]
    for _ in range(3000):
        digits = [rng.choice("0123456789") for _ in range(rng.randint(12, 19))]
        number = "".join(d + rng.choice(separators) for d in digits)
        text = rng.choice(["", "a ", "x", "4", " 1"]) + number + rng.choice(["", " b", "y", "-"])
        text += rng.choice(["", " 123-45-6789", " 078-05-1120x"])
        assert text.isascii()
        unicode_text = text + "\x00é"  # not ASCII: the str search; NUL keeps "é" apart
        assert find_sensitive_spans(text, lambda key: None, False) == find_sensitive_spans(
            unicode_text, lambda key: None, False
        ), text
