"""Which legacy measurements are imported, from which level of Heapster's ``type`` tag, into which
fields of kubemon's schema (``kubemon.timeseries.schema``, DESIGN §3).

Heapster wrote every metric at several levels: ``pod_container``, ``pod`` (the sum of its
containers), ``ns``, ``node``, ``sys_container`` and ``cluster``. The legacy API summed them all
together; kubemon keeps one level per metric, the finest one: the containers' rows where Heapster
wrote them, the pods' rows for the metrics it kept only per pod (network, uptime). The levels above
are sums of these, and node metrics come from kubemon's own inventory, so they are not imported.

``rollup`` says whether the field has a place in the hourly rollup (a gauge of
``INTEGRAL_FIELDS``): only those are written for hours past the raw retention, the others (counters,
capacities, uptime) are kept raw only by kubemon and are skipped there, and counted.
"""

from dataclasses import dataclass

from kubemon.timeseries.schema import CONTAINER, GPU, INTEGRAL_FIELDS, MIB, NETWORK, POD

CONTAINER_TAGS = ("namespace_name", "pod_name", "container_name", "nodename")
POD_TAGS = ("namespace_name", "pod_name", "nodename")
GPU_TAGS = ("nodename", "gpu_index", "gpu_uuid", "gpu_name", "namespace_name", "pod_name", "container_name")
# Legacy tag → kubemon tag (the inverse of metrics.catalogue.LEGACY_TAGS).
TAG_NAMES = {"namespace_name": "namespace", "pod_name": "pod_name", "container_name": "container_name",
             "nodename": "node_name", "gpu_index": "gpu", "gpu_uuid": "uuid", "gpu_name": "model_name"}
# Tags a row of each target must carry to be charged to someone.
REQUIRED_TAGS = {CONTAINER: ("namespace_name", "pod_name", "container_name"), NETWORK: ("namespace_name", "pod_name"),
                 POD: ("namespace_name", "pod_name"), GPU: ("namespace_name", "pod_name")}


@dataclass(frozen=True)
class Source:
    """One legacy measurement and where its ``value`` goes."""

    name: str
    target: str  # kubemon measurement
    field: str  # kubemon field
    level: str | None  # Heapster ``type`` to read; None: the measurement has no type tag (the GPU agent)
    tags: tuple  # legacy tags that identify a series (GROUP BY)
    scale: float = 1.0  # legacy unit → kubemon unit
    integer: bool = False  # kubemon keeps the field as an integer (Telegraf's type)
    # Samples closer than this (seconds) in one series are one sample: the GPU agent wrote a point
    # per process, each stamped with its own clock reading.
    coalesce: float = 0.0

    @property
    def rollup(self):
        return self.field in INTEGRAL_FIELDS.get(self.target, ())

    @property
    def primary(self):
        """Writes ``interval_seconds`` (one source per target does, so that fields merging into one
        point never disagree on it... except by the spacing of their own samples)."""
        return self.name in PRIMARY


def _c(name, field, scale=1.0, integer=False):
    return name, Source(name, CONTAINER, field, "pod_container", CONTAINER_TAGS, scale, integer)


def _p(name, target, field, scale=1.0, integer=False):
    return name, Source(name, target, field, "pod", POD_TAGS, scale, integer)


SOURCES = dict([
    _c("cpu/usage_rate", "cpu_usage_nanocores", 1e6, integer=True),  # millicores → nanocores
    _c("memory/usage", "memory_usage_bytes", integer=True),
    _c("memory/working_set", "memory_working_set_bytes", integer=True),
    _c("memory/rss", "memory_rss_bytes", integer=True),
    _c("cpu/request", "resource_requests_millicpu_units", integer=True),
    _c("cpu/limit", "resource_limits_millicpu_units", integer=True),
    _c("memory/request", "resource_requests_memory_bytes", integer=True),
    _c("memory/limit", "resource_limits_memory_bytes", integer=True),
    _c("filesystem/usage", "rootfs_used_bytes", integer=True),
    _c("filesystem/limit", "rootfs_capacity_bytes", integer=True),
    _c("filesystem/available", "rootfs_available_bytes", integer=True),
    _c("cpu/usage", "cpu_usage_core_nanoseconds", integer=True),  # the cumulative counter, in ns
    _c("memory/page_faults", "memory_page_faults", integer=True),
    _c("memory/major_page_faults", "memory_major_page_faults", integer=True),
    _p("network/rx", NETWORK, "rx_bytes", integer=True),
    _p("network/tx", NETWORK, "tx_bytes", integer=True),
    _p("network/rx_errors", NETWORK, "rx_errors", integer=True),
    _p("network/tx_errors", NETWORK, "tx_errors", integer=True),
    _p("uptime", POD, "uptime_seconds", 1e-3),  # ms → s
    ("gpu/usage", Source("gpu/usage", GPU, "memory_used_bytes", None, GPU_TAGS, float(MIB), coalesce=1.0)),
])

# The source of each target whose samples give ``interval_seconds`` (and, for containers, the
# coverage fields): the one every sample of the target has.
PRIMARY = frozenset({"cpu/usage_rate", "network/rx", "uptime", "gpu/usage"})

# Derived by kubemon from what is imported (or node-level): named, so that the command can say why
# it leaves them.
DERIVED = {
    "memory/cache": "memory/usage minus memory/rss",
    "memory/page_faults_rate": "memory/page_faults",
    "memory/major_page_faults_rate": "memory/major_page_faults",
    "network/rx_rate": "network/rx",
    "network/tx_rate": "network/tx",
    "network/rx_errors_rate": "network/rx_errors",
    "network/tx_errors_rate": "network/tx_errors",
}
NODE_LEVEL = ("cpu/node_capacity", "cpu/node_allocatable", "cpu/node_reservation", "cpu/node_utilization",
              "memory/node_capacity", "memory/node_allocatable", "memory/node_reservation",
              "memory/node_utilization", "filesystem/inodes", "filesystem/inodes_free")


def why_not_imported(name):
    """A short reason a legacy measurement is left out, or None when it is imported."""
    if name in SOURCES:
        return None
    if name in DERIVED:
        return f"derived by kubemon from {DERIVED[name]}"
    if name in NODE_LEVEL:
        return "node-level: kubemon's inventory writes node capacity and allocatable itself"
    return "not a Heapster pod or container metric kubemon knows"


# Per-sample resource-time derived from two sources of one container sample: max(request, usage),
# the OpenCost allocation basis (DESIGN §4), as ``collectors.usage.container_fields`` writes it.
# (target field, usage source, request source, (usage factor, request factor) into one unit:
# CPU in cores from nanocores and millicores, memory in bytes)
ALLOCATIONS = (
    ("cpu_allocated_core_seconds", "cpu/usage_rate", "cpu/request", (1e-9, 1e-3)),
    ("memory_allocated_byte_seconds", "memory/working_set", "memory/request", (1.0, 1.0)),
)
