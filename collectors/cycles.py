"""One collection cycle per source: fetch, parse, write, remember, publish.

Each ``run_*`` function is what a Celery task and ``manage.py collect --once`` call. A Redis
lock keeps a cycle from overlapping itself (a skipped cycle is logged); an unreachable API fails
the cycle fast and marks the cluster health unknown; the next cycle retries.
"""

import contextlib
import functools
import gc
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from redis.exceptions import RedisError

from collectors import gpu as gpu_collector
from collectors import inventory, rollup, shards, snapshot, tiers
from collectors.failures import influxdb_failure, redis_failure
from collectors.gpulatest import gpu_entries, remember_entries, remember_gpus
from collectors.kube import get_kube, get_pod_watch
from collectors.kubeerrors import KubeConfigError, KubeError
from collectors.podspec import index_pods
from collectors.rollup import rollup_recent
from collectors.staterebuild import load_sampling
from collectors.temperature import flush_temperatures, node_exporter_urls, scrape_node_exporters
from collectors.usage import UsageResult, collect_pod_usage
from kubemon import keys
from kubemon.cluster import (
    record_inventory,
    record_source_time,
    save_cycle_report,
    set_health,
    source_now,
    source_slot,
)
from kubemon.openhour import OpenHourSums, break_open_hours
from kubemon.redis import get_redis, try_lock
from kubemon.temperatures import remember_latest
from kubemon.timeseries import TimeseriesError, WriteReport, get_store
from kubemon.timeseries.schema import TEMPERATURE

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    name: str
    ok: bool = True
    skipped: bool = False
    error: str = ""
    failure: str = ""  # what failed: "kubernetes", "configuration", "influxdb" or "redis"
    points: dict = field(default_factory=dict)  # measurement -> count
    pods_from: str = ""  # "watch" or "list": where the usage and inventory cycles took the pods from
    seconds: dict = field(default_factory=dict)  # phase -> seconds
    write: WriteReport = field(default_factory=WriteReport)
    unobserved_nodes: list = field(default_factory=list)  # the usage cycle's nodes without a summary

    def as_dict(self):
        return {
            "name": self.name, "ok": self.ok, "skipped": self.skipped, "error": self.error,
            **({"failure": self.failure} if self.failure else {}),
            "points": self.points, "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            **({"pods_from": self.pods_from} if self.pods_from else {}),
            **({"unobserved_nodes": self.unobserved_nodes} if self.unobserved_nodes else {}),
            "written": self.write.written, "spooled": self.write.spooled, "replayed": self.write.replayed,
            "rejected": self.write.rejected,
        }


@contextlib.contextmanager
def cyclic_gc_paused():
    """Pause Python's cyclic garbage collector for the length of a cycle.

    A 10,000-pod cycle parses millions of small objects; each allocation burst triggers a
    collection that walks all of them again, which doubled parse and point-building time in
    bench/bench_collect.py. The cycle's objects hold no reference cycles, so reference counting
    frees them anyway; the collector resumes when the cycle ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def cycle_lock(redis, name, timeout):
    """The lock that keeps a cycle from overlapping itself."""
    return try_lock(redis, keys.LOCK + name, max(timeout, 5))


def _count(points):
    counts = {}
    for point in points:
        counts[point.measurement] = counts.get(point.measurement, 0) + 1
    return counts


def _schedule(name):
    # A shard ("usage/2of4") or the sharded cycle's dispatch ("usage/dispatch") runs on its cycle's schedule.
    return settings.COLLECT_SCHEDULE.get(name.partition("/")[0]) or 15.0


def _finish(redis, report):
    with contextlib.suppress(Exception):
        save_cycle_report(redis, report.name, report.as_dict())
    return report


def _fail(report, failure, error):
    report.ok = False
    report.failure = failure
    report.error = error
    log.error("%s cycle failed: %s", report.name, error)


def _run(name, body, kube=None, store=None, redis=None, pod_watch=None, needs=()):
    """Run ``body`` under the cycle's lock; ``needs`` names what it uses of "kube" and "pods".

    Without ``kube``, the worker's client and pod watch are used; ``pod_watch=False`` lists pods
    instead (a one-off run gains nothing from a watch). A failure of the Kubernetes API, InfluxDB
    or Redis fails the cycle with one line naming it (``report.failure``, ``report.error``), and
    logs that line without a traceback; the next cycle tries again.
    """
    redis = redis or get_redis()
    store = store or get_store()
    report = CycleReport(name)
    try:
        with cycle_lock(redis, name, int(_schedule(name) * 2)) as acquired:
            if not acquired:
                log.warning("%s cycle skipped: the previous one is still running", name)
                report.skipped = True
                return report
            started = time.perf_counter()
            try:
                with cyclic_gc_paused():
                    if kube is None and "kube" in needs:
                        kube = get_kube()
                        if "pods" in needs and pod_watch is None:
                            pod_watch = get_pod_watch()
                    body(report, kube, store, redis, pod_watch or None)
            except KubeError as exc:
                _fail(report, "configuration" if isinstance(exc, KubeConfigError) else "kubernetes", str(exc))
                set_health(redis, "unknown", str(exc))
            except TimeseriesError as exc:
                _fail(report, "influxdb", influxdb_failure(exc, store.url))
            report.seconds["total"] = time.perf_counter() - started
    except RedisError as exc:
        _fail(report, "redis", redis_failure(exc, redis))
        return report  # nowhere to keep it
    return _finish(redis, report)


def _write(store, points, report):
    """Serialise and write ``points``; empties the list, because at 10,000 pods the point dicts
    take about 100 MB that the write does not need (DESIGN §10's memory bar)."""
    report.points = _count(points)
    started = time.perf_counter()
    lines = store.serialize(points, report.write)
    points.clear()
    report.seconds["serialize"] = time.perf_counter() - started
    started = time.perf_counter()
    report.write.merge(store.write_lines(lines))
    report.seconds["write"] = time.perf_counter() - started


def _pod_index(kube, pod_watch, report):
    """``{(namespace, name): PodInfo}``: from the watch when it is in sync, else from a list."""
    started = time.perf_counter()
    pods = pod_watch.index() if pod_watch is not None else None
    if pods is not None:
        report.pods_from = "watch"
        report.seconds["pod_index"] = time.perf_counter() - started
        return pods
    report.pods_from = "list"
    pods_raw = kube.list_pods()
    report.seconds["fetch_lists"] = time.perf_counter() - started
    started = time.perf_counter()
    # The decoded list is local to this function so that it is freed as soon as it is indexed,
    # before the summaries arrive (the cycle's peak memory).
    pods = index_pods(pods_raw)
    report.seconds["parse_lists"] = time.perf_counter() - started
    return pods


def _node_names(kube, report):
    started = time.perf_counter()
    nodes_raw = kube.list_nodes()
    node_names = [n["metadata"]["name"] for n in nodes_raw if n.get("metadata", {}).get("name")]
    del nodes_raw
    report.seconds["fetch_lists"] = report.seconds.get("fetch_lists", 0.0) + time.perf_counter() - started
    return node_names


def _usage(report, kube, store, redis, pod_watch=None, node_names=None, shard=None, keep=None, pods=None):
    """The usage cycle over every node, or over one shard's (``shard``, collectors/shards.py):
    then with the shard's own sampling state and running sums, and the live snapshot left to the
    shard that completes the cycle (``keep`` receives this shard's result and pod index for it)."""
    if pods is None:
        pods = _pod_index(kube, pod_watch, report)
    if shard is not None:
        node_names = list(shard.nodes)
        wanted = set(node_names)
        if keep is not None:
            keep["pods"] = pods  # the whole index, for the snapshot if this shard completes the cycle
        pods = {key: info for key, info in pods.items() if info.node in wanted}
    elif node_names is None:
        node_names = _node_names(kube, report)
    name = shard.name if shard is not None else "usage"
    sums_shard = shard.label if shard is not None else None
    schedule = _schedule("usage")
    started = time.perf_counter()
    sampling = load_sampling(redis, store, name, cap_seconds=settings.COLLECT_GAP_LIMIT_SECONDS,
                             nominal_seconds=schedule, kind="usage")
    state_seconds = time.perf_counter() - started
    sampling.begin(redis, name=name)
    stream = store.streaming_write()
    sums = OpenHourSums()

    def sink(points):
        sums.add(points)
        stream.add(store.serialize(points, report.write))

    try:
        result = collect_pod_usage(kube, sampling, pods, node_names, sink=sink)
    finally:
        report.write.merge(stream.close())
    report.seconds.update(result.timings)
    if result.unobserved_nodes:
        # Their pods are unobserved this cycle, not idle: no point is written for them, the live
        # view shows their usage as unknown, and the next sample charges the time (gap_seconds).
        report.unobserved_nodes = sorted(result.unobserved_nodes)
    # Most of the write overlapped the parsing; this is what the cycle still waited for at the end.
    report.seconds["write_wait"] = stream.waited
    report.points = result.counts
    stamp = result.sample_time or source_now(redis)
    started = time.perf_counter()
    previous_cycle = sampling.cycles[-1] if sampling.cycles else None
    if sampling.in_doubt:
        break_open_hours(redis, stamp, sums_shard)
    sampling.save(redis, stamp, name=name, sampled=bool(result.sample_time),
                  also=lambda pipe: sums.save(redis, pipe, stamp, previous_cycle, sampling.usual, sums_shard))
    report.seconds["state"] = state_seconds + time.perf_counter() - started
    if shard is not None:
        if keep is not None:
            keep["result"] = result
        return
    if result.sample_time:
        record_source_time(redis, result.sample_time)
    started = time.perf_counter()
    snapshot.publish_usage(redis, pods, result, stamp)
    report.seconds["publish"] = time.perf_counter() - started


def _inventory(report, kube, store, redis, pod_watch=None):
    pods = _pod_index(kube, pod_watch, report)
    started = time.perf_counter()
    nodes_raw = kube.list_nodes()
    namespaces_raw = kube.list_namespaces()
    report.seconds["fetch"] = time.perf_counter() - started
    # Pods and nodes carry no sample time: stamp them on the cycle's slot, so that a rerun rewrites them.
    stamp = source_slot(redis, _schedule("inventory"))
    points, nodes = inventory.node_inventory(nodes_raw, pods, stamp)
    started = time.perf_counter()
    temperatures, errors = scrape_node_exporters(node_exporter_urls(nodes_raw), stamp)
    report.seconds["scrape_node_exporters"] = time.perf_counter() - started
    if errors:
        report.error = "; ".join(errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else "")
    remember_latest(redis, temperatures)
    _write(store, points + inventory.pod_points(pods, stamp) + temperatures, report)
    health = inventory.cluster_health(nodes)
    set_health(redis, health, "" if health == "OK" else "a control-plane node is not Ready")
    # Billing's assign_namespaces task turns the labels into tenant ownership (kubemon/cluster.py).
    record_inventory(redis, nodes, inventory.namespace_labels(namespaces_raw))


def _own_watch(kwargs):
    """Whether a cycle run with ``kwargs`` takes the worker's pod watch when it reads pods: on the
    worker's own client and unless the caller passed a watch (``pod_watch=False``: list)."""
    return kwargs.get("kube") is None and kwargs.get("pod_watch") is None


def _gpu(report, kube, store, redis, pod_watch=None, own_watch=False, shard=None, exporters=None, stamp=None,
         keep=None, pods=None):
    """The GPU cycle over every exporter, or over one shard's (``shard``, collectors/shards.py,
    with the dispatch's ``exporters`` and slot ``stamp``): then with the shard's own sampling
    state, and the GPUs' latest values left to the shard that completes the cycle (``keep``).

    The pod index is read only when some GPU has no pod labels, and only then is the worker's
    watch started (``own_watch``); ``pods``: a callable giving the index, when the caller has one."""
    if exporters is None:
        exporters = gpu_collector.exporters_from_nodes(kube.list_nodes(), settings.GPU_EXPORTER_URLS)
    name = shard.name if shard is not None else "gpu"
    schedule = _schedule("gpu")
    sampling = load_sampling(redis, store, name, cap_seconds=settings.COLLECT_GAP_LIMIT_SECONDS,
                             nominal_seconds=schedule, kind="gpu")
    # Most exporters put no time on their samples: they get the cycle's slot, so that a rerun rewrites them.
    if stamp is None:
        stamp = source_slot(redis, schedule)
    elif sampling.cycles and stamp < sampling.cycles[-1]:
        # A shard started after a later cycle's same shard (queued late, or redelivered late):
        # that one's samples cover this one's time. Sampled at this older slot, every series
        # would look like a source clock stepping back and start again, charging its time twice.
        log.warning("%s cycle skipped: a later cycle's shard has sampled its GPUs already", name)
        report.skipped = True
        return
    if pods is None:
        def pods():
            return _pod_index(kube, get_pod_watch() if pod_watch is None and own_watch else pod_watch, report)
    started = time.perf_counter()
    # GPUs without pod labels (Jetson, DCGM outside Kubernetes mode) go to the pod that requests them.
    points, errors = gpu_collector.collect_gpu(exporters, sampling, stamp, pods=pods)
    report.seconds["scrape"] = time.perf_counter() - started
    if errors:
        report.error = "; ".join(errors)
    sampling.begin(redis, name=name)
    # The live snapshot shows the last values (before _write empties the list); a few cycles later they expire.
    if shard is None:
        remember_gpus(redis, points, ttl_seconds=schedule * 4)
    elif keep is not None:
        keep["gpus"] = gpu_entries(points)
    _write(store, points, report)
    sampling.save(redis, stamp, name=name)


def _rollup(report, kube, store, redis, pod_watch=None):
    from datetime import UTC, datetime

    now = datetime.fromtimestamp(source_now(redis), UTC)
    started = time.perf_counter()
    report.points = rollup_recent(now, store=store)
    report.seconds["rollup"] = time.perf_counter() - started
    started = time.perf_counter()
    late = rollup.audit_if_due(redis, now, store=store)
    if late is not None:
        report.points["audit_late_hours"] = len(late)
        report.seconds["audit"] = time.perf_counter() - started
    started = time.perf_counter()
    report.points["rerolled_hours"] = rollup.reroll_late_hours(store)
    report.seconds["reroll"] = time.perf_counter() - started
    started = time.perf_counter()
    tiers.fill_namespace_tier(redis, now, store=store)
    report.seconds["namespace_tier"] = time.perf_counter() - started
    started = time.perf_counter()
    tiers.fill_controller_tier(redis, now, store=store)
    report.seconds["controller_tier"] = time.perf_counter() - started
    started = time.perf_counter()
    tiers.fill_node_tier(redis, now, store=store)
    report.seconds["node_tier"] = time.perf_counter() - started
    started = time.perf_counter()
    tiers.fill_pod_tier(redis, now, store=store)
    report.seconds["pod_tier"] = time.perf_counter() - started


def _temperatures(report, kube, store, redis, pod_watch=None):
    report.points = {TEMPERATURE: flush_temperatures(redis, store)}


def _spool(report, kube, store, redis, pod_watch=None):
    report.write.replayed = store.replay()


def _usage_dispatch(report, kube, store, redis, pod_watch=None, dispatch=None, own_watch=False):
    """Split the nodes into shards (``COLLECT_USAGE_SHARDS``) and hand them to ``dispatch``
    (Celery: one task each), or run them here one after the other (``manage.py collect --once``),
    which then share one pod index. The Celery shards take theirs from their workers' watches.

    The Celery dispatch reads no pod: it starts no watch (a whole-cluster LIST and a thread that
    holds every pod, in whichever worker the beat's task lands), unless the nodes make one shard
    and it runs the cycle itself (``own_watch``: the worker's watch, as an unsharded cycle's)."""
    pods = _pod_index(kube, pod_watch, report) if dispatch is None else None
    node_names = _node_names(kube, report)
    count = shards.shard_count(len(node_names))
    if count == 1:
        if dispatch is not None and pod_watch is None and own_watch:
            pod_watch = get_pod_watch()
        return _usage(report, kube, store, redis, pod_watch, node_names=node_names, pods=pods)
    report.name = "usage/dispatch"
    planned, missing = shards.plan(redis, node_names, count)
    _start_sharded(redis, report, "usage", count, missing)
    if dispatch is not None:
        dispatch(planned)
        return
    _sum_shards(report, [run_usage_shard(shard, pods=pods, kube=kube, store=store, redis=redis,
                                         pod_watch=pod_watch or False) for shard in planned])


def _start_sharded(redis, report, kind, count, missing):
    """The dispatch's report; when the previous cycle never finished, its report is this one,
    naming the shards it lacks."""
    report.points = {"shards": count}
    if missing:
        report.error = f"the previous {kind} cycle's shards {', '.join(missing)} did not report"
        save_cycle_report(redis, kind, {"name": kind, "ok": False, "skipped": False, "failure": "shards",
                                        "error": report.error, "missing_shards": missing, "points": {},
                                        "seconds": {}, "shards": {"count": count, "missing": missing}})


def _sum_shards(report, parts):
    """The report of a dispatch that ran its shards here, one after the other (``collect --once``)."""
    errors = []
    for part in parts:
        shard_label = part.name.partition("/")[2]
        for measurement, value in part.points.items():
            report.points[measurement] = report.points.get(measurement, 0) + value
        report.write.merge(part.write)
        report.unobserved_nodes = sorted(report.unobserved_nodes + part.unobserved_nodes)
        for phase, seconds in part.seconds.items():
            if phase != "total":  # the dispatch's own total covers the shards run here
                report.seconds[phase] = report.seconds.get(phase, 0.0) + seconds
        if part.skipped or not part.ok:
            errors.append(f"shard {shard_label}: {part.error or 'skipped'}")
            report.failure = report.failure or part.failure
        elif part.error:
            errors.append(part.error)  # a GPU shard's exporters that failed: not a failed shard
    if errors:
        report.ok = all(part.ok and not part.skipped for part in parts)
        report.error = "; ".join(errors)


def _gpu_dispatch(report, kube, store, redis, pod_watch=None, dispatch=None, own_watch=False):
    """The GPU cycle's exporters split into shards as the usage cycle's nodes (by the same
    ``COLLECT_USAGE_SHARDS``, counting exporters), each keyed by its node (a configured URL
    without one by itself), and handed to ``dispatch`` with the cycle's slot, or run here one
    after the other. Every shard stamps the GPUs of this cycle on that one slot, so a shard run
    late or redelivered rewrites its own points of this cycle."""
    exporters = gpu_collector.exporters_from_nodes(kube.list_nodes(), settings.GPU_EXPORTER_URLS)
    count = shards.shard_count(len(exporters))
    if count == 1:
        return _gpu(report, kube, store, redis, pod_watch, own_watch, exporters=exporters)
    report.name = "gpu/dispatch"
    by_key = {}
    for exporter in exporters:
        by_key.setdefault(exporter.node or exporter.url, []).append(exporter)
    planned, missing = shards.plan(redis, list(by_key), count, kind="gpu")
    stamp = source_slot(redis, _schedule("gpu"))
    _start_sharded(redis, report, "gpu", count, missing)
    work = [(shard, [exporter for key in shard.nodes for exporter in by_key[key]]) for shard in planned]
    if dispatch is not None:
        dispatch(work, stamp)
        return
    index = {}

    def pods():  # one pod index for the shards run here, read only if a GPU needs it
        if "pods" not in index:
            index["pods"] = _pod_index(kube, pod_watch, report)
        return index["pods"]

    _sum_shards(report, [run_gpu_shard(shard, part, stamp, pods=pods, kube=kube, store=store, redis=redis,
                                       pod_watch=pod_watch or False) for shard, part in work])


def run_usage_cycle(dispatch=None, **kwargs):
    """The usage cycle, sharded unless ``COLLECT_USAGE_SHARDS`` is 1 (collectors/shards.py)."""
    if settings.COLLECT_USAGE_SHARDS == 1:
        return _run("usage", _usage, needs=("kube", "pods"), **kwargs)
    if dispatch is None:  # the shards run here, on one pod index
        return _run("usage", _usage_dispatch, needs=("kube", "pods"), **kwargs)
    # The worker's watch only if this task runs the cycle itself (one shard) on the worker's client.
    return _run("usage", functools.partial(_usage_dispatch, dispatch=dispatch, own_watch=_own_watch(kwargs)),
                needs=("kube",), **kwargs)


def run_usage_shard(shard, pods=None, **kwargs):
    """One shard of a sharded usage cycle; the shard that completes the cycle finishes it.
    ``pods``: the pod index, when the caller has one (else the worker's watch, or a list)."""
    keep = {}
    body = functools.partial(_usage, shard=shard, keep=keep, pods=pods)
    report = _run(shard.name, body, needs=("kube", "pods"), **kwargs)
    redis = kwargs.get("redis") or get_redis()
    result = keep.get("result")
    try:
        entries = shards.report_shard(redis, shard, report.as_dict(), result and result.pod_usage,
                                      result and result.node_usage, result.sample_time if result else 0)
        if entries is not None:
            _finish_sharded(redis, shard.count, entries, keep.get("pods"))
    except RedisError as exc:
        _fail(report, "redis", redis_failure(exc, redis))
    return report


def _finish_sharded(redis, count, entries, pods):
    """Every shard has reported: save the cycle's report, move the sources' clock, publish the live view."""
    merged = shards.merge_reports(entries, count)
    pod_usage, node_usage, sample_time = shards.merged_usage(entries)
    if sample_time:
        record_source_time(redis, sample_time)
    if pods is None:
        log.warning("the usage cycle's last shard has no pod index: no live snapshot this cycle")
    else:
        started = time.perf_counter()
        usage = UsageResult(pod_usage=pod_usage, node_usage=node_usage, sample_time=sample_time)
        snapshot.publish_usage(redis, pods, usage, sample_time or source_now(redis))
        merged["seconds"]["publish"] = round(time.perf_counter() - started, 4)
    save_cycle_report(redis, "usage", merged)


def run_inventory_cycle(**kwargs):
    return _run("inventory", _inventory, needs=("kube", "pods"), **kwargs)


def run_gpu_cycle(dispatch=None, **kwargs):
    """The GPU cycle, sharded as the usage cycle (``COLLECT_USAGE_SHARDS``; ``dispatch(work, stamp)``
    sends ``[(Shard, its exporters)]``). It reads the pod index only when a GPU has no pod labels."""
    if settings.COLLECT_USAGE_SHARDS == 1:
        return _run("gpu", functools.partial(_gpu, own_watch=_own_watch(kwargs)), needs=("kube",), **kwargs)
    body = functools.partial(_gpu_dispatch, dispatch=dispatch, own_watch=_own_watch(kwargs))
    return _run("gpu", body, needs=("kube",), **kwargs)


def run_gpu_shard(shard, exporters, stamp, pods=None, **kwargs):
    """One shard of a sharded GPU cycle over ``exporters`` at slot ``stamp``; the shard that
    completes the cycle saves its report and the GPUs' latest values."""
    keep = {}
    body = functools.partial(_gpu, own_watch=_own_watch(kwargs), shard=shard, exporters=list(exporters),
                             stamp=stamp, keep=keep, pods=pods)
    report = _run(shard.name, body, needs=("kube",), **kwargs)
    redis = kwargs.get("redis") or get_redis()
    try:
        entries = shards.report_shard(redis, shard, report.as_dict(), gpus=keep.get("gpus"))
        if entries is not None:
            merged = shards.merge_reports(entries, shard.count, name="gpu")
            remember_entries(redis, shards.merged_gpus(entries), ttl_seconds=_schedule("gpu") * 4)
            save_cycle_report(redis, "gpu", merged)
    except RedisError as exc:
        _fail(report, "redis", redis_failure(exc, redis))
    return report


def run_rollup_cycle(**kwargs):
    return _run("rollup", _rollup, **kwargs)


def run_temperature_flush(**kwargs):
    return _run("temperature", _temperatures, **kwargs)


def run_spool_replay(**kwargs):
    return _run("spool", _spool, **kwargs)


CYCLES = {
    "inventory": run_inventory_cycle,
    "usage": run_usage_cycle,
    "gpu": run_gpu_cycle,
    "temperature": run_temperature_flush,
    "rollup": run_rollup_cycle,
}
