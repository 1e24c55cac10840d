"""Well-formed but hostile envelopes: accepted data stays digestible and bounded."""

from __future__ import annotations

import pytest
from tests.envelopes import envelope, item
from tests.queued import queued

from tracehound.projects.models import ProjectStat

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("agent", ["a\\u0000x", 'b\\u0000"', "c\x00d"])
def test_a_user_agent_spelling_nul_is_queued_as_valid_meta_and_digested(
    wsgi, project, digest_all, agent
):
    headers = {**project.auth, "User-Agent": agent}
    body = envelope({"message": "hi"})
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=headers)
    assert response.status == 200, response.body
    digest_all()
    assert queued().count() == 0  # digested, not kept as failed


def test_an_envelope_of_many_unknown_item_types_makes_few_stat_rows(wsgi, project, digest_all):
    items = [item(f"kind{n}", b"{}") for n in range(500)]
    body = envelope(*items, event_id=None)
    response = wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth)
    assert response.status == 200, response.body
    digest_all()
    assert ProjectStat.objects.count() <= 20
    assert sum(ProjectStat.objects.values_list("quantity", flat=True)) == 500
