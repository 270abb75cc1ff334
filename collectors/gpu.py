"""GPU samples from DCGM-exporter and Jetson-exporter ``/metrics`` pages into the ``gpu`` measurement."""

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

from kubemon.timeseries import Point
from kubemon.timeseries.schema import GPU, INTEGRAL_FIELDS, MIB

log = logging.getLogger(__name__)

EXPORTER_URL_ANNOTATION = "kubemon.io/gpu-exporter-url"
EXPORTER_KIND_ANNOTATION = "kubemon.io/gpu-exporter-kind"
DCGM_FIELDS = {
    "DCGM_FI_DEV_GPU_UTIL": ("utilization_percent", 1.0),
    "DCGM_FI_DEV_FB_USED": ("memory_used_bytes", MIB),
    "DCGM_FI_DEV_FB_FREE": ("_free", MIB),
    "DCGM_FI_DEV_FB_RESERVED": ("_reserved", MIB),
    "DCGM_FI_DEV_GPU_TEMP": ("temperature_celsius", 1.0),
    "DCGM_FI_DEV_POWER_USAGE": ("power_watts", 1.0),
}
_INTEGRALS = tuple((name, name + "_integral") for name in INTEGRAL_FIELDS[GPU])


@dataclass(frozen=True)
class Exporter:
    url: str
    kind: str = "dcgm"  # or "jetson"
    node: str = ""


class ExporterError(Exception):
    pass


def exporters_from_nodes(nodes, configured_urls=()):
    """Exporters announced by node annotations, plus ``GPU_EXPORTER_URLS`` (``[kind=]url`` or ``node=url``)."""
    found = []
    for node in nodes:
        annotations = (node.get("metadata") or {}).get("annotations") or {}
        url = annotations.get(EXPORTER_URL_ANNOTATION)
        if url:
            found.append(Exporter(url, annotations.get(EXPORTER_KIND_ANNOTATION, "dcgm"), node["metadata"]["name"]))
    for entry in configured_urls:
        kind, _, url = entry.rpartition("=") if "=" in entry.split("://")[0] else ("", "", entry)
        if kind in ("dcgm", "jetson", ""):
            found.append(Exporter(url, kind or "dcgm"))
        else:
            found.append(Exporter(url, "dcgm", kind))
    return found


def _sample_time(sample, default):
    # Prometheus text may carry a timestamp (seconds, float, as parsed); exporters usually omit it.
    return int(sample.timestamp) if sample.timestamp else default


def parse_dcgm(text, default_time, node=""):
    """``{(node, gpu, uuid): {"tags": ..., "fields": ..., "time": ...}}`` from DCGM exporter text."""
    gpus = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            mapping = DCGM_FIELDS.get(sample.name)
            if mapping is None:
                continue
            labels = sample.labels
            gpu = labels.get("gpu", "")
            if labels.get("GPU_I_ID"):
                gpu = f"{gpu}/mig-{labels['GPU_I_ID']}"
            host = node or labels.get("Hostname") or labels.get("hostname") or ""
            key = (host, gpu, labels.get("UUID", ""))
            entry = gpus.get(key)
            if entry is None:
                entry = gpus[key] = {
                    "tags": {
                        "node_name": host,
                        "gpu": gpu,
                        "uuid": labels.get("UUID", ""),
                        "model_name": labels.get("modelName", ""),
                        "namespace": labels.get("namespace", "") or labels.get("pod_namespace", ""),
                        "pod_name": labels.get("pod", ""),
                        "container_name": labels.get("container", ""),
                    },
                    "fields": {},
                    "time": _sample_time(sample, default_time),
                }
            name, scale = mapping
            entry["fields"][name] = float(sample.value) * scale
    for entry in gpus.values():
        fields = entry["fields"]
        free, reserved = fields.pop("_free", None), fields.pop("_reserved", 0.0)
        if free is not None and "memory_used_bytes" in fields:
            fields["memory_total_bytes"] = fields["memory_used_bytes"] + free + reserved
    return gpus


def parse_jetson(text, default_time, node):
    """Jetson exporters report one integrated GPU: load %, temperatures in °C, power in mW."""
    fields, stamp = {}, default_time
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gpu_usage_gpu":
                fields["utilization_percent"] = float(sample.value)
                stamp = _sample_time(sample, default_time)
            elif sample.name == "gpu_temperatures" and sample.labels.get("temperature") == "gpu":
                fields["temperature_celsius"] = float(sample.value)
            elif sample.name == "gpu_usage_power" and sample.labels.get("power") == "gpu":
                fields["power_watts"] = float(sample.value) / 1000.0
            elif sample.name == "gpu_usage_ram" and sample.labels.get("ram") == "used":
                fields["memory_used_bytes"] = float(sample.value) * 1024
    if not fields:
        return {}
    tags = {"node_name": node, "gpu": "0", "uuid": f"jetson-{node}", "model_name": "Jetson",
            "namespace": "", "pod_name": "", "container_name": ""}
    return {(node, "0", tags["uuid"]): {"tags": tags, "fields": fields, "time": stamp}}


def scrape(exporter, default_time, timeout=5.0, session=None):
    http = session or requests
    try:
        response = http.get(exporter.url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise ExporterError(f"GPU exporter {exporter.url} failed: {exc}") from exc
    try:
        if exporter.kind == "jetson":
            return parse_jetson(response.text, default_time, exporter.node)
        return parse_dcgm(response.text, default_time, exporter.node)
    except ValueError as exc:
        raise ExporterError(f"GPU exporter {exporter.url} sent unreadable text: {exc}") from exc


def _gpu_holders(pods):
    """``{node: [(PodInfo, GPUs requested, the requesting container or "")]}`` of the running pods
    that request GPUs (``nvidia.com/gpu``, MIG and other GPU resources: ``podspec.gpu_count``)."""
    holders = {}
    for info in pods.values():
        if info.phase != "Running" or not info.node:
            continue
        requesting = [name for name, spec in info.containers.items() if spec.requests_gpu]
        if requesting:
            gpus = sum(info.containers[name].requests_gpu for name in requesting)
            holders.setdefault(info.node, []).append((info, gpus, requesting[0] if len(requesting) == 1 else ""))
    return holders


def attribute_by_requests(gpus, pods):
    """Give the GPUs that no exporter label attributes to the pod whose spec requests them.

    ``gpus`` is ``{(node, gpu, uuid): entry}`` as the parsers return it, ``pods`` the
    ``podspec.index_pods`` map. The Jetson exporter never has pod labels, nor has DCGM outside
    Kubernetes mode. When a node's page labels none of its GPUs, and exactly one running pod on
    that node requests GPUs, as many as the page shows, they are that pod's. Anything else is
    ambiguous and stays unattributed, and so does an unlabelled GPU beside labelled ones: DCGM in
    Kubernetes mode labels every GPU it has given out, so that one is idle.
    """
    by_node = {}
    for (node, _gpu, _uuid), entry in gpus.items():
        by_node.setdefault(node, []).append(entry)
    holders = _gpu_holders(pods)
    for node, entries in by_node.items():
        here = holders.get(node, ())
        if len(here) != 1 or any(entry["tags"]["pod_name"] for entry in entries):
            continue
        info, requested, container = here[0]
        if requested != len(entries):
            continue
        for entry in entries:
            entry["tags"].update(namespace=info.namespace, pod_name=info.name, container_name=container)


def collect_gpu(exporters, sampling, default_time, pods=None, timeout=5.0, workers=8):
    """``(points, errors)`` for every GPU of every exporter.

    ``pods`` (the pod index, or a callable that returns it, called only when some GPU has no pod
    labels) attributes unlabelled GPUs by the pods' GPU requests (``attribute_by_requests``).
    """
    points, errors = [], []
    if not exporters:
        return points, errors

    def fetch(exporter):
        try:
            return scrape(exporter, default_time, timeout)
        except ExporterError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(workers, len(exporters))) as pool:
        results = list(pool.map(fetch, exporters))
    gpus = {}
    for result in results:
        if isinstance(result, Exception):
            log.warning("%s", result)
            errors.append(str(result))
        else:
            gpus.update(result)
    if pods is not None and any(not entry["tags"]["pod_name"] for entry in gpus.values()):
        attribute_by_requests(gpus, pods() if callable(pods) else pods)
    for (node, gpu, uuid), entry in gpus.items():
        sample = sampling.advance(f"g/{node}/{gpu}/{uuid}", entry["time"])
        fields = dict(entry["fields"], interval_seconds=float(sample.interval))
        for name, integral in _INTEGRALS:
            if name in fields:
                fields[integral] = fields[name] * sample.interval
        points.append(Point(GPU, entry["tags"], fields, entry["time"]))
    return points, errors
