from django.urls import path

from tracehound.api import views

urlpatterns = [
    path("projects/<slug:org>/<slug:project>/issues/", views.project_issues),
    path("projects/<slug:org>/<slug:project>/events/<str:event_id>/", views.project_event),
    path(
        "projects/<slug:org>/<slug:project>/events/<str:event_id>/attachments/",
        views.event_attachments,
    ),
    path("projects/<slug:org>/<slug:project>/user-feedback/", views.project_user_feedback),
    path("issues/<str:issue_id>/", views.issue_detail),
    path("issues/<str:issue_id>/events/latest/", views.issue_latest_event),
]
