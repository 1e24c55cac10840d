"""Events captured from the real sentry-sdk group the way a user expects."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from tracehound.grouping import group_event


class CapturingTransport(Transport):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


@pytest.fixture
def transport() -> Iterator[CapturingTransport]:
    transport = CapturingTransport()
    sentry_sdk.init(
        dsn="http://k@127.0.0.1:1/1",
        transport=transport,
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def capture(transport: CapturingTransport) -> Callable[..., dict[str, Any]]:
    def run(code: Callable[..., object], *args: object) -> dict[str, Any]:
        # Called with its arguments here, not through a lambda: a lambda's source line
        # (with the data in it) would be a frame of its own and split the issue.
        try:
            code(*args)
        except BaseException:  # every kind of failure is the point
            sentry_sdk.capture_exception()
        else:
            raise AssertionError("the code did not raise")
        sentry_sdk.flush()
        return transport.events.pop()

    return run


def parse_quantity(raw: str) -> int:
    return int(raw)


def price_for(sku: str) -> int:
    return {"apple": 3}[sku]


def add_to_cart(raw_quantity: str) -> None:
    try:
        parse_quantity(raw_quantity)
    except ValueError as exc:
        raise RuntimeError(f"cannot add {raw_quantity!r} to the cart") from exc


def validate_all(*raw: str) -> None:
    errors: list[Exception] = []
    for item in raw:
        try:
            parse_quantity(item)
        except ValueError as exc:
            errors.append(exc)
    raise ExceptionGroup("invalid quantities", errors)


def test_the_same_failure_with_different_data_is_one_issue(capture):
    first = group_event(capture(parse_quantity, "abc"))
    second = group_event(capture(parse_quantity, "many"))
    assert first.hashes == second.hashes
    assert first.title == "ValueError: invalid literal for int() with base 10: 'abc'"
    assert first.culprit.endswith(" in parse_quantity")
    assert first.metadata["function"] == "parse_quantity"


def test_different_exception_types_are_different_issues(capture):
    value_error = group_event(capture(parse_quantity, "abc"))
    key_error = group_event(capture(price_for, "pear"))
    assert value_error.hashes[0] != key_error.hashes[0]
    assert key_error.title == "KeyError: 'pear'"


def test_a_raise_from_chain_is_one_issue_named_after_the_outer_exception(capture):
    first = group_event(capture(add_to_cart, "abc"))
    second = group_event(capture(add_to_cart, "lots"))
    assert first.hashes == second.hashes
    assert first.title == "RuntimeError: cannot add 'abc' to the cart"
    alone = group_event(capture(parse_quantity, "abc"))
    assert not set(first.hashes) & set(alone.hashes)


def test_the_sdk_event_groups_on_stack_and_type_only(capture):
    event = capture(parse_quantity, "abc")
    frames = event["exception"]["values"][0]["stacktrace"]["frames"]
    assert any(frame.get("in_app") for frame in frames)
    assert group_event(event).metadata["in_app_frame_mix"] in ("in-app-only", "mixed")


def test_an_exception_group_of_alike_failures_is_named_after_the_failure(capture):
    result = group_event(capture(validate_all, "a", "b"))
    assert result.title == "ValueError: invalid literal for int() with base 10: 'a'"
    again = group_event(capture(validate_all, "x", "y", "z"))
    assert again.hashes == result.hashes


def test_an_exception_group_of_different_failures_is_named_after_the_group(capture):
    def mixed() -> None:
        raise ExceptionGroup("batch failed", [ValueError("bad"), KeyError("missing")])

    result = group_event(capture(mixed))
    assert result.title == "ExceptionGroup: batch failed"


def test_a_captured_message_groups_on_its_text(transport):
    sentry_sdk.capture_message("cart 12 abandoned")
    sentry_sdk.capture_message("cart 99 abandoned")
    sentry_sdk.flush()
    first, second = (group_event(event) for event in transport.events)
    assert first.hashes == second.hashes
    assert (first.type, first.title) == ("default", "cart 12 abandoned")
