from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "tracehound.projects"
    label = "projects"
