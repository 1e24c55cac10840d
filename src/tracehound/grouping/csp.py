"""Security reports: which CSP directive blocked what, reduced to a stable key; and the
certificate reports (HPKP, Expect-CT, Expect-Staple), one issue per failing host.

A CSP report names the full blocked URL; grouping on its host keeps one issue per
offending origin instead of one per URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

SELF = "'self'"
UNSAFE_INLINE = "'unsafe-inline'"
UNSAFE_EVAL = "'unsafe-eval'"

_KEYWORDS = {
    "": SELF,
    "self": SELF,
    "inline": UNSAFE_INLINE,
    "unsafe-inline": UNSAFE_INLINE,
    "eval": UNSAFE_EVAL,
    "unsafe-eval": UNSAFE_EVAL,
}
# Schemes with no host to speak of: the scheme is the origin.
_SCHEME_ONLY = frozenset({"data", "blob", "about", "filesystem", "mediastream", "wasm-eval"})

_MESSAGES = {
    "child-src": "Blocked 'child' from '{uri}'",
    "connect-src": "Blocked connection to '{uri}'",
    "font-src": "Blocked font from '{uri}'",
    "form-action": "Blocked form action to '{uri}'",
    "frame-src": "Blocked 'frame' from '{uri}'",
    "img-src": "Blocked image from '{uri}'",
    "manifest-src": "Blocked manifest from '{uri}'",
    "media-src": "Blocked media from '{uri}'",
    "object-src": "Blocked object from '{uri}'",
    "script-src": "Blocked 'script' from '{uri}'",
    "style-src": "Blocked 'style' from '{uri}'",
    "worker-src": "Blocked 'worker' from '{uri}'",
}
_SUB_DIRECTIVES = {
    "script-src-elem": "script-src",
    "script-src-attr": "script-src",
    "style-src-elem": "style-src",
    "style-src-attr": "style-src",
}


def _text(report: dict[str, Any], key: str) -> str:
    value = report.get(key)
    return value.strip() if isinstance(value, str) else ""


def effective_directive(report: dict[str, Any]) -> str:
    directive = _text(report, "effective_directive")
    if not directive:
        violated = _text(report, "violated_directive").split(None, 1)
        directive = violated[0] if violated else ""
    return directive.lower()


def blocked_origin(report: dict[str, Any]) -> str:
    """The blocked URI as a host (`cdn.example.com`), a scheme (`data:`) or a CSP keyword."""
    blocked = _text(report, "blocked_uri")
    keyword = _KEYWORDS.get(blocked.lower().strip("'"))
    if keyword is not None:
        return keyword
    if ":" not in blocked:
        lowered = blocked.lower()
        return f"{lowered}:" if lowered in _SCHEME_ONLY else lowered
    try:
        parts = urlsplit(blocked)
        document = urlsplit(_text(report, "document_uri"))
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return blocked.lower()
    scheme = parts.scheme.lower()
    if scheme in _SCHEME_ONLY or not parts.netloc:
        return f"{scheme}:"
    if document.netloc and (document.scheme, document.netloc) == (scheme, parts.netloc):
        return SELF
    host = (parts.hostname or "").lower()
    return host.removeprefix("www.")


def violated_directive(report: dict[str, Any]) -> str:
    """The violated directive without nonces and hashes, which change per page load."""
    words = _text(report, "violated_directive").split()
    kept = [w for w in words if not w.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-"))]
    return " ".join(kept) or effective_directive(report)


def report_message(report: dict[str, Any]) -> str:
    """A readable summary, for reports that arrive without one."""
    directive = effective_directive(report)
    family = _SUB_DIRECTIVES.get(directive, directive)
    uri = blocked_origin(report)
    if family == "script-src" and uri == UNSAFE_INLINE:
        return "Blocked unsafe inline 'script'"
    if family == "script-src" and uri == UNSAFE_EVAL:
        return "Blocked unsafe eval() 'script'"
    if family == "style-src" and uri == UNSAFE_INLINE:
        return "Blocked inline 'style'"
    template = _MESSAGES.get(family, "Blocked '{directive}' from '{uri}'")
    return template.format(uri=uri, directive=directive or "unknown")


# Event key → the salt Sentry puts before the host name, and how the title reads.
HOSTNAME_REPORTS = {"hpkp": "hpkp", "expectstaple": "expect-staple", "expectct": "expect-ct"}
HOSTNAME_TITLES = {
    "hpkp": "Public key pinning validation failed for '{hostname}'",
    "expectstaple": "Expect-Staple failed for '{hostname}'",
    "expectct": "Expect-CT failed for '{hostname}'",
}


def report_hostname(event: dict[str, Any], key: str) -> str:
    report = event.get(key)
    return _text(report, "hostname").lower() if isinstance(report, dict) else ""
