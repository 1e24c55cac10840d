"""Which backend class serves each channel kind: the built-ins, plus any installed
package's classes registered under the `tracehound.notification_backends` entry point
group (`[project.entry-points."tracehound.notification_backends"] mykind = "pkg.mod:Cls"`).

A channel whose kind is no longer installed stays in the database, shown as unavailable;
its notifications wait (they are not lost) until the kind is installed again or the
channel is deleted.
"""

from __future__ import annotations

import functools
import importlib
import logging
from importlib.metadata import entry_points

from tracehound.alerts.base import Backend

log = logging.getLogger("tracehound.alerts")

ENTRY_POINT_GROUP = "tracehound.notification_backends"

BUILTIN = {
    "email": "tracehound.alerts.backends.email:EmailBackend",
    "webhook": "tracehound.alerts.backends.webhook:WebhookBackend",
    "slack": "tracehound.alerts.backends.slack:SlackBackend",
    "msteams": "tracehound.alerts.backends.msteams:TeamsBackend",
    "pagerduty": "tracehound.alerts.backends.pagerduty:PagerDutyBackend",
    "jira_cloud": "tracehound.alerts.backends.jira_cloud:JiraCloudBackend",
    "github_issues": "tracehound.alerts.backends.github_issues:GitHubIssuesBackend",
}


def _load(path: str) -> type[Backend]:
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"{path} is not a tracehound.alerts.base.Backend subclass")
    return cls


@functools.cache
def backends() -> dict[str, type[Backend]]:
    """kind → backend class: built-ins first; a plugin cannot replace a built-in kind."""
    found: dict[str, type[Backend]] = {}
    for kind, path in BUILTIN.items():
        try:
            found[kind] = _load(path)
        except (ImportError, AttributeError):  # a built-in not written yet
            log.debug("built-in backend %s unavailable", kind, exc_info=True)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            log.warning("plugin backend %s (%s) ignored: kind already taken", ep.name, ep.value)
            continue
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Backend)):
                raise TypeError("not a tracehound.alerts.base.Backend subclass")
            if getattr(cls, "kind", ep.name) != ep.name:
                raise TypeError(f"its kind {cls.kind!r} differs from the entry point name")
            found[ep.name] = cls
        except Exception as exc:
            log.error("plugin backend %s (%s) failed to load: %s", ep.name, ep.value, exc)
    return found


def get(kind: str) -> type[Backend] | None:
    return backends().get(kind)


def choices() -> list[tuple[str, str]]:
    return sorted(((k, cls.label) for k, cls in backends().items()), key=lambda c: c[1])
