"""Heapster-shaped and GPU-agent-shaped history for the legacy import's tests and benchmark.

Rows are written as the legacy writers wrote them (docs: ``../shared/reference/prior-systems.md``
§1.5, §1.6): Heapster's InfluxDB sink puts one measurement per metric with a single ``value``
field, at every level of its ``type`` tag (``pod_container``; ``pod``, the sum of its containers;
``ns``; ``node``; ``sys_container``; ``cluster``), tagged with ``namespace_name``, ``pod_name``,
``container_name``, ``nodename``, ``hostname``, ``host_id``, ``labels`` (``key:value,...``),
``namespace_id``, ``pod_id``, ``pod_namespace``, ``container_base_image``; the nvml agent writes
``gpu/usage`` (MB per process, no ``type``) every ~5 s, a point per process with its own clock reading.

Values are integers, deterministic functions of the pod and the minute, so two calls give the
same history; the legacy truth is asked of the legacy InfluxDB itself (``legacy_sums``), the way
the legacy API asked it.
"""

import json
import zlib
from dataclasses import dataclass, field
from datetime import timedelta

import requests

MIB = 2**20


@dataclass
class Pod:
    namespace: str
    name: str
    node: str
    lives: list  # [(start, end), ...] datetimes: a pod that comes and goes, and may come back
    containers: dict = field(default_factory=lambda: {"app": (200, 100 * MIB, 250, 128 * MIB)})
    labels: dict = field(default_factory=dict)
    missed: tuple = ()  # sample times (datetimes) Heapster missed (a scrape that failed)

    def seed(self, container=""):
        return zlib.crc32(f"{self.namespace}/{self.name}/{container}".encode())


@dataclass
class GpuJob:
    namespace: str
    pod: str
    container: str
    node: str
    start: object
    end: object
    mb: int = 4000
    second_process: tuple = ()  # (start, end) of a second process in the same container
    gpu_index: str = "0"
    gpu_uuid: str = "GPU-5e1c3b1a-0000-4000-8000-000000000001"
    gpu_name: str = "Tesla K80"


def _escape(value):
    return str(value).replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")


def line(measurement, tags, value, seconds):
    tag_text = ",".join(f"{k}={_escape(v)}" for k, v in sorted(tags.items()) if v != "")
    return f"{measurement.replace(' ', '_')},{tag_text} value={int(value)}i {int(seconds)}"


def label_text(labels):
    return ",".join(f"{k}:{v}" for k, v in sorted(labels.items()))


def _times(lives, resolution, missed):
    """``(sample time, start of its life)`` in seconds."""
    skip = {int(m.timestamp()) for m in missed}
    for start, end in lives:
        t = born = int(start.timestamp())
        stop = int(end.timestamp())
        while t < stop:
            if t not in skip:
                yield t, born
            t += resolution


def container_values(pod, container, t):
    """(cpu millicores, memory bytes, working set bytes, request millicores, request bytes) at ``t``."""
    cpu, memory, request_cpu, request_memory = pod.containers[container]
    wobble = (pod.seed(container) + t // 60 * 7919) % 97
    return cpu + wobble, memory + wobble * 4096, request_cpu, request_memory


METRICS = ("cpu/usage_rate", "memory/working_set", "cpu/request", "memory/request")


def pod_lines(pod, resolution=60):
    """Every row of one pod: its containers', its own, and its network and uptime."""
    node_tags = {"nodename": pod.node, "hostname": pod.node, "host_id": f"id-{pod.node}"}
    pod_tags = {"namespace_name": pod.namespace, "pod_name": pod.name, "namespace_id": f"ns-{pod.namespace}",
                "pod_id": f"uid-{pod.name}", "pod_namespace": pod.namespace, "labels": label_text(pod.labels),
                **node_tags}
    for t, born in _times(pod.lives, resolution, pod.missed):
        totals = [0] * len(METRICS)
        for container in pod.containers:
            values = container_values(pod, container, t)
            tags = {**pod_tags, "type": "pod_container", "container_name": container,
                    "container_base_image": f"registry.example/{container}:1"}
            for i, name in enumerate(METRICS):
                totals[i] += values[i]
                yield line(name, tags, values[i], t)
        for i, name in enumerate(METRICS):
            yield line(name, {**pod_tags, "type": "pod"}, totals[i], t)
        yield line("network/rx", {**pod_tags, "type": "pod"}, (t - born) * 1500, t)
        yield line("uptime", {**pod_tags, "type": "pod"}, (t - born) * 1000, t)
        if t % 3600 == 0:  # (a derived metric, written less often here: only its presence matters)
            yield line("network/rx_rate", {**pod_tags, "type": "pod"}, 1500, t)


def upper_lines(pods, resolution=60):
    """The levels above the pods, while pods run: ``ns`` rows of the CPU and memory usage, and
    ``node``, ``sys_container`` and ``cluster`` rows of the CPU usage (sums of what ran, plus the
    system's own), and the nodes' capacity every hour."""
    times = {}
    for pod in pods:
        for t, _ in _times(pod.lives, resolution, pod.missed):
            times.setdefault(t, []).append(pod)
    nodes = sorted({pod.node for pod in pods})
    for t in sorted(times):
        for m, metric in enumerate(("cpu/usage_rate", "memory/working_set")):
            per_ns, per_node = {}, dict.fromkeys(nodes, 0)
            for pod in times[t]:
                value = sum(container_values(pod, c, t)[m] for c in pod.containers)
                per_ns[pod.namespace] = per_ns.get(pod.namespace, 0) + value
                per_node[pod.node] += value
            for namespace, value in per_ns.items():
                yield line(metric, {"type": "ns", "namespace_name": namespace, "namespace_id": f"ns-{namespace}"},
                           value, t)
            if m:
                continue
            for node in nodes:
                node_tags = {"nodename": node, "hostname": node, "host_id": f"id-{node}"}
                yield line(metric, {**node_tags, "type": "sys_container", "container_name": "kubelet"}, 150, t)
                yield line(metric, {**node_tags, "type": "node"}, per_node[node] + 150, t)
            yield line(metric, {"type": "cluster"}, sum(per_node.values()) + 150 * len(nodes), t)
        if t % 3600 == 0:
            for node in nodes:
                yield line("cpu/node_capacity", {"type": "node", "nodename": node, "hostname": node}, 4000, t)


def gpu_lines(job):
    """The nvml agent's rows: a pass every 5 s plus its run time, a point per process."""
    tags = {"nodename": job.node, "gpu_name": job.gpu_name, "gpu_uuid": job.gpu_uuid, "gpu_index": job.gpu_index,
            "pod_name": job.pod, "container_name": job.container, "namespace_name": job.namespace}
    t = job.start.timestamp() * 1000
    stop = job.end.timestamp() * 1000
    second = [s.timestamp() * 1000 for s in job.second_process] if job.second_process else None
    n = 0
    while t < stop:
        stamp = int(t)
        yield line("gpu/usage", tags, job.mb + n % 50, stamp)
        if second and second[0] <= t < second[1]:
            yield line("gpu/usage", tags, 700, stamp + 3)
        n += 1
        t += 5000 + (zlib.crc32(str(n).encode()) % 900)


def write_lines(url, database, lines, precision="s", batch=20000):
    """POST line protocol to the legacy InfluxDB; returns the lines written."""
    requests.post(f"{url}/query", data={"q": f'CREATE DATABASE "{database}"'}, timeout=30).raise_for_status()
    written, chunk = 0, []

    def send():
        response = requests.post(f"{url}/write", params={"db": database, "precision": precision},
                                 data="\n".join(chunk).encode(), timeout=120)
        assert response.status_code == 204, response.text

    for text in lines:
        chunk.append(text)
        if len(chunk) >= batch:
            send()
            written += len(chunk)
            chunk = []
    if chunk:
        send()
        written += len(chunk)
    return written


def write_history(url, database, pods, gpu_jobs, resolution=60):
    """The whole history: every pod's rows, the upper levels, the GPU agent's rows."""
    count = write_lines(url, database, (text for pod in pods for text in pod_lines(pod, resolution)))
    count += write_lines(url, database, upper_lines(pods, resolution))
    count += write_lines(url, database, (text for job in gpu_jobs for text in gpu_lines(job)), precision="ms")
    return count


def legacy_sums(url, database, metric, namespace, begin, end, level="pod"):
    """``{pod: sum(value)}`` as the legacy API computed ``pod-by-namespace`` (both ends excluded),
    on the rows of one ``type`` (None: no filter, the GPU agent's)."""
    where = "namespace_name = $ns AND time > $b AND time < $e"
    params = {"ns": namespace, "b": int(begin.timestamp()) * 10**9, "e": int(end.timestamp()) * 10**9}
    if level is not None:
        where += ' AND "type" = $level'
        params["level"] = level
    response = requests.get(f"{url}/query", params={
        "db": database, "q": f'SELECT sum("value") FROM "{metric}" WHERE {where} GROUP BY namespace_name, pod_name',
        "params": json.dumps(params)}, timeout=60)
    response.raise_for_status()
    series = response.json()["results"][0].get("series", [])
    return {s["tags"]["pod_name"]: s["values"][0][1] for s in series}



def legacy_rows(url, database, metric, namespace, begin, end, level="pod"):
    """``{pod: [(time s, value), ...]}`` of the legacy rows, oldest first."""
    where = "namespace_name = $ns AND time > $b AND time < $e"
    params = {"ns": namespace, "b": int(begin.timestamp()) * 10**9, "e": int(end.timestamp()) * 10**9}
    if level is not None:
        where += ' AND "type" = $level'
        params["level"] = level
    response = requests.get(f"{url}/query", params={
        "db": database, "q": f'SELECT "value" FROM "{metric}" WHERE {where} GROUP BY pod_name', "epoch": "ms",
        "params": json.dumps(params)}, timeout=60)
    response.raise_for_status()
    series = response.json()["results"][0].get("series", [])
    return {s["tags"]["pod_name"]: [(t / 1000, v) for t, v in s["values"]] for s in series}


def a_month(start):
    """A handful of pods over 30 days from ``start`` (a day boundary): pods that come and go, one
    that comes back under the same name, two containers in one, a missed scrape, a GPU job with
    two processes part of the time. Rows start a minute after ``start`` and end before the 30th day
    ends, so the legacy window's excluded ends and kubemon's [begin, end) hold the same rows."""
    d = timedelta(days=1)
    h = timedelta(hours=1)
    m = timedelta(minutes=1)
    pods = [
        Pod("alpha-dev", "web-1", "node-1", [(start + m, start + 2 * d)],
            containers={"app": (200, 100 * MIB, 250, 128 * MIB), "sidecar": (20, 10 * MIB, 50, 32 * MIB)},
            labels={"app": "web", "tenant": "alpha"}, missed=(start + d + 7 * m, start + d + 8 * m)),
        Pod("alpha-dev", "db-0", "node-2", [(start + 3 * d + 10 * h, start + 3 * d + 22 * h),
                                            (start + 9 * d, start + 9 * d + 12 * h)],
            labels={"app": "db", "tenant": "alpha"}),
        Pod("alpha-prod", "api-1", "node-1", [(start + 12 * d, start + 13 * d + 7 * h)], labels={"tenant": "alpha"}),
        Pod("beta-web", "front-1", "node-2", [(start + 28 * d, start + 30 * d - m)],
            containers={"nginx": (80, 30 * MIB, 100, 64 * MIB)}, labels={"tenant": "beta"}),
        Pod("alpha-dev", "train-0", "node-2", [(start + 14 * d, start + 14 * d + 6 * h)],
            labels={"tenant": "alpha", "job": "train"}),
    ]
    gpu_jobs = [GpuJob("alpha-dev", "train-0", "app", "node-2", start + 14 * d + m, start + 14 * d + 6 * h,
                       second_process=(start + 14 * d + 2 * h, start + 14 * d + 3 * h))]
    return pods, gpu_jobs
