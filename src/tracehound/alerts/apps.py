from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "tracehound.alerts"
    label = "alerts"
