import signal
import threading
from typing import Any

from tracehound.lib.command import OperatorCommand
from tracehound.queue.worker import run_worker


class Command(OperatorCommand):
    help = "Run the digest worker: turn queued payloads into events and issues."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        # Finish the batch in hand, then exit: its transaction either commits or never began.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        run_worker(stop)
