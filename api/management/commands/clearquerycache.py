"""``manage.py clearquerycache``: forget the cached per-day aggregates (run it after a rollup backfill)."""

from django.core.management.base import BaseCommand, CommandError

from metrics import daycache


class Command(BaseCommand):
    help = "Forget the per-day aggregates the metric API keeps in Redis."

    def handle(self, *args, **options):
        try:
            count = daycache.clear()
        except Exception as exc:  # noqa: BLE001  (any Redis failure becomes a clear message)
            raise CommandError(f"Redis is unavailable: {exc}") from None
        self.stdout.write(f"forgot {count} cached day(s)")
