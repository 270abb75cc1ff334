"""The import's run: plan the jobs, read each legacy measurement in hour chunks, write, checkpoint.

One job per imported legacy measurement (``catalogue.SOURCES``) and per derived field
(``catalogue.ALLOCATIONS``). A job goes through its span oldest first, a chunk of whole hours at a
time (longer for sparse history, down to one hour for a dense one: about ``CHUNK_ROWS`` rows per
read, so memory does not grow with the history). Hours older than ``raw_from`` (the raw
retention, less a day of margin) are written straight into the hourly rollup; newer ones are
written raw, recorded in the rollup backlog first (readers take them from raw data until they are
rolled up), and rolled up when every job is done (``collectors.legacy.finish``).

The jobs that read the same legacy rows (a measurement and the allocation fields derived from it)
run together, a chunk read once for all of them, and the next chunk is read while the current one
is written: most of an import's time is the two InfluxDB servers' (docs/benchmarks.md).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from collectors.legacy import samples as sampling
from collectors.legacy import writer
from collectors.legacy.catalogue import ALLOCATIONS, SOURCES, why_not_imported
from collectors.legacy.reader import LegacyImportError, ReadAhead
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
            for group in self.groups(jobs, spans):
                self.import_jobs(group, *spans[group[0].name], progress)
        finally:
            progress.close()
        self.checkpoint.save()

    def groups(self, jobs, spans):
        """The unfinished jobs, those that read the same legacy rows over the same hours together:
        an allocation field goes with its usage measurement, whose rows are then read once for both
        (half the reads of the legacy server). Jobs a checkpoint left at different hours go alone."""
        groups = {}
        for job in jobs:
            state = self.checkpoint.job(job.name)
            if job.name not in spans or state["finished"]:
                continue
            key = (job.source.name, spans[job.name], state["done_until"], state["spacing"])
            groups.setdefault(key, []).append(job)
        return list(groups.values())

    def import_jobs(self, jobs, start, end, progress):
        """Import ``jobs`` (one source) over [start, end), a chunk at a time; every job's checkpoint
        moves with each whole chunk."""
        lead = jobs[0]
        states = [self.checkpoint.job(job.name) for job in jobs]
        level = self.level(lead.source)[0]
        spacing = sampling.Spacing(states[0]["spacing"] or self._spacing(lead, level, start))
        for state in states:
            state["spacing"] = spacing.usual
        if states[0]["done_until"]:
            self._warm_up(lead, level, spacing, start)
        for job in jobs:
            if job.request is not None:
                self.level(job.request)  # asked here, not in the read-ahead thread
        chunk = HOUR
        cursor, stop = start, self._stop(start, chunk, end)
        # The next chunk is read (the legacy server's query, the JSON parsed) while this one is
        # turned into points and written: the reads no longer wait for the writes and back.
        pending = ReadAhead(self._read, jobs, level, cursor, stop)
        while cursor < end:
            read = pending.result()
            rows = sum(len(values) for _, values in read[0])
            if rows < self.chunk_rows / 2 and chunk < MAX_CHUNK:
                chunk *= 2
            elif rows > self.chunk_rows * 2 and chunk > HOUR:
                chunk = HOUR * max(1, int(chunk / HOUR) // 2)
            after = self._stop(stop, chunk, end) if stop < end else None
            if after is not None:
                pending = ReadAhead(self._read, jobs, level, stop, after)
            points = self._chunk(jobs, spacing, cursor, stop, read)
            spacing.forget_before(_s(stop) * 1000)
            for state in states:
                state["done_until"] = _s(stop)
            self.checkpoint.save()
            progress.advance((stop - cursor) / HOUR * len(jobs), points, " + ".join(job.name for job in jobs))
            cursor, stop = stop, after
        for state in states:
            state["finished"] = True
        self.checkpoint.save()

    def _stop(self, cursor, chunk, end):
        """The end of the chunk that starts at ``cursor``: one policy per chunk."""
        stop = min(cursor + chunk, end)
        return self.raw_from if cursor < self.raw_from < stop else stop

    def _read(self, jobs, level, start, stop):
        """The legacy rows of [start, stop): the source's (``LegacyReader.chunk``), and each
        allocation job's requests ``{request source name: chunk}``."""
        source = jobs[0].source
        rows = self.legacy.chunk(source, level, start, stop, with_labels=bool(self._label(jobs)))
        asked = {}
        for job in jobs:
            if job.request is not None and job.request.name not in asked:
                asked[job.request.name] = self.legacy.chunk(job.request, self.level(job.request)[0], start, stop)
        return rows, asked

    def _label(self, jobs):
        # Labels are counted by the measurement's own job (the allocation jobs never did).
        return self.label if any(job.field is None for job in jobs) else None

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

    def _requests(self, jobs, asked):
        """The requests of the allocation jobs at each sample: ``{request source: {key: {t: value}}}``."""
        requests = {}
        for job in jobs:
            if job.request is None or job.request.name in requests:
                continue
            gathered = sampling.gather(job.request, asked[job.request.name], None, self.skip_malformed)
            requests[job.request.name] = {key: dict(rows) for key, rows in gathered.series.items()}
        return requests

    def _lines(self, job, hourly, key, samples, requests, start):
        """The line protocol of one series' samples for ``job``."""
        try:
            if job.field is not None:
                asked = requests[job.request.name].get(key, {}) if job.request is not None else {}
                return writer.allocation_lines(job.field, job.source, key, samples, asked, job.factors, hourly)
            return (writer.hourly_lines if hourly else writer.raw_lines)(job.source, key, samples)
        except ValueError as exc:  # kubemon.timeseries.lineprotocol.LineProtocolError
            raise LegacyImportError(f"points of {job.name} from {start:%Y-%m-%d %H:%M} cannot be written as "
                                    f"line protocol: {exc}") from None

    def _chunk(self, jobs, spacing, start, stop, read):
        """Import [start, stop) of ``jobs`` (one source) from its rows ``read`` (``_read``);
        returns the points written."""
        hourly = start < self.raw_from
        gathered = sampling.gather(jobs[0].source, read[0], self._label(jobs), self.skip_malformed)
        requests = self._requests(jobs, read[1])
        states = [self.checkpoint.job(job.name) for job in jobs]
        for state in states:
            state["rows"] += gathered.rows
            state["malformed"] += gathered.malformed
        self.checkpoint.add_namespaces(gathered.namespaces, gathered.label_values)
        policy = HOURLY_POLICY if hourly else RAW_POLICY
        if not self.dry_run and gathered.series:
            self.checkpoint.widen("hourly_hours" if hourly else "raw_hours", _s(start), _s(stop))
            if not hourly:
                self.checkpoint.data["raw_rows"] = self.checkpoint.data.get("raw_rows", 0) + gathered.rows * len(jobs)
            if not hourly and self.store.backlog is not None:
                # Before the write: until the rollup has summed these hours, readers read them raw.
                self.store.backlog.mark(range(_s(start), _s(stop), 3600))
        written = [0] * len(jobs)
        batches = [[] for _ in jobs]
        # Two writer threads take the batches while the next series are turned into points; the
        # chunk counts as done only once they have all been written (``close``).
        self._stream = None if self.dry_run else self.store.streaming_write(policy, precision="ms")
        try:
            for key, rows in gathered.series.items():
                samples = spacing.intervals(key, rows)
                for n, job in enumerate(jobs):
                    batches[n] += self._lines(job, hourly, key, samples, requests, start)
                    if len(batches[n]) >= WRITE_BATCH:
                        written[n] += self._write(job, batches[n], policy, start)
                        batches[n] = []
            for n, job in enumerate(jobs):
                written[n] += self._write(job, batches[n], policy, start)
        finally:
            report = self._close(jobs[0], start)
        if report is not None and (report.rejected or report.skipped):
            raise LegacyImportError(
                f"kubemon's InfluxDB refused {report.rejected + report.skipped} of {sum(written)} points of "
                f"{' and '.join(job.name for job in jobs)} from {start:%Y-%m-%d %H:%M}: "
                f"{'; '.join(report.errors) or 'unwritable values'}")
        for state, count in zip(states, written, strict=True):
            state["hourly_points" if hourly else "points"] += count
        return sum(written)

    def _write(self, job, lines, policy, start):
        """Hand ``lines`` (line protocol, one point each) to the chunk's writers; returns how many."""
        if lines and self._stream is not None:
            self._stream.add(lines)
        return len(lines)

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
