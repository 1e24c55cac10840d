"""Request-body decoding with a hard output cap, and zstd for payloads at rest.

Ingest bodies come from the internet, so every decoder here stops as soon as
its output passes ``max_size``: a 1 KB gzip bomb must not turn into 1 GB of RAM.
"""

from __future__ import annotations

import io
import threading
import zlib
from collections.abc import Callable

import brotli
import zstandard

__all__ = [
    "BodyTooLarge",
    "DecompressionError",
    "compress_payload",
    "decompress",
    "decompress_payload",
]


class DecompressionError(ValueError):
    """The body could not be decoded (unknown encoding or corrupt data)."""


class BodyTooLarge(ValueError):
    """The (decoded) body is larger than the allowed maximum."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body exceeds the limit of {limit} bytes")
        self.limit = limit


# sentry-ruby 5.x sends "" and sentry-java-android 2.0.0 sends "UTF-8" as a
# Content-Encoding; neither means the body is encoded.
_IDENTITY = frozenset({"", "identity", "utf-8"})

# zstd reads are chunked because ZstdDecompressionReader.read(n) allocates n
# bytes up front; reading max_size at once would allocate the cap every time.
_ZSTD_READ_CHUNK = 256 * 1024
# RFC 9659 asks HTTP zstd decoders to support (only) windows up to 8 MiB; a
# larger window would let a tiny frame make the decoder allocate up to 2 GiB.
_ZSTD_MAX_WINDOW = 8 * 1024 * 1024


def decompress(body: bytes, encoding: str | None, max_size: int) -> bytes:
    """Decode ``body`` per its raw Content-Encoding header, never past ``max_size``.

    Stacked encodings ("gzip, br") were applied left to right, so they are
    undone right to left.
    """
    codings = [c.strip().lower() for c in (encoding or "").split(",")]
    codings = [c for c in codings if c not in _IDENTITY]
    decoders = []
    for coding in codings:
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise DecompressionError(f"unsupported content encoding {coding!r}")
        decoders.append(decoder)

    if not decoders and len(body) > max_size:
        raise BodyTooLarge(max_size)
    for decoder in reversed(decoders):
        body = decoder(body, max_size)
    return body


def _inflate(body: bytes, max_size: int, wbits: int, name: str) -> bytes:
    # zlib's max_length grows its output buffer in blocks, so asking for
    # max_size + 1 bytes does not allocate them up front.
    parts: list[bytes] = []
    total = 0
    data = body
    while True:
        d = zlib.decompressobj(wbits=wbits)
        try:
            out = d.decompress(data, max_size - total + 1)
        except zlib.error as exc:
            raise DecompressionError(f"invalid {name} data: {exc}") from None
        total += len(out)
        if total > max_size:
            raise BodyTooLarge(max_size)
        parts.append(out)
        if not d.eof:
            raise DecompressionError(f"invalid {name} data: truncated stream")
        data = d.unused_data
        # gzip allows several members back to back (e.g. `cat a.gz b.gz`).
        if not (wbits == 31 and data.startswith(b"\x1f\x8b")):
            break
    # Some gzip writers pad with NULs; anything else after the stream is corrupt.
    if data.strip(b"\x00"):
        raise DecompressionError(f"invalid {name} data: trailing garbage")
    return b"".join(parts)


def _decode_gzip(body: bytes, max_size: int) -> bytes:
    return _inflate(body, max_size, wbits=31, name="gzip")


def _decode_deflate(body: bytes, max_size: int) -> bytes:
    # "deflate" should be the zlib wrapper (RFC 1950), but some clients send a
    # raw deflate stream; a zlib header is a 2-byte big-endian multiple of 31.
    is_zlib = len(body) >= 2 and body[0] & 0x0F == 8 and ((body[0] << 8) | body[1]) % 31 == 0
    if is_zlib:
        try:
            return _inflate(body, max_size, wbits=15, name="deflate")
        except DecompressionError:
            pass  # a raw stream can start with bytes that look like a zlib header
    return _inflate(body, max_size, wbits=-15, name="deflate")


def _decode_brotli(body: bytes, max_size: int) -> bytes:
    d = brotli.Decompressor()
    try:
        # output_buffer_limit (brotli >= 1.2) stops the buffer growing past the cap.
        out = d.process(body, output_buffer_limit=max_size + 1)
    except brotli.error as exc:
        raise DecompressionError(f"invalid br data: {exc}") from None
    if len(out) > max_size:
        raise BodyTooLarge(max_size)
    if not d.is_finished():
        raise DecompressionError("invalid br data: truncated stream")
    return bytes(out)


def _decode_zstd(body: bytes, max_size: int) -> bytes:
    if not body:
        raise DecompressionError("invalid zstd data: empty body")
    dctx = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
    try:
        # Pass 1 only measures, in bounded chunks: decompressobj() has no
        # output limit, so it may only run once the total is known to fit.
        reader = dctx.stream_reader(io.BytesIO(body), read_across_frames=True)
        total = 0
        while chunk := reader.read(min(_ZSTD_READ_CHUNK, max_size - total + 1)):
            total += len(chunk)
            if total > max_size:
                raise BodyTooLarge(max_size)
        # Pass 2 decodes frame by frame, because only decompressobj() reports
        # a truncated final frame (the stream reader just stops). zstd decodes
        # at GB/s, so the second pass is cheap next to the network.
        parts: list[bytes] = []
        data = body
        while data:
            dobj = dctx.decompressobj()
            parts.append(dobj.decompress(data))
            if not dobj.eof:
                raise DecompressionError("invalid zstd data: truncated stream")
            total -= len(parts[-1])
            if total < 0:  # never expected: both passes decode the same frames
                raise BodyTooLarge(max_size)
            data = dobj.unused_data
    except zstandard.ZstdError as exc:
        raise DecompressionError(f"invalid zstd data: {exc}") from None
    return b"".join(parts)


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _decode_gzip,
    "x-gzip": _decode_gzip,
    "deflate": _decode_deflate,
    "br": _decode_brotli,
    "zstd": _decode_zstd,
}


# --- payloads at rest -------------------------------------------------------

_local = threading.local()

# Dictionaries are trained from stored events (events.codec): JSON from the same SDKs
# shares most of its keys and boilerplate, so a 64 KiB dictionary halves payload size.
DICTIONARY_SIZE = 64 * 1024


def _contexts(
    dictionary: bytes | None,
) -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    # zstandard contexts are not thread-safe; one pair per thread and dictionary.
    cache: dict[bytes | None, tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]]
    cache = getattr(_local, "contexts", None) or {}
    _local.contexts = cache
    pair = cache.get(dictionary)
    if pair is None:
        if dictionary is None:
            pair = (zstandard.ZstdCompressor(level=3), zstandard.ZstdDecompressor())
        else:
            data = zstandard.ZstdCompressionDict(dictionary)
            pair = (
                zstandard.ZstdCompressor(level=3, dict_data=data),
                zstandard.ZstdDecompressor(dict_data=data),
            )
        if len(cache) > 16:
            cache.clear()
        cache[dictionary] = pair
    return pair


def compress_payload(data: bytes, dictionary: bytes | None = None) -> bytes:
    """Compress a stored payload (zstd level 3); the frame records the dictionary id."""
    return _contexts(dictionary)[0].compress(data)


def payload_dictionary_id(blob: bytes) -> int:
    """The id of the dictionary `blob` was compressed with; 0 for none."""
    try:
        return int(zstandard.get_frame_parameters(blob).dict_id)
    except zstandard.ZstdError as exc:
        raise DecompressionError(f"invalid stored payload: {exc}") from None


def decompress_payload(blob: bytes, dictionary: bytes | None = None) -> bytes:
    """Inverse of :func:`compress_payload`, given the same dictionary."""
    try:
        return _contexts(dictionary)[1].decompress(blob)
    except zstandard.ZstdError as exc:
        raise DecompressionError(f"invalid stored payload: {exc}") from None


def train_payload_dictionary(samples: list[bytes], dict_id: int) -> bytes:
    """A zstd dictionary for payloads like `samples`, carrying `dict_id` in its header."""
    buffers: list[bytes | bytearray | memoryview] = list(samples)
    trained = zstandard.train_dictionary(DICTIONARY_SIZE, buffers, dict_id=dict_id, level=3)
    return bytes(trained.as_bytes())
