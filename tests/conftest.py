from __future__ import annotations

import io
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from tracehound.ingest.auth import clear_key_cache


@pytest.fixture(autouse=True, scope="session")
def fast_password_hasher() -> None:
    # Tests create and log in users all the time; the production hasher is slow on purpose.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Rows Django's post_migrate handlers make; a flush keeps them (see quick_flush).
KEPT_BY_FLUSH = frozenset({"django_content_type", "auth_permission"})


@pytest.fixture(autouse=True, scope="session")
def quick_flush() -> Iterator[None]:
    """Empty the tables after a transactional test quicker, to the same end state.

    Django's flush (after every `transactional_db` test) empties every table, content
    types and permissions included, then emits post_migrate so that Django makes those
    again: ~250 rows, a third of the time of `tests/api` on PostgreSQL. They are kept
    instead (no test or code of ours touches them) and the signal is not sent (nothing
    of ours listens to it). On PostgreSQL the flush is one TRUNCATE of all tables,
    which makes new files for each (270-540 ms); DELETE of the few rows a test leaves
    takes ~6 ms, and is the same end state: Django's foreign keys are DEFERRABLE
    INITIALLY DEFERRED and the flush runs in one transaction. Neither resets sequences
    (a test that asks gets Django's own flush).
    """
    from django.core.management.commands import flush

    sql_flush, emit = flush.sql_flush, flush.emit_post_migrate_signal
    kept = False

    def quick_sql_flush(
        style: Any, connection: Any, reset_sequences: bool = True, allow_cascade: bool = False
    ) -> list[str]:
        nonlocal kept
        kept = not (reset_sequences or allow_cascade)
        if not kept:
            return sql_flush(style, connection, reset_sequences, allow_cascade)
        tables = connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
        return [
            f"DELETE FROM {connection.ops.quote_name(table)}"
            for table in tables
            if table not in KEPT_BY_FLUSH
        ]

    def emit_unless_kept(*args: Any, **kwargs: Any) -> None:
        if not kept:
            emit(*args, **kwargs)

    flush.sql_flush = quick_sql_flush
    flush.emit_post_migrate_signal = emit_unless_kept
    yield
    flush.sql_flush, flush.emit_post_migrate_signal = sql_flush, emit


@pytest.fixture(autouse=True)
def outbound_allows_loopback(settings: Any) -> None:
    # Outbound HTTP refuses loopback addresses; the tests' receivers listen on 127.0.0.1.
    # Tests of the guard itself set TRACEHOUND_OUTBOUND_ALLOW to what they need.
    settings.TRACEHOUND_OUTBOUND_ALLOW = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.fixture(autouse=True)
def fresh_caches() -> None:
    from tracehound.events.codec import forget_dictionaries

    clear_key_cache()
    forget_dictionaries()  # the table is rolled back between tests


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def call_wsgi(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    query: str = "",
    chunked: bool = False,
    remote_addr: str = "203.0.113.9",
) -> Response:
    """Send one request through tracehound.wsgi.application, as granian would."""
    from tracehound.wsgi import application

    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": remote_addr,
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    if not chunked:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ[f"HTTP_{key}"] = value
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split()[0])
        captured["headers"] = {k.lower(): v for k, v in response_headers}

    chunks = application(environ, start_response)
    data = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return Response(captured["status"], captured["headers"], data)


@pytest.fixture
def wsgi() -> Callable[..., Response]:
    return call_wsgi


@dataclass
class ProjectFixture:
    project: Any
    key: Any

    @property
    def id(self) -> int:
        return int(self.project.id)

    @property
    def public_key(self) -> str:
        return str(self.key.public_key)

    @property
    def auth(self) -> dict[str, str]:
        return {"X-Sentry-Auth": f"Sentry sentry_key={self.public_key}, sentry_version=7"}


@pytest.fixture(scope="session", autouse=True)
def close_ingest_connection(django_db_setup: None, django_db_blocker: Any) -> Any:
    # Ingest has its own connection, outside Django's: close it before the test
    # database is dropped.
    yield
    from tracehound.ingest import db
    from tracehound.ingest.app import QUEUE

    QUEUE.stop()
    db.close()


@pytest.fixture
def project(transactional_db: None) -> Iterator[ProjectFixture]:
    """A project, in a database that ingest's own connection can write to.

    Ingest commits on its own connection, outside the transaction that wraps a
    `db` test, so tests that ingest use `transactional_db`.
    """
    from tracehound.projects.actions import create_project

    proj, key = create_project("acme", "backend", platform="python")
    yield ProjectFixture(proj, key)
    empty_spool()


def empty_spool() -> None:
    """SQLite: the ingest spool is files of their own, which the test database's flush
    does not empty; rows a test left there must not reach the next one."""
    import shutil

    from django.db import connection

    from tracehound.ingest import db
    from tracehound.ingest.app import QUEUE
    from tracehound.queue.mover import close_spool
    from tracehound.queue.spool import spool_dir

    directory = spool_dir(connection.settings_dict)
    if directory is not None:
        QUEUE.stop()
        db.close()
        close_spool()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def digest_all(transactional_db: None) -> Callable[[], int]:
    from tracehound.queue.worker import digest_batch

    def run() -> int:
        total = 0
        while handled := digest_batch():
            total += handled
        return total

    return run


# A small cast, as in the access rules: an owner and a member of the project's
# organization ("acme", which owns acme/backend), and an outsider who owns another
# organization ("other-org", with project "web") and must see nothing of acme.
def make_user(username: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username, password="correct horse battery")


@pytest.fixture
def owner(project: ProjectFixture) -> Any:
    from tracehound.projects.models import OrganizationMember

    user = make_user("owner")
    OrganizationMember.objects.create(
        organization=project.project.organization, user=user, role=OrganizationMember.Role.OWNER
    )
    return user


@pytest.fixture
def member(project: ProjectFixture) -> Any:
    from tracehound.projects.models import OrganizationMember, ProjectTeam, Team, TeamMember

    user = make_user("member")
    org = project.project.organization
    membership = OrganizationMember.objects.create(
        organization=org, user=user, role=OrganizationMember.Role.MEMBER
    )
    # A member sees the projects of their teams: this one's team has the project.
    team, _ = Team.objects.get_or_create(organization=org, slug="backend-team", name="Backend")
    ProjectTeam.objects.get_or_create(team=team, project=project.project)
    TeamMember.objects.create(team=team, member=membership)
    return user


@pytest.fixture
def outsider(transactional_db: None) -> Any:
    from tracehound.projects.actions import create_project

    user = make_user("outsider")
    create_project("other-org", "web", owner=user)
    return user
