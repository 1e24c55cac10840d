"""WSGI entry point: granian runs it behind the async front (tracehound.rsgi), which
reads request bodies first; any WSGI server can run it directly.

Ingest routes and /health/ are answered without Django; Django (UI, API) is loaded on
the first request that needs it. A web process that only ingests stays small (~20 MB
instead of ~50 MB) and answers /health/ as soon as it starts.
"""

import os
import threading
from collections.abc import Iterable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracehound.settings")

from tracehound.ingest.app import StartResponse, ingest_app  # noqa: E402

HEALTHY = b'{"status": "ok"}'
_django_app: Any = None
_django_lock = threading.Lock()


def django_app() -> Any:
    global _django_app
    if _django_app is None:
        with _django_lock:
            if _django_app is None:
                from django.core.wsgi import get_wsgi_application

                _django_app = get_wsgi_application()
    return _django_app


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/health/":
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(HEALTHY)))],
        )
        return [HEALTHY]
    response = ingest_app(environ, start_response)
    if response is None:
        result: Iterable[bytes] = django_app()(environ, start_response)
        return result
    return response
