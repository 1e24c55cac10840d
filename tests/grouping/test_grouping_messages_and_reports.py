"""Message events, CSP reports, thread stacks and the empty-event fallback."""

import hashlib

import pytest

from tracehound.grouping import group_event


def md5(*values: str) -> str:
    return hashlib.md5("".join(values).encode()).hexdigest()


def message(**logentry):
    return {"platform": "python", "logentry": logentry}


def test_a_message_groups_on_its_template_not_its_parameters():
    first = message(message="user %s logged in", params=["alice"], formatted="user alice logged in")
    second = message(message="user %s logged in", params=["bob"], formatted="user bob logged in")
    assert group_event(first).hashes == group_event(second).hashes == [md5("user %s logged in")]


def test_without_a_template_the_formatted_message_is_parameterized():
    first = group_event(message(formatted="order 12 shipped to 10.0.0.1"))
    second = group_event(message(formatted="order 99 shipped to 10.0.0.2"))
    assert first.hashes == second.hashes == [md5("order <int> shipped to <ip>")]


def test_different_messages_are_different_issues():
    assert (
        group_event(message(formatted="disk full")).hashes
        != group_event(message(formatted="disk empty")).hashes
    )


def test_a_message_event_is_titled_by_the_first_line_of_its_formatted_message():
    result = group_event(message(message="job %s failed", formatted="job 7 failed\ntraceback..."))
    assert (result.type, result.title, result.metadata) == (
        "default",
        "job 7 failed",
        {"title": "job 7 failed"},
    )


def test_a_long_message_title_is_cut_at_100_characters():
    title = group_event(message(formatted="x" * 300)).title
    assert len(title) == 100 and title.endswith("…")


def test_a_message_with_a_thread_stack_groups_on_the_stack():
    stack = {
        "frames": [{"module": "jobs", "function": "run", "context_line": "go()", "in_app": True}]
    }
    first = message(formatted="job 1 failed")
    first["threads"] = {"values": [{"id": 1, "current": True, "stacktrace": stack}]}
    second = message(formatted="something else entirely")
    second["threads"] = {"values": [{"id": 9, "current": True, "stacktrace": stack}]}
    assert group_event(first).hashes == group_event(second).hashes == [md5("jobs", "run", "go()")]
    assert group_event(first).culprit == "jobs in run"


def test_only_the_crashed_thread_groups_when_several_have_stacks():
    def thread(function, crashed=False):
        frames = [{"module": "w", "function": function, "in_app": True}]
        return {"crashed": crashed, "stacktrace": {"frames": frames}}

    event = {"platform": "java", "threads": {"values": [thread("idle"), thread("boom", True)]}}
    assert group_event(event).hashes == [md5("w", "boom")]


def test_events_with_nothing_to_group_on_share_one_issue():
    assert group_event({}).hashes == group_event({"platform": "go", "level": "info"}).hashes
    assert group_event({}).hashes == [md5()]
    assert group_event({}).title == "<unlabeled event>"


# --- CSP ------------------------------------------------------------------------------


def csp_event(blocked_uri, effective="script-src", formatted=None, **report):
    data = {
        "platform": "other",
        "csp": {
            "effective_directive": effective,
            "blocked_uri": blocked_uri,
            "document_uri": "https://shop.example.com/cart",
            "violated_directive": f"{effective} 'self' 'nonce-abc123'",
            **report,
        },
    }
    if formatted:
        data["logentry"] = {"formatted": formatted}
    return data


@pytest.mark.parametrize(
    ("blocked_uri", "key"),
    [
        ("https://evil.example.net/a.js?x=1", "evil.example.net"),
        ("https://www.evil.example.net/b.js", "evil.example.net"),
        ("https://shop.example.com/own.js", "'self'"),
        ("self", "'self'"),
        ("inline", "'unsafe-inline'"),
        ("eval", "'unsafe-eval'"),
        ("data", "data:"),
        ("data:image/png;base64,AAAA", "data:"),
        ("blob:https://shop.example.com/1234", "blob:"),
    ],
)
def test_csp_reports_group_on_directive_and_blocked_origin(blocked_uri, key):
    assert group_event(csp_event(blocked_uri)).hashes == [md5("script-src", key)]


def test_csp_reports_from_different_pages_of_the_same_origin_group_together():
    first = csp_event("https://evil.example.net/a.js")
    second = csp_event(
        "https://evil.example.net/other/b.js", document_uri="https://shop.example.com/"
    )
    assert group_event(first).hashes == group_event(second).hashes


def test_a_csp_report_is_titled_by_its_message():
    result = group_event(csp_event("https://evil.example.net/a.js", formatted="Blocked 'script'"))
    assert (result.type, result.title) == ("csp", "Blocked 'script'")
    assert result.metadata == {
        "directive": "script-src",
        "uri": "evil.example.net",
        "message": "Blocked 'script'",
    }


def test_a_csp_report_without_a_message_gets_one():
    assert group_event(csp_event("https://evil.example.net/a.js")).title == (
        "Blocked 'script' from 'evil.example.net'"
    )
    assert group_event(csp_event("inline")).title == "Blocked unsafe inline 'script'"


def test_a_csp_report_culprit_is_the_violated_directive_without_nonces():
    assert group_event(csp_event("inline")).culprit == "script-src 'self'"


def test_the_effective_directive_falls_back_to_the_violated_one():
    event = csp_event("https://evil.example.net/a.js")
    event["csp"]["effective_directive"] = ""
    assert group_event(event).hashes == [md5("script-src", "evil.example.net")]
