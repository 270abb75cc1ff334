"""``manage.py collect --once [--only usage,inventory,gpu,rollup]``: run the collectors now.

After an inventory cycle the command also runs the tasks that act on what it recorded
(``INVENTORY_FOLLOW_UP_TASKS``: billing's namespace assignment), eagerly in this process and by
their Celery names, so that one command does the whole job without collectors importing billing.
"""

import time

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from collectors.cycles import CYCLES


class Command(BaseCommand):
    help = "Run collection cycles synchronously and print, per measurement, points written and seconds taken."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run each selected cycle once (the default)")
        parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(CYCLES)}")

    def handle(self, *args, only="", **options):
        names = [n.strip() for n in only.split(",") if n.strip()] or list(CYCLES)
        unknown = [n for n in names if n not in CYCLES]
        if unknown:
            raise CommandError(f"unknown cycle(s): {', '.join(unknown)}; choose from {', '.join(CYCLES)}")
        failed = False
        for name in names:
            report = CYCLES[name](pod_watch=False)
            if report.skipped:
                self.stdout.write(f"{name}: skipped (another {name} cycle is running)")
                continue
            self.write_report(name, report)
            failed = failed or not report.ok
            if name == "inventory" and report.ok:
                for label, task in settings.INVENTORY_FOLLOW_UP_TASKS.items():
                    failed = not self.run_task(label, task) or failed
        if failed:
            raise CommandError("some cycles failed (see above)")

    def write_report(self, name, report):
        status = "ok" if report.ok else f"FAILED: {report.error}"
        self.stdout.write(f"{name}: {status} in {report.seconds.get('total', 0):.3f} s")
        for measurement, count in sorted(report.points.items()):
            self.stdout.write(f"  {measurement:<28} {count:>8} points")
        phases = ", ".join(f"{k} {v:.3f} s" for k, v in report.seconds.items() if k != "total")
        if phases:
            self.stdout.write(f"  phases: {phases}")
        if report.write.spooled:
            self.stdout.write(f"  {report.write.spooled} lines spooled (InfluxDB unavailable)")
        if report.write.replayed:
            self.stdout.write(f"  {report.write.replayed} spooled lines replayed")

    def run_task(self, label, task_name):
        """Run the Celery task ``task_name`` here and now, as a worker would; True when it succeeded."""
        current_app.loader.import_default_modules()  # what a worker imports: every app's tasks module
        started = time.perf_counter()
        result = current_app.tasks[task_name].apply()
        seconds = time.perf_counter() - started
        if result.failed():
            self.stdout.write(f"{label}: FAILED: {result.result!r} in {seconds:.3f} s")
            return False
        self.stdout.write(f"{label}: ok in {seconds:.3f} s")
        return True
