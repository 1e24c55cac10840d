from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tracehound.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Connect the login audit receivers (accounts/signals.py) and allauth's
        # (accounts/receivers.py: audit entries, joining on sign-up by invitation).
        from tracehound.accounts import receivers, signals  # noqa: F401
