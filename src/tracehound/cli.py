"""The `tracehound` command.

`serve` and `web` are handled here because they manage processes; every other
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


def port_number(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {port}")
    return port


def listen_address(prog: str, argv: list[str]) -> tuple[str, int]:
    """The --host/--port to listen on, validated with the rest of the settings."""
    parser = argparse.ArgumentParser(prog=f"tracehound {prog}")
    parser.add_argument("--host", help="address to listen on (default: TRACEHOUND_HOST)")
    parser.add_argument("--port", type=port_number, help="port (default: TRACEHOUND_PORT)")
    args = parser.parse_args(argv)
    # The options stand in for the variables, so this process and the HTTP server it
    # starts derive the same BASE_URL from them when BASE_URL is unset.
    if args.host is not None:
        os.environ["TRACEHOUND_HOST"] = args.host
    if args.port is not None:
        os.environ["TRACEHOUND_PORT"] = str(args.port)
    load_settings()
    from tracehound import settings

    return settings.TRACEHOUND_HOST, settings.TRACEHOUND_PORT


def announce_base_url(host: str, port: int) -> None:
    """Say which public URL DSNs and links use, and warn when it cannot reach this server."""
    from urllib.parse import urlsplit

    from tracehound import settings

    if not settings.BASE_URL_IS_SET:
        print(
            f"BASE_URL {settings.BASE_URL} (from the listening address; set BASE_URL to the"
            " URL that SDKs and browsers use)",
            flush=True,
        )
        if host in ("0.0.0.0", "::"):
            print(
                "tracehound: listening on every interface but BASE_URL is unset: DSNs and links"
                f" use {settings.BASE_URL} and only loopback host names are allowed; set"
                " BASE_URL",
                file=sys.stderr,
                flush=True,
            )
        return
    print(f"BASE_URL {settings.BASE_URL}", flush=True)
    base = urlsplit(settings.BASE_URL)
    base_port = base.port or (443 if base.scheme == "https" else 80)
    same_host = base.hostname == host or settings.is_loopback(base.hostname or "")
    if same_host and base_port != port:
        print(
            f"tracehound: BASE_URL {settings.BASE_URL} does not match port {port} this server"
            f" listens on: DSNs and links will point at port {base_port}",
            file=sys.stderr,
            flush=True,
        )


def migrate_if_needed() -> None:
    """Apply migrations when any are pending; loads Django only if they are."""
    from tracehound.settings import DATABASES
    from tracehound.startup import migrations_pending

    if not migrations_pending(DATABASES["default"]):
        return
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from tracehound.startup import migration_lock

    # Several web processes may start at once; one migrates, the others then find
    # nothing pending (Django's migrate is not safe to run concurrently).
    with migration_lock(connection):
        call_command("migrate", interactive=False, verbosity=1)
    connection.close()


def granian_command(host: str, port: int) -> list[str]:
    from tracehound.settings import TRACEHOUND_BODY_TIMEOUT, TRACEHOUND_WEB_WORKERS

    # RSGI: bodies are read on the event loop under a deadline (tracehound/rsgi.py),
    # whose own thread pools (TRACEHOUND_WEB_THREADS each) run requests.
    header_ms = min(TRACEHOUND_BODY_TIMEOUT, 60) * 1000  # granian's maximum is 60 s
    return [
        sys.executable, "-m", "granian",
        "--interface", "rsgi",
        "--loop", "uvloop" if sys.platform != "win32" else "auto",
        "--host", host,
        "--port", str(port),
        "--workers", str(TRACEHOUND_WEB_WORKERS),
        "--http1-header-read-timeout", str(header_ms),
        "--no-ws",
        "--respawn-failed-workers",
        "--log-level", "warning",
        "tracehound.rsgi:app",
    ]  # fmt: skip


def load_settings() -> None:
    from django.core.exceptions import ImproperlyConfigured

    try:
        import tracehound.settings  # noqa: F401 - validates every variable
    except ImproperlyConfigured as exc:
        sys.exit(f"tracehound: configuration error: {exc}")


def web(argv: list[str]) -> None:
    """Apply pending migrations, then replace this process with the granian HTTP server."""
    host, port = listen_address("web", argv)
    announce_base_url(host, port)
    migrate_if_needed()
    sys.stdout.flush()
    os.execv(sys.executable, granian_command(host, port))


def die_with_parent() -> None:
    # Linux: the HTTP server gets SIGTERM if `serve` is killed, so no orphan keeps the port.
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def serve(argv: list[str]) -> None:
    """The single-box mode: this process digests, and supervises the HTTP server.

    Digesting here instead of in a third process saves a Python interpreter (~45 MB).
    """
    import threading

    host, port = listen_address("serve", argv)
    migrate_if_needed()
    command = granian_command(host, port)
    preexec = die_with_parent if sys.platform == "linux" else None
    server = subprocess.Popen(command, preexec_fn=preexec)
    from tracehound.settings import url_host

    print(f"Tracehound is serving on http://{url_host(host)}:{port}/ (Ctrl-C to stop)", flush=True)
    announce_base_url(host, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def supervise() -> None:
        nonlocal server
        restarts: list[float] = []
        while not stop.wait(0.2):
            code = server.poll()
            if code is None:
                continue
            restarts = [t for t in restarts if t > time.monotonic() - 60]
            if len(restarts) >= 5:
                print(f"tracehound: web keeps exiting (code {code}); stopping", file=sys.stderr)
                stop.set()
                return
            print(f"tracehound: web exited with code {code}; restarting", file=sys.stderr)
            restarts.append(time.monotonic())
            server = subprocess.Popen(command, preexec_fn=preexec)

    threading.Thread(target=supervise, name="supervise-web", daemon=True).start()
    setup_django()
    from tracehound.queue.worker import run_worker

    try:
        run_worker(stop)
    finally:
        stop.set()
        if server.poll() is None:
            server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # Whatever we create (the data dir, the database and its -wal/-shm files, the secret
    # key) is the owner's alone, whatever the caller's umask.
    os.umask(0o077)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    if argv[:1] == ["serve"]:
        serve(argv[1:])
    elif argv[:1] == ["web"]:
        web(argv[1:])
    else:
        setup_django()
        from django.core.management import execute_from_command_line

        # Subcommands are spelt with dashes (`alert-rule`); their modules with underscores.
        if argv[:1] in (["alert-rule"], ["rotate-secrets"]):
            argv = [argv[0].replace("-", "_"), *argv[1:]]
        execute_from_command_line(["tracehound", *argv])


if __name__ == "__main__":
    main()
