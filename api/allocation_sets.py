"""Allocation sets: ``metrics.allocation``'s quantities per group, named, priced and shaped as OpenCost's.

One set per step window (``build_set``): every group's resource-time comes from
``metrics.allocation.allocate`` at the finest grain the ``aggregate`` needs (namespace,
namespace × node, controller, or pod), is priced with the price list in force for the namespace's tenant
(``api.allocation_costs``), then summed into the rows the ``aggregate`` names, as OpenCost
names them: values joined with ``/``, ``__unallocated__`` for a row without the property (a pod
without a controller, a namespace no tenant owns under ``aggregate=tenant``), ``__idle__`` for
the capacity nobody was charged for.

Quantities follow each tenant's allocation basis (usage, request or max(request, usage), per
sample; namespaces nobody owns use the default price list's basis), so a row's ``cpuCoreHours``
is what its tenants are billed for. Averages are over the set's window (``minutes``), so a pod
that ran half the window at 2 cores averages 1 core; OpenCost divides by the pod's own running
minutes instead. Efficiencies do not depend on that choice.
"""

from dataclasses import dataclass
from decimal import Decimal

from api.allocation_costs import ZERO, Row, price_schedule
from billing.access import AccessScope
from billing.models import NamespaceOwnership
from kubemon.timeseries.schema import GIB
from metrics.allocation import allocate, node_capacity
from metrics.owners import pod_index
from metrics.selection import Selection
from metrics.window import format_time

IDLE = "__idle__"
UNALLOCATED = "__unallocated__"
POD_LEVEL = frozenset({"pod", "controller", "controllerKind"})
# Without ``aggregate`` OpenCost answers one row per container named cluster/node/namespace/pod/container;
# kubemon's finest grain is the pod.
DEFAULT_AGGREGATE = ("cluster", "node", "namespace", "pod")


def base_grouping(aggregate, by_node=False):
    """The ``metrics.allocation`` grouping an ``aggregate`` needs, and whether pods' nodes are needed."""
    names = set(aggregate or DEFAULT_AGGREGATE)
    node = "node" in names or by_node
    if names & POD_LEVEL and ("pod" in names or node):
        return "pod", node
    if names & POD_LEVEL:
        # Per controller: its tier answers where the pod detail is gone (metrics.controllers).
        return "controller", False
    return ("namespace_node" if node else "namespace"), False


@dataclass(frozen=True)
class Context:
    """What a set is computed with: who asks, which namespaces, how rows are named."""

    aggregate: tuple
    selection: Selection
    owners: dict  # namespace → (tenant id, tenant slug)
    cluster: str
    sees_cluster: bool


def base_rows(context, window, schedule, store=None, now=None):
    """``{base key: Row}`` priced per price period, with each row's own properties."""
    schedule = schedule.within(window)
    grouping, need_nodes = base_grouping(context.aggregate, schedule.by_node)
    pods = {}
    if grouping == "pod" and (need_nodes or POD_LEVEL & set(context.aggregate or DEFAULT_AGGREGATE)):
        pods = pod_index(window, context.selection, store=store)
    rows = {}
    for period, priced in schedule.periods:
        allocations = allocate(period, grouping, context.selection, store=store, now=now)
        for key, allocation in allocations.items():
            namespace = key[0] if grouping != "node" else ""
            tenant = context.owners.get(namespace, (None, None))[0]
            node = key[1] if grouping == "namespace_node" else pods.get(key, {}).get("node", "")
            row = priced.row(allocation, tenant, node)
            row.properties = _properties(context, grouping, key, pods)
            existing = rows.get(key)
            if existing is None:
                rows[key] = row
            else:
                existing.add(row)
    return rows


def _properties(context, grouping, key, pods):
    props = {"cluster": context.cluster, "namespace": key[0]}
    owner = context.owners.get(key[0])
    if owner:
        props["tenant"] = owner[1]
    if grouping == "namespace_node":
        props["node"] = key[1]
    elif grouping == "pod":
        props["pod"] = key[1]
        pod = pods.get(key) or {}
        for name in ("node", "controller", "controllerKind"):
            if pod.get(name):
                props[name] = pod[name]
    elif grouping == "controller" and key[2]:
        props["controllerKind"], props["controller"] = key[1], key[2]
    return props


def row_name(aggregate, properties, owners):
    parts = []
    for name in aggregate or DEFAULT_AGGREGATE:
        if name == "tenant":
            owner = owners.get(properties.get("namespace"))
            parts.append(owner[1] if owner else UNALLOCATED)
        elif name == "controller":
            kind, controller = properties.get("controllerKind"), properties.get("controller")
            parts.append(f"{kind}:{controller}" if controller else UNALLOCATED)
        else:
            parts.append(properties.get(name) or UNALLOCATED)
    return "/".join(parts)


def aggregate_rows(context, rows):
    """``{name: Row}``: base rows summed into the rows the ``aggregate`` names."""
    out = {}
    for row in rows.values():
        if row.empty:
            continue
        name = row_name(context.aggregate, row.properties, context.owners)
        if name in out:
            out[name].add(row)
        else:
            summed = Row()
            summed.add(row)
            out[name] = summed
    return out


def idle_row(context, window, rows_everywhere, schedule, store=None, now=None):
    """The capacity of the nodes × time that no namespace was charged for, priced at the default list."""
    capacity = node_capacity(window, store=store, now=now)
    schedule = schedule.within(window)
    cpu = sum(c.cpu_core_seconds for c in capacity.values())
    ram = sum(c.memory_byte_seconds for c in capacity.values())
    gpu = sum(c.gpu_seconds for c in capacity.values())
    allocated = Row()
    for row in rows_everywhere.values():
        allocated.add(row)
    idle = Row(properties={"cluster": context.cluster})
    idle.cpu_seconds = max(cpu - allocated.cpu_seconds, 0.0)
    idle.ram_seconds = max(ram - allocated.ram_seconds, 0.0)
    idle.gpu_seconds = max(gpu - allocated.gpu_seconds, 0.0)
    idle.costs = schedule.idle_costs(idle, window)
    return idle


def share_idle(rows, idle, weights_total):
    """Each row takes a share of each idle cost in proportion to its own cost of that resource.

    ``weights_total`` is the cluster's allocated cost per resource: a tenant's rows take their
    share of the cluster's idle, not all of it.
    """
    for row in rows.values():
        for resource in ("cpu", "ram", "gpu"):
            total = weights_total.get(resource, ZERO)
            if total > 0:
                row.costs[resource] += idle.costs[resource] * row.costs[resource] / total


def _float(value, digits=5):
    """OpenCost rounds every number to 5 decimals and answers null for NaN and infinities."""
    if value is None:
        return None
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return round(number, digits)


def _efficiency(usage, request, cost):
    """OpenCost's rule: usage / request; without a request, 100 % if anything was used and charged."""
    if request > 0:
        return usage / request
    if usage == 0 or cost == 0:
        return 0.0
    return 1.0


def to_json(name, row, window):
    seconds = window.seconds
    hours = seconds / 3600.0
    c = row.costs
    cpu_eff = _efficiency(row.cpu_usage_seconds, row.cpu_request_seconds, c["cpu"])
    ram_eff = _efficiency(row.ram_usage_seconds, row.ram_request_seconds, c["ram"])
    gpu_eff = row.gpu_used_seconds / row.gpu_seconds if row.gpu_seconds else 0.0
    weighted = c["cpu"] + c["ram"]
    total_eff = float((Decimal(repr(cpu_eff)) * c["cpu"] + Decimal(repr(ram_eff)) * c["ram"]) / weighted) \
        if weighted > 0 else 0.0
    start, end = format_time(window.begin), format_time(window.end)
    f = _float
    return {
        "name": name,
        "properties": row.properties or {},
        "window": {"start": start, "end": end},
        "start": start,
        "end": end,
        "minutes": f(seconds / 60.0),
        "cpuCores": f(row.cpu_seconds / seconds),
        "cpuCoreRequestAverage": f(row.cpu_request_seconds / seconds),
        "cpuCoreUsageAverage": f(row.cpu_usage_seconds / seconds),
        "cpuCoreHours": f(row.cpu_seconds / 3600.0),
        "cpuCost": f(c["cpu"]),
        "cpuCostAdjustment": 0.0,
        "cpuEfficiency": f(cpu_eff),
        "gpuCount": f(row.gpu_seconds / seconds),
        "gpuHours": f(row.gpu_seconds / 3600.0),
        "gpuCost": f(c["gpu"]),
        "gpuCostAdjustment": 0.0,
        "gpuEfficiency": f(gpu_eff),
        "networkTransferBytes": 0.0,
        "networkReceiveBytes": 0.0,
        "networkCost": 0.0,
        "networkCostAdjustment": 0.0,
        "loadBalancerCost": 0.0,
        "loadBalancerCostAdjustment": 0.0,
        "pvBytes": f(row.pv_seconds / seconds),
        "pvByteHours": f(row.pv_seconds / 3600.0),
        "pvCost": f(c["pv"]),
        "pvCostAdjustment": 0.0,
        "ramBytes": f(row.ram_seconds / seconds),
        "ramByteRequestAverage": f(row.ram_request_seconds / seconds),
        "ramByteUsageAverage": f(row.ram_usage_seconds / seconds),
        "ramByteHours": f(row.ram_seconds / 3600.0),
        "ramCost": f(c["ram"]),
        "ramCostAdjustment": 0.0,
        "ramEfficiency": f(ram_eff),
        "externalCost": 0.0,
        "sharedCost": 0.0,
        "totalCost": f(row.total_cost),
        "totalEfficiency": f(total_eff),
        # Not OpenCost's: the same quantities in the units price lists use, for reading by eye.
        "ramGiBHours": f(row.ram_seconds / 3600.0 / GIB),
        "hours": f(hours),
    }


def owners_in(scope):
    """``{namespace: (tenant id, tenant slug)}`` of the namespaces ``scope`` sees that a tenant owns."""
    rows = NamespaceOwnership.objects.select_related("tenant")
    if not scope.everything:
        rows = rows.filter(tenant_id__in=scope.tenant_ids)
    return {o.namespace: (o.tenant_id, o.tenant.slug) for o in rows}


def selection_for(scope, namespaces=None):
    """The namespaces a set reads: the scope's, narrowed to ``filterNamespaces`` when given."""
    if namespaces is None:
        return Selection.for_scope(scope)
    return Selection(namespaces=tuple(sorted(n for n in namespaces if scope.allows(n))))


def build_sets(query, scope, cluster, store=None, now=None):
    """``[{name: allocation JSON}, ...]``: one set per step of ``query``, as ``scope`` may see it."""
    owners = owners_in(scope)
    context = Context(aggregate=query.aggregate, selection=selection_for(scope, query.namespaces), owners=owners,
                      cluster=cluster, sees_cluster=scope.sees_cluster)
    everywhere = context
    if (query.include_idle or query.share_idle) and (not scope.everything or query.namespaces is not None):
        # Idle is the whole cluster's capacity less what every namespace was charged: read them all.
        everywhere = Context(aggregate=query.aggregate, selection=Selection(), owners=owners_in(
            AccessScope.all_namespaces()), cluster=cluster, sees_cluster=True)
    # The price lists are read once for the whole window, then cut to each step.
    schedule = price_schedule(query.window, {tenant for tenant, _ in everywhere.owners.values()})
    sets = []
    for step in query.steps:
        rows = base_rows(context, step, schedule, store=store, now=now)
        named = aggregate_rows(context, rows)
        if query.include_idle or query.share_idle:
            all_rows = rows if everywhere is context else base_rows(everywhere, step, schedule, store=store, now=now)
            idle = idle_row(context, step, all_rows, schedule, store=store, now=now)
            if query.share_idle:
                totals = {r: sum((row.costs[r] for row in all_rows.values()), ZERO) for r in ("cpu", "ram", "gpu")}
                share_idle(named, idle, totals)
            elif scope.sees_cluster:
                named[IDLE] = idle
        sets.append({name: to_json(name, row, step) for name, row in sorted(named.items())})
    return sets
