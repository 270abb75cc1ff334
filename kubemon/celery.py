"""The Celery application; its beat schedule is data in settings (CELERY_BEAT_SCHEDULE)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubemon.settings")

app = Celery("kubemon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
