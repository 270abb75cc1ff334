"""The import's run: plan the jobs, read each legacy measurement in hour chunks, write, checkpoint.

One job per imported legacy measurement (``catalogue.SOURCES``) and per derived field
(``catalogue.ALLOCATIONS``). A job goes through its span oldest first, a chunk of whole hours at a
time (longer for sparse history, down to one hour for a dense one: about ``CHUNK_ROWS`` rows per
read, so memory does not grow with the history). Hours older than ``raw_from`` (the raw
retention, less a day of margin) are written straight into the hourly rollup; newer ones are
written raw, recorded in the rollup backlog first (readers take them from raw data until they are
rolled up), and rolled up when every job is done (``collectors.legacy.finish``).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from collectors.legacy import samples as sampling
from collectors.legacy import writer
from collectors.legacy.catalogue import ALLOCATIONS, SOURCES, why_not_imported
from collectors.legacy.reader import LegacyImportError
from kubemon.timeseries import TimeseriesError, TimeseriesUnavailable
from kubemon.timeseries.hours import HOUR, floor_hour
from kubemon.timeseries.schema import HOURLY_POLICY, RAW_POLICY, SPACING_CAP_SECONDS

log = logging.getLogger(__name__)

CHUNK_ROWS = 60_000
MAX_CHUNK = HOUR * 24 * 7
WRITE_BATCH = 5000
# Heapster's default --metric_resolution, and about the GPU agent's pace (a pass every ~5 s).
DEFAULT_SPACING = {"gpu/usage": 5.0}
HEAPSTER_SPACING = 60.0


@dataclass(frozen=True)
class Job:
    name: str
    source: object  # catalogue.Source whose samples give the intervals
    request: object = None  # allocation jobs: the request's Source (None: no requests in the history)
    field: str | None = None  # allocation jobs: the derived field
    factors: tuple = ()

    @property
    def rollup(self):
        return self.field is not None or self.source.rollup


def plan_jobs(present, wanted=None):
    """``(jobs, left out {name: reason})`` for the measurements ``present`` in the legacy database."""
    if wanted:
        unknown = [w for w in wanted if w not in SOURCES]
        if unknown:
            raise LegacyImportError(f"unknown legacy measurement(s) {', '.join(map(repr, unknown))}: the import "
                                    f"knows {', '.join(SOURCES)}")
        absent = [w for w in wanted if w not in present]
        if absent:
            raise LegacyImportError(f"the legacy database has no measurement {', '.join(map(repr, absent))}")
    names = list(wanted) if wanted else [name for name in SOURCES if name in present]
    if not names:
        raise LegacyImportError("the legacy database holds none of the measurements the import knows "
                                f"({', '.join(SOURCES)}): is it Heapster's database?")
    jobs = [Job(name, SOURCES[name]) for name in names]
    for field, usage, request, factors in ALLOCATIONS:
        if usage in names:
            jobs.append(Job(field, SOURCES[usage], SOURCES[request] if request in present else None, field, factors))
    left_out = {name: why_not_imported(name) for name in present if name not in names and not wanted}
    return jobs, left_out


def _dt(ms):
    return datetime.fromtimestamp(ms / 1000, UTC)


def _s(moment):
    return int(moment.timestamp())


class Importer:
    def __init__(self, legacy, store, checkpoint, *, since, until, raw_from, hourly_from, label=None,
                 skip_malformed=False, resolution=None, dry_run=False, chunk_rows=CHUNK_ROWS):
        self.legacy, self.store, self.checkpoint = legacy, store, checkpoint
        self.since, self.until = since, until
        self.raw_from, self.hourly_from = raw_from, hourly_from
        self.label, self.skip_malformed, self.resolution = label, skip_malformed, resolution
        self.dry_run, self.chunk_rows = dry_run, chunk_rows
        self.levels = {}
        self._stream = None

    # --- the spans ---
    def level(self, source):
        """Heapster's ``type`` to read for ``source`` (None: no filter), or a reason to skip it."""
        if source.name not in self.levels:
            self.levels[source.name] = self.legacy.levels(source.name)
        found = self.levels[source.name]
        if source.level is None:
            # The GPU agent wrote no type; a database where it has one keeps containers' rows only.
            return ("pod_container" if "pod_container" in found else None), None
        if source.level in found:
            return source.level, None
        if not found and source.level == "pod_container":
            return None, None  # a writer without levels: every row is a container's
        return None, f"no {source.level!r} rows (levels found: {', '.join(sorted(found)) or 'none'})"

    def span(self, job):
        """``(start, end, skipped hours, note)``: the whole hours this job writes."""
        level, reason = self.level(job.source)
        if reason:
            return None, None, 0, reason
        bounds = self.legacy.bounds(job.source.name, level, self.since or datetime(1970, 1, 1, tzinfo=UTC),
                                    self.until)
        if bounds is None:
            return None, None, 0, "no rows in the window"
        start = floor_hour(_dt(bounds[0]))
        end = min(floor_hour(_dt(bounds[1])) + HOUR, self.until)
        floor = self.hourly_from if job.rollup else max(self.hourly_from, self.raw_from)
        skipped = 0
        if start < floor:
            skipped = int((min(floor, end) - start) / HOUR)
            start = min(floor, end)
        note = None
        if skipped:
            note = (f"{skipped} hours before {floor:%Y-%m-%d %H:%M} skipped: "
                    + ("older than the hourly retention" if job.rollup else "kubemon keeps this metric raw only"))
        return start, end, skipped, note

    # --- the run ---
    def run(self, jobs, progress_factory):
        spans = {}
        for job in jobs:
            state = self.checkpoint.job(job.name)
            start, end, skipped, note = self.span(job)
            state["skipped_hours"], state["note"] = skipped, note
            if start is None or start >= end:
                state["finished"] = True
                continue
            resume = datetime.fromtimestamp(state["done_until"], UTC) if state["done_until"] else start
            spans[job.name] = (max(start, resume), end)
        total = sum((end - start) / HOUR for start, end in spans.values() if end > start)
        progress = progress_factory(total)
        try:
            for job in jobs:
                if job.name in spans and not self.checkpoint.job(job.name)["finished"]:
                    self.import_job(job, *spans[job.name], progress)
        finally:
            progress.close()
        self.checkpoint.save()

    def import_job(self, job, start, end, progress):
        state = self.checkpoint.job(job.name)
        level = self.level(job.source)[0]
        request_level = self.level(job.request)[0] if job.request else None
        spacing = sampling.Spacing(state["spacing"] or self._spacing(job, level, start))
        state["spacing"] = spacing.usual
        if state["done_until"]:
            self._warm_up(job, level, spacing, start)
        chunk = HOUR
        cursor = start
        while cursor < end:
            stop = min(cursor + chunk, end)
            if cursor < self.raw_from < stop:
                stop = self.raw_from  # one policy per chunk
            rows, points = self._chunk(job, level, request_level, spacing, cursor, stop)
            spacing.forget_before(_s(stop) * 1000)
            state["done_until"] = _s(stop)
            self.checkpoint.save()
            progress.advance((stop - cursor) / HOUR, points, job.name)
            if rows < self.chunk_rows / 2 and chunk < MAX_CHUNK:
                chunk *= 2
            elif rows > self.chunk_rows * 2 and chunk > HOUR:
                chunk = HOUR * max(1, int(chunk / HOUR) // 2)
            cursor = stop
        state["finished"] = True
        self.checkpoint.save()

    def _spacing(self, job, level, start):
        """The usual spacing of the job's samples: ``--resolution``, else the median of the first
        hour that has samples (an hour: memory stays a chunk's), else the writer's default."""
        default = DEFAULT_SPACING.get(job.source.name, HEAPSTER_SPACING)
        if self.resolution and job.source.name not in DEFAULT_SPACING:
            return float(self.resolution)
        first = self.legacy.chunk(job.source, level, start, min(start + HOUR, self.until))
        return sampling.usual_spacing(sampling.gather(job.source, first, skip_malformed=True), default)

    def _warm_up(self, job, level, spacing, start):
        """A resumed job reads the cap before ``start`` again (writing nothing), so that the first
        samples after it get the same intervals as in an uninterrupted run."""
        lead = floor_hour(start - timedelta(seconds=SPACING_CAP_SECONDS))
        gathered = sampling.gather(job.source, self.legacy.chunk(job.source, level, lead, start), skip_malformed=True)
        for key, rows in gathered.series.items():
            spacing.intervals(key, rows)

    def _chunk(self, job, level, request_level, spacing, start, stop):
        """Import [start, stop); returns (rows read, points written)."""
        hourly = start < self.raw_from
        source = job.source
        label = self.label if job.field is None else None
        gathered = sampling.gather(source, self.legacy.chunk(source, level, start, stop, with_labels=bool(label)),
                                   label, self.skip_malformed)
        requests = {}
        if job.request is not None:
            asked = sampling.gather(job.request, self.legacy.chunk(job.request, request_level, start, stop),
                                    None, self.skip_malformed)
            requests = {key: dict((t, v) for t, v in rows) for key, rows in asked.series.items()}
        state = self.checkpoint.job(job.name)
        state["rows"] += gathered.rows
        state["malformed"] += gathered.malformed
        self.checkpoint.add_namespaces(gathered.namespaces, gathered.label_values)
        policy = HOURLY_POLICY if hourly else RAW_POLICY
        if not self.dry_run and gathered.series:
            self.checkpoint.widen("hourly_hours" if hourly else "raw_hours", _s(start), _s(stop))
            if not hourly:
                self.checkpoint.data["raw_rows"] = self.checkpoint.data.get("raw_rows", 0) + gathered.rows
            if not hourly and self.store.backlog is not None:
                # Before the write: until the rollup has summed these hours, readers read them raw.
                self.store.backlog.mark(range(_s(start), _s(stop), 3600))
        written = 0
        batch = []
        # Two writer threads take the batches while the next series are turned into points; the
        # chunk counts as done only once they have all been written (``close``).
        self._stream = None if self.dry_run else self.store.streaming_write(policy, precision="ms")
        try:
            for key, rows in gathered.series.items():
                samples = spacing.intervals(key, rows)
                if job.field is not None:
                    batch += writer.allocation_points(job.field, source, key, samples, requests.get(key, {}),
                                                      job.factors, hourly)
                else:
                    batch += (writer.hourly_points if hourly else writer.raw_points)(source, key, samples)
                if len(batch) >= WRITE_BATCH:
                    written += self._write(job, batch, policy, start)
                    batch = []
            written += self._write(job, batch, policy, start)
        finally:
            report = self._close(job, start)
        if report is not None and (report.rejected or report.skipped):
            raise LegacyImportError(
                f"kubemon's InfluxDB refused {report.rejected + report.skipped} of {written} points of "
                f"{job.name} from {start:%Y-%m-%d %H:%M}: {'; '.join(report.errors) or 'unwritable values'}")
        state["hourly_points" if hourly else "points"] += written
        return gathered.rows, written

    def _write(self, job, points, policy, start):
        """Hand ``points`` to the chunk's writers; returns how many."""
        if points and self._stream is not None:
            lines = self.store.serialize(points)
            if len(lines) < len(points):
                raise LegacyImportError(f"{len(points) - len(lines)} points of {job.name} from "
                                        f"{start:%Y-%m-%d %H:%M} cannot be written as line protocol")
            self._stream.add(lines)
        return len(points)

    def _close(self, job, start):
        stream, self._stream = self._stream, None
        if stream is None:
            return None
        try:
            return stream.close()
        except TimeseriesUnavailable as exc:
            raise LegacyImportError(f"kubemon's InfluxDB at {self.store.url} is unreachable: {exc}") from None
        except TimeseriesError as exc:
            raise LegacyImportError(f"kubemon's InfluxDB refused points of {job.name} from "
                                    f"{start:%Y-%m-%d %H:%M}: {exc}") from None
