"""Event payloads at rest: zstd with a dictionary trained from the installation's events."""

from __future__ import annotations

import logging
import threading
import time

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tracehound.events.models import Event, PayloadDictionary
from tracehound.lib.compression import (
    decompress_payload,
    payload_dictionary_id,
    train_payload_dictionary,
)

log = logging.getLogger("tracehound.codec")

TRAINING_SAMPLES = 1000
REFRESH_SECONDS = 60.0

_lock = threading.Lock()
_by_id: dict[int, bytes] = {}  # dictionaries never change once written
_current: tuple[float, int | None] = (0.0, None)  # (checked at, newest id)


def current_dictionary() -> bytes | None:
    """The newest dictionary, looked up at most once a minute per process."""
    global _current
    checked_at, newest = _current
    if time.monotonic() - checked_at > REFRESH_SECONDS:
        newest = PayloadDictionary.objects.order_by("-id").values_list("id", flat=True).first()
        _current = (time.monotonic(), newest)
    return dictionary(newest) if newest else None


def dictionary(dict_id: int) -> bytes:
    data = _by_id.get(dict_id)
    if data is None:
        data = bytes(PayloadDictionary.objects.values_list("data", flat=True).get(id=dict_id))
        with _lock:
            _by_id[dict_id] = data
    return data


def decode_payload(blob: bytes) -> bytes:
    dict_id = payload_dictionary_id(blob)
    return decompress_payload(blob, dictionary(dict_id) if dict_id else None)


def forget_dictionaries() -> None:
    """Drop the per-process cache (tests that roll back the table use this)."""
    global _current
    with _lock:
        _by_id.clear()
        _current = (0.0, None)


def train_dictionary_if_due() -> bool:
    """Train the first dictionary once enough events are stored. Returns True if trained."""
    global _current
    if _current[1] is not None or PayloadDictionary.objects.exists():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM events_event LIMIT %s) AS recent",
            [TRAINING_SAMPLES],
        )
        if cursor.fetchone()[0] < TRAINING_SAMPLES:
            return False
    blobs = Event.objects.order_by("-id").values_list("payload", flat=True)[:TRAINING_SAMPLES]
    samples = [decode_payload(bytes(blob)) for blob in blobs]
    started = time.monotonic()
    data = train_payload_dictionary(samples, dict_id=1)
    try:
        with transaction.atomic():
            PayloadDictionary.objects.create(
                id=1, data=data, samples=len(samples), created_at=timezone.now()
            )
    except IntegrityError:
        return False  # another worker trained it first
    _current = (time.monotonic(), 1)
    log.info(
        "trained payload dictionary 1 from %d events in %.2fs",
        len(samples),
        time.monotonic() - started,
    )
    return True
