import gzip
import struct
import threading
import time
import tracemalloc
import zlib

import brotli
import pytest
import zstandard

from tracehound.lib.compression import (
    BodyTooLarge,
    DecompressionError,
    compress_payload,
    decompress,
    decompress_payload,
)

PAYLOAD = b'{"message":"hello","extra":{"n":"' + b"x" * 5000 + b'"}}\n' * 3
MiB = 1 << 20
GiB = 1 << 30


def _zlib_wrapped(data: bytes) -> bytes:
    return zlib.compress(data)


def _raw_deflate(data: bytes) -> bytes:
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    return co.compress(data) + co.flush()


def _zstd_streamed(data: bytes) -> bytes:
    # Streaming compression writes no content size in the frame header.
    co = zstandard.ZstdCompressor().compressobj()
    return co.compress(data) + co.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": _zlib_wrapped,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


# --- identity ---------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "", "identity", "UTF-8", "utf-8", " Identity "])
def test_it_passes_identity_bodies_through(encoding):
    assert decompress(PAYLOAD, encoding, max_size=MiB) == PAYLOAD


def test_it_rejects_identity_body_over_the_limit():
    with pytest.raises(BodyTooLarge) as info:
        decompress(b"x" * 101, None, max_size=100)
    assert info.value.limit == 100


def test_it_accepts_identity_body_exactly_at_the_limit():
    assert decompress(b"x" * 100, "identity", max_size=100) == b"x" * 100


# --- each codec ---------------------------------------------------------------


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_it_decodes_each_supported_encoding(encoding):
    body = ENCODERS[encoding](PAYLOAD)
    assert decompress(body, encoding, max_size=MiB) == PAYLOAD


@pytest.mark.parametrize("encoding", ["GZIP", "Br", " zstd "])
def test_it_matches_encoding_names_case_insensitively(encoding):
    body = ENCODERS[encoding.strip().lower()](PAYLOAD)
    assert decompress(body, encoding, max_size=MiB) == PAYLOAD


def test_it_decodes_what_sentry_python_sends_with_brotli_quality_4():
    body = brotli.compress(PAYLOAD, quality=4)
    assert decompress(body, "br", max_size=MiB) == PAYLOAD


def test_it_decodes_gzip_level_9_like_sentry_python_without_brotli():
    body = gzip.compress(PAYLOAD, compresslevel=9)
    assert decompress(body, "gzip", max_size=MiB) == PAYLOAD


def test_it_falls_back_to_raw_deflate():
    assert decompress(_raw_deflate(PAYLOAD), "deflate", max_size=MiB) == PAYLOAD


def test_it_decodes_zstd_frames_without_a_content_size():
    body = _zstd_streamed(PAYLOAD)
    assert zstandard.get_frame_parameters(body).content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert decompress(body, "zstd", max_size=MiB) == PAYLOAD


def test_it_decodes_concatenated_zstd_frames():
    body = zstandard.ZstdCompressor().compress(b"one ") + _zstd_streamed(b"two")
    assert decompress(body, "zstd", max_size=MiB) == b"one two"


def test_it_decodes_zstd_frames_with_a_checksum():
    body = zstandard.ZstdCompressor(write_checksum=True).compress(PAYLOAD)
    assert decompress(body, "zstd", max_size=MiB) == PAYLOAD


def test_it_skips_zstd_skippable_frames():
    skippable = b"\x50\x2a\x4d\x18" + struct.pack("<I", 3) + b"abc"
    body = skippable + zstandard.ZstdCompressor().compress(PAYLOAD)
    assert decompress(body, "zstd", max_size=MiB) == PAYLOAD


def test_it_decodes_concatenated_gzip_members():
    body = gzip.compress(b"one ") + gzip.compress(b"two")
    assert decompress(body, "gzip", max_size=MiB) == b"one two"


def test_it_decodes_empty_compressed_bodies():
    for encoding, encode in ENCODERS.items():
        assert decompress(encode(b""), encoding, max_size=10) == b""


# --- stacked encodings ------------------------------------------------------------


def test_it_undoes_stacked_encodings_in_reverse_order():
    body = brotli.compress(gzip.compress(PAYLOAD))  # gzip applied first, then br
    assert decompress(body, "gzip, br", max_size=MiB) == PAYLOAD


def test_it_ignores_identity_inside_a_stacked_list():
    body = gzip.compress(PAYLOAD)
    assert decompress(body, "identity, gzip", max_size=MiB) == PAYLOAD


def test_it_fails_when_stacked_encodings_are_listed_in_the_wrong_order():
    body = brotli.compress(gzip.compress(PAYLOAD))
    with pytest.raises(DecompressionError):
        decompress(body, "br, gzip", max_size=MiB)


# --- errors ---------------------------------------------------------------------


def test_it_names_an_unknown_encoding():
    with pytest.raises(DecompressionError, match="'compress'"):
        decompress(b"data", "compress", max_size=MiB)


def test_it_rejects_an_unknown_encoding_even_in_a_stack():
    with pytest.raises(DecompressionError, match="'lzma'"):
        decompress(gzip.compress(b"x"), "gzip, lzma", max_size=MiB)


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_it_reports_corrupt_data_with_a_message(encoding):
    with pytest.raises(DecompressionError, match=f"invalid .*{encoding.removeprefix('x-')}"):
        decompress(b"\x00\x01 definitely not compressed \xff\xfe", encoding, max_size=MiB)


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_it_reports_truncated_streams(encoding):
    body = ENCODERS[encoding](PAYLOAD)
    with pytest.raises(DecompressionError):
        decompress(body[: len(body) // 2], encoding, max_size=MiB)


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_it_reports_an_empty_body_claiming_an_encoding(encoding):
    with pytest.raises(DecompressionError):
        decompress(b"", encoding, max_size=MiB)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_it_rejects_trailing_garbage(encoding):
    body = ENCODERS[encoding](PAYLOAD) + b"garbage"
    with pytest.raises(DecompressionError):
        decompress(body, encoding, max_size=MiB)


def test_it_rejects_a_zstd_window_larger_than_http_decoders_must_support():
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=27)
    co = zstandard.ZstdCompressor(compression_params=params).compressobj()
    body = co.compress(b"x" * 1000) + co.flush()
    with pytest.raises(DecompressionError, match="zstd"):
        decompress(body, "zstd", max_size=MiB)


def test_decompression_errors_are_value_errors():
    assert issubclass(DecompressionError, ValueError)
    assert issubclass(BodyTooLarge, ValueError)


# --- size caps and bombs ------------------------------------------------------------


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_it_rejects_decoded_output_just_over_the_limit(encoding):
    body = ENCODERS[encoding](b"a" * 1001)
    with pytest.raises(BodyTooLarge):
        decompress(body, encoding, max_size=1000)
    assert decompress(body, encoding, max_size=1001) == b"a" * 1001


def test_it_caps_each_layer_of_stacked_encodings():
    body = gzip.compress(gzip.compress(b"\0" * (2 * MiB)))
    with pytest.raises(BodyTooLarge):
        decompress(body, "gzip, gzip", max_size=MiB)


def _gzip_bomb() -> bytes:
    # 1 GiB of zeros: a fully flushed 1 MiB deflate segment repeated, with a
    # correct CRC and size trailer, so it is a valid gzip file.
    zeros = bytes(MiB)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = co.compress(zeros) + co.flush(zlib.Z_FULL_FLUSH)
    tail = co.flush()
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + segment * 1024 + tail + struct.pack("<II", crc, GiB & 0xFFFFFFFF)


def _zstd_bomb() -> bytes:
    co = zstandard.ZstdCompressor(level=1).compressobj()
    zeros = bytes(MiB)
    return b"".join(co.compress(zeros) for _ in range(1024)) + co.flush()


def _brotli_bomb() -> bytes:
    co = brotli.Compressor(quality=1)
    zeros = bytes(MiB)
    return b"".join(co.process(zeros) for _ in range(1024)) + co.finish()


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {"gzip": _gzip_bomb(), "zstd": _zstd_bomb(), "br": _brotli_bomb()}


@pytest.mark.parametrize("encoding", ["gzip", "zstd", "br"])
def test_it_stops_a_one_gigabyte_bomb_quickly_with_little_memory(bombs, encoding):
    body = bombs[encoding]
    assert len(body) < 2 * MiB  # really a bomb: > 500x expansion
    tracemalloc.start()
    try:
        started = time.perf_counter()
        with pytest.raises(BodyTooLarge):
            decompress(body, encoding, max_size=MiB)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 8 * MiB


def test_it_stops_a_deflate_bomb_too():
    zeros = bytes(MiB)
    co = zlib.compressobj(9)
    body = b"".join(co.compress(zeros) for _ in range(64)) + co.flush()
    with pytest.raises(BodyTooLarge):
        decompress(body, "deflate", max_size=MiB)


# --- payloads at rest ---------------------------------------------------------------


def test_payloads_round_trip_through_zstd():
    blob = compress_payload(PAYLOAD)
    assert len(blob) < len(PAYLOAD)
    assert blob.startswith(b"\x28\xb5\x2f\xfd")
    assert decompress_payload(blob) == PAYLOAD


def test_empty_payloads_round_trip():
    assert decompress_payload(compress_payload(b"")) == b""


def test_a_corrupt_stored_payload_raises_decompression_error():
    with pytest.raises(DecompressionError):
        decompress_payload(b"not zstd at all")


def test_payload_compression_is_safe_across_threads():
    errors: list[BaseException] = []
    inputs = [PAYLOAD + str(i).encode() * 1000 for i in range(8)]

    def work(data: bytes) -> None:
        try:
            for _ in range(200):
                assert decompress_payload(compress_payload(data)) == data
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(data,)) for data in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
