from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.server import Server, drop_postgres, make_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `tracehound serve` (web + worker) on a fresh database for the session."""
    srv, pg_url = make_server(tmp_path_factory.mktemp("tracehound"))
    srv.setup()
    srv.spawn("serve", "--port", str(srv.port))
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.stop()
        if pg_url:
            drop_postgres(pg_url)


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A set-up server with no processes running: the test starts what it needs."""
    srv, pg_url = make_server(tmp_path_factory.mktemp("tracehound"))
    srv.setup()
    try:
        yield srv
    finally:
        srv.stop()
        if pg_url:
            drop_postgres(pg_url)
