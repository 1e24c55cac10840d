from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tracehound.accounts"
    label = "accounts"

    def ready(self) -> None:
        from tracehound.accounts import receivers  # noqa: F401 - connects the receivers
