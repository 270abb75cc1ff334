"""Allocation quantities of a window per group: what billing prices and the allocation API reports.

Interface (plain functions, no HTTP; billing and api build on it, keep it stable):

``allocate(window, grouping="namespace", selection=None, store=None, use_rollup=True, now=None)``
    ``{group key: Allocation}``. ``grouping`` is a key of ``GROUPINGS``: ``namespace`` →
    ``(namespace,)``, ``pod`` → ``(namespace, pod)``, ``node`` → ``(node,)``, ``namespace_node``
    → ``(namespace, node)``. ``selection`` is a ``metrics.selection.Selection`` (default: every
    namespace; ``Selection.for_scope(scope)`` for a tenant). Tenants are billing's business: it
    groups namespaces by their owner.
``node_capacity(window, store=None, use_rollup=True, now=None)``
    ``{node: Capacity}``: allocatable × the time the node was observed, for idle.

An ``Allocation`` holds resource-seconds of every basis at once, so the caller picks one per
tenant or price list (``BASES``): ``usage``, ``request`` or ``max`` (max(request, usage) per
sample, the OpenCost default, from the collectors' ``cpu_allocated_core_seconds`` and
``memory_allocated_byte_seconds``). Its methods give core-hours, byte-hours and GiB-hours under a
basis, averages over the window, efficiencies (usage / request; None without a request) and
GPU-hours by GPU model.

Where the numbers come from (``metrics.engine.aggregate``, so the planner's tiers, the rollup,
the day cache and the running sums serve every one, and raw data and the rollup give the same;
the eight container gauges are one ``aggregate_many`` question, one statement per piece):

- CPU used: ``cpu/usage_rate``'s integral (the kubelet's exact counter); requested:
  ``cpu/request``'s; max: ``cpu_allocated_core_seconds`` (``CPU_MAX`` below).
- Memory used: ``memory/working_set``'s integral; requested: ``memory/request``'s; max:
  ``memory_allocated_byte_seconds`` (``MEMORY_MAX``).
- GPU-hours: ``gpu/request``'s integral, GPUs requested × time (a GPU held idle is still held),
  whatever the basis. Each pod's GPU-seconds go to the models the ``gpu`` measurement shows for
  that pod (``model_name``), shared by their sample counts; a pod the exporters never named goes
  to its node's models, and failing that to ``UNKNOWN_MODEL`` (priced at the default GPU rate).
  GPU used (utilisation × time, ``gpu/utilization``) gives GPU efficiency.
- Storage: the containers' root filesystems, ``filesystem/usage``'s integral (byte-seconds).
  Volumes carry no per-sample resource-time yet, so PVCs are not in it.
- ``container_seconds``: the time the container samples stand for (``coverage/charged_seconds``),
  whole samples by their time (an increment: the edges do not split it), for information only.

A sample stands for ``(t - interval_seconds, t]``: at a window's edges only the part inside the
window counts (``metrics.edges``, which the engine applies to every integral above), so windows
that tile a month add up to the month. Samples before a pod started or after it ended do not
exist, so such time is never charged; a pod that starts, crashes and ends inside the window is
charged for the samples (and closing points) the collectors wrote for it.

Averages (``*_average``) are resource-time over the whole window: a namespace that ran half the
window at 2 cores averages 1 core. Efficiency is independent of that choice.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from kubemon.timeseries import get_store
from kubemon.timeseries.schema import (
    CONTAINER,
    GIB,
    HOURLY_POLICY,
    NODE,
    NODE_DAILY_POLICY,
    RAW_POLICY,
    field_identifier,
    quote_identifier,
    source_identifier,
    tag_identifier,
)
from metrics import controllers, engine, planner
from metrics.catalogue import METRICS, Metric
from metrics.owners import pod_index
from metrics.raw import from_ns
from metrics.selection import Selection
from metrics.window import to_ns

BASES = ("usage", "request", "max")
DEFAULT_BASIS = "max"
GROUPINGS = {
    "namespace": ("namespace",),
    "pod": ("namespace", "pod_name"),
    "node": ("node_name",),
    "namespace_node": ("namespace", "node_name"),
    # (namespace, controllerKind, controller), "" for a pod without one: metrics.controllers.
    "controller": ("namespace", "controller_kind", "controller"),
}
UNKNOWN_MODEL = "unknown"
HOUR_SECONDS = 3600.0

# max(request, usage) per sample, as stored by the collectors: not Heapster metrics, so not in
# the public catalogue, but shaped like its gauges (samples of the request, resource-time from
# the allocated field), so the rollup, the tiers, the edges and the running sums all serve them.
CPU_MAX = Metric("allocation/cpu_max", CONTAINER, "resource_requests_millicpu_units", "gauge", "millicores",
                 "max(request, usage) CPU per sample (integral: millicore-seconds).",
                 integral_from=("cpu_allocated_core_seconds", 1000.0), custom=True)
MEMORY_MAX = Metric("allocation/memory_max", CONTAINER, "resource_requests_memory_bytes", "gauge", "bytes",
                    "max(request, working set) memory per sample (integral: byte-seconds).",
                    integral_from=("memory_allocated_byte_seconds", 1.0), custom=True)

# (Allocation attribute, metric, factor from the metric's integral or sum to resource-seconds, column)
_CONTAINER_READS = (
    ("cpu_usage_core_seconds", METRICS["cpu/usage_rate"], 1e-3, "integral"),
    ("cpu_request_core_seconds", METRICS["cpu/request"], 1e-3, "integral"),
    ("cpu_max_core_seconds", CPU_MAX, 1e-3, "integral"),
    ("memory_usage_byte_seconds", METRICS["memory/working_set"], 1.0, "integral"),
    ("memory_request_byte_seconds", METRICS["memory/request"], 1.0, "integral"),
    ("memory_max_byte_seconds", MEMORY_MAX, 1.0, "integral"),
    ("storage_byte_seconds", METRICS["filesystem/usage"], 1.0, "integral"),
    ("container_seconds", METRICS["coverage/charged_seconds"], 1.0, "sum"),
)
PARALLEL_QUESTIONS = 4


class AllocationError(ValueError):
    pass


@dataclass
class Allocation:
    """One group's resource-seconds over ``window_seconds`` (every basis; GPUs by model)."""

    window_seconds: float
    cpu_usage_core_seconds: float = 0.0
    cpu_request_core_seconds: float = 0.0
    cpu_max_core_seconds: float = 0.0
    memory_usage_byte_seconds: float = 0.0
    memory_request_byte_seconds: float = 0.0
    memory_max_byte_seconds: float = 0.0
    storage_byte_seconds: float = 0.0
    container_seconds: float = 0.0
    gpu_request_seconds: dict = field(default_factory=dict)  # {model: GPU-seconds requested}
    gpu_used_seconds: dict = field(default_factory=dict)  # {model: GPU-seconds of utilisation}

    def cpu_core_seconds(self, basis=DEFAULT_BASIS):
        return {"usage": self.cpu_usage_core_seconds, "request": self.cpu_request_core_seconds,
                "max": self.cpu_max_core_seconds}[check_basis(basis)]

    def memory_byte_seconds(self, basis=DEFAULT_BASIS):
        return {"usage": self.memory_usage_byte_seconds, "request": self.memory_request_byte_seconds,
                "max": self.memory_max_byte_seconds}[check_basis(basis)]

    def cpu_core_hours(self, basis=DEFAULT_BASIS):
        return self.cpu_core_seconds(basis) / HOUR_SECONDS

    def memory_byte_hours(self, basis=DEFAULT_BASIS):
        return self.memory_byte_seconds(basis) / HOUR_SECONDS

    def memory_gib_hours(self, basis=DEFAULT_BASIS):
        return self.memory_byte_seconds(basis) / HOUR_SECONDS / GIB

    def gpu_hours(self, model=None):
        """GPU-hours requested, of one model or of all."""
        if model is not None:
            return self.gpu_request_seconds.get(model, 0.0) / HOUR_SECONDS
        return sum(self.gpu_request_seconds.values()) / HOUR_SECONDS

    def gpu_used_hours(self):
        return sum(self.gpu_used_seconds.values()) / HOUR_SECONDS

    def storage_gib_hours(self):
        return self.storage_byte_seconds / HOUR_SECONDS / GIB

    @property
    def minutes(self):
        return self.window_seconds / 60.0

    def _average(self, seconds):
        return seconds / self.window_seconds if self.window_seconds else 0.0

    @property
    def cpu_core_request_average(self):
        return self._average(self.cpu_request_core_seconds)

    @property
    def cpu_core_usage_average(self):
        return self._average(self.cpu_usage_core_seconds)

    @property
    def ram_byte_request_average(self):
        return self._average(self.memory_request_byte_seconds)

    @property
    def ram_byte_usage_average(self):
        return self._average(self.memory_usage_byte_seconds)

    @property
    def gpu_count(self):
        """GPUs requested on average over the window."""
        return self._average(sum(self.gpu_request_seconds.values()))

    @property
    def cpu_efficiency(self):
        return _ratio(self.cpu_usage_core_seconds, self.cpu_request_core_seconds)

    @property
    def ram_efficiency(self):
        return _ratio(self.memory_usage_byte_seconds, self.memory_request_byte_seconds)

    @property
    def gpu_efficiency(self):
        """GPU utilisation over GPUs held; None when no exporter reported the group's GPUs."""
        if not self.gpu_used_seconds:
            return None
        return _ratio(sum(self.gpu_used_seconds.values()), sum(self.gpu_request_seconds.values()))

    def add(self, other):
        """Add ``other``'s resource-seconds into this one (same window): tenants from namespaces."""
        for name, *_ in _CONTAINER_READS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.gpu_request_seconds, other.gpu_request_seconds),
                             (self.gpu_used_seconds, other.gpu_used_seconds)):
            for model, seconds in theirs.items():
                mine[model] = mine.get(model, 0.0) + seconds
        return self


@dataclass
class Capacity:
    """A node's allocatable resources × the time its usage samples stand for."""

    seconds: float = 0.0
    cpu_core_seconds: float = 0.0
    memory_byte_seconds: float = 0.0
    gpu_seconds: float = 0.0


def _ratio(used, requested):
    return used / requested if requested else None


def check_basis(basis):
    if basis not in BASES:
        raise AllocationError(f"unknown allocation basis {basis!r} (one of {', '.join(BASES)})")
    return basis


def _group_tags(grouping):
    try:
        return GROUPINGS[grouping]
    except KeyError:
        raise AllocationError(f"unknown grouping {grouping!r} (one of {', '.join(GROUPINGS)})") from None


def allocate(window, grouping="namespace", selection=None, store=None, use_rollup=True, now=None):
    """``{group key: Allocation}`` of every group with container samples in ``window``."""
    group_tags = _group_tags(grouping)
    selection = selection if selection is not None else Selection()
    if selection.empty:
        return {}
    store = store or get_store()
    now = now or datetime.now(UTC)
    if grouping == "controller":
        return allocate_controllers(window, selection, store, use_rollup, now)

    def ask(metric, tags, chosen=selection, over=window):
        return engine.aggregate(metric, over, tags, chosen, store=store, use_rollup=use_rollup, now=now)

    def ask_container():
        # One question for the eight container gauges: one plan, one statement per piece.
        metrics = [metric for _, metric, _, _ in _CONTAINER_READS]
        return engine.aggregate_many(metrics, window, group_tags, selection, store=store, use_rollup=use_rollup,
                                     now=now)

    with ThreadPoolExecutor(PARALLEL_QUESTIONS) as pool:
        container = pool.submit(ask_container)
        gpu_namespaces = pool.submit(ask, METRICS["gpu/request"], ("namespace",))
        result = {}
        for (name, _, factor, column), answer in zip(_CONTAINER_READS, container.result(), strict=True):
            for key, aggregate in answer.items():
                value = getattr(aggregate, column) or 0.0
                allocation = result.setdefault(key, Allocation(window.seconds))
                setattr(allocation, name, value * factor)
        holders = tuple(sorted(key[0] for key, a in gpu_namespaces.result().items() if (a.integral or 0) > 0))
        if not holders:
            return result
        # GPUs are shared out per pod: past the pod detail, per controller from its tier (billing's months).
        spans, pieces = controllers.past_detail(window, store, now) if grouping == "namespace" and use_rollup \
            else ([], [window])
        for piece in pieces:
            _add_gpus(result, grouping, window, partial(ask, over=piece), Selection(namespaces=holders), pool)
        if spans:
            _tier_gpus(result, window, spans, Selection(namespaces=holders), store, lambda key: key[:1])
    return result


def _add_gpus(result, grouping, window, ask, holders, pool):
    """GPU-seconds requested and used, by model, into ``result``'s groups."""
    requested = pool.submit(ask, METRICS["gpu/request"], ("namespace", "pod_name", "node_name"), holders)
    used = pool.submit(ask, METRICS["gpu/utilization"], ("namespace", "pod_name", "model_name"), holders)
    on_nodes = pool.submit(ask, METRICS["gpu/utilization"], ("node_name", "model_name"), Selection())
    pod_models, node_models, pod_node = {}, {}, {}
    for (namespace, pod, model), a in used.result().items():
        if model:
            pod_models.setdefault((namespace, pod), {})[model] = a.samples or 1
    for (node, model), a in on_nodes.result().items():
        if node and model:
            node_models.setdefault(node, {})[model] = a.samples or 1
    for (namespace, pod, node), a in requested.result().items():
        seconds = a.integral or 0.0
        if seconds <= 0:
            continue
        pod_node.setdefault((namespace, pod), node)
        models = pod_models.get((namespace, pod)) or node_models.get(node) or {UNKNOWN_MODEL: 1}
        weight = sum(models.values())
        allocation = result.setdefault(_key(grouping, namespace, pod, node), Allocation(window.seconds))
        for model, share in models.items():
            allocation.gpu_request_seconds[model] = allocation.gpu_request_seconds.get(model, 0.0) + (
                seconds * share / weight)
    for (namespace, pod, model), a in used.result().items():
        if not model or (namespace, pod) not in pod_node:
            continue
        allocation = result.setdefault(_key(grouping, namespace, pod, pod_node[(namespace, pod)]),
                                       Allocation(window.seconds))
        allocation.gpu_used_seconds[model] = allocation.gpu_used_seconds.get(model, 0.0) + (a.integral or 0.0) / 100
    return result


def allocate_controllers(window, selection, store, use_rollup=True, now=None, tier=True):
    """``{(namespace, controllerKind, controller): Allocation}``: the controller tier where it is
    whole, pod detail mapped by ``metrics.owners.pod_index`` elsewhere (``metrics.controllers``;
    ``tier`` False, or ``use_rollup`` False: pod detail alone, the reference answer)."""
    now = now or datetime.now(UTC)
    spans, pieces = controllers.plan(window, store, now) if tier and use_rollup else ([], [window])
    result = {}
    owners = pod_index(window, selection, store=store) if pieces else {}
    for piece in pieces:
        for (namespace, pod), allocation in allocate(piece, "pod", selection, store, use_rollup, now).items():
            owner = owners.get((namespace, pod)) or {}
            key = (namespace, owner.get("controllerKind", ""), owner.get("controller", ""))
            result.setdefault(key, Allocation(window.seconds)).add(allocation)
    if not spans:
        return result
    metrics = [metric for _, metric, _, _ in _CONTAINER_READS] + [METRICS["gpu/request"]]
    answers = controllers.tier_aggregates(metrics, window, spans, selection, store)
    for (name, _, factor, column), answer in zip(_CONTAINER_READS, answers, strict=False):
        for key, (integral, total, _) in answer.items():
            allocation = result.setdefault(key, Allocation(window.seconds))
            value = integral if column == "integral" else total
            setattr(allocation, name, getattr(allocation, name) + value * factor)
    requested = {key: integral for key, (integral, _, _) in answers[-1].items() if integral > 0}
    _share_gpus(result, window, spans, requested, store, lambda key: key)
    return result


def _tier_gpus(result, window, spans, holders, store, key_of):
    """GPU-seconds requested and used over the controller tier's ``spans``, into ``result``'s
    groups (``key_of``: a controller's key → its group's)."""
    [answer] = controllers.tier_aggregates([METRICS["gpu/request"]], window, spans, holders, store)
    requested = {key: integral for key, (integral, _, _) in answer.items() if integral > 0}
    _share_gpus(result, window, spans, requested, store, key_of)


def _share_gpus(result, window, spans, requested, store, key_of):
    """Each controller's requested GPU-seconds shared by its own models' sample counts (its tier
    keeps the exporters' model names), else ``UNKNOWN_MODEL``; utilisation by model."""
    if not requested:
        return
    holders = Selection(namespaces=tuple(sorted({key[0] for key in requested})))
    [used] = controllers.tier_aggregates([METRICS["gpu/utilization"]], window, spans, holders, store,
                                         extra=("model_name",))
    models = {}
    for (*key, model), (integral, _, samples) in used.items():
        if model and tuple(key) in requested:
            models.setdefault(tuple(key), {})[model] = (samples or 1, integral)
    for key, seconds in requested.items():
        allocation = result.setdefault(key_of(key), Allocation(window.seconds))
        found = models.get(key) or {UNKNOWN_MODEL: (1, 0.0)}
        weight = sum(share for share, _ in found.values())
        for model, (share, utilisation) in found.items():
            allocation.gpu_request_seconds[model] = allocation.gpu_request_seconds.get(model, 0.0) + (
                seconds * share / weight)
            if model != UNKNOWN_MODEL:
                allocation.gpu_used_seconds[model] = allocation.gpu_used_seconds.get(model, 0.0) + utilisation / 100


def _key(grouping, namespace, pod, node):
    return {"namespace": (namespace,), "pod": (namespace, pod), "node": (node,),
            "namespace_node": (namespace, node)}[grouping]


def tenant_allocations(allocations, owners, unowned="__unallocated__"):
    """Per-namespace ``allocations`` summed per owner: ``owners`` maps namespace → tenant key;
    namespaces nobody owns go to ``unowned``."""
    out = {}
    for key, allocation in allocations.items():
        owner = owners.get(key[0], unowned)
        out.setdefault(owner, Allocation(allocation.window_seconds)).add(allocation)
    return out


# --- node capacity, for idle ---

_NODE_FIELDS = (("cpu_core_seconds", "allocatable_millicpu_cores", 1e-3),
                ("memory_byte_seconds", "allocatable_memory_bytes", 1.0),
                ("gpu_seconds", "allocatable_gpu", 1.0))


def _capacity_statement(policy, key, params, piece):
    m = NODE
    q = quote_identifier
    hourly = policy != RAW_POLICY  # the hourly rollup and the node tier keep <field>_max
    columns = [f"sum({field_identifier(m, 'interval_seconds')}) AS {q('t')}"]
    for n, (_, name, _) in enumerate(_NODE_FIELDS):
        columns.append(f"max({field_identifier(m, name + '_max' if hourly else name)}) AS {q(f'a{n}')}")
    params[f"b{key}"], params[f"e{key}"] = to_ns(piece.begin), to_ns(piece.end)
    return (f"SELECT {', '.join(columns)} FROM {source_identifier(m, policy)} "  # noqa: S608  (whitelisted identifiers; values are $params)
            f"WHERE time >= $b{key} AND time < $e{key} GROUP BY time(1d), {tag_identifier(m, 'node_name')} fill(none)")


def node_capacity(window, store=None, use_rollup=True, now=None, fallback=None):
    """``{node: Capacity}``: per UTC day, the node's largest allocatable × its observed seconds.

    The observed seconds are the ``interval_seconds`` of the node's usage samples (whole samples:
    at most one sample period per node at each edge of the window). Allocatable comes from the
    inventory's points (kept in the hourly rollup as ``<field>_max``); a day whose rollup predates
    that (or has no inventory point) takes ``fallback`` (``{node: {allocatable_millicpu, ...}}``,
    the last inventory), else counts no capacity.
    """
    store = store or get_store()
    now = now or datetime.now(UTC)
    metric = METRICS["cpu/node_allocatable"]
    # Whole days older than the pod detail come from the node tier (a statement of an old month).
    tier = controllers.node_tier_days(window, now) if use_rollup else None
    pieces = [(NODE_DAILY_POLICY, tier)] if tier is not None else []
    for part in controllers.pod_pieces(window, [tier] if tier is not None else []):
        part_pieces = [(RAW_POLICY, part)]
        if use_rollup:
            settled = engine.settled_until(now)
            whole, _ = part.split(settled)
            if whole is not None:
                watermark = engine.rollup_watermark(store, metric, whole)
                late = engine.late_hours(store) if watermark else ()
                part_pieces = planner.pieces(part, settled, watermark, late)
        pieces += part_pieces
    params, statements = {}, []
    for key, (policy, piece) in enumerate(pieces):
        policy = policy if policy in (RAW_POLICY, NODE_DAILY_POLICY) else HOURLY_POLICY
        statements.append(_capacity_statement(policy, key, params, piece))
    results = store.query_many(statements, params=params, epoch="ns")
    days = {}
    for series_list in results:
        for series in series_list:
            node = (series.get("tags") or {}).get("node_name", "")
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                day = days.setdefault((node, from_ns(row["time"])), [0.0, None, None, None])
                day[0] += row["t"] or 0.0
                for n in range(len(_NODE_FIELDS)):
                    value = row[f"a{n}"]
                    if value is not None:
                        day[n + 1] = value if day[n + 1] is None else max(day[n + 1], value)
    fallback = fallback or {}
    out = {}
    for (node, _), (seconds, *allocatable) in days.items():
        capacity = out.setdefault(node, Capacity())
        capacity.seconds += seconds
        known = fallback.get(node) or {}
        for (attr, name, factor), value in zip(_NODE_FIELDS, allocatable, strict=True):
            if value is None:
                value = known.get(name.replace("_cores", "").replace("_bytes", ""))
            setattr(capacity, attr, getattr(capacity, attr) + (value or 0.0) * factor * seconds)
    return out
