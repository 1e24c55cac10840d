"""Routes of this part (see tracehound/urls.py): the organizations, their general
settings and audit log, alert channels, the delivery log and projects' alert rules."""

from django.urls import URLPattern, URLResolver, path

from tracehound.web import alerts, org_settings

channels = "organizations/<slug:org>/settings/channels/"
rules = "organizations/<slug:org>/settings/projects/<slug:project>/alerts/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("organizations/", org_settings.organizations, name="organizations"),
    path("organizations/<slug:org>/settings/", org_settings.general, name="org-settings"),
    path(
        "organizations/<slug:org>/settings/audit-log/",
        org_settings.audit_log,
        name="org-audit-log",
    ),
    path(channels, alerts.channel_list, name="alert-channels"),
    path(f"{channels}new/", alerts.channel_new, name="alert-channel-new"),
    path(f"{channels}<int:channel_id>/", alerts.channel_edit, name="alert-channel"),
    *(
        path(
            f"{channels}<int:channel_id>/{action}/",
            alerts.channel_action,
            {"action": action},
            name=f"alert-channel-{action}",
        )
        for action in ("enable", "disable", "delete", "test")
    ),
    path(
        "organizations/<slug:org>/settings/deliveries/",
        alerts.delivery_log,
        name="alert-deliveries",
    ),
    path(rules, alerts.rule_list, name="alert-rules"),
    path(f"{rules}new/", alerts.rule_edit, name="alert-rule-new"),
    path(f"{rules}<int:rule_id>/", alerts.rule_edit, name="alert-rule"),
    *(
        path(
            f"{rules}<int:rule_id>/{action}/",
            alerts.rule_action,
            {"action": action},
            name=f"alert-rule-{action}",
        )
        for action in ("enable", "disable", "delete")
    ),
]
