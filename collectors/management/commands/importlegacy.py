"""``manage.py importlegacy --url URL [--database k8s] [--username U --password-file F] [--since DATE]
[--until DATE] [--dry-run]``: bring the legacy system's Heapster and GPU-agent history along.

See docs/migration.md. Exit status: 0 done (or nothing left to do), 1 an error (said in one line,
the checkpoint keeps what is done: run the same command again to resume), 130 interrupted.
"""

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from collectors.legacy import finish, namespaces
from collectors.legacy.catalogue import SOURCES
from collectors.legacy.checkpoint import Checkpoint, default_path
from collectors.legacy.importer import Importer, plan_jobs
from collectors.legacy.progress import Progress
from collectors.legacy.reader import LegacyImportError, LegacyReader
from kubemon.timeseries import TimeseriesError, TimeseriesQueryError, open_store
from kubemon.timeseries.hours import DAY, HOUR, floor_hour

# Hours within this of the raw retention's end go straight to the hourly rollup: raw points there
# would expire (or be refused) before long. The hourly rollup's limit has a week's margin (its shards).
RAW_MARGIN = DAY
HOURLY_MARGIN = DAY * 8


def parse_date(text, option):
    """``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]`` or RFC 3339 (no zone: UTC), floored to the hour."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a date (use 2017-12-01, 2017-12-01 08:00 or RFC 3339)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return floor_hour(moment.astimezone(UTC))


_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def duration(text):
    """``720h0m0s`` (as InfluxDB reports a policy) or ``30d`` (as the settings say) as a timedelta;
    None for an infinite one (``0s``, ``INF``)."""
    parts = re.findall(r"(\d+)([wdhms])", text or "")
    if not parts or "".join(n + u for n, u in parts) != (text or "").strip():
        return None
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts)) or None


def retention_cutoffs(store, now):
    """``(raw_from, hourly_from)``: the hours from which the raw and the hourly policies keep points
    (the database's own policies; the settings' when it does not exist yet, in a dry run)."""
    try:
        policies = store.retention_policies()
    except TimeseriesQueryError:
        policies = dict(zip(("raw", "hourly"), store.retention[:2], strict=True))
    raw, hourly = duration(policies.get("raw")), duration(policies.get("hourly"))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    raw_from = floor_hour(now - raw) + RAW_MARGIN if raw else epoch
    hourly_from = floor_hour(now - hourly) + HOURLY_MARGIN if hourly else epoch
    return raw_from, hourly_from


class Command(BaseCommand):
    help = "Import the legacy system's Heapster and GPU-agent history from its InfluxDB (docs/migration.md)."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the legacy InfluxDB, e.g. http://influxdb:8086")
        parser.add_argument("--database", default="k8s", help="Heapster's database (default k8s)")
        parser.add_argument("--username", default="")
        parser.add_argument("--password-file", help="a file holding the password (never on the command line)")
        parser.add_argument("--since", help="first day or hour to import (default: the oldest row)")
        parser.add_argument("--until", help="import up to this day or hour, excluded (default: this hour)")
        parser.add_argument("--dry-run", action="store_true", help="read and check everything, write nothing")
        parser.add_argument("--measurement", action="append", default=[], metavar="NAME",
                            help=f"only these measurements (repeatable); default all of: {', '.join(SOURCES)}")
        parser.add_argument("--assign-by-label", metavar="KEY",
                            help="give each namespace to the tenant whose slug its pods' label KEY names")
        parser.add_argument("--mapping", metavar="FILE", help="'namespace tenant-slug' lines (or a JSON object)")
        parser.add_argument("--checkpoint", metavar="PATH", help="the progress file (default .importlegacy/...)")
        parser.add_argument("--restart", action="store_true", help="ignore the checkpoint and import from the start")
        parser.add_argument("--skip-malformed", action="store_true",
                            help="skip (and count) malformed rows instead of stopping at the first")
        parser.add_argument("--resolution", type=float, metavar="SECONDS",
                            help="Heapster's --metric_resolution (default: found from the data, else 60)")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, **opts):
        try:
            self.run(opts)
        except KeyboardInterrupt:
            raise CommandError("interrupted: what is done is in the checkpoint; run the same command again to resume",
                               returncode=130)
        except LegacyImportError as exc:
            raise CommandError(str(exc))

    def _stores(self, opts):
        password = ""
        if opts["password_file"]:
            try:
                password = Path(opts["password_file"]).read_text().strip()
            except OSError as exc:
                raise CommandError(f"cannot read --password-file: {exc}")
        legacy = open_store(opts["url"], opts["database"], username=opts["username"], password=password)
        store = open_store(create_database=True)
        return legacy, store

    def _checkpoint(self, opts, now):
        since = parse_date(opts["since"], "--since") if opts["since"] else None
        until = parse_date(opts["until"], "--until") if opts["until"] else None
        if since and until and since >= until:
            raise CommandError("--since must be before --until")
        identity = {"url": opts["url"].rstrip("/"), "database": opts["database"],
                    "since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
        path = opts["checkpoint"] or default_path(opts["url"], opts["database"])
        try:
            checkpoint = Checkpoint.open(path, identity, restart=opts["restart"], enabled=not opts["dry_run"])
        except ValueError as exc:
            raise CommandError(str(exc))
        data = checkpoint.data
        data.setdefault("until", (until or floor_hour(now)).isoformat())
        return checkpoint, since, datetime.fromisoformat(data["until"])

    def run(self, opts):
        now = datetime.now(UTC)
        legacy, store = self._stores(opts)
        present = LegacyReader(legacy, SOURCES).check()
        jobs, left_out = plan_jobs(present, opts["measurement"])
        checkpoint, since, until = self._checkpoint(opts, now)
        if checkpoint.data["finished"]:
            self.stdout.write(f"the import recorded in {checkpoint.path} is finished; --restart imports it again")
            self.assign(checkpoint, opts)
            return
        try:
            if not opts["dry_run"]:
                store.ensure_database(*store.retention)
            raw_from, hourly_from = retention_cutoffs(store, now)
        except TimeseriesError as exc:
            raise CommandError(f"kubemon's InfluxDB at {store.url}: {exc}")
        saved = checkpoint.data.get("raw_from")
        if saved and datetime.fromisoformat(saved) >= raw_from - RAW_MARGIN + HOUR:
            raw_from = datetime.fromisoformat(saved)  # a resumed run splits the history where the first did
        checkpoint.data["raw_from"] = raw_from.isoformat()
        for name, reason in sorted(left_out.items()):
            self.stdout.write(f"not imported: {name}: {reason}")
        importer = Importer(LegacyReader(legacy, SOURCES), store, checkpoint, since=since, until=until,
                            raw_from=raw_from, hourly_from=hourly_from, label=opts["assign_by_label"],
                            skip_malformed=opts["skip_malformed"], resolution=opts["resolution"],
                            dry_run=opts["dry_run"])
        quiet = opts["quiet"] or opts["verbosity"] == 0
        started = time.monotonic()
        try:
            importer.run(jobs, lambda total: Progress(total, stream=self.stderr._out, enabled=False if quiet else None))
            read = time.monotonic()
            if not opts["dry_run"]:
                finish.roll_raw_hours(store, checkpoint)
                finish.build_tiers(store, checkpoint, now)
        except LegacyImportError as exc:
            raise LegacyImportError(f"{exc}\n{self.resume_note(checkpoint)}")
        except TimeseriesError as exc:
            raise LegacyImportError(f"kubemon's InfluxDB: {exc}\n{self.resume_note(checkpoint)}")
        checkpoint.data["finished"] = not opts["dry_run"]
        checkpoint.save()
        self.report(checkpoint, jobs, opts["dry_run"])
        points = sum(job["points"] + job["hourly_points"] for job in checkpoint.data["jobs"].values())
        self.stdout.write(f"done in {time.monotonic() - started:.1f} s: {points:,} points in {read - started:.1f} s "
                          f"({points / max(read - started, 1e-9):,.0f} points/s), then the rollup and tiers in "
                          f"{time.monotonic() - read:.1f} s")
        self.assign(checkpoint, opts)

    def resume_note(self, checkpoint):
        if not checkpoint.enabled:
            return "(dry run: nothing was written)"
        done = [f"{name} to {datetime.fromtimestamp(job['done_until'], UTC):%Y-%m-%d %H:%M}"
                for name, job in checkpoint.data["jobs"].items() if job.get("done_until") and not job["finished"]]
        where = f"; done: {', '.join(done)}" if done else ""
        return (f"the checkpoint {checkpoint.path} keeps what is whole{where}. Hours after it may be partly "
                "written: running the same command again writes them again (the same points).")

    def report(self, checkpoint, jobs, dry_run):
        verb = "would write" if dry_run else "wrote"
        for job in jobs:
            state = checkpoint.job(job.name)
            line = (f"{job.name}: {state['rows']:,} rows read, {verb} {state['points']:,} raw and "
                    f"{state['hourly_points']:,} hourly points")
            if state["malformed"]:
                line += f", {state['malformed']:,} malformed rows skipped"
            if state["note"]:
                line += f" ({state['note']})"
            self.stdout.write(line)

    def assign(self, checkpoint, opts):
        met = checkpoint.data["namespaces"]
        if not met:
            return
        mapping = namespaces.read_mapping(opts["mapping"]) if opts["mapping"] else None
        planned = namespaces.plan(met, mapping, by_label=bool(opts["assign_by_label"]))
        results = namespaces.assign(planned, dry_run=opts["dry_run"])
        self.stdout.write(f"namespaces met in the history: {len(results)}")
        for namespace, slug, outcome in results:
            self.stdout.write(f"  {namespace}: {slug or '-'}: {outcome}")
        left = [namespace for namespace, slug, outcome in results if not outcome.startswith(("assigned", "would"))]
        if left:
            self.stdout.write("assign the others with: manage.py assignnamespace --tenant SLUG NAMESPACE...")
