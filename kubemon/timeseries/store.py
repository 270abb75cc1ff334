"""The store: the one door to InfluxDB for every other module (DESIGN §1, §3)."""

import functools
import logging
import queue
import threading
import time
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kubemon.timeseries.conflicts import affected, coerce, parse_conflict
from kubemon.timeseries.errors import TimeseriesDatabaseMissing, TimeseriesUnavailable, TimeseriesWriteError
from kubemon.timeseries.heads import HEAD_FIELDS, add_heads, reach_seconds
from kubemon.timeseries.lineprotocol import LineProtocolError, to_line

log = logging.getLogger(__name__)

Point = namedtuple("Point", "measurement tags fields timestamp")
Point.__doc__ = "One sample: measurement, tags (dict), fields (dict), timestamp (int, in the write precision)."


@dataclass
class WriteReport:
    lines: int = 0
    written: int = 0
    spooled: int = 0
    replayed: int = 0
    rejected: int = 0
    skipped: int = 0
    errors: list = field(default_factory=list)

    def merge(self, other):
        for name in ("lines", "written", "spooled", "replayed", "rejected", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        return self


@functools.cache
def _query_pool(workers):
    # One pool per size for the process: threads only wait on InfluxDB's sockets.
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="influxql")


class TimeseriesStore:
    def __init__(self, client, spool=None, batch_lines=5000, retries=2, backoff=0.2, replay_budget=5.0,
                 max_series=1_000_000, max_values_per_tag=100_000, create_database=True,
                 retention=("30d", "90d"), backlog=None, dead_letters=None):
        self.client = client
        # Hours that replayed batches wrote into, for the rollup to sum again (``backlog.py``).
        self.backlog = backlog
        # Lines InfluxDB refuses for good, kept with its message (``deadletter.py``).
        self.dead_letters = dead_letters
        # Like Telegraf (unless skip_database_creation): a write to a fresh InfluxDB creates the
        # database and the raw/hourly policies instead of losing the points.
        self.create_database = create_database
        self.retention = retention
        self.max_series = max_series
        self.max_values_per_tag = max_values_per_tag
        self.spool = spool
        self.batch_lines = batch_lines
        self.retries = retries
        self.backoff = backoff
        self.replay_budget = replay_budget

    # --- writing ---
    @functools.cached_property
    def head_reach(self):
        """Seconds past an hour's start within which a raw sample gets its heads (``heads.py``)."""
        from django.conf import settings

        return reach_seconds(settings.COLLECT_SCHEDULE)

    def serialize(self, points, report=None, heads=True):
        """Line-protocol lines for ``points``; a point that cannot be carried is skipped and logged.

        ``heads``: the points are raw samples with time stamps in seconds, and each one that
        straddles its hour's start gets its ``<field>_head`` fields (``heads.py``)."""
        lines = []
        append = lines.append
        reach = self.head_reach if heads else 0
        for point in points:
            if reach and point[0] in HEAD_FIELDS and point[3] is not None and point[3] % 3600 < reach:
                point = Point(point[0], point[1], add_heads(point[0], dict(point[2]), point[3], reach), point[3])
            try:
                line = to_line(*point)
            except LineProtocolError as exc:
                log.warning("skipping a %s point: %s", point[0], exc)
                if report is not None:
                    report.skipped += 1
                continue
            if line is not None:
                append(line)
        return lines

    def write(self, points, policy="raw", precision="s"):
        report = WriteReport()
        lines = self.serialize(points, report, heads=policy == "raw" and precision == "s")
        return report.merge(self.write_lines(lines, policy, precision))

    def write_lines(self, lines, policy="raw", precision="s"):
        """Write in batches; while InfluxDB is unreachable the batches go to the spool, in order."""
        report = WriteReport(lines=len(lines))
        # Older spooled batches go first so that the store sees samples in the order they came.
        if self.spool is not None and len(self.spool):
            report.replayed += self.replay()
        reachable = self.spool is None or not len(self.spool)
        for start in range(0, len(lines), self.batch_lines):
            batch = lines[start : start + self.batch_lines]
            body = "\n".join(batch)
            if reachable:
                try:
                    refused, error = self._deliver(batch, precision, policy)
                    report.written += len(batch) - refused
                    report.rejected += refused
                    if error:
                        report.errors.append(error)
                    continue
                except TimeseriesUnavailable as exc:
                    if self.spool is None:
                        raise
                    log.warning("InfluxDB unavailable, spooling the rest of this write: %s", exc)
                    report.errors.append(str(exc))
                    reachable = False
            self.spool.push(policy, precision, body)
            report.spooled += len(batch)
        return report

    def _deliver(self, lines, precision, policy, most_conflicts=8):
        """Write one batch; returns ``(refused line count, error text or None)``.

        A numeric field type conflict is resolved by rewriting the dropped lines to the type the
        shard has (``conflicts.py``) and writing the batch again (points InfluxDB already took
        are rewritten identically). What InfluxDB still refuses is not retried or spooled (it
        would be refused forever): it goes to the dead-letter list with InfluxDB's message.
        Raises ``TimeseriesUnavailable`` when InfluxDB cannot be reached.
        """
        lines = list(lines)
        for _ in range(most_conflicts):
            try:
                self._write_with_retry("\n".join(lines), precision, policy)
                return 0, None
            except TimeseriesUnavailable:
                raise
            except TimeseriesWriteError as exc:
                error = str(exc)
                conflict = parse_conflict(error)
                hit = affected(lines, conflict) if conflict else []
                if not (conflict and conflict.coercible and hit):
                    # Unknown lines (a parse error): keep the whole batch, replaying it is harmless.
                    refused = [lines[i] for i in hit] if hit else lines
                    log.error("InfluxDB refused %d of %d lines: %s", len(refused), len(lines), error)
                    if self.dead_letters is not None:
                        self.dead_letters.keep(refused, error, policy, precision)
                    return len(refused), error
                log.warning("InfluxDB holds %s.%s as %s in this shard: writing %d lines' values as %s",
                            conflict.measurement, conflict.field, conflict.existing, len(hit), conflict.existing)
                for i in hit:
                    lines[i] = coerce(lines[i], conflict)
        error = "too many field type conflicts in one batch"
        if self.dead_letters is not None:
            self.dead_letters.keep(lines, error, policy, precision)
        return len(lines), error

    def dead_letter_entries(self):
        """Lines InfluxDB refused for good, newest first (``deadletter.py``)."""
        return self.dead_letters.entries() if self.dead_letters is not None else []

    def streaming_write(self, policy="raw", precision="s", writers=2):
        return StreamingWrite(self, policy, precision, writers)

    def _write_with_retry(self, body, precision, policy):
        attempt = 0
        created = False
        while True:
            try:
                return self.client.write_body(body, precision=precision, policy=policy)
            except TimeseriesDatabaseMissing:
                if not self.create_database or created:
                    raise
                self.ensure_database(*self.retention)
                log.warning("created the InfluxDB database %r and its retention policies on first write",
                            self.client.database)
                created = True
            except TimeseriesUnavailable:
                attempt += 1
                if attempt > self.retries:
                    raise
                time.sleep(self.backoff * (2 ** (attempt - 1)))

    def replay(self, budget=None):
        """Write spooled batches oldest first; stop at the first failure or when the budget is spent.

        Returns the number of lines replayed. Only one worker replays at a time, so a batch is
        never removed before it is written.
        """
        if self.spool is None:
            return 0
        budget = self.replay_budget if budget is None else budget
        deadline = time.monotonic() + budget
        replayed = 0
        with self.spool.exclusive() as acquired:
            if not acquired:
                return 0
            while time.monotonic() < deadline:
                entry = self.spool.peek()
                if entry is None:
                    break
                policy, precision, body = entry[:3]
                text = body.decode() if isinstance(body, bytes) else body
                try:
                    self._deliver(text.split("\n"), precision, policy)
                except TimeseriesUnavailable as exc:
                    log.info("spool replay paused, InfluxDB still unavailable: %s", exc)
                    break
                if self.backlog is not None and policy != "hourly":
                    # Before the pop: a replay killed in between writes and marks again (idempotent).
                    self.backlog.mark_lines(text, precision)
                self.spool.pop(entry)
                replayed += text.count("\n") + 1
        if replayed:
            log.info("replayed %d spooled lines", replayed)
        return replayed

    def cardinality(self):
        """Series and tag-value counts against InfluxDB's limits; a warning past 80 % of either
        (``kubemon/timeseries/cardinality.py``)."""
        from kubemon.timeseries.cardinality import cardinality_report

        return cardinality_report(self, self.max_series, self.max_values_per_tag)

    # --- reading ---
    def query(self, statement, params=None, epoch=None):
        """The series of a single statement's result."""
        return self.client.query(statement, params=params, epoch=epoch)

    def query_many(self, statements, params=None, epoch=None, parallel=1):
        """One list of series per statement, in order.

        With ``parallel`` > 1 each statement goes in its own request, at most ``parallel`` at a
        time: InfluxDB runs one query per core but one request's statements in turn, so long
        reads cut into pieces finish sooner side by side.
        """
        statements = list(statements)
        if not statements:
            return []
        if len(statements) == 1 or parallel <= 1:
            return self.client.query_all("; ".join(statements), params=params, epoch=epoch)
        pool = _query_pool(parallel)
        futures = [pool.submit(self.client.query_all, statement, params, None, epoch) for statement in statements]
        return [future.result()[0] for future in futures]

    # --- administration ---
    @property
    def url(self):
        return self.client.url

    @property
    def database(self):
        return self.client.database

    def ensure_database(self, raw_retention="30d", hourly_retention="90d", namespace_retention="1825d",
                        controller_retention=None):
        """Create the database and its retention policies, or set an existing policy's duration to
        the one given (idempotent; ``InfluxClient.ensure_database``)."""
        self.client.ensure_database(raw_retention, hourly_retention, namespace_retention, controller_retention)

    def retention_policies(self):
        """``{policy name: duration text}`` of the database."""
        return self.client.retention_policies()

    def drop_database(self):
        """Drop the whole database (tests and ``make clean``-style resets only)."""
        self.client.drop_database()

    def health(self, cardinality=True):
        """``{"status": "ok"|"down", ...}`` for /healthz (``cardinality=False``: without the counts,
        which /healthz keeps for a while, kubemon/health.py)."""
        info = {"url": self.client.url, "database": self.client.database}
        try:
            info["version"] = self.client.ping()
            info["status"] = "ok"
        except Exception as exc:  # noqa: BLE001  (health reports any failure as down)
            info["status"] = "down"
            info["error"] = str(exc)
        if info["status"] == "ok" and cardinality:
            info.update(self.cardinality())
        if self.spool is not None:
            try:
                info["spooled_batches"] = len(self.spool)
            except Exception as exc:  # noqa: BLE001
                info["spool_error"] = str(exc)
        if self.dead_letters is not None:
            try:
                info["dead_letters"] = len(self.dead_letters)
            except Exception as exc:  # noqa: BLE001
                info["dead_letters_error"] = str(exc)
        return info


class StreamingWrite:
    """Write full batches from background threads while the caller is still producing lines.

    A cycle's parsing and InfluxDB's ingestion then overlap instead of taking turns (on a
    10,000-pod cycle the write is about 1 s of InfluxDB work, docs/benchmarks.md). Two writers
    by default: InfluxDB ingests two requests on two cores, which cut the wait at the end of a
    cycle by a quarter. Batches may then land out of order; that is harmless, because every
    point is keyed by its series and timestamp and a cycle never writes the same point twice,
    and a batch that cannot be written still goes to the spool (``write_lines``).

        with store.streaming_write() as stream:
            stream.add(lines)
        stream.report  # a WriteReport
    """

    def __init__(self, store, policy="raw", precision="s", writers=2):
        self.store = store
        self.policy = policy
        self.precision = precision
        self.report = WriteReport()
        self.waited = 0.0
        self._pending = []
        self._queue = queue.Queue(maxsize=4)
        self._lock = threading.Lock()
        self._error = None
        self._threads = [
            threading.Thread(target=self._run, name=f"kubemon-streaming-write-{n}", daemon=True)
            for n in range(max(1, writers))
        ]
        for thread in self._threads:
            thread.start()

    def _run(self):
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._error is not None:
                continue
            try:
                report = self.store.write_lines(batch, self.policy, self.precision)
            except Exception as exc:  # noqa: BLE001  (re-raised in the caller's thread by close())
                self._error = exc
                continue
            with self._lock:
                self.report.merge(report)

    def add(self, lines):
        self._pending.extend(lines)
        size = self.store.batch_lines
        while len(self._pending) >= size:
            self._queue.put(self._pending[:size])
            del self._pending[:size]

    def close(self):
        started = time.perf_counter()
        if self._pending:
            self._queue.put(self._pending)
            self._pending = []
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self.waited = time.perf_counter() - started
        if self._error is not None:
            raise self._error
        return self.report

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False
