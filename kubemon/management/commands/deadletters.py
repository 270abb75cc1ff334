"""``manage.py deadletters [--replay | --clear]``: the lines InfluxDB refused for good.

Without an option it lists each kept batch: when, how many lines, InfluxDB's message (which
names the field and measurement). ``--replay`` writes them again through the store (after the
cause is fixed, for example a field dropped or a shard expired); what InfluxDB still refuses
goes back to the list. ``--clear`` forgets them.
"""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from kubemon.timeseries import TimeseriesError, get_store


class Command(BaseCommand):
    help = "List, replay or clear the lines InfluxDB refused for good (the dead-letter list)."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--replay", action="store_true", help="write the kept lines again")
        group.add_argument("--clear", action="store_true", help="forget the kept lines")

    def handle(self, *args, replay=False, clear=False, **options):
        letters = get_store().dead_letters
        if letters is None:
            raise CommandError("this store keeps no dead letters")
        try:
            entries = letters.entries()
            if clear:
                letters.clear()
                self.stdout.write(f"cleared {len(entries)} batches")
            elif replay:
                self._replay(letters, entries)
            else:
                self._list(entries)
        except TimeseriesError as exc:
            raise CommandError(f"InfluxDB: {exc}") from None
        except OSError as exc:
            raise CommandError(f"Redis: {exc}") from None

    def _list(self, entries):
        if not entries:
            self.stdout.write("no dead letters")
        for entry in entries:
            when = datetime.fromtimestamp(entry["time"], UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            self.stdout.write(f"{when}  {len(entry['lines'])} lines  {entry['error']}")

    def _replay(self, letters, entries):
        store = get_store()
        letters.clear()  # what is refused again is kept again, by the store
        written = rejected = 0
        for entry in reversed(entries):  # oldest first
            report = store.write_lines(entry["lines"], entry.get("policy") or "raw", entry.get("precision") or "s")
            written += report.written
            rejected += report.rejected + report.spooled
        self.stdout.write(f"replayed {written} lines; {rejected} refused or spooled again")
