"""Settings derived from the environment: what a deployment gets without configuring it."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson

from tracehound.settings import load_secret_key

PROBE = """
import orjson
from tracehound import settings as s
print(orjson.dumps({
    "allowed_hosts": s.ALLOWED_HOSTS,
    "proxy_ssl_header": s.SECURE_PROXY_SSL_HEADER,
    "session_cookie_secure": s.SESSION_COOKIE_SECURE,
    "csrf_cookie_secure": s.CSRF_COOKIE_SECURE,
    "hsts_seconds": s.SECURE_HSTS_SECONDS,
    "ssl_redirect": s.SECURE_SSL_REDIRECT,
    "base_url": s.BASE_URL,
    "validators": [v["NAME"].rsplit(".", 1)[-1] for v in s.AUTH_PASSWORD_VALIDATORS],
}).decode())
"""


def settings_with(tmp_path: Path, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACEHOUND_")}
    clean.pop("BASE_URL", None)
    clean.update(TRACEHOUND_DATA_DIR=str(tmp_path), **env)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True, check=True
    )
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


def test_an_https_base_url_gets_secure_cookies_hsts_and_the_proxy_header(tmp_path):
    s = settings_with(tmp_path, BASE_URL="https://errors.example.com")
    assert s["proxy_ssl_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert s["session_cookie_secure"] is True
    assert s["csrf_cookie_secure"] is True
    assert s["hsts_seconds"] >= 31536000
    assert s["ssl_redirect"] is False
    assert s["allowed_hosts"] == ["errors.example.com"]


def test_a_plain_http_base_url_gets_no_hsts_and_no_proxy_header(tmp_path):
    s = settings_with(tmp_path, BASE_URL="http://tracehound.internal:8000")
    assert s["proxy_ssl_header"] is None
    assert s["session_cookie_secure"] is False
    assert s["hsts_seconds"] == 0
    assert s["allowed_hosts"] == ["tracehound.internal"]


def test_without_base_url_only_loopback_host_names_are_allowed(tmp_path):
    s = settings_with(tmp_path)
    assert s["base_url"] == "http://127.0.0.1:8000"
    assert sorted(s["allowed_hosts"]) == sorted(["127.0.0.1", "localhost", "[::1]"])


def test_without_base_url_it_follows_the_host_and_port_the_server_listens_on(tmp_path):
    s = settings_with(tmp_path, TRACEHOUND_HOST="0.0.0.0", TRACEHOUND_PORT="9123")
    assert s["base_url"] == "http://127.0.0.1:9123"


def test_allowed_hosts_can_still_be_set_explicitly(tmp_path):
    s = settings_with(tmp_path, TRACEHOUND_ALLOWED_HOSTS="a.example,b.example")
    assert s["allowed_hosts"] == ["a.example", "b.example"]


def test_passwords_get_all_of_djangos_validators(tmp_path):
    assert settings_with(tmp_path)["validators"] == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]


def _first_start(data_dir: str, barrier: multiprocessing.synchronize.Barrier, out: object) -> None:
    barrier.wait()
    out.put(load_secret_key(Path(data_dir)))  # type: ignore[attr-defined]


def test_first_starts_at_the_same_moment_end_with_one_secret_key(tmp_path):
    ctx = multiprocessing.get_context("fork")
    starts = 6
    for attempt in range(20):  # the race is narrow: try it many times
        data_dir = tmp_path / str(attempt)
        data_dir.mkdir()
        barrier, out = ctx.Barrier(starts), ctx.Queue()
        procs = [
            ctx.Process(target=_first_start, args=(str(data_dir), barrier, out))
            for _ in range(starts)
        ]
        for p in procs:
            p.start()
        keys = {out.get(timeout=30) for _ in procs}
        for p in procs:
            p.join()
        assert keys == {(data_dir / "secret_key").read_text().strip()}
        assert list(data_dir.iterdir()) == [data_dir / "secret_key"]  # no temporary file left


def test_the_secret_key_file_is_never_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        load_secret_key(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
