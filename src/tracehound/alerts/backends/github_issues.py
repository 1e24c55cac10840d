"""GitHub Issues (REST, API version 2022-11-28): one issue per Tracehound issue and channel.

Reference: shared/reference-integrations.md §1.2. The marker that finds an issue whose create
answer was lost is a hidden last line `<!-- tracehound:issue=<org>/<issue id> -->`, looked up
in the issues the token's user created since the attempt (the listing is strongly
consistent; the search API is not). Event text is escaped so it can neither forge the
marker, break the Markdown, nor @-mention anyone.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from tracehound.alerts import adf
from tracehound.alerts.backends.ticketing import (
    TicketBackend,
    TicketGone,
    json_object,
    require_https,
    retry_after,
    short,
)
from tracehound.alerts.base import Delivery, DeliveryError, Link, Notification, Sent, Setting
from tracehound.lib.outbound import Response

REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
TITLE_MAX = 256
BODY_MAX = 65_536
API_VERSION = "2022-11-28"
# Markdown punctuation that could format, link or open HTML (a forged marker).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#!|<>~&])")
# What starts a list when it opens a line: "1. ", "- ", "+ ".
_LIST_START = re.compile(r"^(\d+)([.)])|^([-+])")


def check_repository(value: str) -> None:
    name = value.partition("/")[2]
    if not REPOSITORY.match(value) or name in (".", ".."):
        raise ValueError("must be owner/name, e.g. acme/backend")


def check_api_url(value: str) -> None:
    require_https(value)


def split_labels(value: str) -> list[str]:
    return [label.strip() for label in (value or "").split(",") if label.strip()]


def check_labels(value: str) -> None:
    for label in split_labels(value):
        if len(label) > 50:
            raise ValueError(f"label {label[:20]!r}… is longer than GitHub's 50 characters")


def escape(text: object, limit: int) -> str:
    """One line of event text as inert Markdown."""
    value = adf.clean(text, limit, one_line=True)
    value = _MARKDOWN.sub(r"\\\1", value).replace("@", "@\u2060")
    return _LIST_START.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], value)


def fenced(lines: list[str]) -> str:
    body = adf.clean("\n".join(lines), 6000)
    runs = [len(r) for r in re.findall(r"`+", body)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}text\n{body}\n{fence}"


def marker(notification: Notification) -> str:
    assert notification.issue is not None
    return f"<!-- tracehound:issue={notification.organization}/{notification.issue.id} -->"


def facts(notification: Notification) -> list[str]:
    issue, event = notification.issue, notification.event
    lines: list[str] = []
    if issue is not None:
        lines.append(
            f"- **Events:** {issue.times_seen} · **Users:** {issue.users_seen} · "
            f"**Level:** {escape(issue.level or '?', 40)}"
        )
        lines.append(
            f"- **First seen:** {issue.first_seen.isoformat(timespec='seconds')} · "
            f"**Last seen:** {issue.last_seen.isoformat(timespec='seconds')}"
        )
    if event is not None and (event.environment or event.release):
        lines.append(
            f"- **Environment:** {escape(event.environment or '(none)', 200)} · "
            f"**Release:** {escape(event.release or '(none)', 200)}"
        )
    if issue is not None and issue.url:
        lines.append("")
        lines.append(f"[Open in Tracehound]({quote(issue.url, safe=':/?=&%#~+,;@!$*')})")
    return lines


def issue_body(notification: Notification) -> str:
    issue = notification.issue
    assert issue is not None
    parts = [f"**{escape(notification.reason, 300)}**", "", escape(issue.title, 2000)]
    if issue.culprit:
        parts += ["", f"**Culprit:** {escape(issue.culprit, 1000)}"]
    if issue.frames:
        parts += ["", fenced([adf.frame_line(f) for f in issue.frames[:15]])]
    parts += ["", *facts(notification), "", marker(notification)]
    return "\n".join(parts)[:BODY_MAX]


def comment_body(notification: Notification) -> str:
    return "\n".join([f"**{escape(notification.reason, 300)}**", "", *facts(notification)])


def error_text(response: Response) -> str:
    """GitHub's `{"message": …, "errors": [...]}`, flattened."""
    data = json_object(response) or {}
    parts = [str(data.get("message") or "")]
    for error in data.get("errors") or []:
        parts.append(str(error.get("message") or error) if isinstance(error, dict) else str(error))
    text = "; ".join(p for p in parts if p) or response.text
    return short(adf.clean(text, 500, one_line=True))


class GitHubIssuesBackend(TicketBackend):
    kind = "github_issues"
    label = "GitHub Issues"
    service = "GitHub"
    description = "Opens one GitHub issue per issue; comments (and reopens) on regression."
    settings = (
        Setting(
            "api_url",
            "API URL",
            kind="url",
            required=False,
            default="https://api.github.com",
            validate=check_api_url,
            help="https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise Server",
        ),
        Setting("token", "Token", secret=True, help="Fine-grained token with Issues: read & write"),
        Setting("repository", "Repository", validate=check_repository, help="owner/name"),
        Setting("labels", "Labels", required=False, default="", validate=check_labels),
        Setting("reopen_on_regression", "Reopen on regression", kind="bool", default=True),
        Setting("close_on_resolve", "Close on resolve", kind="bool", default=False),
    )

    def target_key(self) -> str:
        return f"{self.base}/{self.config['repository']}"

    @property
    def base(self) -> str:
        return str(self.config.get("api_url") or "https://api.github.com").rstrip("/")

    def request(self, delivery: Delivery, method: str, path: str, body: Any = None) -> Response:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.config['token']}",
            "X-GitHub-Api-Version": API_VERSION,
        }
        return self.call(delivery, method, self.base + path, json=body, headers=headers)

    @property
    def repo_path(self) -> str:
        owner, _, name = str(self.config["repository"]).partition("/")
        return f"/repos/{quote(owner)}/{quote(name)}"

    def rate_limited(self, response: Response) -> float | None:
        """Seconds to wait if a 403/429 is a rate limit (reference §1.2), else None."""
        headers = response.headers
        if "retry-after" in headers:
            return retry_after(headers, 60.0)
        if headers.get("x-ratelimit-remaining") == "0":
            return self.wait_until(headers.get("x-ratelimit-reset", "")) or 60.0
        if response.status == 429 or "rate limit" in response.text.lower():
            return 60.0
        return None

    def fail(self, response: Response, action: str) -> DeliveryError:
        status = response.status
        what = f"GitHub {action}: HTTP {status}"
        if status in (403, 429):
            wait = self.rate_limited(response)
            if wait is not None:
                return DeliveryError(f"{what}: rate limited", retry_after=wait, status=status)
        if status == 401:
            return DeliveryError(
                f"{what}: token expired or wrong", disable_channel=True, status=status
            )
        if status in (403, 404, 410):
            hint = {
                403: "the token may not write issues here",
                404: "repository not found or not visible to the token",
                410: "issues are disabled on this repository",
            }[status]
            return DeliveryError(
                f"{what}: {hint} ({error_text(response)})", disable_channel=True, status=status
            )
        if status >= 500:
            return DeliveryError(
                f"{what}: {error_text(response)}",
                retry_after=retry_after(response.headers),
                status=status,
            )
        if 300 <= status < 400:
            location = short(response.headers.get("location", ""), 200)
            return DeliveryError(f"{what}: redirected to {location!r}, not followed", status=status)
        return DeliveryError(f"{what}: {error_text(response)}", retryable=False, status=status)

    def check_access(self, delivery: Delivery) -> Sent:
        response = self.request(delivery, "GET", self.repo_path)
        if response.status != 200:
            raise self.fail(response, "repository")
        data = json_object(response)
        if data is None or "has_issues" not in data:
            raise DeliveryError("GitHub repository: HTTP 200 with an unexpected body", status=200)
        if not data["has_issues"]:
            raise DeliveryError(
                f"issues are disabled on {self.config['repository']}", retryable=False, status=200
            )
        return Sent(status=200, excerpt=f"the token reaches {self.config['repository']}")

    def sent_issue(self, data: dict[str, Any], excerpt: str, status: int) -> Sent:
        number, url = data.get("number"), data.get("html_url")
        if not isinstance(number, int) or not isinstance(url, str):
            raise DeliveryError(f"GitHub: HTTP {status} with an unexpected body", status=status)
        return Sent(status, excerpt, str(data.get("id", "")), f"#{number}", url)

    def create(self, notification: Notification, delivery: Delivery) -> Sent:
        issue = notification.issue
        assert issue is not None
        body: dict[str, Any] = {
            "title": adf.clean(f"{issue.short_id}: {issue.title}", TITLE_MAX, one_line=True),
            "body": issue_body(notification),
        }
        labels = split_labels(str(self.config.get("labels") or ""))
        if labels:
            body["labels"] = labels
        response = self.request(delivery, "POST", self.repo_path + "/issues", body)
        if not 200 <= response.status < 300:
            raise self.fail(response, "create")
        # A garbage 2xx is retried; the retry looks for the marker first.
        created = self.sent_issue(json_object(response) or {}, "", response.status)
        created.excerpt = f"created {created.external_key}"
        return created

    def login(self, delivery: Delivery) -> str:
        """The token's user (the issues' creator), cached in the row's progress."""
        cached = delivery.progress.get("github_login")
        if isinstance(cached, str) and cached:
            return cached
        response = self.request(delivery, "GET", "/user")
        if response.status != 200:
            raise self.fail(response, "user")
        login = (json_object(response) or {}).get("login")
        if not isinstance(login, str) or not login:
            raise DeliveryError("GitHub user: HTTP 200 with an unexpected body", status=200)
        delivery.progress["github_login"] = login
        return login

    def find(self, notification: Notification, delivery: Delivery) -> Sent | None:
        sent_at = datetime.fromisoformat(str(delivery.progress["create_sent_at"]))
        since = (sent_at - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = urlencode(
            {
                "creator": self.login(delivery),
                "since": since,
                "state": "all",
                "sort": "created",
                "direction": "desc",
                "per_page": "100",
            }
        )
        response = self.request(delivery, "GET", f"{self.repo_path}/issues?{query}")
        if response.status != 200:
            raise self.fail(response, "issue listing")
        try:
            listed = response.json()
        except ValueError:
            listed = None
        if not isinstance(listed, list):
            raise DeliveryError(
                "GitHub issue listing: HTTP 200 with an unexpected body", status=200
            )
        wanted = marker(notification)
        for item in listed:
            if (
                isinstance(item, dict)
                and "pull_request" not in item
                and str(item.get("body") or "").rstrip().endswith(wanted)
            ):
                found = self.sent_issue(item, "", 200)
                found.excerpt = f"adopted {found.external_key} (found by its marker)"
                return found
        return None

    def issue_path(self, link: Link) -> str:
        return f"{self.repo_path}/issues/{quote(link.external_key.lstrip('#'))}"

    def comment(self, notification: Notification, link: Link, delivery: Delivery) -> int:
        body = {"body": comment_body(notification)}
        response = self.request(delivery, "POST", self.issue_path(link) + "/comments", body)
        if response.status in (404, 410):
            raise TicketGone
        if not 200 <= response.status < 300:
            raise self.fail(response, f"comment on {link.external_key}")
        return response.status

    def after_comment(self, notification: Notification, link: Link, delivery: Delivery) -> str:
        if notification.kind != "issue.regression" or not self.config.get("reopen_on_regression"):
            return ""
        # Idempotent: an open issue stays open.
        response = self.request(delivery, "PATCH", self.issue_path(link), {"state": "open"})
        if not 200 <= response.status < 300:
            raise self.fail(response, f"reopen {link.external_key}")
        return " and reopened it"

    def resolve(self, notification: Notification, link: Link, delivery: Delivery) -> Sent:
        if not self.config.get("close_on_resolve"):
            return self.sent_for(link, "closing on resolve is off")
        body = {"state": "closed", "state_reason": "completed"}
        response = self.request(delivery, "PATCH", self.issue_path(link), body)
        if response.status in (404, 410):
            raise TicketGone
        if not 200 <= response.status < 300:
            raise self.fail(response, f"close {link.external_key}")
        return self.sent_for(link, f"closed {link.external_key}", response.status)
