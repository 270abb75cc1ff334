from django.apps import AppConfig


class CollectorsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "collectors"
