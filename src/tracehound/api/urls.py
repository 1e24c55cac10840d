from django.urls import path, re_path, register_converter

from tracehound.api import issues, views


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
urlpatterns = [
    path("projects/<slug:org>/<slug:project>/issues/", views.project_issues),
    path(event, views.project_event),
    path(f"{event}attachments/", views.event_attachments),
    path(f"{event}attachments/<str:attachment_id>/", views.event_attachment),
    path("projects/<slug:org>/<slug:project>/user-feedback/", views.project_user_feedback),
    path("issues/<str:issue_id>/", views.issue_detail),
    path("issues/<str:issue_id>/events/latest/", views.issue_latest_event),
    # Search and the read side of triage (api/issues.py).
    path("organizations/<slug:org>/issues/", issues.organization_issues),
    path("issues/<str:issue_id>/events/", issues.issue_events),
    path("issues/<str:issue_id>/events/<str:event_ref>/", issues.issue_event),
    path("issues/<str:issue_id>/tags/", issues.issue_tags),
    path("issues/<str:issue_id>/tags/<str:key>/", issues.issue_tag),
    path("issues/<str:issue_id>/tags/<str:key>/values/", issues.issue_tag_values),
    path("projects/<slug:org>/<slug:project>/releases/", issues.project_releases),
    path("projects/<slug:org>/<slug:project>/environments/", issues.project_environments),
    # Last: any other /api/0/ path is a JSON 404, never Django's slash-appending redirect.
    re_path(r"", views.unknown_endpoint),
]
