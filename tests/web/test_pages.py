"""The first UI's pages: who sees what, and what an issue page shows."""

from __future__ import annotations

import uuid

import pytest
from tests.envelopes import envelope, exception_event, item

from tracehound.issues.models import Issue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def issue(wsgi, project, digest_all) -> Issue:
    event_id = uuid.uuid4().hex
    event = {
        "platform": "python",
        "exception": {
            "values": [
                {
                    "type": "KeyError",
                    "value": "'sku'",
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "shop.cart",
                                "function": "add",
                                "lineno": 8,
                                "in_app": True,
                                "context_line": "    price = prices[item['sku']]",
                                "pre_context": ["def add(item):"],
                                "post_context": ["    return price"],
                            }
                        ]
                    },
                }
            ]
        },
    }
    report = {
        "event_id": event_id,
        "name": "Ann",
        "email": "a@example.com",
        "comments": "Adding to cart fails",
    }
    body = envelope(item("event", event), item("user_report", report), event_id=event_id)
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    return Issue.objects.get()


def test_pages_need_a_login(client, issue):
    response = client.get("/acme/backend/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_member_sees_the_project_and_its_issues(client, member, issue):
    client.force_login(member)
    assert b"backend" in client.get("/").content
    page = client.get("/acme/backend/").content.decode()
    assert "BACKEND-1" in page
    assert "KeyError: &#x27;sku&#x27;" in page


def test_the_issue_page_shows_the_trace_with_source_and_the_feedback(client, member, issue):
    client.force_login(member)
    page = client.get(f"/organizations/acme/issues/{issue.id}/").content.decode()
    assert 'class="current"><code>    price = prices[item[&#x27;sku&#x27;]]</code>' in page
    assert "shop.cart" in page
    assert "Adding to cart fails" in page


def test_an_outsider_gets_404_for_another_organizations_pages(client, outsider, issue):
    client.force_login(outsider)
    assert client.get("/acme/backend/").status_code == 404
    assert client.get(f"/organizations/acme/issues/{issue.id}/").status_code == 404
    assert b"backend" not in client.get("/").content


def test_variables_and_user_fields_named_like_dict_methods_show_on_the_issue_page(
    wsgi, project, digest_all, client, member
):
    # Django's template lookup tries x["items"] before x.items(): a local variable
    # called `items` (common in Python) or a user field of that name broke the page.
    event = exception_event(user={"id": "u1", "items": 5, "keys": "k"})
    frame = event["exception"]["values"][0]["stacktrace"]["frames"][0]
    frame["vars"] = {"items": ["a", "b"], "values": "v", "total": "3"}
    body = envelope(event)
    assert wsgi("POST", f"/api/{project.id}/envelope/", body, headers=project.auth).status == 200
    digest_all()
    client.force_login(member)
    response = client.get(f"/organizations/acme/issues/{Issue.objects.get().id}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<th>items</th><td><code>[&#x27;a&#x27;, &#x27;b&#x27;]</code>" in page
    assert "<th>items</th><td>5</td>" in page
