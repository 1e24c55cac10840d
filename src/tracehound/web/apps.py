from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "tracehound.web"
    label = "web"
