from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Server, Template, drop_postgres, make_server

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/e2e runs real processes: `make unit` leaves it out (-m "not e2e").
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """A set-up server (database migrated, admin, acme/backend, a token), made once and
    copied by the fixtures below."""
    made = Template.build(tmp_path_factory.mktemp("template"))
    try:
        yield made
    finally:
        made.drop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, template: Template) -> Iterator[Server]:
    """One `tracehound serve` (web + worker) on a fresh database for the session."""
    srv, pg_url = make_server(tmp_path_factory.mktemp("tracehound"))
    template.copy_to(srv)
    srv.spawn("serve", "--port", str(srv.port))
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.stop()
        if pg_url:
            drop_postgres(pg_url)


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory, template: Template) -> Iterator[Server]:
    """A set-up server with no processes running: the test starts what it needs."""
    srv, pg_url = make_server(tmp_path_factory.mktemp("tracehound"))
    template.copy_to(srv)
    try:
        yield srv
    finally:
        srv.stop()
        if pg_url:
            drop_postgres(pg_url)
