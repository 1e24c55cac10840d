from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tracehound.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Connects the login audit receivers (accounts/signals.py).
        from tracehound.accounts import signals  # noqa: F401
