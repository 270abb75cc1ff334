from django.apps import AppConfig


class KubemonConfig(AppConfig):
    name = "kubemon"
    verbose_name = "kubemon core"

    def ready(self):
        from kubemon import checks  # noqa: F401  (registers the system checks)
