"""Alert tests count the notifications they cause: a new project's default rule (email
its members on new issues, alerts.defaults) would add its own, so it is off here; the
tests of the default rule turn it back on."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_default_alert_rule(settings: Any) -> None:
    settings.TRACEHOUND_DEFAULT_ALERT_RULE = False
