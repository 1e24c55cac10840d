"""Attachment downloads: bytes an attacker chose, so never rendered from our origin.

The type is always application/octet-stream with nosniff and a sandbox CSP, whatever the
SDK claimed, and the filename goes through `content_disposition` (RFC 6266: an ASCII
`filename` for old clients, the exact name as UTF-8 in `filename*`).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from django.http import HttpResponse

from tracehound.events.codec import decode_payload
from tracehound.events.models import Attachment

MAX_NAME = 200  # characters; far below header limits, long enough for any real file name
FALLBACK_UNSAFE = str.maketrans(dict.fromkeys('"\\%;', "_"))


def clean_filename(name: str) -> str:
    """The name without control or format characters (CR, LF, NUL, bidi overrides) and
    path separators, at most MAX_NAME characters, keeping a short extension."""
    kept = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    kept = kept.replace("/", "_").replace("\\", "_").strip()
    if len(kept) > MAX_NAME:
        stem, dot, ext = kept.rpartition(".")
        ext = f"{dot}{ext}" if stem and len(ext) <= 16 else ""
        kept = kept[: MAX_NAME - len(ext)] + ext
    return kept or "attachment"


def content_disposition(name: str) -> str:
    clean = clean_filename(name)
    ascii_name = unicodedata.normalize("NFKD", clean).encode("ascii", "ignore").decode()
    ascii_name = "".join(c if " " <= c <= "~" else "_" for c in ascii_name)
    ascii_name = ascii_name.translate(FALLBACK_UNSAFE).strip() or "attachment"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(clean, safe='')}"


def attachment_response(attachment: Attachment) -> HttpResponse:
    content = decode_payload(bytes(attachment.data))
    response = HttpResponse(content, content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition(attachment.name)
    response["Content-Length"] = str(len(content))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
