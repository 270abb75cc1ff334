"""Pod and container usage from the kubelet summary (or metrics.k8s.io), joined with pod specs.

Produces ``kubernetes_pod_container``, ``kubernetes_pod_network``, ``kubernetes_pod_volume``,
``kubernetes_pod`` and the usage part of ``kubernetes_node`` points, timestamped with the
kubelet's own sample times. Field types never change (InfluxDB refuses a type conflict):
gauges are floats, cumulative counters and counts are integers.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import orjson

from collectors.kubeerrors import KubeAccessDenied, KubeError, KubeTLSError
from collectors.podspec import ContainerSpec
from collectors.quantity import QuantityError, cpu_nanocores, to_bytes
from collectors.sampling import Sample
from collectors.timeutil import epoch_seconds
from kubemon.timeseries import Point
from kubemon.timeseries.schema import CONTAINER, INTEGRAL_FIELDS, NETWORK, NODE, VOLUME

log = logging.getLogger(__name__)

_NODE_INTEGRALS = tuple((name, name + "_integral") for name in INTEGRAL_FIELDS[NODE])
_NO_SPEC = ContainerSpec()


@dataclass
class UsageResult:
    points: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # measurement -> points handed to the ``sink``
    containers: int = 0
    skipped: int = 0
    sample_time: int = 0
    source: str = "summary"
    node_usage: dict = field(default_factory=dict)  # node -> {"cpu_nanocores", "memory_bytes"}
    pod_usage: dict = field(default_factory=dict)  # (ns, pod) -> {"cpu_nanocores", "memory_bytes"}
    timings: dict = field(default_factory=dict)
    # Nodes whose summary could not be read: their pods got no point this cycle (unobserved, not idle).
    unobserved_nodes: list = field(default_factory=list)


def _add_integrals(fields, pairs, interval):
    for name, integral_name in pairs:
        value = fields.get(name)
        if value is not None:
            fields[integral_name] = value * interval


def _network_totals(network):
    """rx/tx bytes and errors: the top-level figures, or the sum of the interfaces."""
    if network is None:
        return None
    if "rxBytes" in network:
        return (network.get("rxBytes", 0), network.get("rxErrors", 0), network.get("txBytes", 0),
                network.get("txErrors", 0))
    interfaces = network.get("interfaces") or []
    if not interfaces:
        return None
    return (
        sum(i.get("rxBytes", 0) for i in interfaces),
        sum(i.get("rxErrors", 0) for i in interfaces),
        sum(i.get("txBytes", 0) for i in interfaces),
        sum(i.get("txErrors", 0) for i in interfaces),
    )


_EMPTY = {}
# (kubelet key, field, its integral or None): the integral is set right beside its gauge.
_CPU_GAUGES = (("usageNanoCores", "cpu_usage_nanocores", "cpu_usage_nanocores_integral"),)
_MEMORY_GAUGES = tuple((key, name, name + "_integral") for key, name in (
    ("usageBytes", "memory_usage_bytes"), ("workingSetBytes", "memory_working_set_bytes"),
    ("rssBytes", "memory_rss_bytes")))
_MEMORY_COUNTS = (("pageFaults", "memory_page_faults"), ("majorPageFaults", "memory_major_page_faults"))
_ROOTFS_GAUGES = (("usedBytes", "rootfs_used_bytes", "rootfs_used_bytes_integral"),
                  ("capacityBytes", "rootfs_capacity_bytes", None),
                  ("availableBytes", "rootfs_available_bytes", None))
_LOGS_GAUGES = (("usedBytes", "logs_used_bytes", None),)
# Spec values written only when set: an unset limit is not a limit of 0, and most containers
# request no GPU (each such field is 10,000 values a cycle at 10,000 pods).
_OPTIONAL_SPEC = tuple((attr, name, name + "_integral") for attr, name in (
    ("limits_millicpu", "resource_limits_millicpu_units"), ("limits_memory", "resource_limits_memory_bytes"),
    ("requests_gpu", "resource_requests_gpu")))


def _copy_gauges(source, table, fields, interval):
    for key, name, integral in table:
        value = source.get(key)
        if value is not None:
            fields[name] = value
            if integral is not None:
                fields[integral] = value * interval


def container_fields(container, spec, sample, interval):
    """The fields of one container sample; each gauge of ``INTEGRAL_FIELDS`` gets its
    ``<field>_integral`` = value x interval (this runs 10,000 times a cycle).

    The kubelet's integers stay integers: the schema types these fields as floats, and an int
    formats three times faster (``kubemon.timeseries.schema.FLOAT_FIELDS``).
    """
    cpu = container.get("cpu") or _EMPTY
    memory = container.get("memory") or _EMPTY
    fields = {"interval_seconds": interval}
    _copy_gauges(cpu, _CPU_GAUGES, fields, interval)
    counter = cpu.get("usageCoreNanoSeconds")
    if counter is not None:
        fields["cpu_usage_core_nanoseconds"] = int(counter)
    fields["cpu_core_seconds"] = float(sample.increment)
    if sample.gap:
        fields["gap_seconds"] = float(sample.gap)
    if sample.unobserved:
        fields["unobserved_seconds"] = float(sample.unobserved)
    _copy_gauges(memory, _MEMORY_GAUGES, fields, interval)
    for key, name in _MEMORY_COUNTS:
        value = memory.get(key)
        if value is not None:
            fields[name] = int(value)
    _copy_gauges(container.get("rootfs") or _EMPTY, _ROOTFS_GAUGES, fields, interval)
    _copy_gauges(container.get("logs") or _EMPTY, _LOGS_GAUGES, fields, interval)
    requests_millicpu, requests_memory = spec.requests_millicpu, spec.requests_memory
    fields["resource_requests_millicpu_units"] = requests_millicpu
    fields["resource_requests_millicpu_units_integral"] = requests_millicpu * interval
    fields["resource_requests_memory_bytes"] = requests_memory
    fields["resource_requests_memory_bytes_integral"] = requests_memory * interval
    for attr, name, integral in _OPTIONAL_SPEC:
        value = getattr(spec, attr)
        if value:
            fields[name] = value
            fields[integral] = value * interval
    fields["restarts_total"] = spec.restarts
    # max(request, usage) per sample: the OpenCost allocation basis (DESIGN §4).
    fields["cpu_allocated_core_seconds"] = max(requests_millicpu / 1000.0 * interval, sample.increment)
    fields["memory_allocated_byte_seconds"] = max(requests_memory, fields.get("memory_working_set_bytes", 0)) \
        * interval
    return fields


def summary_points(summary, pods, sampling, result, pods_on_node=None):
    """Append the points of one node's kubelet summary to ``result``; ``pods_on_node`` (the pod
    index's ``PodInfo``s of this node) lets the containers of pods gone from it be closed."""
    node = summary.get("node") or {}
    node_name = node.get("nodeName", "")
    points = result.points
    listed = set()
    for pod_stats in summary.get("pods") or []:
        try:
            ref = pod_stats["podRef"]
            namespace, pod_name = ref["namespace"], ref["name"]
            listed.add((namespace, pod_name))
            info = pods.get((namespace, pod_name)) if pods is not None else None
            if pods is not None and (info is None or (info.uid and ref.get("uid") and info.uid != ref.get("uid"))):
                # The kubelet still reports a pod the API no longer has (or a namesake): not charged.
                continue
            pod_cpu = pod_memory = 0.0
            latest = 0
            increments = 0.0
            fresh_fields = None
            for container in pod_stats.get("containers") or []:
                cpu = container.get("cpu") or {}
                stamp = cpu.get("time") or (container.get("memory") or {}).get("time")
                if not stamp:
                    continue
                sample_time = epoch_seconds(stamp)
                start = epoch_seconds(container["startTime"]) if container.get("startTime") else None
                counter = cpu.get("usageCoreNanoSeconds")
                rate = cpu.get("usageNanoCores")
                key = f"c/{namespace}/{pod_name}/{container['name']}"
                spec = info.containers.get(container["name"], _NO_SPEC) if info is not None else _NO_SPEC
                sample = sampling.advance(
                    key, sample_time, start,
                    counter / 1e9 if counter is not None else None,
                    rate / 1e9 if rate is not None else None,
                    spec.finished, (container.get("memory") or _EMPTY).get("workingSetBytes"), spec.finished_from,
                )
                fields = container_fields(container, spec, sample, sample.interval)
                increments += sample.increment
                if sample.fresh and fresh_fields is None:
                    fresh_fields = fields
                tags = {"namespace": namespace, "pod_name": pod_name, "container_name": container["name"],
                        "node_name": node_name}
                points.append(Point(CONTAINER, tags, fields, sample_time))
                result.containers += 1
                pod_cpu += fields.get("cpu_usage_nanocores", 0.0)
                pod_memory += fields.get("memory_working_set_bytes", 0.0)
                latest = max(latest, sample_time)
            charge_pod_counter(pod_stats, (namespace, pod_name, node_name), info, sampling, increments,
                               fresh_fields, points)
            network_rate = network_points(pod_stats, namespace, pod_name, node_name, sampling, points)
            if latest:
                result.pod_usage[(namespace, pod_name)] = {"cpu_nanocores": pod_cpu, "memory_bytes": pod_memory,
                                                           "node": node_name, "network_bytes_per_second": network_rate}
                result.sample_time = max(result.sample_time, latest)
            volume_points(pod_stats, namespace, pod_name, node_name, sampling, points)
        except (KeyError, TypeError, ValueError) as exc:
            result.skipped += 1
            log.warning("skipping pod stats on %s: %s", node_name, exc)
    stamp = (node.get("cpu") or _EMPTY).get("time") or (node.get("memory") or _EMPTY).get("time")
    if pods_on_node and stamp:
        close_vanished_pods(pods_on_node, listed, node_name, epoch_seconds(stamp), sampling, points)
    node_point = node_usage_point(node, sampling)
    if node_point is not None:
        points.append(node_point)
        result.node_usage[node_name] = {
            "cpu_nanocores": node_point.fields.get("cpu_usage_nanocores", 0.0),
            "memory_bytes": node_point.fields.get("memory_working_set_bytes", 0.0),
        }


def charge_pod_counter(pod_stats, where, info, sampling, increments, fresh_fields, points):
    """Charge the CPU that the pod's counter saw and its containers' counters did not, and the
    last seconds of container instances that ended since their last sample.

    A container that crashes or completes takes its counter with it: its CPU between its last
    sample and its end is in no container counter, but the pod's cgroup counter keeps counting
    across container restarts (init containers' CPU and the pause container's are in it too).
    The difference goes to the container instance that started since the previous sample
    (``fresh_fields``): the old instance's end, before that start, explains it. Without one, a
    container of the pod spec that was sampled before and is missing now has ended: it gets a
    closing point (``SamplingState.close``) with that CPU and its time from the last sample to
    its end (``finishedAt``) at its last working set. With the container closed already (an
    instance ran and crashed unseen during its back-off), the difference waits in the pod's
    state for the next instance. On a steady pod the difference is the pause container's and
    stays uncharged. What stays unobservable: the last seconds of a pod
    that ends between two samples (the kubelet no longer reports it).
    """
    namespace, pod_name, node_name = where
    cpu = pod_stats.get("cpu") or _EMPTY
    counter, stamp = cpu.get("usageCoreNanoSeconds"), cpu.get("time")
    residual, before = 0.0, None
    if counter is not None and stamp:
        before = sampling.entries.get(f"p/{namespace}/{pod_name}")
        start = epoch_seconds(pod_stats["startTime"]) if pod_stats.get("startTime") else None
        sample = sampling.advance(f"p/{namespace}/{pod_name}", epoch_seconds(stamp), start, counter / 1e9)
        if before is not None or sample.fresh:  # else: first sight of a running pod, nothing to compare
            residual = max(0.0, sample.increment - increments)
    if fresh_fields is not None:
        if residual > 1e-9:
            fresh_fields["cpu_core_seconds"] += residual
            fresh_fields["cpu_allocated_core_seconds"] = max(
                fresh_fields["resource_requests_millicpu_units_integral"] / 1000.0, fresh_fields["cpu_core_seconds"])
        return
    if info is None or not stamp:
        return
    listed = {c.get("name") for c in pod_stats.get("containers") or ()}
    missing = False
    for name, spec in info.containers.items():
        if name in listed:
            continue
        missing = True
        closed = sampling.close(f"c/{namespace}/{pod_name}/{name}", epoch_seconds(stamp), spec.finished, residual,
                                spec.finished_from)
        if closed is not None:
            points.append(closing_point((namespace, pod_name, name, node_name), spec, closed, epoch_seconds(stamp)))
            residual = 0.0
    if missing and residual > 1e-9 and before is not None:
        # An instance ran and ended unseen while the container was in its back-off: its CPU waits
        # in the pod's counter (the pod's state stays where it was) for the next instance.
        sampling.entries[f"p/{namespace}/{pod_name}"] = before


def close_vanished_pods(pods_on_node, listed, node_name, sample_time, sampling, points):
    """Close the containers of pods that the API still has on this node but its kubelet no longer
    reports: a job that completed, or a pod that was deleted, since the last sample. Their last
    seconds are charged up to their containers' ``finishedAt``, at the last sample's rate."""
    for info in pods_on_node:
        if (info.namespace, info.name) in listed:
            continue
        for name, spec in info.containers.items():
            closed = sampling.close(f"c/{info.namespace}/{info.name}/{name}", sample_time, spec.finished,
                                    finished_from=spec.finished_from)
            if closed is not None:
                points.append(closing_point((info.namespace, info.name, name, node_name), spec, closed, sample_time))


def closing_point(where, spec, closed, sample_time):
    """The point of a container instance's last seconds; ``closed`` is what ``SamplingState.close`` gave."""
    namespace, pod_name, container, node_name = where
    return Point(CONTAINER, {"namespace": namespace, "pod_name": pod_name, "container_name": container,
                             "node_name": node_name}, closing_fields(spec, *closed), sample_time)


def closing_fields(spec, sample, working_set):
    """The resource-time of an instance's last seconds: integrals and CPU only, no gauges, so that
    counts and means of samples are not changed by it."""
    interval = sample.interval
    fields = {"interval_seconds": interval, "cpu_core_seconds": float(sample.increment),
              "resource_requests_millicpu_units_integral": spec.requests_millicpu * interval,
              "resource_requests_memory_bytes_integral": spec.requests_memory * interval}
    for attr, _, integral in _OPTIONAL_SPEC:
        if getattr(spec, attr):
            fields[integral] = getattr(spec, attr) * interval
    if working_set is not None:
        fields["memory_working_set_bytes_integral"] = working_set * interval
    fields["cpu_allocated_core_seconds"] = max(spec.requests_millicpu / 1000.0 * interval, sample.increment)
    fields["memory_allocated_byte_seconds"] = max(spec.requests_memory, working_set or 0) * interval
    return fields


def network_points(pod_stats, namespace, pod_name, node_name, sampling, points):
    """Append the pod's network point; return its rx+tx bytes/s since the previous sample, for the
    live view (None on first sight: the series' state keeps the byte counter for the next one)."""
    network = pod_stats.get("network")
    totals = _network_totals(network)
    if totals is None or not network.get("time"):
        return None
    sample_time = epoch_seconds(network["time"])
    sample = sampling.advance(f"n/{namespace}/{pod_name}", sample_time)
    rx, rx_errors, tx, tx_errors = totals
    rate = network_rate(sampling, f"nb/{namespace}/{pod_name}", sample_time, rx + tx)
    points.append(Point(
        NETWORK,
        {"namespace": namespace, "pod_name": pod_name, "node_name": node_name},
        {"rx_bytes": int(rx), "rx_errors": int(rx_errors), "tx_bytes": int(tx), "tx_errors": int(tx_errors),
         "interval_seconds": sample.interval},
        sample_time,
    ))
    return rate


def network_rate(sampling, key, sample_time, total):
    """rx+tx bytes/s since the previous sample of the pod's network, for the live view; None on
    first sight, on a re-read of the same sample and when the counters went back (a new sandbox).

    The byte counter is kept in its own entry (``nb/``: time and counter, the shape
    ``collectors.staterebuild`` rebuilds from the last network point), apart from the interval
    series, whose increments the network points do not use."""
    previous = sampling.entries.get(key)
    if previous is not None and sample_time <= previous[0]:
        return None
    sampling.entries[key] = [sample_time, total, None, 0.0, 0.0]
    if previous is None or previous[1] is None or total < previous[1]:
        return None
    return round((total - previous[1]) / (sample_time - previous[0]))


VOLUME_EVERY_SECONDS = 60


def volume_points(pod_stats, namespace, pod_name, node_name, sampling, points):
    """Volume usage at most once a minute per pod: it moves slowly, and writing it every cycle
    was a third of a 10,000-pod cycle's lines (docs/benchmarks.md)."""
    volumes = pod_stats.get("volume") or []
    if not volumes or not volumes[0].get("time"):
        return
    if not sampling.due(f"v/{namespace}/{pod_name}", epoch_seconds(volumes[0]["time"]), VOLUME_EVERY_SECONDS):
        return
    for volume in volumes:
        if not volume.get("time") or not volume.get("name"):
            continue
        fields = {}
        for source, target in (("usedBytes", "used_bytes"), ("capacityBytes", "capacity_bytes"),
                               ("availableBytes", "available_bytes")):
            if volume.get(source) is not None:
                fields[target] = volume[source]
        for source, target in (("inodes", "inodes"), ("inodesFree", "inodes_free"), ("inodesUsed", "inodes_used")):
            if volume.get(source) is not None:
                fields[target] = int(volume[source])
        if fields:
            points.append(Point(
                VOLUME,
                {"namespace": namespace, "pod_name": pod_name, "node_name": node_name, "volume_name": volume["name"]},
                fields,
                epoch_seconds(volume["time"]),
            ))


def node_usage_point(node, sampling):
    cpu = node.get("cpu") or {}
    memory = node.get("memory") or {}
    stamp = cpu.get("time") or memory.get("time")
    if not stamp or not node.get("nodeName"):
        return None
    sample_time = epoch_seconds(stamp)
    counter = cpu.get("usageCoreNanoSeconds")
    sample = sampling.advance(f"node/{node['nodeName']}", sample_time)
    fields = {"interval_seconds": sample.interval}
    if cpu.get("usageNanoCores") is not None:
        fields["cpu_usage_nanocores"] = cpu["usageNanoCores"]
    if counter is not None:
        fields["cpu_usage_core_nanoseconds"] = int(counter)
    for source, target in (("usageBytes", "memory_usage_bytes"), ("workingSetBytes", "memory_working_set_bytes"),
                           ("rssBytes", "memory_rss_bytes"), ("availableBytes", "memory_available_bytes")):
        if memory.get(source) is not None:
            fields[target] = memory[source]
    for source, target in (("pageFaults", "memory_page_faults"), ("majorPageFaults", "memory_major_page_faults")):
        if memory.get(source) is not None:
            fields[target] = int(memory[source])
    totals = _network_totals(node.get("network"))
    if totals is not None:
        fields["network_rx_bytes"], fields["network_rx_errors"], fields["network_tx_bytes"], \
            fields["network_tx_errors"] = (int(v) for v in totals)
    fs = node.get("fs") or {}
    for source, target in (("usedBytes", "fs_used_bytes"), ("capacityBytes", "fs_capacity_bytes"),
                           ("availableBytes", "fs_available_bytes")):
        if fs.get(source) is not None:
            fields[target] = fs[source]
    _add_integrals(fields, _NODE_INTEGRALS, sample.interval)
    return Point(NODE, {"node_name": node["nodeName"]}, fields, sample_time)


def metrics_api_points(pod_metrics, pods, sampling, result):
    """The fallback when the summaries are refused: metrics.k8s.io has rates, no counters."""
    for item in pod_metrics:
        try:
            metadata = item["metadata"]
            namespace, pod_name = metadata["namespace"], metadata["name"]
            info = pods.get((namespace, pod_name))
            if info is None:
                continue
            sample_time = epoch_seconds(item["timestamp"])
            pod_cpu = pod_memory = 0.0
            for container in item.get("containers") or []:
                usage = container.get("usage") or {}
                nanocores = cpu_nanocores(usage.get("cpu", "0"))
                memory = to_bytes(usage.get("memory", "0"))
                sample = sampling.advance(f"c/{namespace}/{pod_name}/{container['name']}", sample_time,
                                          rate=nanocores / 1e9, counter=None)
                spec = info.containers.get(container["name"], _NO_SPEC)
                cpu_seconds = nanocores / 1e9 * sample.interval
                stats = {"cpu": {"usageNanoCores": nanocores}, "memory": {"workingSetBytes": memory}}
                fields = container_fields(stats, spec, Sample(sample.interval, cpu_seconds), sample.interval)
                result.points.append(Point(
                    CONTAINER,
                    {"namespace": namespace, "pod_name": pod_name, "container_name": container["name"],
                     "node_name": info.node},
                    fields,
                    sample_time,
                ))
                result.containers += 1
                pod_cpu += nanocores
                pod_memory += memory
            result.pod_usage[(namespace, pod_name)] = {"cpu_nanocores": pod_cpu, "memory_bytes": pod_memory,
                                                       "node": info.node}
            result.sample_time = max(result.sample_time, sample_time)
        except (KeyError, TypeError, ValueError, QuantityError) as exc:
            result.skipped += 1
            log.warning("skipping pod metrics item: %s", exc)


def fetch_summaries(kube, node_names, workers=16):
    """Yield ``(node, summary or exception)`` as each arrives, fetched 16 at a time.

    500 nodes one by one would take too long; holding all 500 parsed summaries at once cost
    over 100 MB at 10,000 pods, so each is handed over as soon as it is parsed.
    """
    def fetch(name):
        try:
            return name, kube.node_summary_raw(name)
        except KubeError as exc:
            return name, exc

    if not node_names:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(node_names)))) as pool:
        futures = [pool.submit(fetch, name) for name in node_names]
        for future in as_completed(futures):
            name, body = future.result()
            if isinstance(body, bytes):
                try:
                    body = orjson.loads(body)
                except orjson.JSONDecodeError as exc:
                    body = KubeError(f"the summary of node {name} is not JSON: {exc}")
            yield name, body


def _drain(result, sink):
    """Hand ``result.points`` to ``sink`` and forget them: a node's point dicts live only until then."""
    started = time.perf_counter()
    for point in result.points:
        result.counts[point.measurement] = result.counts.get(point.measurement, 0) + 1
    sink(result.points)
    result.points.clear()
    result.timings["serialize"] = result.timings.get("serialize", 0.0) + time.perf_counter() - started


def collect_pod_usage(kube, sampling, pods, node_names, workers=16, sink=None):
    """Usage points for every running container; ``pods`` is the ``index_pods`` of the pod list.

    With ``sink`` (a callable taking a list of points), each node's points are handed over as
    soon as its summary is parsed, instead of collecting in ``result.points``: at 10,000 pods
    that keeps about 100 MB of point dicts from living at once (the cycle's bar is 400 MB), and
    lets the cycle write while it still parses.
    """
    result = UsageResult()
    started = time.perf_counter()
    parse_seconds = 0.0
    denied = failed = 0
    by_node = {}
    for info in (pods or {}).values():
        by_node.setdefault(info.node, []).append(info)
    for node_name, summary in fetch_summaries(kube, node_names, workers):
        if isinstance(summary, Exception):
            log.warning("no summary from node %s: %s", node_name, summary)
            failed += 1
            result.unobserved_nodes.append(node_name)
            denied += isinstance(summary, (KubeAccessDenied, KubeTLSError))
            continue
        parse_started = time.perf_counter()
        summary_points(summary, pods, sampling, result, by_node.get(node_name))
        if sink is not None:
            _drain(result, sink)
        parse_seconds += time.perf_counter() - parse_started
    result.skipped += failed
    result.timings["fetch_summaries"] = time.perf_counter() - started - parse_seconds
    result.timings["parse"] = parse_seconds - result.timings.get("serialize", 0.0)
    if node_names and denied == len(node_names):
        log.warning("every kubelet summary was refused (%s); falling back to metrics.k8s.io",
                    "nodes/stats or the kubelets' certificates" if getattr(kube, "kubelets", None) else "nodes/proxy")
        result = UsageResult(source="metrics.k8s.io")
        started = time.perf_counter()
        items = kube.pod_metrics()
        result.timings["fetch_metrics"] = time.perf_counter() - started
        started = time.perf_counter()
        metrics_api_points(items, pods, sampling, result)
        result.timings["parse"] = time.perf_counter() - started
        if sink is not None:
            _drain(result, sink)
    return result
