"""Headers every page carries, so injected content cannot run script or be framed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.strip() for d in header.split(";") if d.strip()}


@pytest.mark.parametrize("path", ["/login/", "/"])
def test_pages_carry_a_content_security_policy_without_inline_script(client, path):
    user = get_user_model().objects.create_user("ann", password="a-long-secret-phrase")
    if path != "/login/":
        client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == "default-src 'self'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert "'unsafe-inline'" not in directives.get("script-src", directives["default-src"])
    assert directives["object-src"] == "object-src 'none'"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_without_base_url_the_project_page_shows_a_dsn_for_the_address_it_was_reached_at(
    client, project, settings
):
    settings.BASE_URL_IS_SET = False
    settings.ALLOWED_HOSTS = ["tracehound.example"]
    user = get_user_model().objects.create_user("ann", password="a-long-secret-phrase")
    client.force_login(user)
    user.is_superuser = True
    user.save()
    page = client.get("/acme/backend/", HTTP_HOST="tracehound.example:9000").content.decode()
    assert f"http://{project.public_key}@tracehound.example:9000/{project.id}" in page


def test_pages_refuse_a_host_name_that_is_not_base_urls(client):
    # Derived from BASE_URL (a loopback URL in the test run), not "*".
    assert client.get("/login/", HTTP_HOST="evil.example").status_code == 400
    assert client.get("/login/", HTTP_HOST="127.0.0.1:8000").status_code == 200
    assert client.get("/login/", HTTP_HOST="localhost:8000").status_code == 200
