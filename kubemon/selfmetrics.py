"""kubemon's own metrics for ``GET /metrics`` (the Prometheus text format, docs/operations.md).

Two kinds, because kubemon runs as several processes on several machines:

- What the **web server** sees (request latency by route and status, authentication failures,
  websocket clients) lives in ``prometheus_client`` metrics of the serving process; with
  ``PROMETHEUS_MULTIPROC_DIR`` set (one directory shared by the server's worker processes),
  a scrape sums every process's files (``MultiProcessCollector``).
- What the **collectors** do (cycle duration per phase and source, points written, spooled,
  replayed and rejected) happens in Celery workers that may run on other machines, which a
  scrape of the web server cannot reach: each cycle adds its figures to one Redis hash in the
  same round trip that saves its report (``count_cycle``), and a scrape reads that hash, the
  spool's depth and the fan's state (``RedisCollector``). Counters in Redis survive a worker's
  restart, as Prometheus counters may; they only reset when Redis is emptied.
"""

import logging
import math

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from kubemon import keys

log = logging.getLogger(__name__)

# --- the serving process's own (multi-process safe through PROMETHEUS_MULTIPROC_DIR) ---
HTTP_SECONDS = Histogram(
    "kubemon_http_request_duration_seconds", "Time to answer an HTTP request, by route pattern and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
AUTH_FAILURES = Counter(
    "kubemon_auth_failures_total", "Refused credentials: API 401s, failed portal logins, bad /metrics tokens.",
    ["surface"],
)
WEBSOCKET_CLIENTS = Gauge(
    "kubemon_websocket_clients", "Websocket connections open now.", multiprocess_mode="livesum",
)

# --- the collectors' figures, kept in Redis ---
_WRITE_FIELDS = ("written", "spooled", "replayed", "rejected")


def count_cycle(pipe, name, report):
    """Add one cycle report's figures to the counters, on ``pipe`` (a Redis pipeline).

    ``report`` is ``CycleReport.as_dict()``; a shard's (``usage/2of4``) counts under its own name.
    """
    outcome = "skipped" if report.get("skipped") else ("ok" if report.get("ok") else "failed")
    pipe.hincrby(keys.SELF_METRICS, f"runs\t{name}\t{outcome}", 1)
    if report.get("shards"):
        return  # a sharded cycle's merged report: its shards ("usage/2of4") counted their figures
    for field in _WRITE_FIELDS:
        value = int(report.get(field) or 0)
        if value:
            pipe.hincrby(keys.SELF_METRICS, f"{field}\t{name}", value)
    for phase, seconds in (report.get("seconds") or {}).items():
        pipe.hincrbyfloat(keys.SELF_METRICS, f"seconds\t{name}\t{phase}", float(seconds))
        pipe.hincrby(keys.SELF_METRICS, f"phase_runs\t{name}\t{phase}", 1)


class RedisCollector:
    """Reads, at scrape time, what the collectors counted in Redis, the spool and the fan's state."""

    def __init__(self, redis, store=None, fan_enabled=False):
        self.redis = redis
        self.store = store
        self.fan_enabled = fan_enabled

    def collect(self):
        runs = CounterMetricFamily("kubemon_cycle_runs", "Collection cycles run, by source and outcome.",
                                   labels=["source", "outcome"])
        seconds = CounterMetricFamily("kubemon_cycle_phase_seconds", "Seconds spent in each phase of a cycle.",
                                      labels=["source", "phase"])
        phase_runs = CounterMetricFamily("kubemon_cycle_phase_runs", "Cycles that went through each phase "
                                         "(divide the seconds by this for the mean).", labels=["source", "phase"])
        last = GaugeMetricFamily("kubemon_cycle_last_phase_seconds", "The last cycle's seconds per phase.",
                                 labels=["source", "phase"])
        points = {f: CounterMetricFamily(f"kubemon_points_{f}", f"Points {f} by the collectors, by source.",
                                         labels=["source"]) for f in _WRITE_FIELDS}
        counters = self.redis.hgetall(keys.SELF_METRICS)
        for raw_field, raw_value in counters.items():
            parts = _text(raw_field).split("\t")
            value = float(raw_value)
            if parts[0] == "runs" and len(parts) == 3:
                runs.add_metric(parts[1:], value)
            elif parts[0] == "seconds" and len(parts) == 3:
                seconds.add_metric(parts[1:], value)
            elif parts[0] == "phase_runs" and len(parts) == 3:
                phase_runs.add_metric(parts[1:], value)
            elif parts[0] in points and len(parts) == 2:
                points[parts[0]].add_metric(parts[1:], value)
        for key in self.redis.scan_iter(match=keys.CYCLE_REPORT + "*", count=100):
            raw = self.redis.get(key)
            if not raw:
                continue
            name = _text(key)[len(keys.CYCLE_REPORT):]
            for phase, value in (orjson.loads(raw).get("seconds") or {}).items():
                last.add_metric([name, phase], float(value))
        yield from (runs, seconds, phase_runs, last, *points.values())
        yield from self._spool()
        yield from self._fan()

    def _spool(self):
        if self.store is None:
            return
        depth = GaugeMetricFamily("kubemon_spool_depth", "Write batches waiting in the spool for InfluxDB.")
        dead = GaugeMetricFamily("kubemon_dead_letters", "Lines InfluxDB refused for good, kept for a look.")
        try:
            if self.store.spool is not None:
                depth.add_metric([], len(self.store.spool))
            if self.store.dead_letters is not None:
                dead.add_metric([], len(self.store.dead_letters))
        except Exception as exc:  # noqa: BLE001  (a scrape reports what it can)
            log.warning("metrics: could not read the spool: %s", exc)
        yield depth
        yield dead

    def _fan(self):
        enabled = GaugeMetricFamily("kubemon_fan_enabled", "1 when a fan host is configured.")
        enabled.add_metric([], 1.0 if self.fan_enabled else 0.0)
        yield enabled
        if not self.fan_enabled:
            return
        raw = self.redis.get(keys.FAN_STATE)
        state = orjson.loads(raw) if raw else {}
        host = state.get("host") or {}
        up = GaugeMetricFamily("kubemon_fan_host_up", "1 when the fan host answered the last tick.")
        up.add_metric([], 1.0 if host.get("ok") else 0.0)
        running = GaugeMetricFamily("kubemon_fan_running", "1 when the fan runs, NaN when the host is down.")
        running.add_metric([], (1.0 if state.get("running") else 0.0) if host.get("ok") else math.nan)
        speed = GaugeMetricFamily("kubemon_fan_speed", "The fan's speed (0 to 1) as last commanded.")
        speed.add_metric([], float(state.get("speed") or 0.0))
        alert = GaugeMetricFamily("kubemon_fan_alert", "1 while the fan runs without cooling the nodes "
                                  "(fan.rules.inefficient: a blocked fan, a dead motor, a hot room).")
        alert.add_metric([], 1.0 if state.get("alert") else 0.0)
        yield from (up, running, speed, alert)


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def render(redis, store, multiproc_dir="", fan_enabled=False):
    """The text exposition of one scrape: this process's (or all processes') metrics, then Redis's."""
    from prometheus_client import REGISTRY

    if multiproc_dir:
        from prometheus_client import multiprocess

        local = CollectorRegistry()
        multiprocess.MultiProcessCollector(local, path=multiproc_dir)
    else:
        local = REGISTRY
    shared = CollectorRegistry(auto_describe=False)
    shared.register(RedisCollector(redis, store, fan_enabled))
    return generate_latest(local) + generate_latest(shared)
