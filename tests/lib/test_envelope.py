import pathlib
import time

import orjson
import pytest

from tracehound.lib.envelope import (
    Envelope,
    EnvelopeError,
    Item,
    normalize_event_id,
    parse_envelope,
    serialize_envelope,
    validate_json_item,
)

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "envelopes"
EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
DASHED = "9EC79C33-EC99-42AB-8353-589FCB2E04DC"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- real SDK envelopes -----------------------------------------------------------


def test_it_parses_a_python_exception_with_its_chained_cause():
    env = parse_envelope(_fixture("python-exception.envelope"))
    assert env.event_id is not None and len(env.event_id) == 32
    assert env.headers["trace"]["release"] == "fixtures@1.0.0"
    [item] = env.items
    assert item.type == "event"
    assert item.headers["content_type"] == "application/json"
    assert item.headers["length"] == len(item.payload)
    event = validate_json_item(item, 1)
    assert event["event_id"] == env.event_id
    types = [value["type"] for value in event["exception"]["values"]]
    assert types == ["KeyError", "ValueError"]


def test_it_parses_a_python_message_event():
    env = parse_envelope(_fixture("python-message.envelope"))
    event = validate_json_item(env.items[0], 1)
    assert event["message"] == "Disk usage is at 91%"
    assert event["level"] == "warning"


def test_it_parses_python_attachments_byte_for_byte():
    env = parse_envelope(_fixture("python-attachment.envelope"))
    assert [item.type for item in env.items] == ["event", "attachment", "attachment"]
    note, blob = env.items[1], env.items[2]
    assert note.headers["filename"] == "note.txt"
    assert note.payload == b"line one\nline two\r\n"
    assert blob.headers["filename"] == "blob.bin"
    assert blob.payload == bytes(range(256))


def test_it_parses_a_python_transaction():
    env = parse_envelope(_fixture("python-transaction.envelope"))
    [item] = env.items
    assert item.type == "transaction"
    assert validate_json_item(item, 1)["transaction"] == "GET /widgets"
    assert env.headers["trace"]["sampled"] == "true"


def test_it_parses_a_python_check_in():
    env = parse_envelope(_fixture("python-check-in.envelope"))
    check_in = validate_json_item(env.items[0], 1)
    assert check_in["monitor_slug"] == "nightly-report"
    assert check_in["status"] == "ok"


def test_it_parses_python_user_feedback_and_user_reports():
    feedback = parse_envelope(_fixture("python-feedback.envelope"))
    assert feedback.items[0].type == "feedback"
    contexts = validate_json_item(feedback.items[0], 1)["contexts"]
    assert contexts["feedback"]["message"] == "The export button does nothing.\nTried twice."

    report = parse_envelope(_fixture("python-user-report.envelope"))
    assert report.items[0].type == "user_report"
    assert validate_json_item(report.items[0], 1)["comments"] == "It broke when I clicked save."


def test_it_parses_a_node_event_without_length_headers():
    data = _fixture("js-node-event.envelope")
    assert b'"length"' not in data
    env = parse_envelope(data)
    assert env.headers["sdk"]["name"] == "sentry.javascript.node"
    [item] = env.items
    assert item.headers == {"type": "event"}
    event = validate_json_item(item, 1)
    assert event["timestamp"] == 1795341823.837
    assert event["event_id"] == env.event_id


def test_it_parses_a_browser_envelope_with_several_unlengthed_items():
    env = parse_envelope(_fixture("js-browser-session.envelope"))
    assert env.event_id is None
    assert [item.type for item in env.items] == ["session", "client_report"]
    assert validate_json_item(env.items[0], 1)["attrs"]["ip_address"] == "{{auto}}"


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.envelope")), ids=lambda p: p.name)
def test_every_fixture_survives_a_serialize_round_trip(path):
    env = parse_envelope(path.read_bytes())
    again = parse_envelope(serialize_envelope(env))
    assert again.headers == env.headers
    assert [item.payload for item in again.items] == [item.payload for item in env.items]
    assert [item.type for item in again.items] == [item.type for item in env.items]


# --- framing ------------------------------------------------------------------------


def test_it_accepts_an_empty_envelope_header():
    env = parse_envelope(b"{}")
    assert env.headers == {} and env.items == [] and env.event_id is None


def test_it_accepts_a_header_only_envelope_with_trailing_newline():
    assert parse_envelope(b"{}\n").items == []


def test_it_reads_a_lengthed_payload_containing_newlines():
    data = b'{}\n{"type":"attachment","length":6}\na\nb\r\nc\n'
    assert parse_envelope(data).items[0].payload == b"a\nb\r\nc"


def test_it_keeps_carriage_returns_before_newline_in_unlengthed_payloads():
    env = parse_envelope(b'{}\n{"type":"event"}\n{"a":1}\r\n')
    assert env.items[0].payload == b'{"a":1}\r'
    assert validate_json_item(env.items[0], 1) == {"a": 1}


def test_it_tolerates_crlf_after_header_lines():
    env = parse_envelope(b'{"event_id":"' + EVENT_ID.encode() + b'"}\r\n{"type":"event"}\r\n{}')
    assert env.event_id == EVENT_ID
    assert env.items[0].payload == b"{}"


def test_it_accepts_a_lengthed_payload_ending_exactly_at_eof():
    env = parse_envelope(b'{}\n{"type":"attachment","length":3}\nabc')
    assert env.items[0].payload == b"abc"


def test_it_accepts_zero_length_payloads():
    env = parse_envelope(b'{}\n{"type":"attachment","length":0}\n\n{"type":"session"}\n{}')
    assert [item.payload for item in env.items] == [b"", b"{}"]


def test_it_accepts_an_empty_unlengthed_payload_between_items():
    env = parse_envelope(b'{}\n{"type":"client_report"}\n\n{"type":"session"}\n{}\n')
    assert [item.payload for item in env.items] == [b"", b"{}"]


def test_it_accepts_an_item_header_at_eof_as_an_empty_payload():
    env = parse_envelope(b'{}\n{"type":"attachment"}')
    assert env.items[0].payload == b""


def test_it_ignores_empty_trailing_lines():
    env = parse_envelope(b'{}\n{"type":"event","length":2}\n{}\n\n\n')
    assert len(env.items) == 1


def test_it_keeps_unknown_item_types_and_headers():
    env = parse_envelope(b'{}\n{"type":"otel_log","x-custom":[1]}\npayload\n')
    assert env.items[0].type == "otel_log"
    assert env.items[0].headers["x-custom"] == [1]
    assert env.items[0].payload == b"payload"


def test_it_treats_a_null_length_as_absent():
    env = parse_envelope(b'{}\n{"type":"event","length":null}\n{}\n')
    assert env.items[0].payload == b"{}"


# --- framing errors -------------------------------------------------------------------


def _error(data: bytes) -> str:
    with pytest.raises(EnvelopeError) as info:
        parse_envelope(data)
    return str(info.value)


def test_it_rejects_length_past_end_of_body():
    data = b'{}\n{"type":"event","length":2}\n{}\n{"type":"attachment","length":500}\n' + b"x" * 120
    assert _error(data) == "item 2: length 500 exceeds remaining 120 bytes"


def test_it_rejects_a_lengthed_payload_not_followed_by_newline():
    message = _error(b'{}\n{"type":"attachment","length":2}\nabc\n')
    assert message == "item 1: payload is not followed by a newline"


def test_it_rejects_a_missing_item_type():
    assert _error(b'{}\n{"length":2}\n{}\n') == "item 1: missing type"


@pytest.mark.parametrize("value", [b"1", b'""', b"null", b'["event"]'])
def test_it_rejects_a_non_string_item_type(value):
    message = _error(b'{}\n{"type":' + value + b"}\n{}\n")
    assert message.startswith("item 1: ")


@pytest.mark.parametrize("value", [b"-1", b"1.5", b'"2"', b"true"])
def test_it_rejects_a_length_that_is_not_a_non_negative_integer(value):
    message = _error(b'{}\n{"type":"event","length":' + value + b"}\n{}\n")
    assert message.startswith("item 1: length ")
    assert "not a non-negative integer" in message


def test_it_rejects_an_envelope_header_that_is_not_json():
    assert _error(b"{nope\n").startswith("envelope header is not valid JSON: ")


@pytest.mark.parametrize("header", [b"[]", b'"x"', b"42", b"null"])
def test_it_rejects_an_envelope_header_that_is_not_an_object(header):
    assert _error(header + b"\n") == "envelope header is not a JSON object"


def test_it_rejects_an_empty_body():
    assert _error(b"") == "envelope header is missing"
    assert _error(b"\n") == "envelope header is missing"


def test_it_rejects_an_item_header_that_is_not_json():
    assert _error(b'{}\n{"type":"event"}\n{}\n{"type":\n').startswith(
        "item 2 header is not valid JSON: "
    )


def test_it_rejects_an_item_header_that_is_not_an_object():
    assert _error(b"{}\n[1,2]\n{}\n") == "item 1 header is not a JSON object"


def test_it_rejects_two_event_items():
    data = b'{}\n{"type":"event"}\n{}\n{"type":"event"}\n{}\n'
    assert _error(data) == "item 2: more than one event item"


@pytest.mark.parametrize("order", [("event", "transaction"), ("transaction", "event")])
def test_it_rejects_an_event_together_with_a_transaction(order):
    first, second = (t.encode() for t in order)
    data = b'{}\n{"type":"' + first + b'"}\n{}\n{"type":"' + second + b'"}\n{}\n'
    assert _error(data) == "item 2: event and transaction items are mutually exclusive"


def test_it_rejects_a_dsn_that_is_not_a_string():
    assert _error(b'{"dsn":42}\n') == "envelope header dsn is not a string"


def test_it_accepts_a_dsn_string_for_tunnels():
    env = parse_envelope(b'{"dsn":"http://publickey123@127.0.0.1:8936/42"}\n')
    assert env.headers["dsn"] == "http://publickey123@127.0.0.1:8936/42"


def test_it_rejects_an_invalid_event_id():
    assert "invalid event_id 'abc'" in _error(b'{"event_id":"abc"}\n')


def test_it_rejects_a_duplicate_sent_at():
    data = b'{"sent_at":"2026-01-01T00:00:00Z","sent_at":"2026-01-01T00:00:01Z"}\n'
    assert _error(data) == "envelope header has a duplicate sent_at"


def test_it_does_not_mistake_sent_at_inside_a_value_for_a_duplicate():
    data = b'{"sent_at":"2026-01-01T00:00:00Z","trace":{"transaction":"\\"sent_at\\""}}\n'
    assert parse_envelope(data).headers["trace"]["transaction"] == '"sent_at"'


# --- event ids ---------------------------------------------------------------------


def test_it_normalizes_a_dashed_uppercase_event_id():
    env = parse_envelope(b'{"event_id":"' + DASHED.encode() + b'"}\n')
    assert env.event_id == EVENT_ID


@pytest.mark.parametrize("value", [EVENT_ID, EVENT_ID.upper(), DASHED, DASHED.lower()])
def test_normalize_event_id_accepts_hex_and_uuid_forms(value):
    assert normalize_event_id(value) == EVENT_ID


def test_normalize_event_id_passes_none_through():
    assert normalize_event_id(None) is None


@pytest.mark.parametrize(
    "value",
    ["", "abc", EVENT_ID + "0", EVENT_ID[:-1] + "g", "{" + DASHED + "}", 42, ["x"], " " + EVENT_ID],
)
def test_normalize_event_id_rejects_anything_else(value):
    with pytest.raises(EnvelopeError, match="invalid event_id"):
        normalize_event_id(value)


# --- JSON items ---------------------------------------------------------------------


def test_validate_json_item_names_the_item_when_json_is_invalid():
    item = Item({"type": "event"}, b"{not json")
    with pytest.raises(EnvelopeError, match=r"^item 3 \(event\): invalid JSON: "):
        validate_json_item(item, 3)


def test_validate_json_item_rejects_a_non_object():
    item = Item({"type": "session"}, b"[1]")
    with pytest.raises(EnvelopeError, match=r"^item 1 \(session\): payload is not a JSON object$"):
        validate_json_item(item, 1)


def test_validate_json_item_rejects_an_empty_payload():
    with pytest.raises(EnvelopeError, match="invalid JSON"):
        validate_json_item(Item({"type": "check_in"}, b""), 1)


# --- serialization ------------------------------------------------------------------


def test_serialize_writes_a_length_on_every_item():
    env = Envelope({"event_id": EVENT_ID}, [Item({"type": "event"}, b'{"a":"b"}')])
    assert serialize_envelope(env) == (
        b'{"event_id":"' + EVENT_ID.encode() + b'"}\n{"type":"event","length":9}\n{"a":"b"}\n'
    )


def test_serialize_replaces_a_stale_length():
    env = Envelope({}, [Item({"type": "attachment", "length": 99}, b"abc")])
    assert parse_envelope(serialize_envelope(env)).items[0].headers["length"] == 3


def test_serialize_round_trips_binary_payloads_with_newlines():
    payloads = [b"\n", b"a\r\n\n", bytes(range(256)), b""]
    env = Envelope({}, [Item({"type": "attachment", "filename": "f"}, p) for p in payloads])
    parsed = parse_envelope(serialize_envelope(env))
    assert [item.payload for item in parsed.items] == payloads
    assert serialize_envelope(parsed) == serialize_envelope(env)


def test_envelope_and_item_use_slots():
    item = Item({"type": "event"}, b"")
    with pytest.raises(AttributeError):
        item.extra = 1  # type: ignore[attr-defined]


# --- speed --------------------------------------------------------------------------


def test_it_parses_a_20_kb_envelope_quickly():
    event = orjson.dumps({"message": "x" * 20_000, "event_id": EVENT_ID})
    data = (
        b'{"event_id":"'
        + EVENT_ID.encode()
        + b'","sent_at":"2026-01-01T00:00:00Z"}\n'
        + b'{"type":"event","length":%d}\n' % len(event)
        + event
        + b"\n"
    )
    parse_envelope(data)
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        parse_envelope(data)
    per_parse = (time.perf_counter() - started) / rounds
    assert per_parse < 50e-6  # a few microseconds in practice; generous for CI noise


@pytest.mark.parametrize("which", ["envelope header", "item 1 header"])
def test_a_header_line_over_64_kib_is_refused_before_parsing(which):
    # A megabyte of nested duplicate sent_at keys kept the event loop busy ~70 ms.
    nested = b'{"sent_at":1,"x":' * 4000 + b"1" + b"}" * 4000
    if which == "envelope header":
        data = nested + b"\n"
    else:
        data = b"{}\n" + b'{"type":"event","pad":"' + b"p" * 70_000 + b'"}\n{}\n'
    assert _error(data) == f"{which} exceeds 65536 bytes"
