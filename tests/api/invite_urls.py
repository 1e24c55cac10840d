"""A test-only URL configuration: the members POST route, routed alone (its GET half is
another branch's), in front of the real routes."""

from django.urls import path

from tracehound import urls
from tracehound.api.invitations import invite_member

urlpatterns = [
    path("api/0/organizations/<slug:org>/members/", invite_member),
    *urls.urlpatterns,
]
