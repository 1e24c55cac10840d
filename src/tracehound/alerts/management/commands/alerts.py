"""`tracehound alerts deliver [--once] [--limit N]`: run alert delivery by itself.

`tracehound worker` (and `serve`) already deliver in a thread beside digest; this is for
delivering from a separate process, or once from a script or cron (`--once` makes one
pass over the due notifications and prints how many it handled).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import CommandError, CommandParser

from tracehound.lib.command import OperatorCommand


class Command(OperatorCommand):
    help = "Alert delivery: `alerts deliver [--once]` sends the notifications that are due."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        deliver = sub.add_parser("deliver", help="send due notifications")
        deliver.add_argument("--once", action="store_true", help="one pass, then exit")
        deliver.add_argument("--limit", type=int, default=50, help="rows per pass (1-1000)")

    def handle(self, *args: Any, **options: Any) -> None:
        from tracehound.alerts.delivery import deliver_due, run_delivery

        limit = options["limit"]
        if not 1 <= limit <= 1000:
            raise CommandError(f"--limit must be between 1 and 1000, got {limit}")
        if options["once"]:
            handled = 0
            while batch := deliver_due(limit):
                handled += batch
                if batch < limit:
                    break
            self.stdout.write(f"handled {handled} notifications")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        run_delivery(stop)
