"""Routes of this part (see tracehound/urls.py): organizations, members, teams,
projects and DSN keys (api/organizations.py, api/teams.py, api/keys.py), alert
channels and rules (api/alerts.py)."""

from django.urls import URLPattern, URLResolver, path

from tracehound.api import alerts, keys, organizations, teams

org = "organizations/<slug:org>/"
project = "projects/<slug:org>/<slug:project>/"
team = "teams/<slug:org>/<slug:team>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("organizations/", organizations.organization_list),
    path(org, organizations.organization_details),
    path(f"{org}members/", organizations.member_list),
    path(f"{org}members/<str:member_id>/", organizations.member_details),
    path(f"{org}members/<str:member_id>/teams/<slug:team>/", organizations.member_team),
    path(f"{org}teams/", teams.organization_teams),
    path(f"{org}projects/", organizations.organization_projects),
    path("projects/", organizations.project_list),
    path(team, teams.team_details),
    path(f"{team}projects/", teams.team_project_create),
    path(f"{team}projects/<slug:project>/", teams.team_project),
    path(f"{project}keys/", keys.project_keys),
    path(f"{project}keys/<str:key_id>/", keys.project_key),
    path(f"{project}keys/<str:key_id>/rotate/", keys.project_key_rotate),
    path(f"{org}channels/", alerts.channel_list),
    path(f"{org}channels/<str:channel_id>/", alerts.channel_details),
    path(f"{org}channels/<str:channel_id>/test/", alerts.channel_test),
    path(f"{org}channels/<str:channel_id>/deliveries/", alerts.channel_deliveries),
    path(f"{project}alert-rules/", alerts.rule_list),
    path(f"{project}alert-rules/<str:rule_id>/", alerts.rule_details),
]
