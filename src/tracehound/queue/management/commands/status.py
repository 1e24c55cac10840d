from typing import Any

import orjson
from django.core.management.base import CommandParser

from tracehound.lib.command import OperatorCommand
from tracehound.queue.worker import queue_status


class Command(OperatorCommand):
    help = "Show queue depth, events digested in the last minute and the oldest queued age."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        status = queue_status()
        if options["json"]:
            self.stdout.write(orjson.dumps(status).decode())
            return
        age = status["oldest_queued_age_seconds"]
        self.stdout.write(f"queue depth:                 {status['queue_depth']}")
        failed = status["failed_items"]
        hint = " (requeue them with: tracehound queue retry-failed)"
        self.stdout.write(f"failed items:                {failed}{hint if failed else ''}")
        self.stdout.write(f"events digested last minute: {status['events_digested_last_minute']}")
        self.stdout.write(f"oldest queued item age:      {'-' if age is None else f'{age:.1f}s'}")
