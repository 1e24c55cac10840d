"""The base of Tracehound's management commands."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class OperatorCommand(BaseCommand):
    """A command an operator or a script runs, often in a loop (`tracehound status`).

    Django's system checks import every URL and view module to check them: 0.5-0.7 s
    of CPU on each run, a third of what `tracehound status` cost, and the worker's
    memory held modules it never uses. They find mistakes in code and settings, not in
    an installation: `make lint` runs `tracehound check`, and `migrate` (also when
    `serve` or `web` applies pending migrations) still checks.
    """

    requires_system_checks: list[str] = []
