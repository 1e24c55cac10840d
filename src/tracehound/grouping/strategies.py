"""The default grouping of an event: which values contribute, per variant.

Strategies run in priority order and the first that yields values wins:
exceptions, then the crashing thread's stack, then a bare stack trace, then a
CSP report, then the message. Stack-based strategies yield two variants:

- `app`: only in-app frames contribute. Absent when no in-app frame contributes,
  because an app hash made of exception types alone would merge unrelated crashes.
- `system`: every frame contributes.

The `app` variant comes first: it is the primary hash, `system` the secondary.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracehound.grouping import csp
from tracehound.grouping.config import GroupingConfig
from tracehound.grouping.enhancers import Enhancements
from tracehound.grouping.exceptions import Exception_, ExceptionSelection
from tracehound.grouping.frames import basename, stacktrace_values
from tracehound.grouping.parameterize import parameterize

Variant = tuple[str, list[str]]


def event_platform(event: dict[str, Any]) -> str:
    platform = event.get("platform")
    return platform if isinstance(platform, str) else "other"


class ExceptionComponents:
    """Per-exception contributing values, computed once per event and reused."""

    __slots__ = ("_cache", "_config", "_platform", "rules")

    def __init__(
        self, platform: str, config: GroupingConfig, rules: Enhancements | None = None
    ) -> None:
        self._platform = platform
        self._config = config
        self.rules = rules  # the project's stack-trace rules, after the built-in ones
        self._cache: dict[int, tuple[list[str], list[str], bool]] = {}

    def parts(self, exception: Exception_) -> tuple[list[str], list[str], bool]:
        """(app values, system values, whether any in-app frame contributes)."""
        key = id(exception)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        app_frames, system_frames = stacktrace_values(
            exception.get("stacktrace"), self._platform, self._config, self.rules, exception
        )
        # Tree order within an exception: stack trace, type, NSError, then value.
        head = _type_values(exception) + _ns_error_values(exception)
        # The message only helps when there is no stack to tell crashes apart.
        # (In-app frames are a subset of all frames, so no app frames may still mean a stack.)
        value = [] if app_frames else _value_values(exception)
        app = app_frames + head if app_frames else head + value
        system = system_frames + head if system_frames else head + value
        parts = (app, system, bool(app_frames))
        self._cache[key] = parts
        return parts

    def chain_key(self, chain: list[Exception_]) -> tuple[str, ...]:
        return tuple(value for exception in chain for value in self.parts(exception)[1])

    def variants(self, exceptions: Iterable[Exception_]) -> list[Variant]:
        app: list[str] = []
        system: list[str] = []
        has_app_frames = False
        for exception in exceptions:
            app_part, system_part, app_framed = self.parts(exception)
            app.extend(app_part)
            system.extend(system_part)
            has_app_frames = has_app_frames or app_framed
        return _stack_variants(app if has_app_frames else [], system)


def _type_values(exception: Exception_) -> list[str]:
    mechanism = exception.get("mechanism")
    if isinstance(mechanism, dict) and mechanism.get("synthetic") is True:
        return []  # an SDK-invented type such as a signal name says nothing about the code
    exception_type = exception.get("type")
    if isinstance(exception_type, str) and exception_type:
        return [exception_type]
    return []


def _ns_error_values(exception: Exception_) -> list[str]:
    """Cocoa's NSError domain and code: the same error code is the same problem."""
    mechanism = exception.get("mechanism")
    meta = mechanism.get("meta") if isinstance(mechanism, dict) else None
    ns_error = meta.get("ns_error") if isinstance(meta, dict) else None
    if not isinstance(ns_error, dict):
        return []
    domain, code = ns_error.get("domain"), ns_error.get("code")
    if not isinstance(domain, str) or not domain or isinstance(code, bool):
        return []
    if not isinstance(code, int):
        return []
    return [domain, str(code)]


def _value_values(exception: Exception_) -> list[str]:
    value = exception.get("value")
    if value is None:
        return []
    text = parameterize(value if isinstance(value, str) else str(value))
    return [text] if text else []


def _stack_variants(app: list[str], system: list[str]) -> list[Variant]:
    variants: list[Variant] = []
    if app:
        variants.append(("app", app))
    if system:
        variants.append(("system", system))
    return variants


def thread_values(event: dict[str, Any]) -> list[dict[str, Any]]:
    threads = event.get("threads")
    values = threads.get("values") if isinstance(threads, dict) else None
    if not isinstance(values, list):
        return []
    return [thread for thread in values if isinstance(thread, dict)]


def thread_stacktrace(event: dict[str, Any]) -> dict[str, Any] | None:
    """The stack of the crashed thread, else of the current one, else of the only one.

    Each must be the single such thread among those with a stack, as in Sentry's
    threads strategy: two crashed threads say nothing about which one to group on.
    """
    with_stack = [
        thread
        for thread in thread_values(event)
        if isinstance(thread.get("stacktrace"), dict) and thread["stacktrace"].get("frames")
    ]
    for flag in ("crashed", "current"):
        flagged = [thread for thread in with_stack if thread.get(flag) is True]
        if len(flagged) == 1:
            return flagged[0]["stacktrace"]  # type: ignore[no-any-return]
    if len(with_stack) == 1:
        return with_stack[0]["stacktrace"]  # type: ignore[no-any-return]
    return None


def logentry_of(event: dict[str, Any]) -> dict[str, Any] | None:
    """`logentry`, or a legacy top-level `message` that normalization has not converted yet."""
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        return logentry
    legacy = event.get("message")
    if isinstance(legacy, str):
        return {"formatted": legacy}
    return legacy if isinstance(legacy, dict) else None


def message_template(event: dict[str, Any]) -> str:
    """The parameterized message: the template when the SDK sent one, else the formatted text."""
    logentry = logentry_of(event)
    if logentry is not None:
        for key in ("message", "formatted"):
            text = logentry.get(key)
            if isinstance(text, str) and text.strip():
                return parameterize(text)
    return ""


def template_values(event: dict[str, Any]) -> list[str]:
    """A template error (Django, Jinja): the template's file name and the failing line."""
    template = event.get("template")
    if not isinstance(template, dict):
        return []
    values = []
    filename = template.get("filename") or template.get("abs_path")
    if isinstance(filename, str) and filename:
        values.append(basename(filename))
    line = template.get("context_line")
    if isinstance(line, str) and line.strip():
        values.append(" ".join(line.split()))
    return values


def default_variants(
    event: dict[str, Any],
    config: GroupingConfig,
    components: ExceptionComponents,
    selection: ExceptionSelection | None,
) -> list[Variant]:
    """The contributing values of each variant, primary first; empty when nothing contributes."""
    if selection is not None:
        variants = components.variants(selection.grouped)
        if variants:
            return variants

    platform = event_platform(event)
    for stacktrace in (thread_stacktrace(event), event.get("stacktrace")):
        if stacktrace is not None:
            app, system = stacktrace_values(stacktrace, platform, config, components.rules)
            variants = _stack_variants(app, system)
            if variants:
                return variants

    template = template_values(event)
    if template:
        return [("template", template)]

    report = event.get("csp")
    if isinstance(report, dict):
        directive = csp.effective_directive(report)
        if directive:
            return [("csp", [directive, csp.blocked_origin(report)])]

    for key, salt in csp.HOSTNAME_REPORTS.items():
        hostname = csp.report_hostname(event, key)
        if hostname:
            return [(key, [salt, hostname])]

    message = message_template(event)
    if message:
        return [("default", [message])]
    return []
