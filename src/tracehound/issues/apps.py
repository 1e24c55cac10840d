from django.apps import AppConfig


class IssuesConfig(AppConfig):
    name = "tracehound.issues"
    label = "issues"
