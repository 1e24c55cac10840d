"""WSGI entry point: ingest routes go straight to the fast path, the rest to Django."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracehound.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from tracehound.ingest.app import ingest_app  # noqa: E402

django_app = get_wsgi_application()


def application(environ, start_response):  # type: ignore[no-untyped-def]
    response = ingest_app(environ, start_response)
    if response is None:
        return django_app(environ, start_response)
    return response
