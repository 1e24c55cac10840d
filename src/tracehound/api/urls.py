from django.urls import URLPattern, URLResolver, include, path, re_path, register_converter

from tracehound.api import audit, issue_actions, issues, projects, tokens, views


class EventIdConverter:
    """32 hex digits or a dashed UUID, as Sentry's routes accept; given to views as 32
    lowercase hex. Anything else matches no route: a JSON 404."""

    regex = r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> str:
        return value.replace("-", "").lower()

    def to_url(self, value: str) -> str:
        return value


register_converter(EventIdConverter, "event_id")

event = "projects/<slug:org>/<slug:project>/events/<event_id:event_id>/"

# Issue actions (api/issue_actions.py): first, so `issues/<id>/` answers PUT and DELETE
# too; each also under Sentry's newer organization-scoped path.
issue_action_routes = [
    path(f"{prefix}issues/<str:issue_id>/{suffix}", view)
    for prefix in ("", "organizations/<slug:org>/")
    for suffix, view in (
        ("", issue_actions.issue_detail),
        ("hashes/", issue_actions.issue_hashes),
        ("comments/", issue_actions.issue_comments),
        ("activities/", issue_actions.issue_activities),
    )
]

# An issue's events and tags (api/issues.py), also under the organization-scoped path.
issue_read_routes = [
    path(f"{prefix}issues/<str:issue_id>/{suffix}", view)
    for prefix in ("", "organizations/<slug:org>/")
    for suffix, view in (
        ("events/", issues.issue_events),
        ("events/<str:event_ref>/", issues.issue_event),
        ("tags/", issues.issue_tags),
        ("tags/<str:key>/", issues.issue_tag),
        ("tags/<str:key>/values/", issues.issue_tag_values),
    )
]

urlpatterns: list[URLPattern | URLResolver] = [
    *issue_action_routes,
    path("projects/<slug:org>/<slug:project>/issues/", views.project_issues),
    path(event, views.project_event),
    path(f"{event}attachments/", views.event_attachments),
    path(f"{event}attachments/<str:attachment_id>/", views.event_attachment),
    path("projects/<slug:org>/<slug:project>/user-feedback/", views.project_user_feedback),
    path("issues/<str:issue_id>/events/latest/", views.issue_latest_event),
    # Search and the read side of triage (api/issues.py).
    path("organizations/<slug:org>/issues/", issues.organization_issues),
    *issue_read_routes,
    path("projects/<slug:org>/<slug:project>/releases/", issues.project_releases),
    path("projects/<slug:org>/<slug:project>/environments/", issues.project_environments),
]

# Project details and grouping settings (fingerprint and stack-trace rules, version).
urlpatterns += [
    path("projects/<slug:org>/<slug:project>/", projects.project_details),
]

# The audit log (api/audit.py).
urlpatterns += [path("organizations/<slug:org>/audit-logs/", audit.audit_logs)]
# The session user's personal tokens (api/tokens.py).
urlpatterns += [path("api-tokens/", tokens.api_tokens)]

# Organizations, members, teams, projects and DSN keys (api/organizations.py).
urlpatterns += [path("", include("tracehound.api.org_urls"))]

urlpatterns += [
    # Last: any other /api/0/ path is a JSON 404, never Django's slash-appending redirect.
    re_path(r"", views.unknown_endpoint),
]
