"""Alert tests count the notifications they cause: a new project's default rule (email
its members on new issues, alerts.defaults) would add its own, so it is off here; the
tests of the default rule turn it back on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import api  # noqa: F401  (the API tests' request helper)
from tracehound.alerts import registry


@pytest.fixture(autouse=True)
def no_default_alert_rule(settings: Any) -> None:
    settings.TRACEHOUND_DEFAULT_ALERT_RULE = False


@pytest.fixture
def echo_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The tests' backend installed as kind "echo" (through the registry, as a plugin is)."""
    monkeypatch.setitem(registry.BUILTIN, "echo", "tests.alerts.surfaces:EchoBackend")
    registry.backends.cache_clear()
    yield
    registry.backends.cache_clear()


@pytest.fixture
def allow_loopback(settings: Any) -> None:
    import ipaddress

    settings.TRACEHOUND_OUTBOUND_ALLOW = [ipaddress.ip_network("127.0.0.0/8")]
