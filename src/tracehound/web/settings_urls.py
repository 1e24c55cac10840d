"""Routes of this part (see tracehound/urls.py): the organizations, their general
settings and audit log."""

from django.urls import URLPattern, URLResolver, path

from tracehound.web import org_settings

urlpatterns: list[URLPattern | URLResolver] = [
    path("organizations/", org_settings.organizations, name="organizations"),
    path("organizations/<slug:org>/settings/", org_settings.general, name="org-settings"),
    path(
        "organizations/<slug:org>/settings/audit-log/",
        org_settings.audit_log,
        name="org-audit-log",
    ),
]
