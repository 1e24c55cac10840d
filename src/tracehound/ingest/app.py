"""The ingest hot path: a plain WSGI app in front of Django, no middleware.

authenticate → read and decompress with a cap → check framing and limits → one INSERT
into the queue → 200 {"id"}. Nothing is parsed beyond what validation needs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import orjson
from django.conf import settings

from tracehound.ingest import db
from tracehound.ingest.auth import (
    AuthError,
    KeyInfo,
    authenticate,
    find_public_key,
    public_key_from_dsn,
)
from tracehound.ingest.limits import RateLimited, Usage, check_rate_limit, effective_limit
from tracehound.ingest.security import SecurityReportError, security_report_to_event
from tracehound.lib.compression import BodyTooLarge, DecompressionError, decompress
from tracehound.lib.envelope import (
    Envelope,
    EnvelopeError,
    Item,
    normalize_event_id,
    parse_envelope,
    serialize_envelope,
    validate_json_item,
)
from tracehound.lib.ids import parse_id
from tracehound.queue.enqueue import EnqueueError, QueueWriter, Row, make_row

INGEST_PATH = re.compile(r"^/api/(?:([^/]+)/)?(envelope|store|security|csp-report)/?$")
TUNNEL_PATHS = frozenset(["/tunnel", "/tunnel/"])

# Item types digest stores; every other type is accepted and only counted.
STORED_ITEM_TYPES = frozenset(["event", "attachment", "user_report", "feedback", "client_report"])
JSON_ITEM_TYPES = frozenset(
    ["event", "transaction", "user_report", "feedback", "client_report", "check_in", "session"]
)

MAX_COUNTED_TYPES = 16

CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "x-sentry-error, x-sentry-rate-limits, retry-after"),
]
PREFLIGHT_HEADERS = [
    ("Access-Control-Allow-Methods", "POST, OPTIONS"),
    (
        "Access-Control-Allow-Headers",
        "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, "
        "content-type, authentication, authorization, content-encoding, transfer-encoding",
    ),
    ("Access-Control-Max-Age", "3600"),
]

StartResponse = Callable[..., Any]


def is_ingest_path(path: str) -> bool:
    return path in TUNNEL_PATHS or INGEST_PATH.match(path) is not None


class IngestError(Exception):
    def __init__(self, status: int, detail: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or []


REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


def respond(
    start_response: StartResponse,
    status: int,
    body: bytes,
    extra: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    headers += CORS_HEADERS
    if extra:
        headers += extra
    start_response(f"{status} {REASONS.get(status, 'Error')}", headers)
    return [body]


def error_response(start_response: StartResponse, exc: IngestError) -> Iterable[bytes]:
    # X-Sentry-Error must be one header line: strip anything that could break it.
    safe = exc.detail.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")
    body = orjson.dumps({"detail": exc.detail, "causes": []})
    return respond(start_response, exc.status, body, [("X-Sentry-Error", safe), *exc.headers])


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            size = int(length)
        except ValueError:
            raise IngestError(400, "invalid Content-Length") from None
        if size > limit:
            raise IngestError(413, f"request body exceeds {limit} bytes")
        body: bytes = stream.read(size)
        if len(body) != size:
            raise IngestError(400, "request body shorter than Content-Length")
        return body
    # Chunked or unsized: read until EOF, never more than the limit.
    parts, total = [], 0
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise IngestError(413, f"request body exceeds {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


INLINE_DECOMPRESSED_MAX = 1024 * 1024  # ~1 ms of inflating on the event loop


def decoded_body(environ: dict[str, Any]) -> bytes:
    limit = settings.TRACEHOUND_MAX_ENVELOPE_SIZE
    raw = read_body(environ, limit)
    inline = getattr(_inline, "rows", None) is not None
    cap = min(limit, INLINE_DECOMPRESSED_MAX) if inline else limit
    try:
        return decompress(raw, environ.get("HTTP_CONTENT_ENCODING"), cap)
    except BodyTooLarge as exc:
        if cap < limit:  # a big (or bomb) body: decompress it on a thread instead
            raise db.WouldBlock("body too large to decompress on the event loop") from None
        raise IngestError(413, f"decompressed body exceeds {exc.limit} bytes") from None
    except DecompressionError as exc:
        raise IngestError(400, f"failed to read request body: {exc}") from None


def check_item_sizes(envelope: Envelope) -> None:
    max_event = settings.TRACEHOUND_MAX_EVENT_SIZE
    max_attachment = settings.TRACEHOUND_MAX_ATTACHMENT_SIZE
    for index, item in enumerate(envelope.items, 1):
        limit = max_attachment if item.type == "attachment" else max_event
        if len(item.payload) > limit:
            raise IngestError(413, f"item {index} ({item.type}) exceeds {limit} bytes")


def single_event_envelope(event: dict[str, Any]) -> tuple[Envelope, str]:
    event_id = normalize_event_id(event.get("event_id")) or uuid.uuid4().hex
    event["event_id"] = event_id
    item = Item({"type": "event"}, orjson.dumps(event))
    return Envelope({"event_id": event_id}, [item]), event_id


class Prepared(NamedTuple):
    envelope: Envelope | None  # what to queue: the items digest stores
    event_id: str | None  # for the response
    counts: dict[str, int]  # items of other types, counted only


def prepare_envelope(envelope: Envelope) -> Prepared:
    """Validate items, keep the ones digest stores, count the rest."""
    check_item_sizes(envelope)
    kept: list[Item] = []
    counts: dict[str, int] = {}
    event_id = envelope.event_id
    for index, item in enumerate(envelope.items, 1):
        kind = item.type
        if kind in JSON_ITEM_TYPES:
            payload = validate_json_item(item, index)
            if kind == "event" and event_id is None:
                event_id = normalize_event_id(payload.get("event_id"))
        elif kind == "attachment" and not isinstance(item.headers.get("filename"), str):
            raise IngestError(400, f"item {index} (attachment): missing filename")
        if kind in STORED_ITEM_TYPES:
            kept.append(item)
        else:
            # Each counted type becomes a stats row: a few per envelope, not one per item.
            name = kind[:64]
            if name not in counts and len(counts) >= MAX_COUNTED_TYPES:
                name = "other"
            counts[name] = counts.get(name, 0) + 1
    if event_id is None and any(item.type == "event" for item in kept):
        event_id = uuid.uuid4().hex
    if not kept:
        return Prepared(None, event_id, counts)
    headers = dict(envelope.headers)
    if event_id is not None:
        headers["event_id"] = event_id
    return Prepared(Envelope(headers, kept), event_id, counts)


QUEUE = QueueWriter(db.execute_queue, db.close)


_inline = threading.local()


@contextlib.contextmanager
def answering_inline() -> Iterator[list[Row]]:
    """For the event loop: a database statement raises db.WouldBlock (the caller then
    retries the request on a thread), and queue rows are collected, not waited for:
    the caller commits them asynchronously before sending the response."""
    rows: list[Row] = []
    _inline.rows = rows
    db.forbid_waiting(True)
    try:
        yield rows
    finally:
        _inline.rows = None
        db.forbid_waiting(False)


def needs_thread_if_limited(key: KeyInfo) -> KeyInfo:
    """On the event loop, hand a rate-limited project's request to a thread before its
    body is decompressed and parsed: counting it is a statement (db.WouldBlock)."""
    if getattr(_inline, "rows", None) is not None and (
        effective_limit(key) > 0 or settings.TRACEHOUND_ATTACHMENT_RATE_LIMIT_BYTES > 0
    ):
        raise db.WouldBlock("the rate limit is counted in the database")
    return key


def enqueue(project_id: int, body: bytes, environ: dict[str, Any], meta: dict[str, Any]) -> None:
    row = make_row(project_id, body, client_address(environ), meta)
    deferred: list[Row] | None = getattr(_inline, "rows", None)
    if deferred is not None:
        deferred.append(row)
        return
    try:
        QUEUE.enqueue(row, wait=db.commit_wait())
    except EnqueueError:
        raise IngestError(503, "could not queue the payload, try again") from None


def client_address(environ: dict[str, Any]) -> str:
    """The client's IP: the peer, or behind trusted proxies the nearest untrusted hop."""
    peer: str = environ.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRACEHOUND_TRUSTED_PROXIES
    if not proxies or not is_trusted(peer, proxies):
        return peer
    forwarded: str = environ.get("HTTP_X_FORWARDED_FOR", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):  # each proxy appends the address it received from
        if not is_trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


def is_trusted(address: str, proxies: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def request_meta(environ: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    agent = environ.get("HTTP_USER_AGENT")
    if agent:
        meta["user_agent"] = agent[:256]
    client = query.get("sentry_client")
    if client:
        meta["sentry_client"] = client[:128]
    return meta


class Answer(NamedTuple):
    body: bytes
    headers: list[tuple[str, str]]


def handle_envelope(
    environ: dict[str, Any], project_id: int | None, query: dict[str, str]
) -> Answer:
    public_key = find_public_key(environ, query)
    # With credentials in the URL and headers, nothing is decompressed or parsed for
    # a sender who is not authenticated.
    early = authenticate(public_key, project_id) if project_id and public_key else None
    if early is not None:
        needs_thread_if_limited(early)
    body = decoded_body(environ)
    try:
        envelope = parse_envelope(body)
    except EnvelopeError as exc:
        raise IngestError(400, f"invalid envelope: {exc}") from None
    dsn = envelope.headers.get("dsn")
    if dsn:
        dsn_key, dsn_project = public_key_from_dsn(dsn)
        if public_key is not None and public_key != dsn_key:
            raise IngestError(401, "multiple authorization payloads detected")
        if project_id is None:
            project_id = parse_id(dsn_project)
            if project_id is None:
                raise IngestError(400, f"invalid project id {dsn_project!r} in envelope dsn")
        public_key = dsn_key
    if project_id is None:
        raise IngestError(401, "missing authorization information: envelope has no dsn")
    key = early or needs_thread_if_limited(authenticate(public_key, project_id))
    try:
        kept, event_id, counts = prepare_envelope(envelope)
    except EnvelopeError as exc:
        raise IngestError(400, f"invalid envelope: {exc}") from None
    headers: list[tuple[str, str]] = []
    usage = envelope_usage(kept)
    if usage.events or usage.attachments:
        over = check_rate_limit(key, usage)
        if over is not None and kept is not None:  # keep the event, drop its attachments
            kept = Envelope(kept.headers, [i for i in kept.items if i.type != "attachment"])
            headers = over.headers
    meta = request_meta(environ, query)
    if counts:
        meta["counts"] = counts
    if kept is not None or counts:
        queued = serialize_envelope(kept) if kept is not None else b""
        enqueue(key.project_id, queued, environ, meta)
    return Answer(orjson.dumps({"id": event_id} if event_id else {}), headers)


def envelope_usage(kept: Envelope | None) -> Usage:
    if kept is None:
        return Usage()
    events = attachments = attachment_bytes = 0
    for item in kept.items:  # one pass: this runs on every request
        kind = item.type
        if kind == "event":
            events += 1
        elif kind == "attachment":
            attachments += 1
            attachment_bytes += len(item.payload)
    return Usage(events, attachments, attachment_bytes)


def handle_store(environ: dict[str, Any], project_id: int, query: dict[str, str]) -> Answer:
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-sentry-envelope"):
        return handle_envelope(environ, project_id, query)
    key = needs_thread_if_limited(authenticate(find_public_key(environ, query), project_id))
    body = decoded_body(environ)
    if len(body) > settings.TRACEHOUND_MAX_EVENT_SIZE:
        raise IngestError(413, f"event exceeds {settings.TRACEHOUND_MAX_EVENT_SIZE} bytes")
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise IngestError(400, f"invalid event JSON: {exc}") from None
    if not isinstance(event, dict):
        raise IngestError(400, "event is not a JSON object")
    try:
        envelope, event_id = single_event_envelope(event)
    except EnvelopeError as exc:
        raise IngestError(400, f"invalid event_id: {exc}") from None
    check_rate_limit(key)
    enqueue(
        key.project_id,
        serialize_envelope(envelope),
        environ,
        request_meta(environ, query),
    )
    return Answer(orjson.dumps({"id": event_id}), [])


def handle_security(environ: dict[str, Any], project_id: int, query: dict[str, str]) -> Answer:
    key = needs_thread_if_limited(authenticate(find_public_key(environ, query), project_id))
    body = decoded_body(environ)
    if len(body) > settings.TRACEHOUND_MAX_EVENT_SIZE:
        raise IngestError(413, f"report exceeds {settings.TRACEHOUND_MAX_EVENT_SIZE} bytes")
    try:
        event = security_report_to_event(body, environ.get("CONTENT_TYPE"))
    except SecurityReportError as exc:
        raise IngestError(400, f"invalid security report: {exc}") from None
    for param, field in (("sentry_release", "release"), ("sentry_environment", "environment")):
        if query.get(param):
            event[field] = query[param]
    envelope, event_id = single_event_envelope(event)
    check_rate_limit(key)
    meta = request_meta(environ, query)
    enqueue(key.project_id, serialize_envelope(envelope), environ, meta)
    return Answer(orjson.dumps({"id": event_id}), [])


def ingest_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
    """Answer an ingest request, or return None when the path is not an ingest route."""
    path = environ.get("PATH_INFO", "")
    match = INGEST_PATH.match(path)
    if match is None and path not in TUNNEL_PATHS:
        return None
    method = environ.get("REQUEST_METHOD", "GET")
    if method == "OPTIONS":
        start_response("200 OK", [("Content-Length", "0"), *CORS_HEADERS, *PREFLIGHT_HEADERS])
        return [b""]
    try:
        if method != "POST":
            raise IngestError(405, f"method {method} not allowed, use POST")
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        if match is None:
            answer = handle_envelope(environ, None, query)
        else:
            project_id = parse_id(match.group(1) or "")
            endpoint = match.group(2)
            if project_id is None:
                raise IngestError(400, "missing or invalid project id in the URL")
            if endpoint == "envelope":
                answer = handle_envelope(environ, project_id, query)
            elif endpoint == "store":
                answer = handle_store(environ, project_id, query)
            else:
                answer = handle_security(environ, project_id, query)
    except AuthError as exc:
        return error_response(start_response, IngestError(exc.status, exc.detail))
    except RateLimited as exc:
        return error_response(start_response, IngestError(429, exc.detail, exc.headers))
    except IngestError as exc:
        return error_response(start_response, exc)
    except db.IngestDatabaseError:
        return error_response(start_response, IngestError(503, "database unavailable, try again"))
    return respond(start_response, 200, answer.body, answer.headers)
