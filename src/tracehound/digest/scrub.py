"""Server-side PII scrubbing with Relay's default data-scrubbing rules (pure, in place).

Applied to every string, number, list and object of a normalized event except
`debug_meta`, frame `filename`/`abs_path`, `logentry.formatted` and exception
`value` (Relay's exclusions, so grouping and source lookup keep working):

- `@password:filter`: values under a key containing password, secret, auth,
  token, ... become "[Filtered]" (containers become None). Project
  `sensitive_fields` add key substrings (rule id `strip-fields`);
  `safe_fields` exempt exact key names (case-insensitive).
- Inside strings: credit cards, PEM key bodies, `user:pass@` URL passwords,
  user names in home-directory paths, US SSNs and sensitive query parameters
  are replaced by "[Filtered]"; with `scrub_ip_addresses`, IPs by "[ip]".
- Session and CSRF cookies are filtered in `request.cookies` and in the
  `Cookie`/`Set-Cookie` headers.

Each redaction is annotated in `_meta` at the value's path, e.g.
`{"": {"rem": [["@creditcard:filter", "s", 6, 16]], "len": 25}}`; the range is
where "[Filtered]" sits in the new string.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Container, Sequence
from functools import lru_cache
from itertools import accumulate, count
from operator import add
from typing import Any

from tracehound.digest.databag import Meta, Path, add_remark
from tracehound.digest.pii import FILTERED, IP_REPLACEMENT, Span, find_sensitive_spans

PASSWORD_RULE = "@password:filter"
SENSITIVE_FIELDS_RULE = "strip-fields"
REMOVE_RULE = "@anything:remove"

# Relay's list; `[-_]?` also catches header spellings such as X-Api-Key.
PASSWORD_KEYS = (
    "password|secret|passwd|api[-_]?key|auth|credentials|mysql_pwd|private[-_]?key|token"
)
# fmt: off
SENSITIVE_COOKIES = frozenset({
    "sentrysid", "sudo", "su", "session", "__session", "sessionid", "user_session", "symfony",
    "phpsessid", "fasthttpsessionid", "mysession", "irissessionid", "csrf", "xsrf", "_xsrf",
    "_csrf", "csrf-token", "csrf_token", "xsrf-token", "xsrf_token", "fastcsrf", "_iris_csrf",
})
# fmt: on
# Keys never scrubbed inside stack frames: source lookup and grouping need them.
FRAME_EXCLUDED_KEYS = frozenset({"filename", "abs_path"})
_STACKTRACE_KEYS = ("stacktrace", "raw_stacktrace")
_LOGENTRY_EXCLUDED_KEYS = frozenset({"formatted"})
_EXCEPTION_EXCLUDED_KEYS = frozenset({"value", *_STACKTRACE_KEYS})
_THREAD_EXCLUDED_KEYS = frozenset(_STACKTRACE_KEYS)

_SAFE = "safe"  # key-rule verdict: exempt from scrubbing at this node
_UNKNOWN = "unknown"  # not in the verdict cache yet
_WALKED = (str, dict, list)
_MAX_CACHED_KEYS = 8192
_MAX_DEPTH = 128


class _Rules:
    """Key rules for one project configuration, with a cache of verdicts per key."""

    def __init__(
        self, scrub_ip_addresses: bool, sensitive_fields: tuple[str, ...], safe: tuple[str, ...]
    ) -> None:
        extra = [re.escape(f.strip()) for f in sensitive_fields if f and f.strip()]
        self.password_keys = re.compile(PASSWORD_KEYS, re.IGNORECASE)
        self.sensitive_keys = re.compile("|".join(extra), re.IGNORECASE) if extra else None
        self.safe_keys = frozenset(f.strip().lower() for f in safe if f and f.strip())
        self.scrub_ip_addresses = scrub_ip_addresses
        # Shorter strings cannot hold any pattern ("1::2", "?pw=1" are the shortest).
        self.min_length = 4
        self.verdicts: dict[Any, str | None] = {}

    def key_rule(self, key: Any) -> str | None:
        """The rule that filters values under `key`, `_SAFE`, or None."""
        try:
            return self.verdicts[key]
        except KeyError:
            pass
        except TypeError:  # unhashable key from an in-process dict
            return None
        text = key if isinstance(key, str) else str(key)
        verdict: str | None = None
        if text.lower() in self.safe_keys:
            verdict = _SAFE
        elif self.password_keys.search(text):
            verdict = PASSWORD_RULE
        elif self.sensitive_keys is not None and self.sensitive_keys.search(text):
            verdict = SENSITIVE_FIELDS_RULE
        if len(self.verdicts) >= _MAX_CACHED_KEYS:
            self.verdicts.clear()  # keys are client-controlled: keep memory bounded
        self.verdicts[key] = verdict
        return verdict

    def query_rule(self, key: str) -> str | None:
        rule = self.key_rule(key)
        return None if rule is _SAFE else rule


@lru_cache(maxsize=256)
def _rules(scrub_ip: bool, sensitive: tuple[str, ...], safe: tuple[str, ...]) -> _Rules:
    return _Rules(scrub_ip, sensitive, safe)


def scrub_event(
    event: dict[str, Any],
    *,
    scrub_ip_addresses: bool = False,
    sensitive_fields: Sequence[str] = (),
    safe_fields: Sequence[str] = (),
) -> dict[str, Any]:
    """Scrub `event` in place and return it. Expects `normalize_event` output."""
    rules = _rules(bool(scrub_ip_addresses), tuple(sensitive_fields), tuple(safe_fields))
    client_meta = event.get("_meta")
    meta: Meta = client_meta if isinstance(client_meta, dict) else {}
    scrubber = _Scrubber(rules, meta)
    if scrub_ip_addresses:
        _remove_ip_fields(event, meta)
    scrubber.scrub_event(event)
    if meta:
        event["_meta"] = meta
    return event


def _remove_ip_fields(event: dict[str, Any], meta: Meta) -> None:
    for parent_key, key in (("user", "ip_address"), ("sdk", "client_ip")):
        parent = event.get(parent_key)
        if isinstance(parent, dict) and parent.get(key) is not None:
            parent[key] = None
            add_remark(meta, [parent_key, key], REMOVE_RULE, "x")
    request = event.get("request")
    env = request.get("env") if isinstance(request, dict) else None
    if isinstance(env, dict) and env.get("REMOTE_ADDR") is not None:
        env["REMOTE_ADDR"] = None
        add_remark(meta, ["request", "env", "REMOTE_ADDR"], REMOVE_RULE, "x")


class _Scrubber:
    """One walk over one event.

    Key rules are applied during the walk. Strings are only collected, with
    where they live; the substring rules then search them all at once, joined
    by NUL, because one pass over one big string costs far less in CPython
    than a regex call per string.
    """

    __slots__ = ("rules", "meta", "path", "texts", "places")

    def __init__(self, rules: _Rules, meta: Meta) -> None:
        self.rules = rules
        self.meta = meta
        self.path: Path = []
        self.texts: list[str] = []
        # (container, slot, path of the container) for each collected text
        self.places: list[tuple[Any, Any, tuple[Any, ...]]] = []

    def scrub_event(self, event: dict[str, Any]) -> None:
        path = self.path
        key_rule = self.rules.key_rule
        for key, value in event.items():
            if key in ("_meta", "debug_meta") or value is None:
                continue
            path.append(key)
            if key in ("exception", "threads") and isinstance(value, dict):
                excluded = _EXCEPTION_EXCLUDED_KEYS if key == "exception" else _THREAD_EXCLUDED_KEYS
                self._container(value, excluded)
            elif key == "stacktrace" and isinstance(value, dict):
                self._stacktrace(value)
            elif key == "logentry" and isinstance(value, dict):
                self._dict(value, skip=_LOGENTRY_EXCLUDED_KEYS)
            elif key == "request" and isinstance(value, dict):
                self._request(value)
            elif key == "tags" and isinstance(value, list):
                self._pairs(value)
            else:
                self._visit(event, key, value, key_rule(key))
            path.pop()
        if self.texts:
            self._apply_substring_rules()

    # --- generic walk ----------------------------------------------------------

    def _visit(self, container: Any, slot: Any, value: Any, rule: str | None) -> None:
        """Scrub `value`, which is `container[slot]`; `self.path` ends with `slot`."""
        if value is None or value is True or value is False:
            return
        if rule is not None and rule is not _SAFE:
            new = self._redact(value, rule)
            if new is not value:
                container[slot] = new
        elif isinstance(value, dict):
            self._dict(value)
        elif isinstance(value, list):
            self._list(value)
        elif isinstance(value, str) and rule is None and len(value) >= self.rules.min_length:
            self.texts.append(value)
            self.places.append((container, slot, tuple(self.path[:-1])))

    def _too_deep(self, value: dict[Any, Any] | list[Any]) -> None:
        # Unknown keys are not depth-trimmed by normalization; recursion must stay bounded.
        value.clear()
        add_remark(self.meta, self.path, "!limit", "x")

    def _dict(self, value: dict[Any, Any], skip: Container[Any] | None = None) -> None:
        if len(self.path) > _MAX_DEPTH:  # checked here: a call per object costs ~7 µs/event
            self._too_deep(value)
            return
        # Hot loop: locals and a direct verdict-cache lookup save ~40% here.
        rules = self.rules
        verdict_of = rules.verdicts.get
        min_length = rules.min_length
        path = self.path
        parent: tuple[Any, ...] | None = None
        for key, child in value.items():
            if child is None or (skip is not None and key in skip):
                continue
            rule = verdict_of(key, _UNKNOWN)
            if rule is _UNKNOWN:
                rule = rules.key_rule(key)
            if rule is None:
                kind = type(child)
                if kind is str:
                    if len(child) >= min_length:
                        if parent is None:
                            parent = tuple(path)
                        self.texts.append(child)
                        self.places.append((value, key, parent))
                    continue
                path.append(key)
                if kind is dict:
                    self._dict(child)
                elif kind is list:
                    self._list(child)
                elif isinstance(child, _WALKED):
                    self._visit(value, key, child, rule)
                path.pop()  # numbers and booleans need nothing
                continue
            path.append(key)
            self._visit(value, key, child, rule)
            path.pop()

    def _list(self, value: list[Any]) -> None:
        if len(self.path) > _MAX_DEPTH:
            self._too_deep(value)
            return
        path = self.path
        min_length = self.rules.min_length
        parent: tuple[Any, ...] | None = None
        for index, child in enumerate(value):
            kind = type(child)
            if kind is str:
                if len(child) >= min_length:
                    if parent is None:
                        parent = tuple(path)
                    self.texts.append(child)
                    self.places.append((value, index, parent))
            elif kind is dict:
                path.append(index)
                self._dict(child)
                path.pop()
            elif kind is list:
                path.append(index)
                self._list(child)
                path.pop()
            elif isinstance(child, _WALKED):
                path.append(index)
                self._visit(value, index, child, None)
                path.pop()

    def _collect(self, container: Any, slot: Any, text: str) -> None:
        """Store a rewritten string and queue it for the substring rules."""
        container[slot] = text
        self.texts.append(text)
        self.places.append((container, slot, tuple(self.path[:-1])))

    def _redact(self, value: Any, rule: str) -> Any:
        if isinstance(value, str):
            if value == FILTERED or not value:
                return value
            add_remark(self.meta, self.path, rule, "s", (0, len(FILTERED)), len(value))
            return FILTERED
        if isinstance(value, (int, float)):
            add_remark(self.meta, self.path, rule, "s", (0, len(FILTERED)))
            return FILTERED
        if isinstance(value, (dict, list)):
            add_remark(self.meta, self.path, rule, "x")
            return None
        return value

    # --- structure-aware parts -------------------------------------------------

    def _container(self, container: dict[str, Any], skip: frozenset[str]) -> None:
        """`exception` / `threads`: items may hold stack traces."""
        path = self.path
        for key, value in container.items():
            path.append(key)
            if key == "values" and isinstance(value, list):
                for index, item in enumerate(value):
                    if not isinstance(item, dict):
                        continue
                    path.append(index)
                    self._dict(item, skip=skip)
                    for stacktrace_key in _STACKTRACE_KEYS:
                        stacktrace = item.get(stacktrace_key)
                        if isinstance(stacktrace, dict):
                            path.append(stacktrace_key)
                            self._stacktrace(stacktrace)
                            path.pop()
                    path.pop()
            else:
                self._visit(container, key, value, self.rules.key_rule(key))
            path.pop()

    def _stacktrace(self, stacktrace: dict[str, Any]) -> None:
        path = self.path
        for key, value in stacktrace.items():
            path.append(key)
            if key == "frames" and isinstance(value, list):
                for index, frame in enumerate(value):
                    if isinstance(frame, dict):
                        path.append(index)
                        self._dict(frame, skip=FRAME_EXCLUDED_KEYS)
                        path.pop()
            else:
                self._visit(stacktrace, key, value, self.rules.key_rule(key))
            path.pop()

    def _request(self, request: dict[str, Any]) -> None:
        path = self.path
        for key, value in request.items():
            if value is None:
                continue
            path.append(key)
            if key == "headers":
                self._headers(value)
            elif key == "cookies" and isinstance(value, str):
                self._collect(request, key, self._cookie_header(value))
            elif key == "cookies" and isinstance(value, list):
                self._pairs(value, cookies=True)
            elif key == "cookies" and isinstance(value, dict):
                for name, cookie in value.items():
                    path.append(name)
                    self._visit(value, name, cookie, self._cookie_rule(name))
                    path.pop()
            elif key == "query_string" and isinstance(value, str):
                self._collect(request, key, self._query_string(value))
            elif key == "query_string" and isinstance(value, list):
                self._pairs(value)
            else:
                self._visit(request, key, value, self.rules.key_rule(key))
            path.pop()

    def _headers(self, headers: Any) -> None:
        path = self.path
        if isinstance(headers, dict):
            for name, value in headers.items():
                path.append(name)
                self._header(headers, name, name, value)
                path.pop()
        elif isinstance(headers, list):
            for index, pair in enumerate(headers):
                if isinstance(pair, list) and len(pair) == 2:
                    path.extend((index, 1))
                    self._header(pair, 1, pair[0], pair[1])
                    del path[-2:]

    def _header(self, container: Any, slot: Any, name: Any, value: Any) -> None:
        if isinstance(value, str) and isinstance(name, str):
            lowered = name.lower()
            if lowered == "cookie":
                self._collect(container, slot, self._cookie_header(value))
                return
            if lowered == "set-cookie":
                self._collect(container, slot, self._cookie_header(value, first_only=True))
                return
        self._visit(container, slot, value, self.rules.key_rule(name))

    def _pairs(self, pairs: list[Any], cookies: bool = False) -> None:
        """`[[key, value], ...]`: the first item is the key the key rules look at."""
        path = self.path
        for index, pair in enumerate(pairs):
            if isinstance(pair, list) and len(pair) == 2:
                rule = self._cookie_rule(pair[0]) if cookies else self.rules.key_rule(pair[0])
                path.extend((index, 1))
                self._visit(pair, 1, pair[1], rule)
                del path[-2:]

    def _cookie_rule(self, name: Any) -> str | None:
        rule = self.rules.key_rule(name)
        if rule is None and isinstance(name, str) and name.strip().lower() in SENSITIVE_COOKIES:
            return PASSWORD_RULE
        return rule

    def _cookie_header(self, header: str, first_only: bool = False) -> str:
        """Filter sensitive `name=value` pairs of a Cookie (or Set-Cookie) string."""
        parts = header.split(";")
        changed = False
        for index, part in enumerate(parts[:1] if first_only else parts):
            name, sep, value = part.partition("=")
            if not sep or value.strip() in ("", FILTERED):
                continue
            rule = self._cookie_rule(name.strip())
            if rule is None or rule is _SAFE:
                continue
            parts[index] = f"{name}={FILTERED}"
            add_remark(self.meta, self.path, rule, "s", None, len(header))
            changed = True
        return ";".join(parts) if changed else header

    def _query_string(self, query: str) -> str:
        """Filter values of sensitive keys in an unparsed `a=1&token=x` query string."""
        parts = query.split("&")
        changed = False
        for index, part in enumerate(parts):
            name, sep, value = part.partition("=")
            if not sep or value in ("", FILTERED):
                continue
            rule = self.rules.key_rule(name)
            if rule is None or rule is _SAFE:
                continue
            parts[index] = f"{name}={FILTERED}"
            add_remark(self.meta, self.path, rule, "s", None, len(query))
            changed = True
        return "&".join(parts) if changed else query

    # --- substring rules -------------------------------------------------------

    def _apply_substring_rules(self) -> None:
        texts = self.texts
        blob = "\x00".join(texts)  # no pattern matches NUL, so no match spans two texts
        spans = find_sensitive_spans(blob, self.rules.query_rule, self.rules.scrub_ip_addresses)
        if not spans:
            return
        # Start of text i in the blob: the lengths before it plus i separators (all in C).
        starts = list(map(add, accumulate(map(len, texts), initial=0), count()))
        by_text: dict[int, list[Span]] = {}
        for span in spans:
            by_text.setdefault(bisect_right(starts, span[0]) - 1, []).append(span)
        for index, found in by_text.items():
            self._rewrite(index, starts[index], found)

    def _rewrite(self, index: int, offset: int, found: list[Span]) -> None:
        text = self.texts[index]
        found.sort(key=lambda span: (span[0], -span[1]))
        pieces: list[str] = []
        remarks: list[tuple[str, int, int]] = []
        last = out_length = 0
        for blob_start, blob_end, rule, replacement in found:
            start, end = blob_start - offset, blob_end - offset
            if start < last or text[start:end] in (FILTERED, IP_REPLACEMENT):
                continue  # overlaps an earlier redaction, or was redacted before
            pieces.append(text[last:start])
            out_length += start - last
            remarks.append((rule, out_length, out_length + len(replacement)))
            pieces.append(replacement)
            out_length += len(replacement)
            last = end
        if not remarks:
            return
        pieces.append(text[last:])
        container, slot, parent = self.places[index]
        container[slot] = "".join(pieces)
        path = (*parent, slot)
        for rule, start, end in remarks:
            add_remark(self.meta, path, rule, "s", (start, end), len(text))
