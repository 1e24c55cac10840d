import orjson
import pytest

from tracehound.ingest.security import SecurityReportError, security_report_to_event

POLICY = (
    "default-src 'self'; script-src 'self' https://cdn.example.com; "
    "report-uri https://tracehound.example.com/api/42/security/?sentry_key=publickey123"
)
CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)

# Shapes as Chrome and Firefox send them to a report-uri endpoint.
CHROME_BLOCKED_SCRIPT = {
    "csp-report": {
        "document-uri": "https://shop.example.com/checkout",
        "referrer": "https://shop.example.com/cart",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "original-policy": POLICY,
        "disposition": "enforce",
        "blocked-uri": "https://evil.example.com/inject.js",
        "status-code": 200,
        "script-sample": "",
    }
}
CHROME_INLINE_SCRIPT = {
    "csp-report": {
        "document-uri": "https://shop.example.com/checkout",
        "referrer": "",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "original-policy": POLICY,
        "disposition": "enforce",
        "blocked-uri": "inline",
        "line-number": 27,
        "column-number": 11,
        "source-file": "https://shop.example.com/checkout",
        "status-code": 200,
        "script-sample": 'console.log("injected")',
    }
}
CHROME_EVAL = {
    "csp-report": {
        "document-uri": "https://shop.example.com/checkout",
        "referrer": "",
        "violated-directive": "script-src",
        "effective-directive": "script-src",
        "original-policy": POLICY,
        "disposition": "report",
        "blocked-uri": "eval",
        "line-number": 1,
        "column-number": 1043,
        "source-file": "https://cdn.example.com/app.min.js",
        "status-code": 200,
        "script-sample": "",
    }
}
FIREFOX_BLOCKED_SCRIPT = {
    "csp-report": {
        "blocked-uri": "https://evil.example.com/inject.js",
        "column-number": 1,
        "disposition": "enforce",
        "document-uri": "https://shop.example.com/checkout",
        "effective-directive": "script-src-elem",
        "line-number": 12,
        "original-policy": POLICY,
        "referrer": "",
        "source-file": "https://shop.example.com/checkout",
        "status-code": 0,
        "violated-directive": "script-src-elem",
    }
}
FIREFOX_INLINE_STYLE = {
    "csp-report": {
        "blocked-uri": "inline",
        "column-number": 5,
        "disposition": "enforce",
        "document-uri": "https://shop.example.com/checkout",
        "effective-directive": "style-src-attr",
        "line-number": 40,
        "original-policy": "default-src 'self'; report-uri /csp",
        "referrer": "",
        "source-file": "https://shop.example.com/checkout",
        "status-code": 0,
        "violated-directive": "style-src-attr",
    }
}
# Older Firefox: no effective-directive, the full directive text, and "self" for inline.
OLD_FIREFOX_INLINE = {
    "csp-report": {
        "blocked-uri": "self",
        "document-uri": "http://shop.example.com/",
        "original-policy": "script-src http://shop.example.com; report-uri /csp",
        "referrer": "",
        "violated-directive": "script-src http://shop.example.com",
    }
}
REPORTING_API_BATCH = [
    {
        "age": 3120,
        "body": {"id": "NavigatorVibrate", "message": "vibrate is deprecated", "sourceFile": None},
        "type": "deprecation",
        "url": "https://shop.example.com/checkout",
        "user_agent": CHROME_UA,
    },
    {
        "age": 53,
        "body": {
            "blockedURL": "https://tracker.example.net/pixel.gif?id=1",
            "columnNumber": None,
            "disposition": "report",
            "documentURL": "https://shop.example.com/checkout",
            "effectiveDirective": "img-src",
            "lineNumber": None,
            "originalPolicy": "default-src 'self'; report-to csp-endpoint",
            "referrer": "https://www.google.com/",
            "sample": "",
            "sourceFile": None,
            "statusCode": 200,
        },
        "type": "csp-violation",
        "url": "https://shop.example.com/checkout",
        "user_agent": CHROME_UA,
    },
]
EXPECT_CT = {
    "expect-ct-report": {
        "date-time": "2021-03-04T10:11:12.000Z",
        "hostname": "shop.example.com",
        "port": 443,
        "effective-expiration-date": "2021-03-05T10:11:12.000Z",
        "served-certificate-chain": [
            "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----"
        ],
        "validated-certificate-chain": [],
        "scts": [
            {"version": 1, "status": "invalid", "source": "embedded", "serialized_sct": "AB=="}
        ],
    }
}
EXPECT_STAPLE = {
    "expect-staple-report": {
        "date-time": "2021-03-04T10:11:12.000Z",
        "hostname": "shop.example.com",
        "port": 443,
        "effective-expiration-date": "2021-03-05T10:11:12.000Z",
        "response-status": "ERROR_RESPONSE",
        "cert-status": "REVOKED",
        "served-certificate-chain": [],
        "validated-certificate-chain": [],
    }
}
HPKP = {
    "date-time": "2014-04-06T13:00:50Z",
    "hostname": "www.example.com",
    "port": 443,
    "effective-expiration-date": "2014-05-01T12:40:50Z",
    "include-subdomains": False,
    "noted-hostname": "example.com",
    "served-certificate-chain": ["-----BEGIN CERTIFICATE-----\nMIIE...\n-----END CERTIFICATE-----"],
    "validated-certificate-chain": [],
    "known-pins": ['pin-sha256="d6qzRu9zOECb90Uez27xWltNsj0e1Md7GkYYkVoZWmM="'],
}


def _event(report: object, content_type: str | None = "application/csp-report") -> dict:
    return security_report_to_event(orjson.dumps(report), content_type)


# --- CSP report-uri -----------------------------------------------------------------


def test_it_turns_a_chrome_blocked_script_into_an_event():
    event = _event(CHROME_BLOCKED_SCRIPT)
    assert event["logger"] == "csp"
    assert event["level"] == "error"
    assert event["logentry"] == {"formatted": "Blocked 'script' from 'evil.example.com'"}
    assert event["culprit"] == "script-src-elem"
    assert event["csp"] == {
        "document_uri": "https://shop.example.com/checkout",
        "blocked_uri": "https://evil.example.com/inject.js",
        "effective_directive": "script-src-elem",
        "violated_directive": "script-src-elem",
        "original_policy": POLICY,
        "referrer": "https://shop.example.com/cart",
        "status_code": 200,
        "script_sample": "",
        "disposition": "enforce",
    }
    assert event["request"] == {
        "url": "https://shop.example.com/checkout",
        "headers": {"Referer": "https://shop.example.com/cart"},
    }
    assert event["tags"] == [
        ["effective-directive", "script-src-elem"],
        ["blocked-uri", "https://evil.example.com/inject.js"],
    ]


def test_it_describes_a_chrome_inline_script_with_its_location():
    event = _event(CHROME_INLINE_SCRIPT)
    assert event["logentry"]["formatted"] == "Blocked inline 'script'"
    assert event["csp"]["line_number"] == 27
    assert event["csp"]["column_number"] == 11
    assert event["csp"]["source_file"] == "https://shop.example.com/checkout"
    assert event["csp"]["script_sample"] == 'console.log("injected")'
    assert "headers" not in event["request"]  # an empty referrer is no header


def test_it_describes_an_unsafe_eval():
    event = _event(CHROME_EVAL)
    assert event["logentry"]["formatted"] == "Blocked unsafe eval() 'script'"
    assert event["csp"]["disposition"] == "report"


def test_it_turns_a_firefox_blocked_script_into_the_same_message_as_chrome():
    assert _event(FIREFOX_BLOCKED_SCRIPT)["logentry"] == _event(CHROME_BLOCKED_SCRIPT)["logentry"]


def test_it_describes_a_firefox_inline_style():
    event = _event(FIREFOX_INLINE_STYLE, "application/csp-report")
    assert event["logentry"]["formatted"] == "Blocked inline 'style'"
    assert event["culprit"] == "style-src-attr"


def test_it_derives_the_effective_directive_from_the_violated_directive():
    event = _event(OLD_FIREFOX_INLINE, "application/json")
    assert event["csp"]["effective_directive"] == "script-src"
    assert event["csp"]["violated_directive"] == "script-src http://shop.example.com"
    assert event["logentry"]["formatted"] == "Blocked inline 'script'"
    assert event["tags"][0] == ["effective-directive", "script-src"]


@pytest.mark.parametrize(
    ("directive", "blocked", "message"),
    [
        ("img-src", "data", "Blocked 'image' from 'data:'"),
        ("img-src", "data:image/png;base64,iVBOR", "Blocked 'image' from 'data:'"),
        ("worker-src", "blob", "Blocked 'worker' from 'blob:'"),
        (
            "connect-src",
            "wss://push.example.org:8443/feed",
            "Blocked 'connect' from 'push.example.org:8443'",
        ),
        ("font-src", "https://shop.example.com/fonts/a.woff2", "Blocked 'font' from 'self'"),
        (
            "frame-ancestors",
            "https://other.example.com",
            "Blocked 'frame-ancestor' from 'other.example.com'",
        ),
        (
            "style-src-elem",
            "https://cdn.example.net/x.css",
            "Blocked 'style' from 'cdn.example.net'",
        ),
        ("script-src", "", "Blocked unsafe (eval() or inline) 'script'"),
        ("script-src", "wasm-eval", "Blocked unsafe WebAssembly eval() 'script'"),
        ("navigate-to", "https://x.example", "Blocked 'navigate-to' from 'x.example'"),
        (
            "media-src",
            "https://user:pw@media.example.com/v.mp4",
            "Blocked 'media' from 'media.example.com'",
        ),
    ],
)
def test_it_phrases_messages_like_sentry(directive, blocked, message):
    report = {
        "csp-report": {
            "document-uri": "https://shop.example.com/page",
            "effective-directive": directive,
            "violated-directive": directive,
            "blocked-uri": blocked,
        }
    }
    assert _event(report)["logentry"]["formatted"] == message


def test_it_accepts_quoted_line_numbers_and_drops_wrongly_typed_fields():
    report = {
        "csp-report": {
            "document-uri": "https://shop.example.com/",
            "violated-directive": "img-src",
            "blocked-uri": "https://x.example/a.png",
            "line-number": "12",
            "column-number": True,
            "status-code": "²",
            "referrer": ["not", "a", "string"],
            "unknown-field": "ignored",
        }
    }
    csp = _event(report)["csp"]
    assert csp["line_number"] == 12
    assert "column_number" not in csp and "status_code" not in csp
    assert "referrer" not in csp and "unknown_field" not in csp


def test_it_accepts_a_content_type_with_parameters_or_none_at_all():
    body = orjson.dumps(CHROME_BLOCKED_SCRIPT)
    assert security_report_to_event(body, "application/json; charset=utf-8")["logger"] == "csp"
    assert security_report_to_event(body, None)["logger"] == "csp"


# --- Reporting API (report-to) ---------------------------------------------------------


def test_it_uses_the_first_csp_violation_in_a_reporting_api_batch():
    event = _event(REPORTING_API_BATCH, "application/reports+json")
    assert event["logentry"]["formatted"] == "Blocked 'image' from 'tracker.example.net'"
    assert event["csp"]["document_uri"] == "https://shop.example.com/checkout"
    assert event["csp"]["effective_directive"] == "img-src"
    assert event["csp"]["violated_directive"] == "img-src"
    assert event["csp"]["disposition"] == "report"
    assert "line_number" not in event["csp"]  # null in the report
    assert event["request"]["headers"] == {
        "Referer": "https://www.google.com/",
        "User-Agent": CHROME_UA,
    }


def test_it_reads_the_inline_sample_from_a_reporting_api_body():
    batch = [
        {
            "type": "csp-violation",
            "url": "https://shop.example.com/",
            "body": {
                "documentURL": "https://shop.example.com/",
                "blockedURL": "inline",
                "effectiveDirective": "script-src-elem",
                "sample": "alert(1)",
                "lineNumber": 9,
                "columnNumber": 3,
                "sourceFile": "https://shop.example.com/",
                "disposition": "enforce",
                "statusCode": 200,
            },
        }
    ]
    event = _event(batch, "application/reports+json")
    assert event["csp"]["script_sample"] == "alert(1)"
    assert event["csp"]["line_number"] == 9
    assert event["logentry"]["formatted"] == "Blocked inline 'script'"


def test_it_falls_back_to_the_report_url_for_the_document():
    batch = [
        {
            "type": "csp-violation",
            "url": "https://a.example/",
            "body": {"effectiveDirective": "img-src"},
        }
    ]
    assert _event(batch, "application/reports+json")["request"]["url"] == "https://a.example/"


def test_it_accepts_a_single_unbatched_reporting_api_report():
    event = _event(REPORTING_API_BATCH[1], "application/reports+json")
    assert event["csp"]["effective_directive"] == "img-src"


def test_it_rejects_a_batch_without_csp_violations():
    with pytest.raises(SecurityReportError, match="no csp-violation"):
        _event(REPORTING_API_BATCH[:1], "application/reports+json")


# --- certificate reports -------------------------------------------------------------------


def test_it_turns_an_expect_ct_report_into_an_event():
    event = _event(EXPECT_CT, "application/expect-ct-report+json")
    assert event["logger"] == "expect-ct"
    assert event["logentry"]["formatted"] == "Expect-CT failed for 'shop.example.com:443'"
    assert event["culprit"] == "shop.example.com"
    assert event["expectct"]["hostname"] == "shop.example.com"
    assert event["expectct"]["scts"][0]["status"] == "invalid"
    assert event["expectct"]["effective_expiration_date"] == "2021-03-05T10:11:12.000Z"
    assert ["hostname", "shop.example.com"] in event["tags"]
    assert ["port", "443"] in event["tags"]


def test_it_turns_an_expect_staple_report_into_an_event():
    event = _event(EXPECT_STAPLE, "application/expect-staple-report")
    assert event["logger"] == "expect-staple"
    assert event["logentry"]["formatted"] == "Expect-Staple failed for 'shop.example.com:443'"
    assert event["expectstaple"]["response_status"] == "ERROR_RESPONSE"
    assert ["cert-status", "REVOKED"] in event["tags"]


def test_it_turns_an_hpkp_report_into_an_event():
    event = _event(HPKP, "application/json")
    assert event["logger"] == "hpkp"
    assert event["logentry"]["formatted"] == (
        "Public key pinning validation failed for 'www.example.com:443'"
    )
    assert event["hpkp"]["known_pins"] == HPKP["known-pins"]
    assert event["hpkp"]["noted_hostname"] == "example.com"
    assert event["hpkp"]["include_subdomains"] is False


def test_it_rejects_a_certificate_report_without_a_hostname():
    with pytest.raises(SecurityReportError, match="expect-ct report has no hostname"):
        _event({"expect-ct-report": {"port": 443}}, "application/expect-ct-report")


# --- errors ----------------------------------------------------------------------------


def test_it_rejects_invalid_json():
    with pytest.raises(SecurityReportError, match="not valid JSON"):
        security_report_to_event(b"{csp", "application/csp-report")


@pytest.mark.parametrize("body", [b'"text"', b"42", b"null"])
def test_it_rejects_json_that_is_neither_object_nor_array(body):
    with pytest.raises(SecurityReportError, match="not a JSON object or array"):
        security_report_to_event(body, "application/json")


def test_it_rejects_an_unknown_report_shape():
    with pytest.raises(SecurityReportError, match="unrecognized security report"):
        _event({"nel": {"type": "http.error"}}, "application/json")


def test_it_rejects_a_csp_report_that_is_not_an_object():
    with pytest.raises(SecurityReportError, match="csp-report is not a JSON object"):
        _event({"csp-report": "nope"})


def test_it_rejects_a_csp_report_without_a_document_uri():
    report = {"csp-report": {"violated-directive": "img-src", "blocked-uri": "data"}}
    with pytest.raises(SecurityReportError, match="no document-uri"):
        _event(report)


def test_it_rejects_a_csp_report_without_any_directive():
    report = {"csp-report": {"document-uri": "https://a.example/", "blocked-uri": "data"}}
    with pytest.raises(SecurityReportError, match="no effective-directive or violated-directive"):
        _event(report)


def test_it_rejects_an_unsupported_content_type():
    with pytest.raises(SecurityReportError, match="'text/html'"):
        security_report_to_event(orjson.dumps(CHROME_BLOCKED_SCRIPT), "text/html")
