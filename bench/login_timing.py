"""Does the log-in form's answer time tell whether an account exists? Times failed
log-ins through the whole Django stack (middleware, allauth, argon2 as in production)
for an unknown user, a known user with a wrong password, and the same by email address.

    flock /tmp/bench.lock .venv/bin/python bench/login_timing.py [--runs 40]

Runs on a fresh SQLite database in a temporary directory (or DATABASE_URL's database:
it creates and deletes one user). The cases are interleaved so drift hits all alike;
the throttle's rows are cleared before each attempt (untimed). Prints milliseconds:
median, 10th and 90th percentile per case.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

CASES = {
    "unknown user": ("nobody-here", "wrong-password-1"),
    "known user, wrong password": ("bench-ann", "wrong-password-1"),
    "unknown email": ("nobody@example.com", "wrong-password-1"),
    "known email, wrong password": ("bench-ann@example.com", "wrong-password-1"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("TRACEHOUND_DATA_DIR", tempfile.mkdtemp(prefix="login-timing-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracehound.settings")
    os.environ["TRACEHOUND_LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from tracehound.accounts.models import LoginFailure

    call_command("migrate", verbosity=0)
    User = get_user_model()
    User.objects.filter(username="bench-ann").delete()
    User.objects.create_user("bench-ann", "bench-ann@example.com", "the-right-password-9")
    client = Client(HTTP_HOST="127.0.0.1")
    times: dict[str, list[float]] = {name: [] for name in CASES}
    try:
        for run in range(args.runs + 2):  # two warm-up rounds
            for name, (username, password) in CASES.items():
                LoginFailure.objects.all().delete()
                start = time.perf_counter()
                response = client.post("/login/", {"username": username, "password": password})
                elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == 200, (name, response.status_code)
                if run >= 2:
                    times[name].append(elapsed)
    finally:
        User.objects.filter(username="bench-ann").delete()
        LoginFailure.objects.all().delete()
    print(f"failed log-ins, {args.runs} runs each (ms)")
    print(f"{'case':<30} {'median':>8} {'p10':>8} {'p90':>8}")
    for name, values in times.items():
        deciles = statistics.quantiles(values, n=10)
        print(f"{name:<30} {statistics.median(values):8.1f} {deciles[0]:8.1f} {deciles[-1]:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
