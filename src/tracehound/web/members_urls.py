"""Routes of this part (see tracehound/urls.py): members, teams, project settings."""

from django.urls import URLPattern, URLResolver, path, re_path

from tracehound.projects.membership import RESERVED_ORGANIZATION_SLUGS
from tracehound.web import members

settings = "organizations/<slug:org>/settings/"
# `<org>/<project>/settings/` would also match `organizations/<org>/settings/`: reserved
# first segments are left to their own pages.
not_reserved = "|".join(sorted(RESERVED_ORGANIZATION_SLUGS))

urlpatterns: list[URLPattern | URLResolver] = [
    path(f"{settings}members/", members.members_page, name="settings-members"),
    path(f"{settings}teams/", members.teams_page, name="settings-teams"),
    path(f"{settings}teams/<slug:team>/", members.team_page, name="settings-team"),
    re_path(
        rf"^(?!(?:{not_reserved})/)(?P<org>[-a-zA-Z0-9_]+)/(?P<project>[-a-zA-Z0-9_]+)/settings/$",
        members.project_settings,
        name="project-settings",
    ),
]
