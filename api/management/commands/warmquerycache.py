"""``manage.py warmquerycache [--days 31] [--metrics a,b]``: compute finished days before anyone asks."""

from django.core.management.base import BaseCommand, CommandError

from api.warming import warm_client_queries
from kubemon.timeseries import TimeseriesError
from metrics.catalogue import METRICS
from metrics.warm import DEFAULT_METRICS


class Command(BaseCommand):
    help = "Fill the metric API's day cache for every tenant's usual queries (run daily, after 03:30 UTC)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=31)
        parser.add_argument("--metrics", default=",".join(DEFAULT_METRICS), help="comma-separated metric names")

    def handle(self, *args, days, metrics, **options):
        names = [name.strip() for name in metrics.split(",") if name.strip()]
        unknown = [name for name in names if name not in METRICS]
        if unknown:
            raise CommandError(f"unknown metric(s): {', '.join(unknown)}")
        if not 1 <= days <= 400:
            raise CommandError("--days must be between 1 and 400")
        try:
            count = warm_client_queries(days=days, metric_names=names)
        except TimeseriesError as exc:
            raise CommandError(f"InfluxDB: {exc}") from None
        self.stdout.write(f"warmed {count} queries over the last {days} day(s)")
