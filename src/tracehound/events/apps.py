from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "tracehound.events"
    label = "events"
