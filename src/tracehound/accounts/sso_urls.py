"""Routes of this part (see tracehound/urls.py)."""

from django.urls import URLPattern, URLResolver, path

from tracehound.accounts import sso_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("sso/no-access/", sso_views.no_access, name="sso-no-access"),
    path("sso/<slug:slug>/login/", sso_views.sso_login, name="sso-login"),
    path("sso/<slug:slug>/callback/", sso_views.sso_callback, name="sso-callback"),
    path(
        "organizations/<slug:org>/settings/sso/",
        sso_views.sso_settings,
        name="sso-settings",
    ),
]
