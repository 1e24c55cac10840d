"""Two owners demoting (or removing) each other at once on PostgreSQL: one wins, the
other gets the last-owner refusal, and neither is a deadlock (review R2 #4)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from tracehound.projects import membership
from tracehound.projects.membership import MembershipError
from tracehound.projects.models import Organization, OrganizationMember

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL"),
]


def two_owners() -> tuple[OrganizationMember, OrganizationMember]:
    org = Organization.objects.create(slug="acme", name="Acme")
    users = get_user_model().objects
    a = OrganizationMember.objects.create(
        organization=org, user=users.create_user("a"), role="owner"
    )
    b = OrganizationMember.objects.create(
        organization=org, user=users.create_user("b"), role="owner"
    )
    return a, b


def at_once(*targets: Callable[[], None]) -> list[BaseException | None]:
    barrier = threading.Barrier(len(targets))
    outcome: list[BaseException | None] = [None] * len(targets)

    def run(index: int) -> None:
        try:
            barrier.wait()
            targets[index]()
        except BaseException as exc:  # reported in the test's thread
            outcome[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcome


@pytest.mark.parametrize("round_", range(10))
def test_two_owners_demote_each_other(round_: int) -> None:
    a, b = two_owners()
    outcome = at_once(
        lambda: membership.change_role(None, a, "member"),
        lambda: membership.change_role(None, b, "member"),
    )
    refused = [e for e in outcome if e is not None]
    assert len(refused) == 1, outcome
    assert isinstance(refused[0], MembershipError), refused[0]
    assert "last owner" in refused[0].message
    roles = sorted(OrganizationMember.objects.values_list("role", flat=True))
    assert roles == ["member", "owner"]


@pytest.mark.parametrize("round_", range(3))
def test_two_owners_remove_each_other(round_: int) -> None:
    a, b = two_owners()
    outcome = at_once(
        lambda: membership.remove_member(None, a),
        lambda: membership.remove_member(None, b),
    )
    refused = [e for e in outcome if e is not None]
    assert len(refused) == 1, outcome
    assert isinstance(refused[0], MembershipError), refused[0]
    assert list(OrganizationMember.objects.values_list("role", flat=True)) == ["owner"]
