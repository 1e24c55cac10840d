"""Guessing passwords: failed log-ins are limited per account and per address."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-secret-phrase"


@pytest.fixture
def ann():
    return get_user_model().objects.create_user("ann", password=PASSWORD)


def log_in(client, username: str, password: str, ip: str = "198.51.100.7"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_failed_log_ins_lock_the_account_from_every_address_for_15_minutes(client, ann):
    for n in range(5):
        assert log_in(client, "ann", "wrong", ip=f"198.51.100.{n}").status_code == 200
    response = log_in(client, "ann", PASSWORD, ip="203.0.113.50")
    assert response.status_code == 429
    assert b"Too many failed log-ins" in response.content
    assert "_auth_user_id" not in client.session
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert log_in(client, "ann", PASSWORD, ip="203.0.113.50").status_code == 302


def test_twenty_failures_from_one_address_block_that_address_only(client, ann):
    for n in range(20):
        assert log_in(client, f"guess{n}", "wrong").status_code == 200
    assert log_in(client, "ann", PASSWORD).status_code == 429
    assert log_in(client, "ann", PASSWORD, ip="198.51.100.8").status_code == 302


def test_a_successful_log_in_forgets_the_accounts_earlier_failures(client, ann):
    for _ in range(4):
        log_in(client, "ann", "wrong", ip="198.51.100.1")
    assert log_in(client, "ann", PASSWORD, ip="198.51.100.1").status_code == 302
    client.logout()
    for _ in range(4):
        log_in(client, "ann", "wrong", ip="198.51.100.2")
    assert log_in(client, "ann", PASSWORD, ip="198.51.100.2").status_code == 302


def test_another_account_is_not_locked_by_failures_on_ann(client, ann):
    get_user_model().objects.create_user("bob", password=PASSWORD)
    for n in range(6):
        log_in(client, "ann", "wrong", ip=f"198.51.100.{n}")
    assert log_in(client, "bob", PASSWORD, ip="198.51.100.99").status_code == 302


def test_a_log_in_with_a_nul_or_a_huge_user_name_is_an_ordinary_failure(client, ann):
    for username in ["ann\x00", "x" * 100_000]:
        response = log_in(client, username, "wrong")
        assert response.status_code == 200
        assert b"didn" in response.content  # the usual "didn't match" error


@pytest.mark.parametrize("spelling", [" ann", "ann ", "\uff41nn"])
def test_another_spelling_of_a_locked_username_is_locked_too(client, ann, spelling):
    # The log-in form strips and NFKC-normalizes the name before looking the user up.
    for n in range(5):
        log_in(client, "ann", "wrong", ip=f"198.51.100.{n}")
    assert log_in(client, spelling, PASSWORD, ip="203.0.113.50").status_code == 429


def test_addresses_of_one_ipv6_network_share_the_address_limit(client, ann):
    for n in range(20):
        log_in(client, f"guess{n}", "wrong", ip=f"2001:db8:1:2::{n:x}")
    assert log_in(client, "ann", PASSWORD, ip="2001:db8:1:2::ffff").status_code == 429
    assert log_in(client, "ann", PASSWORD, ip="2001:db8:1:3::1").status_code == 302
