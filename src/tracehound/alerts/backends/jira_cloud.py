"""Jira Cloud (REST API v3): one ticket per issue and channel, comments on regression.

Reference: shared/reference-integrations.md §1.1. Basic auth with email and API token
(tokens expire: a 401 disables the channel with "credentials expired or wrong"). The
marker that finds a ticket whose create answer was lost is the label
`tracehound-<org>-<issue id>`, searched with `POST /rest/api/3/search/jql` (the legacy
/search answers 410, and the new one returns no fields unless asked).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from tracehound.alerts import adf
from tracehound.alerts.backends.ticketing import (
    TicketBackend,
    TicketGone,
    json_object,
    require_https,
    retry_after,
    short,
)
from tracehound.alerts.base import (
    Delivery,
    DeliveryError,
    Link,
    Notification,
    Sent,
    Setting,
)
from tracehound.alerts.settings_check import EMAIL
from tracehound.lib.outbound import Response

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
CLOUD_PATH = re.compile(r"^/ex/jira/[0-9A-Fa-f-]{8,64}$")
SUMMARY_MAX = 255


def check_site(url: str) -> None:
    require_https(url)
    path = urlsplit(url).path.rstrip("/")
    if path and not CLOUD_PATH.match(path):
        raise ValueError(
            "must be the site (https://<site>.atlassian.net) or "
            "https://api.atlassian.com/ex/jira/<cloudId> for a scoped token"
        )


def check_email(value: str) -> None:
    if not EMAIL.match(value):
        raise ValueError("must be the email address of the token's Atlassian account")


def check_project_key(value: str) -> None:
    if not PROJECT_KEY.match(value):
        raise ValueError("must be 2-10 capital letters or digits, starting with a letter (ET)")


def split_labels(value: str) -> list[str]:
    return [label.strip() for label in (value or "").split(",") if label.strip()]


def check_labels(value: str) -> None:
    for label in split_labels(value):
        if re.search(r"\s", label):
            raise ValueError(f"Jira labels cannot hold spaces: {label[:40]!r}")
        if len(label) > 255:
            raise ValueError("a label holds at most 255 characters")


def marker_label(notification: Notification) -> str:
    assert notification.issue is not None
    return f"tracehound-{notification.organization}-{notification.issue.id}"


def error_text(response: Response) -> str:
    """Jira's `{"errorMessages": [...], "errors": {"field": "msg"}}`, flattened."""
    data = json_object(response) or {}
    parts = [str(m) for m in data.get("errorMessages") or [] if m]
    errors = data.get("errors")
    if isinstance(errors, dict):
        parts += [f"{k}: {v}" for k, v in errors.items()]
    return short(adf.clean("; ".join(parts) or response.text, 500, one_line=True))


class JiraCloudBackend(TicketBackend):
    kind = "jira_cloud"
    label = "Jira Cloud"
    service = "Jira"
    description = "Opens one Jira ticket per issue; comments on regression."
    settings = (
        Setting(
            "site_url",
            "Site URL",
            kind="url",
            validate=check_site,
            help="https://<site>.atlassian.net, or https://api.atlassian.com/ex/jira/<cloudId> "
            "for a scoped API token",
        ),
        Setting("email", "Account email", validate=check_email),
        Setting("api_token", "API token", secret=True),
        Setting("project_key", "Project key", validate=check_project_key),
        Setting("issue_type", "Issue type", required=False, default="Bug"),
        Setting(
            "labels",
            "Labels",
            required=False,
            default="",
            validate=check_labels,
            help="Comma-separated; labels cannot hold spaces",
        ),
        Setting(
            "resolve_transition",
            "Transition on resolve",
            required=False,
            default="",
            help="Name or id of the workflow transition to apply when the issue is resolved",
        ),
    )

    @classmethod
    def clean(cls, values: Any) -> dict[str, Any]:
        values = dict(values)
        if isinstance(values.get("project_key"), str):
            values["project_key"] = values["project_key"].strip().upper()
        return super().clean(values)

    def target_key(self) -> str:
        return self.base

    @property
    def base(self) -> str:
        return str(self.config["site_url"]).rstrip("/")

    def request(self, delivery: Delivery, method: str, path: str, body: Any = None) -> Response:
        return self.call(
            delivery,
            method,
            self.base + path,
            json=body,
            headers={"Accept": "application/json"},
            auth=(str(self.config["email"]), str(self.config["api_token"])),
        )

    def fail(self, response: Response, action: str) -> DeliveryError:
        """The DeliveryError for a non-2xx answer (reference §1.8)."""
        status = response.status
        what = f"Jira {action}: HTTP {status}"
        if status == 401:
            return DeliveryError(
                f"{what}: credentials expired or wrong (check the email and API token)",
                disable_channel=True,
                status=status,
            )
        if status in (403, 404, 410):
            return DeliveryError(
                f"{what}: {error_text(response)}", disable_channel=True, status=status
            )
        if status == 429 or status >= 500:
            return DeliveryError(
                f"{what}: {error_text(response)}",
                retry_after=retry_after(response.headers),
                status=status,
            )
        if 300 <= status < 400:
            location = short(response.headers.get("location", ""), 200)
            return DeliveryError(f"{what}: redirected to {location!r}, not followed", status=status)
        return DeliveryError(f"{what}: {error_text(response)}", retryable=False, status=status)

    def browse_url(self, key: str, delivery: Delivery) -> str:
        """The ticket's page. The api.atlassian.com form has no pages: ask serverInfo once."""
        if not urlsplit(self.base).path:
            return f"{self.base}/browse/{quote(key)}"
        site = delivery.progress.get("jira_site")
        if not site:
            response = self.request(delivery, "GET", "/rest/api/3/serverInfo")
            info = json_object(response) or {}
            site = str(info.get("baseUrl") or "") if response.status == 200 else ""
            if not site.startswith("https://"):
                return f"{self.base}/rest/api/3/issue/{quote(key)}"
            delivery.progress["jira_site"] = site
        return f"{str(site).rstrip('/')}/browse/{quote(key)}"

    def check_access(self, delivery: Delivery) -> Sent:
        project = str(self.config["project_key"])
        response = self.request(
            delivery, "GET", f"/rest/api/3/issue/createmeta/{quote(project)}/issuetypes"
        )
        if response.status != 200:
            raise self.fail(response, f"project {project}")
        data = json_object(response) or {}
        types = data.get("issueTypes", data.get("values"))
        if not isinstance(types, list):
            raise DeliveryError("Jira answered the issue type list with an unexpected body")
        names = [str(t.get("name")) for t in types if isinstance(t, dict)]
        wanted = str(self.config["issue_type"])
        if wanted not in names:
            raise DeliveryError(
                f"project {project} has no issue type {wanted!r} "
                f"(it has: {short(', '.join(names), 200)})",
                retryable=False,
            )
        return Sent(status=200, excerpt=f"credentials work; {project} accepts {wanted} tickets")

    def fields(self, notification: Notification) -> dict[str, Any]:
        issue = notification.issue
        assert issue is not None
        summary = adf.clean(f"{issue.short_id}: {issue.title}", SUMMARY_MAX, one_line=True)
        labels = split_labels(str(self.config.get("labels") or ""))
        return {
            "project": {"key": self.config["project_key"]},
            "issuetype": {"name": self.config["issue_type"]},
            "summary": summary,
            "labels": [*labels, marker_label(notification)],
            "description": adf.description(notification),
        }

    def create(self, notification: Notification, delivery: Delivery) -> Sent:
        response = self.request(
            delivery, "POST", "/rest/api/3/issue", {"fields": self.fields(notification)}
        )
        if not 200 <= response.status < 300:
            raise self.fail(response, "create")
        data = json_object(response) or {}
        key, issue_id = data.get("key"), data.get("id")
        if not isinstance(key, str) or not isinstance(issue_id, str | int):
            # It may exist all the same: the next attempt searches for the marker first.
            raise DeliveryError(
                f"Jira create: HTTP {response.status} with an unexpected body",
                status=response.status,
            )
        url = self.browse_url(key, delivery)
        return Sent(response.status, f"created {key}", str(issue_id), key, url)

    def find(self, notification: Notification, delivery: Delivery) -> Sent | None:
        label = marker_label(notification)
        body = {
            "jql": f'labels = "{label}" ORDER BY created ASC',
            "fields": ["summary"],
            "maxResults": 1,
        }
        response = self.request(delivery, "POST", "/rest/api/3/search/jql", body)
        if response.status != 200:
            raise self.fail(response, "search for the marker label")
        data = json_object(response)
        issues = data.get("issues") if data else None
        if not isinstance(issues, list):
            raise DeliveryError("Jira search: HTTP 200 with an unexpected body", status=200)
        for found in issues:
            if isinstance(found, dict) and isinstance(found.get("key"), str):
                key = found["key"]
                url = self.browse_url(key, delivery)
                return Sent(
                    200,
                    f"adopted {key} (found by label {label})",
                    str(found.get("id", "")),
                    key,
                    url,
                )
        return None

    def ticket_path(self, link: Link) -> str:
        # The id survives a move to another project; the key does not.
        return f"/rest/api/3/issue/{quote(link.external_id or link.external_key)}"

    def comment(self, notification: Notification, link: Link, delivery: Delivery) -> int:
        body = {"body": adf.comment(notification)}
        response = self.request(delivery, "POST", self.ticket_path(link) + "/comment", body)
        if response.status in (404, 410):
            raise TicketGone
        if not 200 <= response.status < 300:
            raise self.fail(response, f"comment on {link.external_key}")
        return response.status

    def resolve(self, notification: Notification, link: Link, delivery: Delivery) -> Sent:
        wanted = str(self.config.get("resolve_transition") or "").strip()
        if not wanted:
            return self.sent_for(link, "no resolve transition configured")
        path = self.ticket_path(link) + "/transitions"
        response = self.request(delivery, "GET", path)
        if response.status in (404, 410):
            raise TicketGone
        if response.status != 200:
            raise self.fail(response, f"transitions of {link.external_key}")
        data = json_object(response) or {}
        choices = [t for t in data.get("transitions") or [] if isinstance(t, dict)]
        match = next(
            (
                t
                for t in choices
                if str(t.get("id")) == wanted
                or str(t.get("name", "")).casefold() == wanted.casefold()
            ),
            None,
        )
        if match is None:
            names = ", ".join(str(t.get("name")) for t in choices)
            raise DeliveryError(
                f"Jira: {link.external_key} offers no transition {wanted!r} now "
                f"(available: {short(names, 200) or 'none'})",
                retryable=False,
            )
        response = self.request(delivery, "POST", path, {"transition": {"id": str(match["id"])}})
        if response.status in (404, 410):
            raise TicketGone
        if not 200 <= response.status < 300:
            raise self.fail(response, f"transition {link.external_key}")
        return self.sent_for(
            link, f"{link.external_key}: applied {match.get('name')}", response.status
        )
