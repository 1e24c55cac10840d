from django.urls import URLPattern, path

from tracehound.alerts import views

urlpatterns: list[URLPattern] = [
    path("alerts/opt-out/<str:token>/", views.opt_out, name="alert-opt-out"),
    path(
        "alerts/email/<slug:org>/<slug:project>/",
        views.project_alert_email,
        name="alert-email-toggle",
    ),
]
