"""Size caps of event fields: one table for normalize and process.

Character caps follow Relay's `MaxChars` where it has one (message 8192,
logger 64, culprit 200, tag key and value 200, environment and dist 64,
email 75, symbols and paths 256, enum-like values 128); the others fit the
column or the page that shows the value. Count caps keep a page and the
tag tables bounded whatever an event holds.
"""

from __future__ import annotations

from typing import Final

MAX_CHARS: Final[dict[str, int]] = {
    # top-level strings (several reach a column: see events.Event and issues.Issue)
    "logger": 64,
    "culprit": 200,
    "transaction": 200,
    "server_name": 256,
    "release": 200,
    "dist": 64,
    "environment": 64,
    "platform": 64,
    "message": 8192,
    "fingerprint": 256,
    # tags (issues.IssueTagValue key and value)
    "tag.key": 200,
    "tag.value": 200,
    # exceptions and frames
    "exception.type": 256,
    "exception.value": 8192,
    "exception.module": 256,
    "mechanism.type": 128,
    "frame.symbol": 256,  # function, raw_function, symbol
    "frame.path": 256,  # filename, abs_path, module, package
    "frame.enum": 128,  # platform, addresses, trust
    "frame.context_line": 512,
    # breadcrumbs
    "breadcrumb.type": 128,
    "breadcrumb.category": 128,
    "breadcrumb.message": 8192,
    # user and request
    "user.email": 75,
    "user.field": 128,  # id, username, name, segment, ip_address
    "request.url": 2048,
    "request.method": 32,
    "context.type": 128,
    # attachments (events.Attachment)
    "attachment.name": 256,
    "attachment.content_type": 128,
    "attachment.attachment_type": 64,
    # user feedback (events.UserReport)
    "report.name": 128,
    "report.email": 128,
    "report.comments": 4096,
    "report.url": 512,
}

MAX_COUNT: Final[dict[str, int]] = {
    "breadcrumbs": 100,
    "frames": 250,  # per stack trace; both ends are kept
    "exceptions": 50,  # chained or grouped; both ends are kept
    "context_lines": 50,  # pre_context and post_context each, nearest lines kept
    "tags": 200,
    "fingerprint": 64,
}

# Bounds of numbers that renderers turn into dates or line numbers.
MIN_TIMESTAMP: Final = 0.0  # 1970-01-01
MAX_TIMESTAMP: Final = 253_402_214_400.0  # 9999-12-31, the last date Python can show
MAX_LINENO: Final = 2**31 - 1
