from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tracehound.accounts"
    label = "accounts"
