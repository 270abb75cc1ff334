"""Computing, issuing and correcting statements (DESIGN §12; the models are in ``statementmodels``).

``draft(tenant, start, end)`` computes the statement of ``tenant`` (None: the operator's) over
``[start, end)`` and stores it as the draft of that period, replacing the previous draft's lines;
``preview`` computes the same statement without storing anything (the portal's current month);
``issue(statement, user)`` recomputes a draft one last time and freezes it (number, checksum, who
and when); ``correct(statement, user)`` drafts a new statement that references an issued one.

How a statement is computed:

1. ``billing.pricing.price_periods`` cuts the period where a price list starts or ends; a part with
   no list in force is an error (``StatementError``), never a silent zero.
2. For each price period, ``metrics.allocation.allocate`` gives every namespace's resource-seconds
   under each basis; the basis is the price list's, else the tenant's.
3. One line per namespace × resource (× GPU model) × price period (× node-label rule when the list
   has rules: quantities per namespace and node, the node's labels from the last inventory):
   quantity (core-hours, GiB-hours, GPU-hours, GiB-months) rounded to 6 places, average request
   and usage over the period, efficiency (usage / request), rate and cost = quantity × rate
   rounded half-even to the cent. The total is the sum of the rounded lines.
4. Idle (``BILLING_IDLE``): node capacity (allocatable × observed time) minus what every namespace
   was allocated, per resource and node pool (``BILLING_NODE_POOL_LABEL``; ``cluster`` for nodes
   without it). ``keep``: the operator's statement shows ``__idle__`` lines at the default list's
   rates. ``share``: each tenant's statement carries a share of each resource's idle quantity by
   the weight of its allocated cost of that resource among all tenants.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import NamespaceOwnership, Tenant
from billing.pricing import Rates, cost, gib_months, price_periods, quantity, total
from billing.statementmodels import IDLE, UNALLOCATED, ImmutableStatement, Statement, StatementLine
from kubemon.cluster import inventory_nodes
from kubemon.redis import get_redis
from kubemon.timeseries.schema import GIB
from metrics.allocation import allocate, node_capacity
from metrics.selection import Selection
from metrics.window import Window

log = logging.getLogger(__name__)
UNITS = {"cpu": "core-hours", "memory": "GiB-hours", "gpu": "GPU-hours", "storage": "GiB-months"}
ZERO = Decimal(0)


class StatementError(ValueError):
    pass


@dataclass
class Line:
    tenant: str
    namespace: str
    resource: str
    gpu_model: str
    node_label: str
    period_start: datetime
    period_end: datetime
    quantity: Decimal
    request_average: Decimal | None
    usage_average: Decimal | None
    efficiency: Decimal | None
    rate: Decimal
    cost: Decimal
    version: object  # PriceListVersion

    @property
    def unit(self):
        return UNITS[self.resource]


_MONTH_RE = re.compile(r"(\d{4})-(\d{2})\Z", re.ASCII)  # ASCII digits only; \Z: no trailing newline


def month_bounds(text):
    """``"2026-11"`` → (2026-11-01, 2026-12-01) in UTC; ``StatementError`` for anything else,
    December 9999 included (its end would be in year 10000, which ``datetime`` cannot hold)."""
    match = _MONTH_RE.match(text) if isinstance(text, str) else None
    try:
        year, month = int(match.group(1)), int(match.group(2))
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    except (ValueError, AttributeError, OverflowError):
        raise StatementError(f"{str(text)[:40]!r} is not a month such as 2026-11") from None
    return start, end


def last_month(now=None):
    now = now or timezone.now()
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = datetime(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1, tzinfo=UTC)
    return previous, first


def _optional(value):
    return None if value is None else quantity(value)


# --- the quantities of one price period ---


class Context:
    """What one computation reads once and shares between tenants: allocations per namespace
    (and per namespace and node), node capacity, the node labels and who owns each namespace."""

    def __init__(self, store=None, use_rollup=True, now=None):
        self.store, self.use_rollup, self.now = store, use_rollup, now
        self._cache = {}
        self.owners = dict(NamespaceOwnership.objects.select_related("tenant").values_list("namespace", "tenant__slug"))
        self._labels = None

    def allocations(self, window, per_node=False):
        key = ("alloc", window, per_node)
        if key not in self._cache:
            self._cache[key] = allocate(window, "namespace_node" if per_node else "namespace", Selection(),
                                        store=self.store, use_rollup=self.use_rollup, now=self.now)
        return self._cache[key]

    def capacity(self, window):
        key = ("capacity", window)
        if key not in self._cache:
            self._cache[key] = node_capacity(window, store=self.store, use_rollup=self.use_rollup, now=self.now,
                                             fallback=self.nodes())
        return self._cache[key]

    def nodes(self):
        if self._labels is None:
            try:
                self._labels = inventory_nodes(get_redis())
            except Exception as exc:  # noqa: BLE001  (Redis down: no node labels, base rates)
                log.warning("node inventory unavailable, pricing without node labels: %s", exc)
                self._labels = {}
        return self._labels

    def labels(self, node):
        return (self.nodes().get(node) or {}).get("labels") or {}


def rule_of(rates, labels):
    """The price list's node-label rule a node with ``labels`` falls under (``label=value``), or ""."""
    for rule in rates.label_rules:
        if labels.get(rule["label"]) == rule["value"]:
            return f"{rule['label']}={rule['value']}"
    return ""


def resource_lines(owner, namespace, allocation, rates, basis, period, version, labels=None, rule=""):
    """The lines of one namespace (or namespace × node rule, or one pod: billing/breakdown.py) in one
    price period."""
    seconds = period.end.timestamp() - period.begin.timestamp()
    lines = []

    def add(resource, amount, rate, request=None, usage=None, efficiency=None, model=""):
        amount = quantity(amount)
        if amount == 0:
            return
        lines.append(Line(owner, namespace, resource, model, rule, period.begin, period.end, amount,
                          _optional(request), _optional(usage), _optional(efficiency), rate, cost(amount, rate),
                          version))

    add("cpu", allocation.cpu_core_hours(basis), rates.cpu(labels), allocation.cpu_request_core_seconds / seconds,
        allocation.cpu_usage_core_seconds / seconds, allocation.cpu_efficiency)
    add("memory", allocation.memory_gib_hours(basis), rates.memory(labels),
        allocation.memory_request_byte_seconds / seconds / GIB, allocation.memory_usage_byte_seconds / seconds / GIB,
        allocation.ram_efficiency)
    for model in sorted(allocation.gpu_request_seconds):
        used = allocation.gpu_used_seconds.get(model)
        requested = allocation.gpu_request_seconds[model]
        add("gpu", requested / 3600.0, rates.gpu(model, labels), requested / seconds,
            None if used is None else used / seconds, None if used is None else used / requested, model=model)
    storage = gib_months(allocation.storage_gib_hours())
    if storage:
        lines.append(Line(owner, namespace, "storage", "", rule, period.begin, period.end, storage, None,
                          _optional(allocation.storage_byte_seconds / seconds / GIB), None, rates.storage(),
                          cost(storage, rates.storage()), version))
    return lines


def _namespace_lines(ctx, namespaces, period, rates, basis, owner_of):
    window = Window(period.begin, period.end)
    lines = []
    if rates.has_label_rules:
        merged = {}
        for (namespace, node), allocation in ctx.allocations(window, per_node=True).items():
            if namespace in namespaces:
                rule = rule_of(rates, ctx.labels(node))
                key = (namespace, rule)
                if key not in merged:
                    merged[key] = (allocation, ctx.labels(node))
                else:
                    merged[key][0].add(allocation)
        for (namespace, rule), (allocation, labels) in sorted(merged.items()):
            lines += resource_lines(owner_of(namespace), namespace, allocation, rates, basis, period,
                                     period.version, labels, rule)
        return lines
    for (namespace,), allocation in sorted(ctx.allocations(window).items()):
        if namespace in namespaces:
            lines += resource_lines(owner_of(namespace), namespace, allocation, rates, basis, period, period.version)
    return lines


# --- idle ---


def _charged_bases(part, default_basis, bases):
    """``[(window, {slug: basis})]``: ``part`` cut where a tenant's price list changes, with the basis
    each tenant was charged under there (its list's, else its own; ``bases``: the tenants' own)."""
    tenants = {t.slug: t for t in Tenant.objects.all()}
    periods = {slug: price_periods(tenant, part.begin, part.end) for slug, tenant in tenants.items()}
    edges = sorted({part.begin, part.end} | {p.begin for ps in periods.values() for p in ps})
    cut = []
    for begin, end in zip(edges, edges[1:], strict=False):
        charged = {}
        for slug, ps in periods.items():
            version = next((p.version for p in ps if p.begin <= begin < p.end), None)
            charged[slug] = (Rates.of(version).basis if version is not None else "") or bases.get(slug, default_basis)
        cut.append((Window(begin, end), charged))
    return cut


def _idle_quantities(ctx, window, basis_of):
    """``{pool: {"cpu": core-hours, "memory": GiB-hours, "gpu": GPU-hours}}`` no namespace was allocated.

    Each namespace takes off what it was charged: ``basis_of(namespace)`` is its owner's basis, so
    a usage-basis tenant leaves the rest of its request in the idle."""
    pool_label = settings.BILLING_NODE_POOL_LABEL
    per_node = ctx.allocations(window, per_node=True)
    used = {}
    for (namespace, node), allocation in per_node.items():
        basis = basis_of(namespace)
        mine = used.setdefault(node, [0.0, 0.0, 0.0])
        mine[0] += allocation.cpu_core_seconds(basis)
        mine[1] += allocation.memory_byte_seconds(basis)
        mine[2] += sum(allocation.gpu_request_seconds.values())
    idle = {}
    for node, capacity in ctx.capacity(window).items():
        pool = ctx.labels(node).get(pool_label) or "cluster"
        cpu, memory, gpu = used.get(node, (0.0, 0.0, 0.0))
        sums = idle.setdefault(pool, {"cpu": 0.0, "memory": 0.0, "gpu": 0.0})
        sums["cpu"] += max(0.0, capacity.cpu_core_seconds - cpu) / 3600.0
        sums["memory"] += max(0.0, capacity.memory_byte_seconds - memory) / 3600.0 / GIB
        sums["gpu"] += max(0.0, capacity.gpu_seconds - gpu) / 3600.0
    return idle


def _idle_rate(rates, resource):
    return {"cpu": rates.cpu(), "memory": rates.memory(), "gpu": rates.gpu()}[resource]


def _idle_lines(ctx, period, bases, share_of=None, owner=""):
    """``__idle__`` lines at the default list's rates: all of it (``share_of`` None, per pool) or
    the share ``share_of[resource]`` (a float weight) of each resource's idle, summed over pools."""
    defaults = [p for p in price_periods(None, period.begin, period.end) if p.version is not None]
    lines = []
    for part in defaults:
        rates = Rates.of(part.version)
        default_basis = rates.basis or "max"
        idle = {}
        for window, charged in _charged_bases(part, default_basis, bases):
            def basis_of(namespace, charged=charged, default=default_basis):
                slug = ctx.owners.get(namespace)
                return charged.get(slug, default) if slug is not None else default

            for pool, quantities in _idle_quantities(ctx, window, basis_of).items():
                sums = idle.setdefault(pool, {"cpu": 0.0, "memory": 0.0, "gpu": 0.0})
                for resource, value in quantities.items():
                    sums[resource] += value
        pools = sorted(idle.items()) if share_of is None else [("", {
            r: sum(q[r] for q in idle.values()) for r in ("cpu", "memory", "gpu")})]
        for pool, quantities in pools:
            for resource in ("cpu", "memory", "gpu"):
                amount = quantities[resource] * (1.0 if share_of is None else share_of.get(resource, 0.0))
                amount = quantity(amount)
                if amount:
                    rate = _idle_rate(rates, resource)
                    lines.append(Line(owner, IDLE, resource, "", f"pool={pool}" if pool else "", part.begin,
                                      part.end, amount, None, None, None, rate, cost(amount, rate), part.version))
    return lines


def _share_weights(ctx, tenant, period, basis_of):
    """Per resource, the tenant's share of the cost every tenant was allocated in ``period``."""
    window = Window(period.begin, period.end)
    rates = Rates.of(period.version)
    mine, everyone = {}, {}
    for (namespace,), allocation in ctx.allocations(window).items():
        slug = ctx.owners.get(namespace)
        if slug is None:
            continue
        basis = basis_of(slug)
        costs = {"cpu": Decimal(repr(allocation.cpu_core_hours(basis))) * rates.cpu(),
                 "memory": Decimal(repr(allocation.memory_gib_hours(basis))) * rates.memory(),
                 "gpu": sum((Decimal(repr(s / 3600.0)) * rates.gpu(m)
                             for m, s in allocation.gpu_request_seconds.items()), ZERO)}
        for resource, value in costs.items():
            everyone[resource] = everyone.get(resource, ZERO) + value
            if slug == tenant.slug:
                mine[resource] = mine.get(resource, ZERO) + value
    return {r: float(mine.get(r, ZERO) / everyone[r]) if everyone.get(r) else 0.0 for r in ("cpu", "memory", "gpu")}


# --- a whole statement ---


def compute(tenant, start, end, ctx=None, idle=None):
    """``(lines, periods)`` of ``tenant``'s statement (None: the operator's) over ``[start, end)``."""
    ctx = ctx or Context()
    idle = idle or settings.BILLING_IDLE
    periods = price_periods(tenant, start, end)
    missing = [p for p in periods if p.version is None]
    if missing:
        gap = missing[0]
        raise StatementError(f"no price list in force for {tenant.slug if tenant else 'the default scope'} "
                             f"from {gap.begin.isoformat()} to {gap.end.isoformat()}")
    bases = dict(Tenant.objects.values_list("slug", "allocation_basis"))
    lines = []
    for period in periods:
        rates = Rates.of(period.version)
        if tenant is not None:
            basis = rates.basis or tenant.allocation_basis
            lines += _namespace_lines(ctx, tenant.namespaces(), period, rates, basis, lambda _ns: tenant.slug)
            if idle == "share":
                weights = _share_weights(ctx, tenant, period,
                                         lambda slug, r=rates: r.basis or bases.get(slug, "max"))
                lines += _idle_lines(ctx, period, bases, weights, tenant.slug)
            continue
        lines += _operator_lines(ctx, period, rates, bases)
        if idle == "keep":
            lines += _idle_lines(ctx, period, bases)
    return lines, periods


def _operator_lines(ctx, period, rates, bases):
    """Every owned namespace under its tenant's basis; the unowned summed as ``__unallocated__``."""
    window = Window(period.begin, period.end)
    every = ctx.allocations(window)
    owned = {ns for (ns,) in every if ns in ctx.owners}
    lines = []
    for slug in sorted({ctx.owners[ns] for ns in owned}):
        basis = rates.basis or bases.get(slug, "max")
        mine = {ns for ns in owned if ctx.owners[ns] == slug}
        lines += _namespace_lines(ctx, mine, period, rates, basis, lambda _ns, s=slug: s)
    unowned = [allocation for (ns,), allocation in every.items() if ns not in ctx.owners]
    if unowned:
        merged = unowned[0].__class__(window.seconds)
        for allocation in unowned:
            merged.add(allocation)
        lines += resource_lines(UNALLOCATED, UNALLOCATED, merged, rates, rates.basis or "max", period, period.version)
    return lines


def checksum(tenant, start, end, idle, lines):
    """SHA-256 of everything a statement's amounts follow from: scope, period, idle rule, and each
    line's identity, quantity, rate and price list version."""
    doc = {"tenant": tenant.slug if tenant else None, "start": start.isoformat(), "end": end.isoformat(),
           "idle": idle,
           "lines": [[x.tenant, x.namespace, x.resource, x.gpu_model, x.node_label, x.period_start.isoformat(),
                      x.period_end.isoformat(), str(x.quantity), str(x.rate), x.version.pk, x.version.number]
                     for x in lines]}
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _versions_text(lines, periods):
    versions = {p.version.pk: p.version for p in periods} | {x.version.pk: x.version for x in lines}
    return ", ".join(f"{v.content['name']} v{v.number}" for _, v in sorted(versions.items()))


def _fill(statement, lines, periods, idle):
    """Set ``statement``'s computed fields from ``lines`` and return its ``StatementLine`` rows (unsaved)."""
    currencies = {x.version.content["currency"] for x in lines} | {p.version.content["currency"] for p in periods}
    if len(currencies) > 1:
        raise StatementError(f"the price lists of this period use several currencies ({', '.join(sorted(currencies))})")
    rows = [
        StatementLine(statement=statement, position=n, tenant=x.tenant, namespace=x.namespace, resource=x.resource,
                      gpu_model=x.gpu_model, node_label=x.node_label, period_start=x.period_start,
                      period_end=x.period_end, unit=x.unit, quantity=x.quantity, request_average=x.request_average,
                      usage_average=x.usage_average, efficiency=x.efficiency, rate=x.rate, cost=x.cost,
                      price_list_version=x.version)
        for n, x in enumerate(lines, 1)
    ]
    statement.currency = currencies.pop()
    statement.basis = _basis_text(statement, periods)
    statement.idle = idle
    statement.total = total(x.cost for x in lines)
    statement.checksum = checksum(statement.tenant, statement.period_start, statement.period_end, idle, lines)
    statement.price_lists = _versions_text(lines, periods)
    statement.computed_at = timezone.now()
    return rows


def _store(statement, lines, periods, idle):
    if statement.is_issued:
        raise ImmutableStatement()
    rows = _fill(statement, lines, periods, idle)
    statement.lines.all().delete()
    StatementLine.objects.bulk_create(rows)
    statement.save()
    return statement


def _basis_text(statement, periods):
    bases = {Rates.of(p.version).basis or (statement.tenant.allocation_basis if statement.tenant else "per tenant")
             for p in periods}
    return ",".join(sorted(bases))[:10]


def preview(tenant, start, end, ctx=None, idle=None):
    """The statement ``draft`` would store, computed now and stored nowhere (a page's GET shows it).

    An unsaved ``Statement`` (no pk, state draft) whose unsaved lines are ``preview_lines``:
    ``billing.exports`` renders it like a stored one, and nothing in the database changes."""
    if start >= end:
        raise StatementError("a statement's period must end after it begins")
    idle = idle or settings.BILLING_IDLE
    lines, periods = compute(tenant, start, end, ctx, idle)
    statement = Statement(tenant=tenant, period_start=start, period_end=end)
    statement.preview_lines = _fill(statement, lines, periods, idle)
    return statement


@transaction.atomic
def draft(tenant, start, end, ctx=None, idle=None, corrects=None):
    """The draft statement of ``tenant`` over ``[start, end)``, computed now (created or refreshed)."""
    if start >= end:
        raise StatementError("a statement's period must end after it begins")
    idle = idle or settings.BILLING_IDLE
    lines, periods = compute(tenant, start, end, ctx, idle)
    statement = (Statement.objects.select_for_update()
                 .filter(tenant=tenant, period_start=start, period_end=end, state=Statement.State.DRAFT,
                         corrects=corrects).order_by("id").first())
    if statement is None:
        statement = Statement(tenant=tenant, period_start=start, period_end=end, corrects=corrects)
        statement.save()
    return _store(statement, lines, periods, idle)


def _number(statement):
    scope = statement.tenant.slug if statement.tenant_id else "operator"
    stem = f"{statement.period_start:%Y-%m-%d}/{scope}" if statement.period_start.day != 1 or (
        month_bounds(f"{statement.period_start:%Y-%m}")[1] != statement.period_end) else (
        f"{statement.period_start:%Y-%m}/{scope}")
    taken = Statement.objects.filter(number__startswith=stem + "/").count()
    return f"{stem}/{taken + 1}"


@transaction.atomic
def issue(statement, user=None, ctx=None):
    """Recompute a draft one last time and freeze it: numbered, checksummed, who and when."""
    statement = Statement.objects.select_for_update().get(pk=statement.pk)
    if statement.is_issued:
        raise ImmutableStatement("this statement is already issued")
    lines, periods = compute(statement.tenant, statement.period_start, statement.period_end, ctx, statement.idle
                             or None)
    _store(statement, lines, periods, statement.idle or settings.BILLING_IDLE)
    statement.number = _number(statement)
    statement.state = Statement.State.ISSUED
    statement.issued_at = timezone.now()
    statement.issued_by = user if user is not None and user.is_authenticated else None
    statement.save()
    return statement


def correct(statement, ctx=None):
    """A new draft over the same period and scope that references the issued ``statement``."""
    if not statement.is_issued:
        raise StatementError("only an issued statement is corrected; a draft is recomputed instead")
    return draft(statement.tenant, statement.period_start, statement.period_end, ctx, statement.idle,
                 corrects=statement)
