"""Routes of this part (see tracehound/urls.py): API token pages."""

from django.urls import URLPattern, URLResolver, path

from tracehound.web import tokens

urlpatterns: list[URLPattern | URLResolver] = [
    path("account/tokens/", tokens.personal_tokens, name="personal-tokens"),
    path(
        "account/tokens/<str:token_id>/revoke/",
        tokens.revoke_personal_token,
        name="revoke-personal-token",
    ),
    path(
        "organizations/<slug:org>/settings/tokens/",
        tokens.organization_tokens,
        name="organization-tokens",
    ),
    path(
        "organizations/<slug:org>/settings/tokens/<str:token_id>/revoke/",
        tokens.revoke_organization_token,
        name="revoke-organization-token",
    ),
]
