from django.urls import include, path

from tracehound.web import issue_views, list_views, views

# Django's error pages, JSON under /api/0/ (see tracehound.api.errors).
handler400 = "tracehound.api.errors.bad_request"
handler403 = "tracehound.api.errors.permission_denied"
handler404 = "tracehound.api.errors.page_not_found"
handler500 = "tracehound.api.errors.server_error"

urlpatterns = [
    path("api/0/", include("tracehound.api.urls")),
    # Accounts, settings and SSO (before the `<org>/<project>/` pages, whose two slugs
    # would match these paths; their first segments are reserved organization slugs).
    path("", include("tracehound.accounts.urls")),
    path("", include("tracehound.accounts.sso_urls")),
    path("", include("tracehound.web.members_urls")),
    path("", include("tracehound.web.settings_urls")),
    path("", include("tracehound.web.token_urls")),
    path("", include("tracehound.alerts.urls")),
    path("", views.home, name="home"),
    path("<slug:org>/<slug:project>/", list_views.project_issues, name="project-issues"),
    path("<slug:org>/<slug:project>/bulk/", list_views.bulk_action, name="bulk-action"),
    path(
        "organizations/<slug:org>/issues/<int:issue_id>/",
        issue_views.issue_detail,
        name="issue",
    ),
    path(
        "organizations/<slug:org>/issues/<int:issue_id>/events/<str:event_id>/",
        issue_views.issue_event,
        name="issue-event",
    ),
    path(
        "organizations/<slug:org>/issues/<int:issue_id>/actions/<slug:action>/",
        issue_views.issue_action,
        name="issue-action",
    ),
    path(
        "organizations/<slug:org>/attachments/<int:attachment_id>/",
        views.attachment_download,
        name="attachment-download",
    ),
]
