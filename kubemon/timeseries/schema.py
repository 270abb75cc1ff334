"""The InfluxDB schema (DESIGN §3) and the identifier whitelist built from it.

Names follow Telegraf's ``kubernetes`` and ``kube_inventory`` plugins so that queries and
dashboards made for Telegraf data work on kubemon's. Only names listed here can be placed in an
InfluxQL statement (values always go through bound parameters).
"""

from dataclasses import dataclass, field

from kubemon.timeseries.errors import IdentifierNotAllowed

# Measurement names (Telegraf's where they overlap).
CONTAINER = "kubernetes_pod_container"
NETWORK = "kubernetes_pod_network"
VOLUME = "kubernetes_pod_volume"
POD = "kubernetes_pod"
NODE = "kubernetes_node"
GPU = "gpu"
TEMPERATURE = "node_temperature"
FAN = "fan"

# Units the stored values are in, and the ones readers convert to.
NANO = 1e-9  # nanocores → cores, nanoseconds → seconds
MIB = 1024 * 1024  # nvidia-smi and the legacy nvml-agent call a MiB "MB"
GIB = 1024 * MIB

RAW_POLICY = "raw"
HOURLY_POLICY = "hourly"
# The namespace tier: the hourly rollup summed per namespace (collectors.rollup), what an
# ``all-namespace`` question over a long window reads instead of every pod's hours.
NAMESPACE_POLICY = "namespace_hourly"
# ... and summed per UTC day: a year by namespace is 365 points a namespace.
NAMESPACE_DAILY_POLICY = "namespace_daily"
# The pod tier: the hourly rollup summed per pod and final UTC day (collectors.rollup), what an
# ``all-pod`` question over a long window reads instead of every container's hours. Pod detail,
# so it is kept as long as the hourly rollup.
POD_DAILY_POLICY = "pod_daily"
# The controller tier: the hourly rollup summed per namespace and controller (the pod's owner, from
# the raw ``kubernetes_pod`` points when the hour is rolled: collectors.rollup.roll_controllers),
# hourly and per UTC day; kept as long as the namespace tier, so ``aggregate=controller`` outlives
# the pod detail. Tags: CONTROLLER_TAGS (and the GPU model for the GPU measurement).
CONTROLLER_POLICY = "controller_hourly"
CONTROLLER_DAILY_POLICY = "controller_daily"
CONTROLLER_TAGS = ("namespace", "controller_kind", "controller")
# The node tier: each node's observed seconds and largest allocatable per UTC day (the hourly
# rollup's node points summed), kept as long as the namespace tier, for the idle capacity of
# statements of months older than the pod detail (metrics.allocation.node_capacity).
NODE_DAILY_POLICY = "node_daily"
# The tiers whose points are one per group and day: read in one statement, not through the day cache.
DAILY_POLICIES = (NAMESPACE_DAILY_POLICY, POD_DAILY_POLICY, CONTROLLER_DAILY_POLICY)
ROLLUP_POLICIES = (HOURLY_POLICY, NAMESPACE_POLICY, NAMESPACE_DAILY_POLICY, POD_DAILY_POLICY, CONTROLLER_POLICY,
                   CONTROLLER_DAILY_POLICY)
RETENTION_POLICIES = (RAW_POLICY, HOURLY_POLICY, NAMESPACE_POLICY, NAMESPACE_DAILY_POLICY, POD_DAILY_POLICY,
                      CONTROLLER_POLICY, CONTROLLER_DAILY_POLICY, NODE_DAILY_POLICY, "autogen")


@dataclass(frozen=True)
class Measurement:
    name: str
    tags: tuple
    fields: tuple
    description: str = ""
    extra: dict = field(default_factory=dict)


CONTAINER_USAGE_FIELDS = (
    "cpu_usage_nanocores",
    "cpu_usage_core_nanoseconds",
    "cpu_core_seconds",
    "memory_usage_bytes",
    "memory_working_set_bytes",
    "memory_rss_bytes",
    "memory_page_faults",
    "memory_major_page_faults",
    "rootfs_used_bytes",
    "rootfs_capacity_bytes",
    "rootfs_available_bytes",
    "logs_used_bytes",
    "interval_seconds",
    # Coverage (collectors.sampling): of interval_seconds, the part that was a gap in the sampling,
    # charged from the sample after it; and the time beyond the gap limit, not charged.
    "gap_seconds",
    "unobserved_seconds",
)
CONTAINER_SPEC_FIELDS = (
    "resource_requests_millicpu_units",
    "resource_requests_memory_bytes",
    "resource_limits_millicpu_units",
    "resource_limits_memory_bytes",
    "resource_requests_gpu",
    "restarts_total",
)

MEASUREMENTS = {
    m.name: m
    for m in (
        Measurement(
            CONTAINER,
            ("namespace", "pod_name", "container_name", "node_name"),
            CONTAINER_USAGE_FIELDS + CONTAINER_SPEC_FIELDS
            + ("cpu_allocated_core_seconds", "memory_allocated_byte_seconds"),
            "Per-container usage from the kubelet summary, joined with the pod spec.",
        ),
        Measurement(
            NETWORK,
            ("namespace", "pod_name", "node_name"),
            ("rx_bytes", "rx_errors", "tx_bytes", "tx_errors", "interval_seconds"),
            "Per-pod network counters.",
        ),
        Measurement(
            VOLUME,
            ("namespace", "pod_name", "node_name", "volume_name"),
            ("used_bytes", "capacity_bytes", "available_bytes", "inodes", "inodes_free", "inodes_used"),
            "Per-pod volume usage.",
        ),
        Measurement(
            POD,
            ("namespace", "pod_name", "node_name"),
            ("phase", "state", "reason", "ready_containers", "containers", "restarts_total", "owner_kind",
             "owner_name", "uptime_seconds"),
            "Pod inventory and live state (DESIGN §5).",
        ),
        Measurement(
            NODE,
            ("node_name",),
            (
                "capacity_millicpu_cores",
                "capacity_memory_bytes",
                "capacity_pods",
                "capacity_gpu",
                "allocatable_millicpu_cores",
                "allocatable_memory_bytes",
                "allocatable_pods",
                "allocatable_gpu",
                "cpu_usage_nanocores",
                "cpu_usage_core_nanoseconds",
                "memory_usage_bytes",
                "memory_working_set_bytes",
                "memory_rss_bytes",
                "memory_available_bytes",
                "memory_page_faults",
                "memory_major_page_faults",
                "network_rx_bytes",
                "network_rx_errors",
                "network_tx_bytes",
                "network_tx_errors",
                "fs_used_bytes",
                "fs_capacity_bytes",
                "fs_available_bytes",
                "ready",
                "unschedulable",
                "control_plane",
                "requests_millicpu_units",
                "requests_memory_bytes",
                "requests_gpu",
                "interval_seconds",
            ),
            "Node capacity, allocatable, usage and condition.",
        ),
        Measurement(
            GPU,
            ("node_name", "gpu", "uuid", "model_name", "namespace", "pod_name", "container_name"),
            ("utilization_percent", "memory_used_bytes", "memory_total_bytes", "temperature_celsius",
             "power_watts", "interval_seconds"),
            "GPU exporter samples (DCGM, Jetson); pod tags empty when unattributed.",
        ),
        Measurement(TEMPERATURE, ("node_name", "sensor", "source"), ("celsius",), "Node temperatures."),
        Measurement(FAN, ("fan",), ("running", "speed", "mode", "reason"), "Fan state history."),
    )
}

# Resource-time, kept exact at every resolution (DESIGN §4).
#
# Raw points: every gauge listed here also carries ``<field>_integral`` = value x
# ``interval_seconds`` of that sample, written by the collectors, so a window's resource-time is
# one server-side ``sum()``; InfluxQL 1.x cannot aggregate a product of two fields itself.
# ``cpu_core_seconds`` is already an increment (from the kubelet's cumulative counter) and is
# summed as it is. ``cpu_allocated_core_seconds`` and ``memory_allocated_byte_seconds`` are
# max(request, usage) per sample, the OpenCost allocation basis.
#
# Hourly rollup (retention policy ``hourly``, same measurement and tags, time = hour start):
#   <F>_integral = sum(<F>_integral)    <F>_sum = sum(<F>)    <F>_max = max(<F>)
#   <F>_samples = count(<F>)            interval_seconds = sum(interval_seconds)
#   and for each SUMMED_FIELDS name: <S> = sum(<S>)
# so a query over whole hours reads the rollup and gets the same numbers as over raw data.
INTEGRAL_FIELDS = {
    CONTAINER: (
        "cpu_usage_nanocores",
        "memory_usage_bytes",
        "memory_working_set_bytes",
        "memory_rss_bytes",
        "rootfs_used_bytes",
        "resource_requests_millicpu_units",
        "resource_requests_memory_bytes",
        "resource_limits_millicpu_units",
        "resource_limits_memory_bytes",
        "resource_requests_gpu",
    ),
    NODE: ("cpu_usage_nanocores", "memory_working_set_bytes", "memory_usage_bytes"),
    GPU: ("utilization_percent", "memory_used_bytes", "power_watts"),
}
SUMMED_FIELDS = {
    CONTAINER: ("cpu_core_seconds", "cpu_allocated_core_seconds", "memory_allocated_byte_seconds", "gap_seconds",
                "unobserved_seconds"),
}
# Cumulative counters keep their hourly maximum (``<F>_max``) so rates and totals survive the rollup.
# A node's allocatable resources keep theirs too: billing's idle capacity is allocatable x the
# node's observed time (``metrics.allocation.node_capacity``), for months past the raw retention.
MAX_FIELDS = {
    NETWORK: ("rx_bytes", "rx_errors", "tx_bytes", "tx_errors"),
    NODE: ("allocatable_millicpu_cores", "allocatable_memory_bytes", "allocatable_gpu"),
}
# Gauges without resource-time (their samples carry no interval) keep their hourly mean and
# maximum per series: <F>_sum = sum(<F>), <F>_max = max(<F>), <F>_samples = count(<F>), and no
# ``interval_seconds``. A node's temperature per sensor: its charts reach past the raw retention.
SAMPLED_FIELDS = {
    TEMPERATURE: ("celsius",),
}
ROLLUP_SUFFIXES = ("_integral", "_sum", "_max", "_samples")

# Samples of other writers (Telegraf's kubernetes input) carry none of kubemon's resource-time:
# theirs comes from the spacing of their series, a sample standing for the time since the
# previous one if that is at most SPACING_CAP_SECONDS (metrics.kinds on raw data, the rollup in
# the hourly points: one rule, read by both). A rollup point of a series that mixes both kinds
# of samples gets ``<field>_unknown``: its resource-time cannot be told.
SPACING_CAP_SECONDS = 300
UNKNOWN_SUFFIX = "_unknown"

# Field types. InfluxDB fixes a field's type per shard by the first point that has it and refuses
# (drops) later points of the other type, so the fields kubemon shares with Telegraf's
# ``kubernetes`` and ``kube_inventory`` inputs are written with Telegraf's type: integers (its
# structs are Go int64, written with an ``i``). The serialiser writes a float given for one of them
# rounded, as an integer. kubemon's own numeric fields (intervals, integrals, CPU-seconds, GPU
# requests) are floats: a Python int given for one of them is written without the ``i``, so its
# type never flips with its value. Every other field takes its type from the Python value.
# Readers cast to float (``::float``), so shards of either type read the same.
INTEGER_FIELDS = {
    CONTAINER: frozenset({
        "cpu_usage_nanocores", "cpu_usage_core_nanoseconds", "memory_usage_bytes", "memory_working_set_bytes",
        "memory_rss_bytes", "memory_page_faults", "memory_major_page_faults", "rootfs_available_bytes",
        "rootfs_capacity_bytes", "rootfs_used_bytes", "resource_requests_millicpu_units",
        "resource_requests_memory_bytes", "resource_limits_millicpu_units", "resource_limits_memory_bytes",
        "restarts_total",
    }),
    NODE: frozenset({
        "cpu_usage_nanocores", "cpu_usage_core_nanoseconds", "memory_available_bytes", "memory_usage_bytes",
        "memory_working_set_bytes", "memory_rss_bytes", "memory_page_faults", "memory_major_page_faults",
        "network_rx_bytes", "network_rx_errors", "network_tx_bytes", "network_tx_errors", "fs_available_bytes",
        "fs_capacity_bytes", "fs_used_bytes", "capacity_millicpu_cores", "capacity_memory_bytes", "capacity_pods",
        "allocatable_millicpu_cores", "allocatable_memory_bytes", "allocatable_pods",
    }),
    NETWORK: frozenset({"rx_bytes", "rx_errors", "tx_bytes", "tx_errors"}),
    VOLUME: frozenset({"used_bytes", "capacity_bytes", "available_bytes"}),
}
FLOAT_FIELDS = {
    CONTAINER: frozenset(
        {f for f in MEASUREMENTS[CONTAINER].fields if f not in INTEGER_FIELDS[CONTAINER]}
        | {f + "_integral" for f in INTEGRAL_FIELDS[CONTAINER]}
    ),
    NODE: frozenset(
        {"interval_seconds", "capacity_gpu", "allocatable_gpu", "requests_millicpu_units", "requests_memory_bytes",
         "requests_gpu"}
        | {f + "_integral" for f in INTEGRAL_FIELDS[NODE]}
    ),
    NETWORK: frozenset({"interval_seconds"}),
}


def measurement(name):
    try:
        return MEASUREMENTS[name]
    except KeyError:
        raise IdentifierNotAllowed(f"unknown measurement {name!r}") from None


def quote_identifier(name):
    """Double-quote an identifier for InfluxQL; only call it on whitelisted names."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def allowed_identifier(name, allowed):
    """Return ``name`` quoted if it is in ``allowed``; otherwise refuse it."""
    if name not in allowed:
        raise IdentifierNotAllowed(f"{name!r} is not an allowed identifier")
    return quote_identifier(name)


def field_identifier(measurement_name, field_name):
    m = measurement(measurement_name)
    base = field_name
    for suffix in ROLLUP_SUFFIXES:
        if field_name.endswith(suffix) and field_name[: -len(suffix)] in m.fields:
            base = field_name[: -len(suffix)]
    if base not in m.fields:
        raise IdentifierNotAllowed(f"{field_name!r} is not a field of {measurement_name}")
    return quote_identifier(field_name)


def tag_identifier(measurement_name, tag_name):
    return allowed_identifier(tag_name, measurement(measurement_name).tags)


def controller_tag_identifier(measurement_name, tag_name):
    """A tag of the controller tier: ``CONTROLLER_TAGS`` or one of the measurement's own."""
    if tag_name in CONTROLLER_TAGS:
        return quote_identifier(tag_name)
    return tag_identifier(measurement_name, tag_name)


def rollup_marker(measurement_name):
    """The field every hourly rollup point of the measurement has (what its watermark is read from)."""
    sampled = SAMPLED_FIELDS.get(measurement_name)
    return sampled[0] + "_samples" if sampled else "interval_seconds"


def source_identifier(measurement_name, policy=RAW_POLICY, database=None):
    """``"db"."policy"."measurement"`` (database optional) from whitelisted names only."""
    measurement(measurement_name)
    if policy not in RETENTION_POLICIES:
        raise IdentifierNotAllowed(f"unknown retention policy {policy!r}")
    text = quote_identifier(policy) + "." + quote_identifier(measurement_name)
    if database is not None:
        text = quote_identifier(database) + "." + text
    return text
