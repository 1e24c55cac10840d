"""Turn browser security reports (CSP, Expect-CT, Expect-Staple, HPKP) into events.

Browsers POST these straight to ``/api/{id}/security/``; no SDK is involved,
so the shapes are the browsers': kebab-case ``csp-report`` objects from the
legacy ``report-uri`` directive, and camelCase ``csp-violation`` bodies in
Reporting API batches (``report-to``). Reports are attacker-controlled input:
only known fields of the expected types are copied.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

__all__ = ["SecurityReportError", "security_report_to_event"]


class SecurityReportError(ValueError):
    """The body is not a security report we understand."""


_CONTENT_TYPES = frozenset(
    {
        "application/json",
        "application/csp-report",
        "application/reports+json",
        "application/expect-ct-report",
        "application/expect-ct-report+json",
        "application/expect-staple-report",
    }
)

# Legacy report-uri keys and Reporting API keys -> our snake_case field.
_CSP_LEGACY_FIELDS = {
    "document-uri": "document_uri",
    "blocked-uri": "blocked_uri",
    "effective-directive": "effective_directive",
    "violated-directive": "violated_directive",
    "original-policy": "original_policy",
    "referrer": "referrer",
    "status-code": "status_code",
    "source-file": "source_file",
    "line-number": "line_number",
    "column-number": "column_number",
    "script-sample": "script_sample",
    "disposition": "disposition",
}
_CSP_REPORTING_API_FIELDS = {
    "documentURL": "document_uri",
    "blockedURL": "blocked_uri",
    "effectiveDirective": "effective_directive",
    "originalPolicy": "original_policy",
    "referrer": "referrer",
    "statusCode": "status_code",
    "sourceFile": "source_file",
    "lineNumber": "line_number",
    "columnNumber": "column_number",
    "sample": "script_sample",
    "disposition": "disposition",
}
_INT_FIELDS = frozenset({"status_code", "line_number", "column_number", "port"})

# What a directive governs, for "Blocked 'image' from ...".
_DIRECTIVE_NOUNS = {
    "child-src": "child",
    "connect-src": "connect",
    "default-src": "default",
    "font-src": "font",
    "form-action": "form",
    "frame-ancestors": "frame-ancestor",
    "frame-src": "frame",
    "img-src": "image",
    "manifest-src": "manifest",
    "media-src": "media",
    "object-src": "object",
    "prefetch-src": "prefetch",
    "script-src": "script",
    "script-src-attr": "script",
    "script-src-elem": "script",
    "style-src": "style",
    "style-src-attr": "style",
    "style-src-elem": "style",
    "worker-src": "worker",
}
# Schemes browsers report bare ("data") or with a colon ("data:").
_BARE_SCHEMES = frozenset({"data", "blob", "filesystem", "about", "mediastream"})

_CERT_FIELDS = (
    "date-time",
    "hostname",
    "port",
    "effective-expiration-date",
    "include-subdomains",
    "noted-hostname",
    "served-certificate-chain",
    "validated-certificate-chain",
    "known-pins",
    "scts",
    "response-status",
    "ocsp-response",
    "cert-status",
)


def security_report_to_event(body: bytes, content_type: str | None) -> dict[str, Any]:
    """Convert one report body into a Sentry-style event dict (no event_id/timestamp)."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime and mime not in _CONTENT_TYPES:
        raise SecurityReportError(f"unsupported content type {mime!r} for a security report")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SecurityReportError(f"security report is not valid JSON: {exc}") from None

    if isinstance(data, list):
        return _csp_event(_fields_from_reporting_api(data))
    if not isinstance(data, dict):
        raise SecurityReportError("security report is not a JSON object or array")
    if "csp-report" in data:
        report = _object(data["csp-report"], "csp-report")
        return _csp_event(_pick(report, _CSP_LEGACY_FIELDS))
    if data.get("type") == "csp-violation":
        # A single Reporting API report, not wrapped in a batch array.
        return _csp_event(_fields_from_reporting_api([data]))
    if "expect-ct-report" in data:
        report = _object(data["expect-ct-report"], "expect-ct-report")
        return _cert_event(report, "expectct", "expect-ct", "Expect-CT failed for {}")
    if "expect-staple-report" in data:
        report = _object(data["expect-staple-report"], "expect-staple-report")
        return _cert_event(report, "expectstaple", "expect-staple", "Expect-Staple failed for {}")
    if "known-pins" in data or "effective-expiration-date" in data:
        # HPKP (RFC 7469 section 3) reports are not wrapped in a named object.
        message = "Public key pinning validation failed for {}"
        return _cert_event(data, "hpkp", "hpkp", message)
    raise SecurityReportError(
        "unrecognized security report: expected csp-report, a Reporting API batch, "
        "expect-ct-report, expect-staple-report or an HPKP report"
    )


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SecurityReportError(f"{name} is not a JSON object")
    return value


def _pick(report: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Copy known fields, dropping values of the wrong type."""
    fields: dict[str, Any] = {}
    for source, target in mapping.items():
        value = report.get(source)
        if target in _INT_FIELDS:
            # Some browsers quote numbers; bool is an int subclass but never valid here.
            if isinstance(value, str) and value.isascii() and value.isdigit():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                fields[target] = value
        elif isinstance(value, str):
            fields[target] = value
    return fields


def _fields_from_reporting_api(reports: list[Any]) -> dict[str, Any]:
    for report in reports:
        if isinstance(report, dict) and report.get("type") == "csp-violation":
            fields = _pick(
                _object(report.get("body"), "csp-violation body"), _CSP_REPORTING_API_FIELDS
            )
            fields.setdefault("document_uri", report.get("url"))
            if isinstance(report.get("user_agent"), str):
                fields["user_agent"] = report["user_agent"]
            return fields
    raise SecurityReportError("Reporting API batch contains no csp-violation report")


def _csp_event(fields: dict[str, Any]) -> dict[str, Any]:
    document_uri = fields.get("document_uri")
    if not isinstance(document_uri, str) or not document_uri:
        raise SecurityReportError("csp report has no document-uri")
    user_agent = fields.pop("user_agent", None)

    # Reporting API bodies have no violated-directive and old browsers send
    # no effective-directive: derive each from the other ("script-src 'self'").
    violated = fields.get("violated_directive", "").strip()
    effective = fields.get("effective_directive", "").strip() or violated.partition(" ")[0]
    if not effective:
        raise SecurityReportError("csp report has no effective-directive or violated-directive")
    effective = effective.lower()
    fields["effective_directive"] = effective
    fields.setdefault("violated_directive", effective)

    blocked = fields.get("blocked_uri", "")
    tags = [["effective-directive", effective]]
    if blocked:
        tags.append(["blocked-uri", blocked])
    headers: dict[str, str] = {}
    if fields.get("referrer"):
        headers["Referer"] = fields["referrer"]
    if user_agent:
        headers["User-Agent"] = user_agent
    request: dict[str, Any] = {"url": document_uri}
    if headers:
        request["headers"] = headers

    return {
        "logger": "csp",
        "level": "error",
        "platform": "javascript",
        "logentry": {"formatted": _csp_message(effective, blocked, document_uri)},
        "culprit": effective,
        "csp": fields,
        "request": request,
        "tags": tags,
    }


def _csp_message(directive: str, blocked_uri: str, document_uri: str) -> str:
    noun = _DIRECTIVE_NOUNS.get(directive) or directive.removesuffix("-src")
    blocked = blocked_uri.strip()
    if blocked in ("inline", "self"):
        # Firefox used to report inline violations as "self".
        return f"Blocked inline '{noun}'"
    if blocked == "eval":
        return f"Blocked unsafe eval() '{noun}'"
    if blocked == "wasm-eval":
        return f"Blocked unsafe WebAssembly eval() '{noun}'"
    if not blocked:
        return f"Blocked unsafe (eval() or inline) '{noun}'"
    return f"Blocked '{noun}' from '{_blocked_source(blocked, document_uri)}'"


def _blocked_source(blocked: str, document_uri: str) -> str:
    """Short form of the blocked resource: a host, "self", or a bare scheme."""
    scheme = blocked.partition(":")[0].lower()
    if blocked.lower() in _BARE_SCHEMES or (scheme in _BARE_SCHEMES and ":" in blocked):
        return f"{scheme}:"
    try:
        parts = urlsplit(blocked)
        document = urlsplit(document_uri)
    except ValueError:
        return blocked
    if not parts.netloc:
        return blocked
    if (parts.scheme, parts.netloc) == (document.scheme, document.netloc):
        return "self"
    return parts.netloc.rpartition("@")[2]


def _cert_event(report: dict[str, Any], key: str, logger: str, message: str) -> dict[str, Any]:
    """Events for certificate reports (Expect-CT, Expect-Staple, HPKP)."""
    hostname = report.get("hostname")
    if not isinstance(hostname, str) or not hostname:
        raise SecurityReportError(f"{logger} report has no hostname")
    fields = {name.replace("-", "_"): report[name] for name in _CERT_FIELDS if name in report}
    port = report.get("port")
    tags = [["hostname", hostname]]
    if isinstance(port, int) and not isinstance(port, bool):
        tags.append(["port", str(port)])
        target = f"{hostname}:{port}"
    else:
        target = hostname
    for tag in ("response_status", "cert_status"):
        if isinstance(fields.get(tag), str):
            tags.append([tag.replace("_", "-"), fields[tag]])
    return {
        "logger": logger,
        "level": "error",
        "platform": "other",
        "logentry": {"formatted": message.format(f"'{target}'")},
        "culprit": hostname,
        key: fields,
        "tags": tags,
    }
