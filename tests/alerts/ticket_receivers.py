"""Local Jira Cloud and GitHub receivers on 127.0.0.1 for the ticket backends' tests.

Each keeps its tickets in memory, checks every request against the service's published
contract (Atlassian's ADF JSON schema from npm `@atlaskit/adf-schema`; GitHub's OpenAPI
request schemas from npm `@octokit/openapi`, both installed by
`make tests/e2e/node/node_modules/.installed`, never committed) plus the documented limits,
and can be scripted to fail: `receiver.fail("create", status=500)`, a 429 with Retry-After,
a 403 rate limit, 410, a slow answer (`delay=`), or `reset=True`: do the work (create the
ticket) and then reset the connection instead of answering.

A request that breaks the contract is answered 400 and recorded in `receiver.violations`;
every test's teardown asserts there are none.
"""

from __future__ import annotations

import base64
import functools
import re
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import orjson
import pytest

NODE_MODULES = Path(__file__).resolve().parents[1] / "e2e" / "node" / "node_modules"
ADF_SCHEMA = NODE_MODULES / "@atlaskit" / "adf-schema" / "json-schema" / "v1" / "full.json"
GITHUB_OPENAPI = NODE_MODULES / "@octokit" / "openapi" / "generated" / "api.github.com.deref.json"


def _load(path: Path) -> Any:
    if not path.exists():
        pytest.fail(
            f"{path} is missing: run `make tests/e2e/node/node_modules/.installed` "
            "(fetches the published schemas from npm)"
        )
    return orjson.loads(path.read_bytes())


@functools.cache
def adf_validator() -> jsonschema.protocols.Validator:
    schema = _load(ADF_SCHEMA)
    return jsonschema.Draft4Validator(schema)


@functools.cache
def github_validators() -> dict[str, jsonschema.protocols.Validator]:
    """operationId → validator of its JSON request body."""
    spec = _load(GITHUB_OPENAPI)
    wanted = {"issues/create", "issues/create-comment", "issues/update"}
    found: dict[str, jsonschema.protocols.Validator] = {}
    for operations in spec["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and operation.get("operationId") in wanted:
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                found[operation["operationId"]] = jsonschema.Draft7Validator(schema)
    assert set(found) == wanted, f"OpenAPI lacks {wanted - set(found)}"
    return found


class Violation(Exception):
    """The request breaks the service's contract."""


@dataclass
class Fault:
    status: int = 0  # 0: answer normally
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    reset: bool = False  # do the work, then reset the connection
    delay: float = 0.0  # do the work, then wait this long before answering


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    route: str = ""


class Receiver:
    """A threaded HTTP server; subclasses route requests in `handle`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: dict[str, deque[Fault]] = {}
        self.requests: list[Seen] = []
        self.violations: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                receiver._serve(self)

            do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(
        self,
        route: str,
        status: int = 0,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        reset: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Script the next request on `route` to fail (queued: call again for the next)."""
        fault = Fault(status, headers or {}, body, reset, delay)
        self.faults.setdefault(route, deque()).append(fault)

    def calls(self, route: str) -> list[Seen]:
        return [r for r in self.requests if r.route == route]

    def handle(self, seen: Seen) -> tuple[str, int, Any, dict[str, str]]:
        raise NotImplementedError

    def route_of(self, seen: Seen) -> str:
        raise NotImplementedError

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw
        seen = Seen(h.command, parts.path, parse_qs(parts.query), headers, body)
        with self.lock:
            seen.route = self.route_of(seen)
            self.requests.append(seen)
            queue = self.faults.get(seen.route)
            fault = queue.popleft() if queue else Fault()
            if fault.status:
                status, payload, extra = fault.status, fault.body, fault.headers
            else:
                try:
                    _, status, payload, extra = self.handle(seen)
                except Violation as exc:
                    self.violations.append(f"{seen.method} {seen.path}: {exc}")
                    status, payload, extra = 400, {"message": str(exc)}, {}
        if fault.reset:
            # RST instead of an answer: the client cannot know the ticket was made.
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if fault.delay:
            time.sleep(fault.delay)
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout test)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class JiraReceiver(Receiver):
    """Jira Cloud REST v3: issues, comments, transitions, search/jql, createmeta."""

    def __init__(
        self,
        email: str = "bot@example.com",
        token: str = "jira-token-s3cret",
        prefix: str = "",
    ) -> None:
        """`prefix`: "/ex/jira/<cloudId>" to act as api.atlassian.com for a scoped token."""
        self.email, self.token, self.prefix = email, token, prefix
        self.site = "https://acme.atlassian.net"
        self.tickets: dict[str, dict[str, Any]] = {}  # id → ticket
        self.next_id = 10000
        self.issue_types = ["Bug", "Task"]
        self.transitions = [{"id": "31", "name": "Done"}, {"id": "11", "name": "To Do"}]
        super().__init__()

    def by_key(self, key_or_id: str) -> dict[str, Any] | None:
        for ticket in self.tickets.values():
            if key_or_id in (ticket["id"], ticket["key"]) and not ticket["deleted"]:
                return ticket
        return None

    def live(self) -> list[dict[str, Any]]:
        return [t for t in self.tickets.values() if not t["deleted"]]

    def route_of(self, seen: Seen) -> str:
        p, m = seen.path, seen.method
        if not p.startswith(self.prefix):
            return "outside"
        p = p[len(self.prefix) :]
        if p == "/rest/api/3/serverInfo":
            return "server-info"
        if m == "POST" and p == "/rest/api/3/issue":
            return "create"
        if p == "/rest/api/3/search/jql":
            return "search"
        if p.startswith("/rest/api/3/search"):
            return "legacy-search"
        if p.endswith("/comment"):
            return "comment"
        if p.endswith("/transitions"):
            return "transitions" if m == "GET" else "transition"
        if "/createmeta/" in p:
            return "createmeta"
        return p

    def check_auth(self, seen: Seen) -> bool:
        expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        return seen.headers.get("authorization") == f"Basic {expected}"

    @staticmethod
    def check_adf(doc: Any) -> None:
        errors = sorted(adf_validator().iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            raise Violation(f"not valid ADF: {errors[0].message[:300]}")
        if len(orjson.dumps(doc)) > 32_767 * 4:
            raise Violation("rich text over Jira's 32,767-character limit")

    def handle(self, seen: Seen) -> tuple[str, int, Any, dict[str, str]]:
        if not self.check_auth(seen):
            return seen.route, 401, {"errorMessages": ["Client must be authenticated"]}, {}
        handler = getattr(self, "on_" + seen.route.replace("-", "_"), None)
        if handler is None:
            raise Violation(f"no such Jira endpoint {seen.method} {seen.path}")
        result: tuple[int, Any] = handler(seen)
        return seen.route, result[0], result[1], {}

    def on_legacy_search(self, seen: Seen) -> tuple[int, Any]:
        return 410, {"errorMessages": ["The requested API has been removed. Use /search/jql."]}

    def on_create(self, seen: Seen) -> tuple[int, Any]:
        fields = (seen.body or {}).get("fields")
        if not isinstance(fields, dict):
            raise Violation("body must be {'fields': {...}}")
        if set(fields) - {"project", "issuetype", "summary", "labels", "description"}:
            raise Violation(f"unexpected fields {sorted(fields)}")
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 255 or "\n" in summary:
            raise Violation("summary must be one line of 1-255 characters")
        if "\0" in summary:
            raise Violation("summary holds NUL")
        labels = fields.get("labels", [])
        if not all(isinstance(x, str) and x and " " not in x and len(x) <= 255 for x in labels):
            raise Violation(f"labels must be strings without spaces: {labels!r}")
        if fields.get("issuetype", {}).get("name") not in self.issue_types:
            return 400, {"errorMessages": [], "errors": {"issuetype": "Specify a valid issue type"}}
        self.check_adf(fields.get("description"))
        self.next_id += 1
        project = fields["project"]["key"]
        number = 1 + sum(1 for t in self.tickets.values() if t["project"] == project)
        ticket = {
            "id": str(self.next_id),
            "key": f"{project}-{number}",
            "project": project,
            "fields": fields,
            "labels": labels,
            "comments": [],
            "status": "To Do",
            "deleted": False,
        }
        self.tickets[ticket["id"]] = ticket
        return 201, {
            "id": ticket["id"],
            "key": ticket["key"],
            "self": f"{self.url}/rest/api/3/issue/{ticket['id']}",
        }

    def on_search(self, seen: Seen) -> tuple[int, Any]:
        body = seen.body or {}
        if seen.method != "POST" or not isinstance(body.get("jql"), str):
            raise Violation("search/jql takes a POST with a jql string")
        if not body.get("fields"):
            raise Violation("search/jql returns no fields unless `fields` is given")
        match = re.fullmatch(r'labels = "([^"\s]+)" ORDER BY created ASC', body["jql"])
        if not match:
            raise Violation(f"unexpected JQL {body['jql']!r}")
        found = [t for t in self.live() if match.group(1) in t["labels"]]
        issues = [
            {"id": t["id"], "key": t["key"], "fields": {"summary": t["fields"]["summary"]}}
            for t in found[: body.get("maxResults", 50)]
        ]
        return 200, {"issues": issues, "isLast": True}

    def on_comment(self, seen: Seen) -> tuple[int, Any]:
        ticket = self.by_key(seen.path.split("/")[-2])
        if ticket is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission."]}
        body = (seen.body or {}).get("body")
        self.check_adf(body)
        ticket["comments"].append(body)
        return 201, {"id": str(len(ticket["comments"])), "body": body}

    def on_transitions(self, seen: Seen) -> tuple[int, Any]:
        ticket = self.by_key(seen.path.split("/")[-2])
        if ticket is None:
            return 404, {"errorMessages": ["Issue does not exist"]}
        available = [t for t in self.transitions if t["name"] != ticket["status"]]
        return 200, {"transitions": available}

    def on_transition(self, seen: Seen) -> tuple[int, Any]:
        ticket = self.by_key(seen.path.split("/")[-2])
        if ticket is None:
            return 404, {"errorMessages": ["Issue does not exist"]}
        wanted = ((seen.body or {}).get("transition") or {}).get("id")
        match = [t for t in self.transitions if t["id"] == wanted]
        if not match:
            return 400, {"errorMessages": ["Transition id is not valid"]}
        ticket["status"] = match[0]["name"]
        return 204, b""

    def on_server_info(self, seen: Seen) -> tuple[int, Any]:
        return 200, {"baseUrl": self.site, "deploymentType": "Cloud"}

    def on_createmeta(self, seen: Seen) -> tuple[int, Any]:
        return 200, {
            "issueTypes": [{"id": str(i), "name": n} for i, n in enumerate(self.issue_types)]
        }


class GitHubReceiver(Receiver):
    """GitHub REST: issues, comments, issue listing, /user, the repository."""

    def __init__(
        self,
        token: str = "ghp_t0ken-s3cret",
        repository: str = "acme/backend",
        login: str = "tracehound-bot",
    ) -> None:
        self.token, self.repository, self.login = token, repository, login
        self.issues: dict[int, dict[str, Any]] = {}
        self.has_issues = True
        super().__init__()

    def live(self) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if not i["deleted"]]

    def route_of(self, seen: Seen) -> str:
        prefix = f"/repos/{self.repository}"
        p, m = seen.path, seen.method
        if p == "/user":
            return "user"
        if p == prefix:
            return "repository"
        if p == prefix + "/issues":
            return "create" if m == "POST" else "list"
        if re.fullmatch(re.escape(prefix) + r"/issues/\d+/comments", p):
            return "comment"
        if re.fullmatch(re.escape(prefix) + r"/issues/\d+", p):
            return "update" if m == "PATCH" else "get"
        return p

    def check_headers(self, seen: Seen) -> None:
        h = seen.headers
        if h.get("accept") != "application/vnd.github+json":
            raise Violation(f"Accept must be application/vnd.github+json, not {h.get('accept')!r}")
        if h.get("x-github-api-version") != "2022-11-28":
            raise Violation("X-GitHub-Api-Version must be pinned to 2022-11-28")

    @staticmethod
    def check_body(operation: str, body: Any) -> None:
        errors = list(github_validators()[operation].iter_errors(body))
        if errors:
            raise Violation(f"{operation}: {errors[0].message[:300]}")
        if isinstance(body, dict):
            if len(str(body.get("title", ""))) > 256:
                raise Violation("title over 256 characters")
            if len(str(body.get("body", ""))) > 65_536:
                raise Violation("body over 65,536 characters")

    def handle(self, seen: Seen) -> tuple[str, int, Any, dict[str, str]]:
        self.check_headers(seen)
        if seen.headers.get("authorization") != f"Bearer {self.token}":
            return seen.route, 401, {"message": "Bad credentials"}, {}
        handler = getattr(self, "on_" + seen.route, None)
        if handler is None:
            return seen.route, 404, {"message": "Not Found"}, {}
        result: tuple[int, Any] = handler(seen)
        return seen.route, result[0], result[1], {}

    def number_of(self, seen: Seen) -> int:
        return int(seen.path.split("/issues/")[1].split("/")[0])

    def on_user(self, seen: Seen) -> tuple[int, Any]:
        return 200, {"login": self.login, "id": 1}

    def on_repository(self, seen: Seen) -> tuple[int, Any]:
        return 200, {"full_name": self.repository, "has_issues": self.has_issues}

    def on_create(self, seen: Seen) -> tuple[int, Any]:
        self.check_body("issues/create", seen.body)
        if not self.has_issues:
            return 410, {"message": "Issues are disabled for this repo"}
        number = len(self.issues) + 1
        now = _now()
        issue = {
            "id": 900 + number,
            "node_id": f"I_{number}",
            "number": number,
            "url": f"{self.url}/repos/{self.repository}/issues/{number}",
            "html_url": f"https://github.example/{self.repository}/issues/{number}",
            "state": "open",
            "state_reason": None,
            "title": str(seen.body["title"]),
            "body": seen.body.get("body"),
            "labels": [{"name": n} for n in seen.body.get("labels", [])],
            "user": {"login": self.login},
            "created_at": now,
            "updated_at": now,
            "comments": [],
            "deleted": False,
        }
        self.issues[number] = issue
        return 201, self.public(issue)

    @staticmethod
    def public(issue: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in issue.items() if k not in ("comments", "deleted")} | {
            "comments": len(issue["comments"])
        }

    def on_list(self, seen: Seen) -> tuple[int, Any]:
        q = {k: v[0] for k, v in seen.query.items()}
        if q.get("state") != "all" or not q.get("creator") or not q.get("since"):
            raise Violation(f"the marker lookup must list state=all by creator since a time: {q}")
        listed = [
            self.public(i)
            for i in self.live()
            if i["user"]["login"] == q["creator"] and i["updated_at"] >= q["since"]
        ]
        return 200, sorted(listed, key=lambda i: -int(i["number"]))

    def on_comment(self, seen: Seen) -> tuple[int, Any]:
        self.check_body("issues/create-comment", seen.body)
        issue = self.issues.get(self.number_of(seen))
        if issue is None:
            return 404, {"message": "Not Found"}
        if issue["deleted"]:
            return 410, {"message": "This issue was deleted"}
        issue["comments"].append(seen.body["body"])
        issue["updated_at"] = _now()
        return 201, {"id": len(issue["comments"]), "body": seen.body["body"]}

    def on_update(self, seen: Seen) -> tuple[int, Any]:
        self.check_body("issues/update", seen.body)
        issue = self.issues.get(self.number_of(seen))
        if issue is None:
            return 404, {"message": "Not Found"}
        if issue["deleted"]:
            return 410, {"message": "This issue was deleted"}
        issue["state"] = seen.body.get("state", issue["state"])
        issue["state_reason"] = seen.body.get("state_reason")
        issue["updated_at"] = _now()
        return 200, self.public(issue)


def notification(
    kind: str = "issue.new",
    *,
    issue_id: int = 7,
    title: str = "ZeroDivisionError: division by zero",
    culprit: str = "app.views.divide",
    frames: tuple[dict[str, Any], ...] = (
        {"function": "divide", "module": "app.views", "filename": "app/views.py", "lineno": 42},
        {"function": "handle", "module": "app.core", "filename": "app/core.py", "lineno": 7},
    ),
    environment: str = "production",
    release: str = "1.4.2",
    organization: str = "acme",
) -> Any:
    """A typed notification as the worker rebuilds it from the outbox row."""
    from tracehound.alerts.base import EventSummary, IssueSummary, Notification

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    issue = IssueSummary(
        id=issue_id,
        short_id=f"BACKEND-{issue_id}",
        title=title,
        culprit=culprit,
        level="error",
        status="unresolved",
        platform="python",
        times_seen=120,
        users_seen=3,
        first_seen=now,
        last_seen=now,
        url=f"https://tracehound.example/acme/backend/issues/{issue_id}/",
        frames=frames,
    )
    event = EventSummary(
        event_id="a" * 32,
        timestamp=now,
        level="error",
        environment=environment,
        release=release,
        message=title,
        url=f"https://tracehound.example/acme/backend/issues/{issue_id}/events/{'a' * 32}/",
    )
    reasons = {"issue.new": "New issue", "issue.regression": "Regression in 1.4.2"}
    return Notification(
        id="b" * 32,
        kind=kind,
        created_at=now,
        organization=organization,
        project="backend",
        project_name="Backend",
        reason=reasons.get(kind, kind),
        rule="Default",
        issue=issue,
        event=event,
    )


class Attempts:
    """What the worker keeps between attempts of one outbox row: progress and the link."""

    def __init__(self, backend: Any, link: Any = None) -> None:
        self.backend = backend
        self.link = link
        self.progress: dict[str, Any] = {}
        self.number = 0
        self.dropped = 0
        self.http: Any = None

    def delivery(self) -> Any:
        from tracehound.alerts.base import Delivery
        from tracehound.lib.outbound import Outbound

        def drop() -> None:
            self.dropped += 1
            self.link = None

        self.number += 1
        self.http = Outbound(redact=self.backend.redactions())
        return Delivery(self.http, self.link, self.progress, self.number, drop)

    def send(self, message: Any) -> Any:
        """One attempt; a success's ticket becomes the link, as the worker stores it."""
        from tracehound.alerts.base import Link

        sent = self.backend.send(message, self.delivery())
        if sent.external_key:
            self.link = Link(sent.external_id, sent.external_key, sent.external_url)
        return sent


def make_issue(short_id: int = 7) -> Any:
    """A real issue row in acme/backend (the tests' database)."""
    from tracehound.issues.models import Issue
    from tracehound.projects.actions import create_project

    project = create_project("acme", "backend", platform="python")[0]
    now = datetime.now(UTC)
    return Issue.objects.create(
        project=project,
        short_id=short_id,
        title="ZeroDivisionError: division by zero",
        grouping_version=project.grouping_version,
        first_seen=now,
        last_seen=now,
        times_seen=120,
    )


def queue(channel: Any, issue: Any, kind: str = "issue.new", cause: int = 1) -> Any:
    """The outbox row the digest would write for `kind` on `issue`."""
    from tracehound.alerts import outbox

    message = notification(kind, issue_id=issue.id, organization=channel.organization.slug)
    prefix = kind.removeprefix("issue.")
    key = f"new:{issue.id}" if kind == "issue.new" else f"{prefix}:{issue.id}:{cause}"
    rows = outbox.enqueue(
        [channel], message, dedupe_key=key, project_id=issue.project_id, issue_id=issue.id
    )
    assert len(rows) == 1
    return rows[0]
