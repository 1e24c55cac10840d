"""Routes of local accounts (see tracehound/urls.py): allauth's pages under /accounts/,
the account page, invitations."""

from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView

from tracehound.accounts import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    # One log-in page (with the throttle's 429 and the SSO buttons): allauth's links
    # to its own lead there.
    path(
        "accounts/login/",
        RedirectView.as_view(pattern_name="login", query_string=True),
        name="account_login",
    ),
    path("accounts/", include("allauth.urls")),
    path("account/", views.account, name="account"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path(
        "organizations/<slug:org>/settings/invitations/",
        views.organization_invitations,
        name="organization-invitations",
    ),
]
