from typing import Any

from django.core.management.base import CommandParser

from tracehound.digest.batch import requeue_failed
from tracehound.lib.command import OperatorCommand


class Command(OperatorCommand):
    help = "Manage the queue of payloads waiting for digest."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser(
            "retry-failed", help="Requeue every failed item, so workers digest it again."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "retry-failed":
            count = requeue_failed()
            self.stdout.write(f"requeued {count} failed item{'' if count == 1 else 's'}")
