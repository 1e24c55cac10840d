"""Realistic Sentry envelopes, pre-built as complete HTTP/1.1 requests.

What a Python SDK (Django integration) sends for an exception: 10–30 frames with source
context and local variables, 10–40 breadcrumbs, contexts (os/runtime/trace), tags, user,
request and installed modules; 5–20 KB of JSON per event. About 50 recurring issue
"shapes" (exception type + frames) and ~3 % one-off shapes.

A pool of templates is generated before timing. Sending one copies a template and writes
a fresh 32-hex event id over the template's id at known offsets (`Template.render`), so
every request has a unique event_id (and each one-off shape a unique exception type) at
the cost of a bytearray copy. With gzip the ids sit in stored (uncompressed) deflate
blocks, so the body stays compressed and only the CRC is recomputed.
"""

from __future__ import annotations

import os
import random
import struct
import time
import zlib
from dataclasses import dataclass

import orjson

SDK = ("sentry.python.django", "2.19.0")
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

VERBS = ["load", "save", "fetch", "parse", "render", "check", "sync", "build", "apply", "send"]
NOUNS = ["order", "invoice", "user", "cart", "payment", "report", "session", "token", "item"]
PACKAGES = ["billing", "accounts", "catalog", "checkout", "shipping", "search", "notifications"]
ERRORS = [
    ("builtins", "KeyError"), ("builtins", "ValueError"), ("builtins", "TypeError"),
    ("builtins", "AttributeError"), ("builtins", "ZeroDivisionError"),
    ("builtins", "IndexError"), ("builtins", "TimeoutError"),
    ("django.db.utils", "IntegrityError"), ("django.db.utils", "OperationalError"),
    ("django.core.exceptions", "ValidationError"), ("requests.exceptions", "ConnectionError"),
    ("redis.exceptions", "ConnectionError"), ("app.errors", "PaymentDeclined"),
]  # fmt: skip
LIBRARY_FRAMES = [
    ("django/core/handlers/exception.py", "django.core.handlers.exception", "inner", 55),
    ("django/core/handlers/base.py", "django.core.handlers.base", "_get_response", 197),
    ("django/views/decorators/csrf.py", "django.views.decorators.csrf", "wrapper_view", 65),
    ("django/views/generic/base.py", "django.views.generic.base", "view", 104),
    ("django/views/generic/base.py", "django.views.generic.base", "dispatch", 143),
    ("rest_framework/views.py", "rest_framework.views", "dispatch", 509),
    ("rest_framework/views.py", "rest_framework.views", "handle_exception", 469),
    ("django/db/models/query.py", "django.db.models.query", "get", 649),
    ("django/db/models/sql/compiler.py", "django.db.models.sql.compiler", "execute_sql", 1574),
    ("django/db/backends/utils.py", "django.db.backends.utils", "_execute", 105),
    ("requests/sessions.py", "requests.sessions", "request", 589),
    ("requests/adapters.py", "requests.adapters", "send", 519),
]
MODULES = [
    "django", "djangorestframework", "requests", "urllib3", "certifi", "idna", "celery",
    "kombu", "redis", "psycopg", "sqlparse", "asgiref", "pytz", "gunicorn", "sentry-sdk",
    "pillow", "boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
    "pyyaml", "jinja2", "markupsafe", "click", "attrs", "pydantic", "typing-extensions",
    "cryptography", "cffi", "pycparser", "charset-normalizer", "orjson", "structlog",
    "django-filter", "django-cors-headers", "whitenoise", "stripe", "twilio", "lxml",
    "numpy", "pandas", "packaging", "setuptools", "pip", "wheel", "vine", "billiard",
]  # fmt: skip


def ident(rng: random.Random) -> str:
    return f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}"


def source_line(rng: random.Random) -> str:
    indent = " " * rng.choice((4, 8, 8, 12))
    a, b, c = ident(rng), rng.choice(NOUNS), rng.choice(NOUNS)
    return rng.choice(
        [
            f"{indent}{b} = {a}({c}, timeout=30)",
            f"{indent}if {b}.status != {c}.status:",
            f"{indent}return {a}(request, {b}.pk)",
            f'{indent}log.info("{a} %s", {b}.pk)',
            f"{indent}for {b} in {c}.{b}_set.all():",
            f"{indent}{b}.total += {c}.amount",
            "",
        ]
    )


def var_repr(rng: random.Random) -> str:
    noun = rng.choice(NOUNS)
    return rng.choice(
        [
            f"'{noun}-{rng.randint(1, 99999)}'",
            str(rng.randint(0, 10**6)),
            f"<{noun.title()}: {noun} #{rng.randint(1, 9999)}>",
            f"{{'id': {rng.randint(1, 9999)}, 'status': '{rng.choice(VERBS)}ed', "
            f"'{noun}': '{noun}@example.com'}}",
            f"[{', '.join(str(rng.randint(0, 999)) for _ in range(rng.randint(1, 8)))}]",
            "None",
            "True",
            f"<WSGIRequest: POST '/api/{noun}s/{rng.randint(1, 999)}/'>",
        ]
    )


@dataclass
class Shape:
    exceptions: list[tuple[str, str]]  # (module, type), outermost last
    frames: list[dict]  # everything but vars
    transaction: str


def make_shape(rng: random.Random, unique: bool) -> Shape:
    frames = []
    for filename, module, function, lineno in sorted(
        rng.sample(LIBRARY_FRAMES, rng.randint(3, 5)), key=lambda f: f[0]
    ):
        frames.append((filename, module, function, lineno, False))
    package = rng.choice(PACKAGES)
    for depth in range(7 + int(18 * rng.random() ** 3)):  # 10–30 frames, mostly ~15
        mod = f"{package}.{rng.choice(NOUNS)}s"
        fn = ident(rng) if depth else f"{rng.choice(NOUNS)}_view"
        frames.append((f"{mod.replace('.', '/')}.py", f"app.{mod}", fn, rng.randint(10, 900), True))
    built, context = [], rng.choice((1, 1, 2, 3))
    for filename, module, function, lineno, in_app in frames:
        root = "/srv/app" if in_app else "/usr/local/lib/python3.11/site-packages"
        built.append(
            {
                "filename": filename,
                "abs_path": f"{root}/{filename}",
                "module": module,
                "function": function,
                "lineno": lineno,
                "in_app": in_app,
                "pre_context": [source_line(rng) for _ in range(context)],
                "context_line": source_line(rng),
                "post_context": [source_line(rng) for _ in range(context)],
            }
        )
    chain = [rng.choice(ERRORS) for _ in range(2 if rng.random() < 0.2 else 1)]
    if unique:
        chain[-1] = ("app.errors", "Unexpected")  # the type gets the event id appended
    return Shape(chain, built, f"/api/{package}/{rng.choice(NOUNS)}s/<int:pk>/")


def make_event(rng: random.Random, shape: Shape, event_id: str, unique: bool) -> dict:
    now = time.time()
    noun = rng.choice(NOUNS)
    frames = [dict(f, vars={ident(rng): var_repr(rng) for _ in range(rng.randint(1, 4))})
              if f["in_app"] else f for f in shape.frames]  # fmt: skip
    values = []
    for i, (module, type_) in enumerate(shape.exceptions):
        if unique and i == len(shape.exceptions) - 1:
            type_ = f"{type_}{event_id}"
        values.append(
            {
                "type": type_,
                "module": module,
                "value": f"{noun} {rng.randint(1, 10**6)} could not be {rng.choice(VERBS)}ed",
                "mechanism": {"type": "django", "handled": False, "exception_id": i},
                # a cause's traceback is short: from where it was raised to where it was caught
                "stacktrace": {"frames": frames[-3:] if i < len(shape.exceptions) - 1 else frames},
            }
        )
    crumbs = []
    for n in range(10 + int(30 * rng.random() ** 3)):
        ts = now - 5 + n * 0.05
        kind = rng.random()
        if kind < 0.4:
            crumbs.append({"type": "default", "category": "query", "timestamp": ts, "data": {},
                           "message": f'SELECT "{noun}"."id", "{noun}"."status" FROM "{noun}" '
                                      f'WHERE "{noun}"."id" = %s LIMIT {rng.randint(1, 50)}'})  # fmt: skip
        elif kind < 0.7:
            crumbs.append({"type": "http", "category": "httplib", "timestamp": ts,
                           "data": {"method": "GET", "status_code": rng.choice((200, 404, 500)),
                                    "url": f"https://api.partner.example/v2/{noun}s/{n}",
                                    "reason": "OK"}})  # fmt: skip
        else:
            crumbs.append({"type": "log", "category": f"app.{noun}s", "level": "info",
                           "timestamp": ts, "message": f"{ident(rng)} took {rng.randint(1, 900)} ms"})  # fmt: skip
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    user_id = rng.randint(1, 5000)
    return {
        "event_id": event_id,
        "timestamp": now,
        "platform": "python",
        "level": "error",
        "logger": "django.request",
        "server_name": f"web-{rng.randint(1, 6)}",
        "release": f"backend@1.{rng.randint(0, 3)}.0",
        "environment": rng.choice(("production", "production", "staging")),
        "transaction": shape.transaction,
        "exception": {"values": values},
        "breadcrumbs": {"values": crumbs},
        "contexts": {
            "os": {"name": "Linux", "version": "6.1.0-18-amd64", "build": "#1 SMP Debian"},
            "runtime": {
                "name": "CPython",
                "version": "3.11.9",
                "build": "3.11.9 (main, Apr  2 2024, 08:25:04) [GCC 12.2.0]",
            },
            "trace": {
                "trace_id": trace_id,
                "span_id": span_id,
                "parent_span_id": os.urandom(8).hex(),
                "op": "http.server",
                "status": "internal_error",
                "origin": "auto.http.django",
            },
        },  # fmt: skip
        "tags": {
            "browser": rng.choice(("Chrome 124", "Firefox 125", "Safari 17")),
            "customer_tier": rng.choice(("free", "pro", "enterprise")),
            "region": rng.choice(("eu-west-1", "us-east-1")),
            "url": shape.transaction,
        },  # fmt: skip
        "user": {
            "id": str(user_id),
            "email": f"user{user_id}@example.com",
            "ip_address": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "username": f"user{user_id}",
        },  # fmt: skip
        "request": {
            "url": f"https://shop.example.com{shape.transaction.replace('<int:pk>', str(user_id))}",
            "method": rng.choice(("GET", "POST", "PUT")),
            "query_string": f"page={rng.randint(1, 9)}&sort=-created",
            "headers": {
                "Host": "shop.example.com",
                "Accept": "application/json",
                "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                "(KHTML, like Gecko) Chrome/124.0 Safari/537.36",
                "Accept-Language": "en-US,en;q=0.9",
                "Content-Type": "application/json",
                "X-Forwarded-For": "203.0.113.7",
                "Cookie": "[Filtered]",
            },
            "data": {noun: {"id": user_id, "quantity": rng.randint(1, 9), "note": "[Filtered]"}},
            "env": {"SERVER_NAME": "shop.example.com", "SERVER_PORT": "443"},
        },  # fmt: skip
        "modules": {
            name: f"{rng.randint(0, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
            for name in rng.sample(MODULES, rng.randint(25, len(MODULES)))
        },  # fmt: skip
        "extra": {"sys.argv": ["/usr/local/bin/gunicorn", "shop.wsgi", "--workers", "4"]},
        "sdk": {
            "name": SDK[0],
            "version": SDK[1],
            "integrations": ["django", "logging", "stdlib"],
            "packages": [{"name": "pypi:sentry-sdk", "version": SDK[1]}],
        },  # fmt: skip
    }


def envelope_body(event: dict) -> bytes:
    payload = orjson.dumps(event)
    header = {
        "event_id": event["event_id"],
        "sent_at": "2024-05-01T12:00:00.000000Z",
        "trace": {"trace_id": event["contexts"]["trace"]["trace_id"], "environment": event["environment"],
                  "release": event["release"], "public_key": "placeholder"},
    }  # fmt: skip
    item = {"type": "event", "content_type": "application/json", "length": len(payload)}
    return orjson.dumps(header) + b"\n" + orjson.dumps(item) + b"\n" + payload + b"\n"


def find_all(data: bytes, needle: bytes) -> list[int]:
    found, start = [], data.find(needle)
    while start != -1:
        found.append(start)
        start = data.find(needle, start + len(needle))
    return found


def gzip_with_holes(plain: bytes, offsets: list[int], width: int) -> tuple[bytes, list[int]]:
    """Gzip `plain`, leaving each [offset, offset+width) in a stored block; return the holes."""
    out, holes, pos = bytearray(GZIP_HEADER), [], 0
    for offset in [*offsets, None]:
        segment = plain[pos:offset] if offset is not None else plain[pos:]
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        out += comp.compress(segment) + comp.flush(
            zlib.Z_FINISH if offset is None else zlib.Z_SYNC_FLUSH
        )
        if offset is None:
            break
        out += b"\x00" + struct.pack("<HH", width, 0xFFFF ^ width)  # byte-aligned stored block
        holes.append(len(out))
        out += plain[offset : offset + width]
        pos = offset + width
    out += struct.pack("<II", zlib.crc32(plain), len(plain))
    return bytes(out), holes


@dataclass
class Template:
    raw: bytes  # the whole HTTP request
    holes: list[int]  # offsets in raw where the event id goes
    plain: bytes  # gzip only: the uncompressed body, to recompute the CRC
    plain_holes: list[int]
    body_size: int  # uncompressed envelope size
    wire_size: int  # request body bytes on the wire

    def render(self, event_id: bytes) -> bytearray:
        buf = bytearray(self.raw)
        for offset in self.holes:
            buf[offset : offset + 32] = event_id
        if self.plain:
            plain = bytearray(self.plain)
            for offset in self.plain_holes:
                plain[offset : offset + 32] = event_id
            buf[-8:-4] = struct.pack("<I", zlib.crc32(plain))
        return buf


def request_head(host: str, project_id: int, public_key: str, length: int, gzip: bool) -> bytes:
    lines = [
        f"POST /api/{project_id}/envelope/ HTTP/1.1",
        f"Host: {host}",
        f"User-Agent: sentry.python/{SDK[1]}",
        "Content-Type: application/x-sentry-envelope",
        f"X-Sentry-Auth: Sentry sentry_key={public_key}, sentry_version=7, "
        f"sentry_client=sentry.python/{SDK[1]}",
        f"Content-Length: {length}",
    ]
    if gzip:
        lines.append("Content-Encoding: gzip")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def build_pool(
    host: str, project_id: int, public_key: str, *, size: int = 600, shapes: int = 50,
    unique_share: float = 0.03, gzip: bool = False, seed: int = 7,
) -> list[Template]:  # fmt: skip
    """`size` request templates, shuffled; ~unique_share of them get a new issue per send."""
    rng = random.Random(seed)
    recurring = [make_shape(rng, unique=False) for _ in range(shapes)]
    weights = [1 / (rank + 1) for rank in range(shapes)]  # a few hot issues, a long tail
    pool = []
    for n in range(size):
        unique = n < round(size * unique_share)
        shape = make_shape(rng, unique=True) if unique else rng.choices(recurring, weights)[0]
        event_id = os.urandom(16).hex()
        plain = envelope_body(make_event(rng, shape, event_id, unique))
        holes = find_all(plain, event_id.encode())
        if gzip:
            body, body_holes = gzip_with_holes(plain, holes, 32)
        else:
            body, body_holes = plain, holes
        head = request_head(host, project_id, public_key, len(body), gzip)
        pool.append(
            Template(
                raw=head + body,
                holes=[len(head) + h for h in body_holes],
                plain=plain if gzip else b"",
                plain_holes=holes if gzip else [],
                body_size=len(plain),
                wire_size=len(body),
            )
        )
    rng.shuffle(pool)
    return pool


def pool_summary(pool: list[Template]) -> dict[str, float]:
    sizes = sorted(t.body_size for t in pool)
    wire = sum(t.wire_size for t in pool) / len(pool)
    return {
        "templates": len(pool),
        "event_kb_min": round(sizes[0] / 1024, 1),
        "event_kb_mean": round(sum(sizes) / len(sizes) / 1024, 1),
        "event_kb_max": round(sizes[-1] / 1024, 1),
        "wire_kb_mean": round(wire / 1024, 1),
    }
