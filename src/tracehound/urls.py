from django.contrib.auth import views as auth_views
from django.urls import include, path

from tracehound.web import views

urlpatterns = [
    path("api/0/", include("tracehound.api.urls")),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("<slug:org>/<slug:project>/", views.project_issues, name="project-issues"),
    path("organizations/<slug:org>/issues/<int:issue_id>/", views.issue_detail, name="issue"),
]
