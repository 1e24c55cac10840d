"""Derived tags: from contexts when the SDK sends them, else from the User-Agent."""

from __future__ import annotations

import pytest
from tests.issues.digesting import error, send

from tracehound.digest.tags import event_tags
from tracehound.digest.useragent import MAX_LENGTH, parse_browser, parse_os
from tracehound.issues.models import IssueTagValue

CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)
EDGE_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.1 Safari/605.1.15"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.6099.144 Mobile Safari/537.36"
)
OPERA_WIN = (
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0"
)
CHROME_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("ua", "browser", "os"),
    [
        (CHROME_MAC, ("Chrome", "120.0.0.0"), ("Mac OS X", "10.15.7")),
        (EDGE_WIN, ("Edge", "120.0.2210.91"), ("Windows", "10")),
        (FIREFOX_LINUX, ("Firefox", "121.0"), ("Linux", "")),
        (SAFARI_MAC, ("Safari", "17.1"), ("Mac OS X", "10.15.7")),
        (SAFARI_IPHONE, ("Mobile Safari", "17.1.2"), ("iOS", "17.1.2")),
        (CHROME_ANDROID, ("Chrome Mobile", "120.0.6099.144"), ("Android", "14")),
        (OPERA_WIN, ("Opera", "105.0.0.0"), ("Windows", "7")),
        (CHROME_IPAD, ("Chrome Mobile iOS", "120.0.6099.119"), ("iOS", "16.6")),
        ("curl/8.4.0", None, None),
    ],
)
def test_user_agents_of_the_big_families(ua, browser, os):
    assert (tuple(parse_browser(ua)) if parse_browser(ua) else None) == browser
    assert (tuple(parse_os(ua)) if parse_os(ua) else None) == os


@pytest.mark.parametrize(
    "ua",
    [
        "Chrome/" + "1." * 100_000,
        "Version/1" + " " * 200_000 + "Mobile Safari/",
        "(iPad" + " OS " * 100_000,
        "Mozilla/5.0 (" * 50_000,
        "\x00" * 10_000 + "Firefox/1",
    ],
)
def test_hostile_user_agents_are_read_only_up_to_a_bound(ua):
    parse_browser(ua), parse_os(ua)  # no error, and (below) no more than MAX_LENGTH read
    padded = "x" * MAX_LENGTH + "Firefox/121.0 (Windows NT 10.0)"
    assert parse_browser(padded) is None and parse_os(padded) is None


def headers_event(ua: str, **fields) -> dict:
    return {
        "request": {"url": "https://shop.example/cart?id=3#top", "headers": [["User-Agent", ua]]},
        **fields,
    }


def test_a_browser_event_gets_browser_and_os_from_its_user_agent():
    tags = dict(event_tags(headers_event(CHROME_MAC)))
    assert tags["browser"] == "Chrome 120.0.0.0"
    assert tags["browser.name"] == "Chrome"
    assert tags["os"] == "Mac OS X 10.15.7"
    assert tags["os.name"] == "Mac OS X"
    assert tags["url"] == "https://shop.example/cart"


def test_contexts_win_over_the_user_agent():
    event = headers_event(
        CHROME_MAC,
        contexts={
            "browser": {"name": "Firefox", "version": "115"},
            "os": {"name": "Windows", "version": "11"},
            "runtime": {"name": "CPython", "version": "3.11.4"},
            "device": {"family": "iOS", "model": "iPhone15,2"},
        },
    )
    tags = dict(event_tags(event))
    assert (tags["browser"], tags["browser.name"]) == ("Firefox 115", "Firefox")
    assert (tags["os"], tags["os.name"]) == ("Windows 11", "Windows")
    assert (tags["runtime"], tags["runtime.name"]) == ("CPython 3.11.4", "CPython")
    assert tags["device"] == "iPhone15,2"


def test_device_falls_back_to_its_family_and_missing_versions_are_left_out():
    tags = dict(event_tags({"contexts": {"device": {"family": "Pixel"}, "os": {"name": "Linux"}}}))
    assert tags["device"] == "Pixel"
    assert tags["os"] == "Linux"


def test_handled_mechanism_and_user_tags():
    event = {
        "user": {"email": "jane@example.com"},
        "exception": {
            "values": [{"type": "E", "mechanism": {"type": "onerror", "handled": False}}]
        },
    }
    tags = dict(event_tags(event))
    assert tags["handled"] == "no"
    assert tags["mechanism"] == "onerror"
    assert tags["user"] == "email:jane@example.com"
    assert not any(key.startswith("user.") for key in tags)


def test_user_fields_the_user_tag_does_not_hold_get_their_own_tags():
    user = {"id": 7, "email": "jane@example.com", "username": "jane", "ip_address": "10.0.0.1"}
    tags = {k: v for k, v in event_tags({"user": user}) if k.startswith("user")}
    assert tags == {
        "user": "id:7",
        "user.email": "jane@example.com",
        "user.username": "jane",
        "user.ip": "10.0.0.1",
    }
    tags = {k: v for k, v in event_tags({"user": {"username": "jane"}}) if k.startswith("user")}
    assert tags == {"user": "username:jane"}


def test_an_sdk_tag_wins_over_a_derived_one():
    tags = dict(event_tags({"tags": [["browser", "custom"]], **headers_event(CHROME_MAC)}))
    assert tags["browser"] == "custom"
    assert tags["browser.name"] == "Chrome"


@pytest.mark.parametrize(
    "request_",
    [
        {"headers": "not a list"},
        {"headers": [["User-Agent", 5]]},
        {"headers": [["User-Agent"]]},
        {"url": 5},
    ],
)
def test_odd_request_shapes_add_no_tags(request_):
    tags = dict(event_tags({"request": request_}))
    assert "browser" not in tags and "url" not in tags


@pytest.mark.django_db(transaction=True)
def test_a_browser_event_is_faceted_by_browser_and_os_after_digest(wsgi, project, digest_all):
    send(wsgi, project, error(platform="javascript", **headers_event(SAFARI_IPHONE)))
    send(wsgi, project, error(platform="javascript", **headers_event(CHROME_ANDROID)))
    digest_all()
    facets = dict(
        IssueTagValue.objects.filter(key__in=["browser.name", "os.name"]).values_list(
            "value", "times_seen"
        )
    )
    assert facets == {"Mobile Safari": 1, "iOS": 1, "Chrome Mobile": 1, "Android": 1}
