"""``manage.py collect --once [--only usage,inventory,gpu,temperature,rollup]``: run the collectors now.

After an inventory cycle the command also runs the tasks that act on what it recorded
(``INVENTORY_FOLLOW_UP_TASKS``: billing's namespace assignment), in this process and by their
Celery names, so that one command does the whole job without collectors importing billing.

Every part prints one line, ``<part>: ok in …`` or ``<part>: FAILED: <what failed>`` (for
instance ``rollup: FAILED: InfluxDB unavailable at http://127.0.0.1:8086: connection refused``),
never a traceback unless ``--traceback`` is given; the exit status says what failed (EXIT_STATUS).
"""

import argparse
import time

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from collectors.cycles import CYCLES
from collectors.failures import root_reason

COLLECTION_FAILED, CONFIGURATION_ERROR, FOLLOW_UP_FAILED, SPOOLED = 1, 2, 4, 8
MEANINGS = {
    COLLECTION_FAILED: "a collection cycle (inventory, usage, gpu, temperature) failed: its samples of this run "
                       "are missing",
    CONFIGURATION_ERROR: "configuration error: an unknown cycle name, or the Kubernetes configuration cannot be "
                         "loaded",
    FOLLOW_UP_FAILED: "the rollup or a follow-up task (assign-namespaces) failed: its next run does the work again",
    SPOOLED: "InfluxDB was unavailable: points went to the spool and are written when it answers (none is lost)",
}
EXIT_STATUS = "exit status, the sum of:\n  0  every part ran and its points were written\n" + "".join(
    f"  {code}  {meaning}\n" for code, meaning in MEANINGS.items())
FOLLOW_UPS = ("rollup",)  # cycles whose work the next run redoes from the stored data


class _Formatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the exit status table laid out as written."""


class Command(BaseCommand):
    help = "Run collection cycles synchronously and print, per measurement, points written and seconds taken."

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, formatter_class=_Formatter, **kwargs)
        parser.epilog = EXIT_STATUS
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run each selected cycle once (the default)")
        parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(CYCLES)}")

    def handle(self, *args, only="", **options):
        names = [n.strip() for n in only.split(",") if n.strip()] or list(CYCLES)
        unknown = [n for n in names if n not in CYCLES]
        if unknown:
            raise CommandError(f"unknown cycle(s): {', '.join(unknown)}; choose from {', '.join(CYCLES)}",
                               returncode=CONFIGURATION_ERROR)
        status = 0
        for name in names:
            status |= self.run_cycle(name, options.get("traceback", False))
        if status:
            meanings = "; ".join(meaning for code, meaning in MEANINGS.items() if status & code)
            raise CommandError(f"exit status {status}: {meanings}", returncode=status)

    def run_cycle(self, name, traceback=False):
        """Run one cycle (and, after the inventory, its follow-up tasks); its bits of the exit status."""
        failed = FOLLOW_UP_FAILED if name in FOLLOW_UPS else COLLECTION_FAILED
        try:
            report = CYCLES[name](pod_watch=False)
        except Exception as exc:
            if traceback:
                raise
            self.stdout.write(f"{name}: FAILED: unexpected {type(exc).__name__}: {root_reason(exc)} "
                              "(--traceback shows where)")
            return failed
        if report.skipped:
            self.stdout.write(f"{name}: skipped (another {name} cycle is running)")
            return 0
        self.write_report(name, report)
        status = SPOOLED if report.write.spooled else 0
        if not report.ok:
            return status | (CONFIGURATION_ERROR if report.failure == "configuration" else failed)
        if name == "inventory":
            for label, task in settings.INVENTORY_FOLLOW_UP_TASKS.items():
                if not self.run_task(label, task, traceback):
                    status |= FOLLOW_UP_FAILED
        return status

    def write_report(self, name, report):
        status = "ok" if report.ok else f"FAILED: {report.error}"
        self.stdout.write(f"{name}: {status}" + (f" in {report.seconds['total']:.3f} s" if report.ok else ""))
        for measurement, count in sorted(report.points.items()):
            self.stdout.write(f"  {measurement:<28} {count:>8} points")
        phases = ", ".join(f"{k} {v:.3f} s" for k, v in report.seconds.items() if k != "total")
        if phases:
            self.stdout.write(f"  phases: {phases}")
        if report.ok and report.error:
            self.stdout.write(f"  warning: {report.error}")
        if report.write.spooled:
            self.stdout.write(f"  {report.write.spooled} lines spooled: InfluxDB unavailable at "
                              f"{settings.INFLUXDB_URL}; they are written when it answers")
        if report.write.replayed:
            self.stdout.write(f"  {report.write.replayed} spooled lines replayed")

    def run_task(self, label, task_name, traceback=False):
        """Run the Celery task ``task_name`` here and now; True when it succeeded."""
        current_app.loader.import_default_modules()  # what a worker imports: every app's tasks module
        started = time.perf_counter()
        try:
            current_app.tasks[task_name]()
        except Exception as exc:
            if traceback:
                raise
            self.stdout.write(f"{label}: FAILED: {root_reason(exc)}")
            return False
        self.stdout.write(f"{label}: ok in {time.perf_counter() - started:.3f} s")
        return True
