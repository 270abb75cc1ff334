"""``manage.py collect --once [--only usage,inventory,gpu,rollup]``: run the collectors now."""

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
            failed = failed or not report.ok
        if failed:
            raise CommandError("some cycles failed (see above)")
