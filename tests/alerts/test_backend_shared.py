"""What the backends share: cutting and escaping hostile text, JSON-safe values, and
the mapping of an HTTP answer to success, retry, permanent failure or disabling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import orjson
import pytest

from tracehound.alerts import render
from tracehound.alerts.backends import check_service_url, classify, retry_after
from tracehound.alerts.base import ConfigError, DeliveryError
from tracehound.lib.outbound import Response


def answer(status: int, body: bytes = b"", **headers: str) -> Response:
    return Response(status, {k.replace("_", "-"): v for k, v in headers.items()}, body, 5)


def test_escaping_never_pushes_text_past_its_limit() -> None:
    text = "<&>" * 1000
    out = render.fit(text, 150, render.slack_escape)
    assert len(out) <= 150 and "<" not in out and out.startswith("&lt;&amp;&gt;")


def test_truncation_marks_the_cut_and_removes_control_characters() -> None:
    assert render.truncate("a\x00b\x1bc" + "d" * 10, 5) == "abcd…"
    assert render.one_line("one\ntwo\r\nthree\tfour", 100) == "one two three four"
    assert render.truncate("\ud800ok", 10) == "ok"


def test_markdown_punctuation_is_escaped() -> None:
    assert render.markdown_escape("*a* [b](c) _d_") == r"\*a\* \[b\]\(c\) \_d\_"


def test_huge_numbers_become_strings_that_any_json_parser_reads() -> None:
    value = {"n": 2**64, "small": 5, "nan": float("nan"), "deep": [[[[[[[1]]]]]]]}
    safe = render.json_safe(value)
    assert orjson.loads(orjson.dumps(safe)) == {
        "n": str(2**64),
        "small": 5,
        "nan": "nan",
        "deep": [[[["[[[1]]]"]]]],  # cut at five levels
    }
    assert render.count(2**64) == "18,446,744,073,709,551,616"
    assert render.count(10**40) == "1.000e+40"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("-3", None), ("nan", None), ("soon", None), ("99999999", 86400.0)],
)
def test_retry_after_in_seconds(header: str, expected: float | None) -> None:
    assert retry_after(answer(429, retry_after=header)) == expected


def test_retry_after_as_an_http_date() -> None:
    when = format_datetime(datetime.now(tz=UTC) + timedelta(seconds=60), usegmt=True)
    wait = retry_after(answer(503, retry_after=when))
    assert wait is not None and 55 <= wait <= 61


def test_answers_map_to_the_reference_classes() -> None:
    assert classify(answer(202, b"accepted"), ok=(202,)).excerpt == "accepted"
    with pytest.raises(DeliveryError) as gone:
        classify(answer(410, b"gone"), ok=(200,), disable=(410,))
    assert gone.value.disable_channel and not gone.value.retryable and gone.value.status == 410
    with pytest.raises(DeliveryError) as bad:
        classify(answer(400), ok=(200,), permanent=(400,))
    assert not bad.value.retryable and not bad.value.disable_channel
    with pytest.raises(DeliveryError) as limited:
        classify(answer(429), ok=(200,), retry_default=120.0)
    assert limited.value.retryable and limited.value.retry_after == 120.0
    with pytest.raises(DeliveryError, match="redirects are not followed") as moved:
        classify(answer(302, location="http://10.0.0.1/"), ok=(200,))
    assert moved.value.retryable and moved.value.retry_after is None


def test_a_service_url_must_be_https_unless_its_address_is_allowed(settings: object) -> None:
    import ipaddress

    check_service_url("u", "https://example.com/x")
    with pytest.raises(ConfigError, match="TRACEHOUND_OUTBOUND_ALLOW"):
        check_service_url("u", "http://10.1.2.3/x")
    settings.TRACEHOUND_OUTBOUND_ALLOW = [ipaddress.ip_network("10.0.0.0/8")]  # type: ignore[attr-defined]
    check_service_url("u", "http://10.1.2.3/x")
    with pytest.raises(ConfigError):
        check_service_url("u", "http://internal.example/x")  # names are not resolved here
