"""A small app using the real sentry-sdk; prints the event ids it sent as JSON."""

from __future__ import annotations

import json
import sys

import sentry_sdk
from sentry_sdk.envelope import Envelope, Item, PayloadRef


class PaymentError(Exception):
    pass


def load_card(order_id: int) -> dict:
    cards = {1: {"number": "4111 1111 1111 1111"}}
    return cards[order_id]


def charge(order_id: int, amount: float) -> None:
    password = "hunter2"  # noqa: F841 - a local the SDK and server must scrub
    try:
        load_card(order_id)
    except KeyError as exc:
        raise PaymentError(f"could not charge order {order_id}") from exc


def main() -> None:
    dsn, release = sys.argv[1], sys.argv[2]
    ids: dict[str, str | None] = {}
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment="staging",
        send_default_pii=False,
        include_local_variables=True,
        traces_sample_rate=1.0,
    )
    sentry_sdk.set_user({"id": "42", "email": "ann@example.com"})
    sentry_sdk.set_tag("customer", "acme-corp")
    sentry_sdk.add_breadcrumb(category="checkout", message="user clicked pay", level="info")

    try:
        charge(7, 19.99)
    except PaymentError:
        with sentry_sdk.new_scope() as scope:
            scope.add_attachment(
                bytes=b"order=7\namount=19.99\n", filename="order.txt", content_type="text/plain"
            )
            ids["exception"] = sentry_sdk.capture_exception()

    ids["message"] = sentry_sdk.capture_message(
        "Cache miss rate 93% for key user:1234", level="warning"
    )

    # sentry-sdk 2.x has no feedback helper: send a user_report through its own transport.
    report = {
        "event_id": ids["exception"],
        "name": "Ann",
        "email": "ann@example.com",
        "comments": "Payment failed twice",
    }
    envelope = Envelope(headers={"event_id": ids["exception"]})
    envelope.add_item(Item(payload=PayloadRef(json=report), type="user_report"))
    sentry_sdk.get_client().transport.capture_envelope(envelope)

    sentry_sdk.flush(timeout=10)
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
