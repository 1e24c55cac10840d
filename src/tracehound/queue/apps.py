from django.apps import AppConfig


class QueueConfig(AppConfig):
    name = "tracehound.queue"
    label = "queue"
