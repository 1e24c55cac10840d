from django.urls import path

from tracehound.api import views

urlpatterns = [
    path("projects/<slug:org>/<slug:project>/issues/", views.project_issues),
    path("projects/<slug:org>/<slug:project>/events/<str:event_id>/", views.project_event),
    path("issues/<str:issue_id>/", views.issue_detail),
    path("issues/<str:issue_id>/events/latest/", views.issue_latest_event),
]
