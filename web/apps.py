from django.apps import AppConfig


class WebConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "web"

    def ready(self):
        from web import (
            accounts_signals,  # noqa: F401  (connects the logout receiver)
            livesignals,  # noqa: F401  (membership changes make live sockets re-check access)
        )
