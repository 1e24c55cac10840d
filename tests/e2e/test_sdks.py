"""Real SDKs (sentry-sdk for Python, @sentry/node) against a running `tracehound serve`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.server import Server

CLIENTS = Path(__file__).parent
NODE_DIR = CLIENTS / "node"


def wait_for_event(server: Server, event_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    path = f"/api/0/projects/acme/backend/events/{event_id}/"
    while time.monotonic() < deadline:
        from tests.e2e.server import HTTP

        response = HTTP.request(
            "GET", server.url + path, headers={"Authorization": f"Bearer {server.token}"}
        )
        if response.status == 200:
            return response.json()
        time.sleep(0.1)
    raise AssertionError(f"event {event_id} was never stored")


def run_python_client(server: Server, release: str) -> dict[str, str]:
    """Run the sentry-sdk example app against the server; the event ids it sent."""
    out = subprocess.run(
        [sys.executable, str(CLIENTS / "clients" / "python_app.py"), server.dsn, release],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    ids: dict[str, str] = orjson.loads(out.stdout.strip().splitlines()[-1])
    return ids


def exception_values(event: dict[str, Any]) -> list[dict[str, Any]]:
    entry = next(e for e in event["entries"] if e["type"] == "exception")
    return entry["data"]["values"]


def tags(event: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in event["tags"]}


@pytest.fixture(scope="module")
def python_run(server: Server) -> dict[str, str]:
    return run_python_client(server, "shop@2.4.1")


@pytest.fixture(scope="module")
def node_run(server: Server) -> dict[str, str]:
    out = subprocess.run(
        ["node", str(NODE_DIR / "app.js"), server.dsn, "settings@1.0.0"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=NODE_DIR,
    )
    return orjson.loads(out.stdout.strip().splitlines()[-1])


def test_a_python_exception_with_its_cause_arrives_with_frames_and_context(server, python_run):
    event = wait_for_event(server, python_run["exception"])
    values = exception_values(event)
    assert [v["type"] for v in values] == ["KeyError", "PaymentError"]
    assert values[-1]["value"] == "could not charge order 7"
    frames = values[-1]["stacktrace"]["frames"]
    assert frames[-1]["function"] == "charge"
    assert frames[-1]["module"] == "__main__"
    lines = [line for _, line in frames[-1]["context"]]
    assert any("raise PaymentError" in line for line in lines)
    assert (
        dict(frames[-1]["context"])[frames[-1]["lineNo"]].strip().startswith("raise PaymentError")
    )
    assert event["title"] == "PaymentError: could not charge order 7"
    assert event["metadata"]["type"] == "PaymentError"


def test_python_event_carries_release_environment_user_and_tags(server, python_run):
    event = wait_for_event(server, python_run["exception"])
    assert event["release"] == {"version": "shop@2.4.1"}
    assert event["environment"] == "staging"
    assert event["user"]["id"] == "42"
    t = tags(event)
    assert t["customer"] == "acme-corp"
    assert t["environment"] == "staging"
    assert t["release"] == "shop@2.4.1"
    assert t["level"] == "error"
    crumbs = next(e for e in event["entries"] if e["type"] == "breadcrumbs")["data"]["values"]
    assert any(c.get("message") == "user clicked pay" for c in crumbs)


def test_python_secrets_in_frame_variables_are_scrubbed(server, python_run):
    event = wait_for_event(server, python_run["exception"])
    frame = exception_values(event)[-1]["stacktrace"]["frames"][-1]
    assert frame["vars"]["password"] == "[Filtered]"
    assert "4111 1111 1111 1111" not in orjson.dumps(event).decode()


def test_python_attachment_and_user_report_are_stored_with_the_event(server, python_run):
    event_id = python_run["exception"]
    wait_for_event(server, event_id)
    attachments = server.api(f"/api/0/projects/acme/backend/events/{event_id}/attachments/")
    assert [(a["name"], a["mimetype"], a["size"]) for a in attachments] == [
        ("order.txt", "text/plain", len(b"order=7\namount=19.99\n"))
    ]
    from tests.e2e.server import HTTP

    download = HTTP.request(
        "GET",
        f"{server.url}/api/0/projects/acme/backend/events/{event_id}/attachments/"
        f"{attachments[0]['id']}/?download=1",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert download.status == 200
    assert download.data == b"order=7\namount=19.99\n"
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith('attachment; filename="order.txt"')
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        feedback = server.api("/api/0/projects/acme/backend/user-feedback/")
        mine = [f for f in feedback if f["eventID"] == event_id]
        if mine:
            break
        time.sleep(0.1)
    assert mine[0]["comments"] == "Payment failed twice"
    assert mine[0]["issue"] is not None


def test_a_python_message_becomes_its_own_warning_issue(server, python_run):
    event = wait_for_event(server, python_run["message"])
    assert event["title"] == "Cache miss rate 93% for key user:1234"
    assert event["level"] == "warning"
    issue = server.api(f"/api/0/issues/{event['groupID']}/")
    assert issue["level"] == "warning"
    assert issue["metadata"]["title"] == "Cache miss rate 93% for key user:1234"


def test_the_issue_list_shows_python_issues_in_sentry_shape(server, python_run):
    wait_for_event(server, python_run["exception"])
    wait_for_event(server, python_run["message"])
    issues = server.api("/api/0/projects/acme/backend/issues/", limit=100)
    by_type = {i["metadata"].get("type"): i for i in issues}
    issue = by_type["PaymentError"]
    assert issue["title"] == "PaymentError: could not charge order 7"
    assert issue["shortId"].startswith("BACKEND-")
    assert int(issue["count"]) >= 1
    assert issue["userCount"] >= 1
    assert issue["status"] == "unresolved"
    assert issue["firstSeen"].endswith("Z") and issue["lastSeen"].endswith("Z")
    assert issue["culprit"]


def test_the_same_python_error_sent_again_joins_its_issue(server, python_run):
    first = wait_for_event(server, python_run["exception"])
    second = wait_for_event(server, run_python_client(server, "shop@2.4.2")["exception"])
    assert second["groupID"] == first["groupID"]
    latest = server.api(f"/api/0/issues/{first['groupID']}/events/latest/")
    assert latest["id"] == second["id"]
    assert int(server.api(f"/api/0/issues/{first['groupID']}/")["count"]) >= 2


def test_a_node_error_with_a_cause_arrives_with_frames_and_context(server, node_run):
    event = wait_for_event(server, node_run["exception"])
    values = exception_values(event)
    assert [v["type"] for v in values] == ["SyntaxError", "Error"]
    assert values[-1]["value"] == "could not load settings from /etc/app.json"
    frames = values[-1]["stacktrace"]["frames"]
    in_app = [f for f in frames if f["inApp"]]
    assert any(f["function"] == "loadSettings" for f in in_app)
    crash = [f for f in in_app if f["function"] == "loadSettings"][-1]
    assert any("throw new Error" in line for _, line in crash["context"])
    assert event["platform"] == "node"


def test_node_event_carries_release_environment_user_and_tags(server, node_run):
    event = wait_for_event(server, node_run["exception"])
    assert event["release"] == {"version": "settings@1.0.0"}
    assert event["environment"] == "production"
    assert event["user"]["username"] == "bob"
    assert tags(event)["region"] == "eu-west"
    assert event["contexts"]["runtime"]["name"] == "node"


def test_node_attachment_message_and_feedback_are_stored(server, node_run):
    event_id = node_run["exception"]
    wait_for_event(server, event_id)
    attachments = server.api(f"/api/0/projects/acme/backend/events/{event_id}/attachments/")
    assert [a["name"] for a in attachments] == ["settings.txt"]
    message = wait_for_event(server, node_run["message"])
    assert message["title"] == "Queue backlog above 1000 items"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        mine = [
            f
            for f in server.api("/api/0/projects/acme/backend/user-feedback/")
            if f["comments"] == "The settings page crashed"
        ]
        if mine:
            break
        time.sleep(0.1)
    assert mine[0]["eventID"] == event_id
    assert mine[0]["email"] == "bob@example.com"
