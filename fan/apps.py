from django.apps import AppConfig


class FanConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fan"
