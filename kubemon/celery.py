"""The Celery application; its beat schedule is data in settings (CELERY_BEAT_SCHEDULE)."""

import logging
import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubemon.settings")

app = Celery("kubemon")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
log = logging.getLogger(__name__)


@worker_ready.connect
def ensure_influxdb_database(**kwargs):
    """Create the database and its retention policies when a worker starts (INFLUXDB_CREATE_DATABASE).

    A write that finds them missing creates them too; this only saves the first cycle the trip.
    InfluxDB being down now is no reason to stop the worker: its writes spool until it is back.
    """
    from django.conf import settings

    from kubemon.timeseries import TimeseriesError, get_store

    if not settings.INFLUXDB_CREATE_DATABASE:
        return
    try:
        get_store().ensure_database(settings.INFLUXDB_RAW_RETENTION, settings.INFLUXDB_HOURLY_RETENTION,
                                    settings.INFLUXDB_NAMESPACE_RETENTION, settings.INFLUXDB_CONTROLLER_RETENTION)
    except (TimeseriesError, ValueError) as exc:
        log.warning("could not create the InfluxDB database at start-up: %s", exc)
