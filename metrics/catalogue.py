"""The metric catalogue: Heapster's names (the legacy API's contract, DESIGN §5) mapped to our schema.

Each metric names one measurement and field of ``kubemon.timeseries.schema`` and says how to
turn stored values into the Heapster unit (millicores, bytes, MB for GPU memory...). The kind
says how a window is aggregated:

``gauge``
    an instantaneous value (CPU rate, memory, requests). ``sum`` is the sum of the samples,
    ``integral`` the resource-time (value x interval, unit x seconds) when the schema stores
    ``<field>_integral``; such metrics are also served from the hourly rollup.
``increment``
    a per-sample increase (``cpu_core_seconds``): ``sum`` is the exact total of the window.
``difference``
    ``field - other`` of two gauges (memory cache = usage - RSS).
``counter``
    a cumulative counter (network bytes, page faults): raw rows show the counter, ``sum`` is its
    increase within the window (resets skipped).
``rate``
    the per-second rate of a cumulative counter: ``sum`` adds the per-sample rates (the legacy
    meaning), ``integral`` is the increase, ``max`` the highest rate.
``ratio``
    ``field / other`` on one node (reservation, utilisation); raw rows only. The two fields may
    be in different points (usage from the usage cycle, allocatable from the inventory): each
    sample of ``field`` is divided by the node's latest ``other`` at or before it.
"""

from dataclasses import dataclass

from kubemon.timeseries.schema import CONTAINER, GPU, MEASUREMENTS, MIB, NETWORK, NODE, POD, TEMPERATURE, VOLUME
from metrics.kinds import KINDS

# Heapster's "type" tag, kept on raw rows so that legacy consumers can still tell levels apart.
LEVEL_TYPES = {CONTAINER: "pod_container", NETWORK: "pod", VOLUME: "pod", POD: "pod", NODE: "node",
               TEMPERATURE: "node"}

# Our tag names → the legacy row keys (Heapster's, and the nvml-agent's for GPUs).
LEGACY_TAGS = {
    "namespace": "namespace_name",
    "pod_name": "pod_name",
    "container_name": "container_name",
    "node_name": "nodename",
    "volume_name": "resource_id",
    "gpu": "gpu_index",
    "uuid": "gpu_uuid",
    "model_name": "gpu_name",
    "sensor": "sensor",
    "source": "source",
}


@dataclass(frozen=True)
class Metric:
    name: str
    measurement: str
    field: str
    kind: str
    unit: str
    description: str
    scale: float = 1.0
    other: str | None = None  # second field of a difference or a ratio
    # Resource-time from another field (unit-seconds per stored unit): CPU uses the exact counter.
    integral_from: tuple | None = None
    # Another writer's samples (Telegraf's) lack ``integral_from``: (cumulative counter, its unit in
    # the units of ``integral_from``) gives their resource-time as the counter's increase.
    foreign_counter: tuple | None = None
    custom: bool = False  # ours rather than Heapster's

    @property
    def level(self):
        return "node" if self.measurement in (NODE, TEMPERATURE) else "namespace"

    @property
    def tags(self):
        return MEASUREMENTS[self.measurement].tags

    @property
    def strategy(self):
        """How this metric's kind is aggregated, rolled up and shown raw (``metrics.kinds``)."""
        return KINDS[self.kind]

    @property
    def has_integral(self):
        return self.strategy.has_integral(self)

    @property
    def rollup(self):
        """Whether whole hours can be read from the ``hourly`` rollup with identical results."""
        return self.strategy.rollup(self)

    @property
    def integral_unit(self):
        return f"{self.unit}-seconds" if self.has_integral else None

    def describe(self):
        return {
            "name": self.name,
            "unit": self.unit,
            "integral_unit": self.integral_unit,
            "description": self.description,
            "kind": self.kind,
            "level": self.level,
            "measurement": self.measurement,
            "field": self.field if self.other is None else f"{self.field},{self.other}",
            "rollup": self.rollup,
            "heapster": not self.custom,
        }


# The kubelet's cumulative CPU time in nanoseconds, as Telegraf writes it: its increase in core-seconds.
CPU_COUNTER = ("cpu_usage_core_nanoseconds", 1e-9)


def _m(*args, **kwargs):
    metric = Metric(*args, **kwargs)
    return metric.name, metric


METRICS = dict(
    [
        # --- CPU ---
        _m("cpu/usage_rate", CONTAINER, "cpu_usage_nanocores", "gauge", "millicores",
           "CPU usage rate of the containers; integral from the kubelet's exact CPU-time counter.",
           scale=1e-6, integral_from=("cpu_core_seconds", 1000.0), foreign_counter=CPU_COUNTER),
        _m("cpu/usage", CONTAINER, "cpu_core_seconds", "increment", "ns",
           "CPU time used during each sample's interval (the increase of the kubelet counter).", scale=1e9,
           foreign_counter=CPU_COUNTER),
        _m("cpu/request", CONTAINER, "resource_requests_millicpu_units", "gauge", "millicores",
           "CPU requested by the containers."),
        _m("cpu/limit", CONTAINER, "resource_limits_millicpu_units", "gauge", "millicores",
           "CPU limit of the containers."),
        _m("cpu/node_capacity", NODE, "capacity_millicpu_cores", "gauge", "millicores", "CPU capacity of the node."),
        _m("cpu/node_allocatable", NODE, "allocatable_millicpu_cores", "gauge", "millicores",
           "CPU allocatable on the node."),
        _m("cpu/node_reservation", NODE, "requests_millicpu_units", "ratio", "fraction",
           "Share of the node's allocatable CPU reserved by pod requests.", other="allocatable_millicpu_cores"),
        _m("cpu/node_utilization", NODE, "cpu_usage_nanocores", "ratio", "fraction",
           "CPU usage as a share of the node's allocatable CPU.", scale=1e-6, other="allocatable_millicpu_cores"),
        # --- memory ---
        _m("memory/usage", CONTAINER, "memory_usage_bytes", "gauge", "bytes", "Memory usage of the containers."),
        _m("memory/working_set", CONTAINER, "memory_working_set_bytes", "gauge", "bytes",
           "Memory working set of the containers (what eviction and kubectl top use)."),
        _m("memory/rss", CONTAINER, "memory_rss_bytes", "gauge", "bytes", "Resident set size of the containers."),
        _m("memory/cache", CONTAINER, "memory_usage_bytes", "difference", "bytes",
           "Page cache of the containers: usage minus RSS.", other="memory_rss_bytes"),
        _m("memory/request", CONTAINER, "resource_requests_memory_bytes", "gauge", "bytes",
           "Memory requested by the containers."),
        _m("memory/limit", CONTAINER, "resource_limits_memory_bytes", "gauge", "bytes",
           "Memory limit of the containers."),
        _m("memory/page_faults", CONTAINER, "memory_page_faults", "counter", "count",
           "Page faults (cumulative counter; aggregated: the increase in the window)."),
        _m("memory/page_faults_rate", CONTAINER, "memory_page_faults", "rate", "count/s", "Page faults per second."),
        _m("memory/major_page_faults", CONTAINER, "memory_major_page_faults", "counter", "count",
           "Major page faults (cumulative counter; aggregated: the increase in the window)."),
        _m("memory/major_page_faults_rate", CONTAINER, "memory_major_page_faults", "rate", "count/s",
           "Major page faults per second."),
        _m("memory/node_capacity", NODE, "capacity_memory_bytes", "gauge", "bytes", "Memory capacity of the node."),
        _m("memory/node_allocatable", NODE, "allocatable_memory_bytes", "gauge", "bytes",
           "Memory allocatable on the node."),
        _m("memory/node_reservation", NODE, "requests_memory_bytes", "ratio", "fraction",
           "Share of the node's allocatable memory reserved by pod requests.", other="allocatable_memory_bytes"),
        _m("memory/node_utilization", NODE, "memory_working_set_bytes", "ratio", "fraction",
           "Memory working set as a share of the node's allocatable memory.", other="allocatable_memory_bytes"),
        # --- network (per pod) ---
        _m("network/rx", NETWORK, "rx_bytes", "counter", "bytes", "Bytes received (cumulative counter)."),
        _m("network/rx_rate", NETWORK, "rx_bytes", "rate", "bytes/s", "Bytes received per second."),
        _m("network/rx_errors", NETWORK, "rx_errors", "counter", "count", "Receive errors (cumulative counter)."),
        _m("network/rx_errors_rate", NETWORK, "rx_errors", "rate", "count/s", "Receive errors per second."),
        _m("network/tx", NETWORK, "tx_bytes", "counter", "bytes", "Bytes sent (cumulative counter)."),
        _m("network/tx_rate", NETWORK, "tx_bytes", "rate", "bytes/s", "Bytes sent per second."),
        _m("network/tx_errors", NETWORK, "tx_errors", "counter", "count", "Transmit errors (cumulative counter)."),
        _m("network/tx_errors_rate", NETWORK, "tx_errors", "rate", "count/s", "Transmit errors per second."),
        # --- filesystem ---
        _m("filesystem/usage", CONTAINER, "rootfs_used_bytes", "gauge", "bytes",
           "Root filesystem bytes used by the containers."),
        _m("filesystem/limit", CONTAINER, "rootfs_capacity_bytes", "gauge", "bytes",
           "Capacity of the containers' root filesystem."),
        _m("filesystem/available", CONTAINER, "rootfs_available_bytes", "gauge", "bytes",
           "Bytes available on the containers' root filesystem."),
        _m("filesystem/inodes", VOLUME, "inodes", "gauge", "count", "Inodes of the pods' volumes."),
        _m("filesystem/inodes_free", VOLUME, "inodes_free", "gauge", "count", "Free inodes of the pods' volumes."),
        # --- pods ---
        _m("uptime", POD, "uptime_seconds", "gauge", "ms", "Time since the pod started.", scale=1000.0),
        # --- GPU ---
        _m("gpu/usage", GPU, "memory_used_bytes", "gauge", "MB",
           "GPU memory held by the pods, in MB of 1,048,576 bytes (as the legacy nvml-agent reported).",
           scale=1.0 / MIB),
        _m("gpu/utilization", GPU, "utilization_percent", "gauge", "percent", "GPU utilisation.", custom=True),
        _m("gpu/power", GPU, "power_watts", "gauge", "watts", "GPU power draw (integral: joules).", custom=True),
        _m("gpu/temperature", GPU, "temperature_celsius", "gauge", "celsius", "GPU temperature.", custom=True),
        _m("gpu/request", CONTAINER, "resource_requests_gpu", "gauge", "gpus",
           "GPUs requested by the containers (integral: GPU-seconds).", custom=True),
        # --- coverage: how much of the charged time the samples saw (docs/api.md, "Coverage") ---
        _m("coverage/charged_seconds", CONTAINER, "interval_seconds", "increment", "s",
           "Container-seconds charged: the time the samples stand for.", custom=True),
        _m("coverage/gap_seconds", CONTAINER, "gap_seconds", "increment", "s",
           "Of the charged container-seconds, those in gaps of the sampling (over twice the usual spacing, "
           "up to the gap limit), charged from the sample after the gap.", custom=True),
        _m("coverage/unobserved_seconds", CONTAINER, "unobserved_seconds", "increment", "s",
           "Container-seconds in gaps beyond the gap limit (COLLECT_GAP_LIMIT_SECONDS): not charged.", custom=True),
        # --- node temperature ---
        _m("temperature", TEMPERATURE, "celsius", "gauge", "celsius",
           "Node temperatures pushed by the agents or scraped from node-exporter.", custom=True),
    ]
)


def get_metric(name):
    return METRICS.get(name)
