"""The `tracehound` command.

`serve` and `web` are handled here because they start other processes; every other
subcommand (worker, project, token, status, createsuperuser, migrate, …) is a Django
management command.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

SETTINGS = "tracehound.settings"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    from django.core.exceptions import ImproperlyConfigured

    try:
        import django

        django.setup()
    except ImproperlyConfigured as exc:
        sys.exit(f"tracehound: configuration error: {exc}")


def address_args(prog: str, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"tracehound {prog}")
    parser.add_argument("--host", default=os.environ.get("TRACEHOUND_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TRACEHOUND_PORT", "8000")))
    return parser.parse_args(argv)


def migrate_if_needed() -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", interactive=False, verbosity=1)
    connection.close()


def web(argv: list[str]) -> None:
    """Apply migrations, then replace this process with the granian HTTP server."""
    args = address_args("web", argv)
    setup_django()
    from django.conf import settings

    migrate_if_needed()
    command = [
        sys.executable, "-m", "granian",
        "--interface", "wsgi",
        "--host", args.host,
        "--port", str(args.port),
        "--workers", str(settings.TRACEHOUND_WEB_WORKERS),
        "--blocking-threads", str(settings.TRACEHOUND_WEB_THREADS),
        "--no-ws",
        "--respawn-failed-workers",
        "--log-level", "warning",
        "tracehound.wsgi:application",
    ]  # fmt: skip
    sys.stdout.flush()
    os.execv(sys.executable, command)


def serve(argv: list[str]) -> None:
    """Run web and worker as children; restart a child that dies; stop both on a signal."""
    args = address_args("serve", argv)
    base = [sys.executable, "-m", "tracehound.cli"]
    roles = {
        "web": [*base, "web", "--host", args.host, "--port", str(args.port)],
        "worker": [*base, "worker"],
    }
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children = {role: subprocess.Popen(cmd) for role, cmd in roles.items()}
    print(f"Tracehound is serving on http://{args.host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    restarts: dict[str, list[float]] = {role: [] for role in roles}
    while not stopping:
        time.sleep(0.2)
        for role, child in list(children.items()):
            code = child.poll()
            if code is None or stopping:
                continue
            recent = [t for t in restarts[role] if t > time.monotonic() - 60]
            if len(recent) >= 5:
                print(f"tracehound: {role} keeps exiting (code {code}); stopping", file=sys.stderr)
                stopping = True
                break
            print(f"tracehound: {role} exited with code {code}; restarting", file=sys.stderr)
            restarts[role] = [*recent, time.monotonic()]
            children[role] = subprocess.Popen(roles[role])
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    if argv[:1] == ["serve"]:
        serve(argv[1:])
    elif argv[:1] == ["web"]:
        web(argv[1:])
    else:
        setup_django()
        from django.core.management import execute_from_command_line

        execute_from_command_line(["tracehound", *argv])


if __name__ == "__main__":
    main()
