"""``manage.py setupinfluxdb``: create the database and its retention policies (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kubemon.timeseries import TimeseriesError, get_store


class Command(BaseCommand):
    help = ("Create the InfluxDB database and its retention policies (raw, hourly, pod_daily, namespace_*, "
            "controller_*); safe to run again: an existing policy takes the configured duration.")

    def handle(self, *args, **options):
        store = get_store()
        try:
            store.ensure_database(settings.INFLUXDB_RAW_RETENTION, settings.INFLUXDB_HOURLY_RETENTION,
                                  settings.INFLUXDB_NAMESPACE_RETENTION, settings.INFLUXDB_CONTROLLER_RETENTION)
            policies = store.retention_policies()
        except (TimeseriesError, ValueError) as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"InfluxDB {settings.INFLUXDB_URL} database {settings.INFLUXDB_DATABASE!r}: "
                          + ", ".join(f"{name} {duration}" for name, duration in sorted(policies.items())))
