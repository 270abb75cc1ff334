"""Pricing a window's allocations for the allocation API: the price lists in force, split at their changes.

``price_schedule(window, tenant_ids)`` cuts ``window`` at every change of the price lists that
apply to those tenants and to namespaces nobody owns (the default list), and gives, per piece, a
``Priced`` that turns a ``metrics.allocation.Allocation`` into a ``Row``:
resource-seconds under the tenant's basis and costs in ``Decimal`` (quantity × rate, not
rounded: a statement rounds each of its lines, the API reports floats as OpenCost does).
"""

import logging
from dataclasses import dataclass, field
from decimal import Decimal

from billing import pricing
from billing.models import Tenant
from billing.pricelists import HOURS_PER_MONTH
from kubemon.cluster import inventory_nodes
from kubemon.redis import get_redis
from kubemon.timeseries.schema import GIB
from metrics.allocation import DEFAULT_BASIS
from metrics.window import Window

log = logging.getLogger(__name__)

ZERO = Decimal(0)
HOUR = Decimal(3600)
DECIMAL_GIB = Decimal(GIB)


def decimal(value):
    """A float quantity as a Decimal, exactly as printed (no binary noise from ``Decimal(float)``)."""
    return Decimal(repr(float(value)))


RESOURCES = ("cpu", "ram", "gpu", "pv")


@dataclass
class Row:
    """One allocation being summed: resource-seconds (under each member's basis) and costs."""

    properties: dict | None = None
    cpu_seconds: float = 0.0
    cpu_request_seconds: float = 0.0
    cpu_usage_seconds: float = 0.0
    ram_seconds: float = 0.0
    ram_request_seconds: float = 0.0
    ram_usage_seconds: float = 0.0
    gpu_seconds: float = 0.0
    gpu_used_seconds: float = 0.0
    pv_seconds: float = 0.0
    costs: dict = field(default_factory=lambda: dict.fromkeys(RESOURCES, ZERO))

    def add(self, other):
        for name in ("cpu_seconds", "cpu_request_seconds", "cpu_usage_seconds", "ram_seconds",
                     "ram_request_seconds", "ram_usage_seconds", "gpu_seconds", "gpu_used_seconds", "pv_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for resource in RESOURCES:
            self.costs[resource] += other.costs[resource]
        self.properties = _common(self.properties, other.properties)

    @property
    def empty(self):
        """Nothing used, requested or charged: a group with samples only at the window's edge."""
        return not any((self.cpu_seconds, self.cpu_request_seconds, self.cpu_usage_seconds, self.ram_seconds,
                        self.ram_request_seconds, self.ram_usage_seconds, self.gpu_seconds, self.pv_seconds,
                        self.total_cost))

    @property
    def total_cost(self):
        return sum(self.costs.values(), ZERO)


def _common(mine, theirs):
    """The properties two rows share (OpenCost keeps only the values common to an aggregate)."""
    if mine is None:
        return dict(theirs or {})
    return {key: value for key, value in mine.items() if theirs.get(key) == value}


_NO_LIST = pricing.Rates(currency="", basis="", cpu_core_hour=ZERO, memory_gib_hour=ZERO, gpu_hour=ZERO,
                         storage_gib_month=ZERO, gpu_models={}, label_rules=())


@dataclass(frozen=True)
class Terms:
    """What one tenant (or the default list, for namespaces nobody owns) is charged over a piece."""

    rates: pricing.Rates
    basis: str
    version: object = None  # the PriceListVersion, None where no list is in force


@dataclass(frozen=True)
class Priced:
    """The terms in force over one piece of the window, per tenant id (``None``: the default list)."""

    terms: dict
    node_labels: dict

    def terms_for(self, tenant_id):
        return self.terms.get(tenant_id) or self.terms[None]

    def row(self, allocation, tenant_id, node=""):
        terms = self.terms_for(tenant_id)
        rates, basis = terms.rates, terms.basis
        labels = self.node_labels.get(node) or {}
        row = Row()
        row.cpu_seconds = allocation.cpu_core_seconds(basis)
        row.cpu_request_seconds = allocation.cpu_request_core_seconds
        row.cpu_usage_seconds = allocation.cpu_usage_core_seconds
        row.ram_seconds = allocation.memory_byte_seconds(basis)
        row.ram_request_seconds = allocation.memory_request_byte_seconds
        row.ram_usage_seconds = allocation.memory_usage_byte_seconds
        row.gpu_seconds = sum(allocation.gpu_request_seconds.values())
        row.gpu_used_seconds = sum(allocation.gpu_used_seconds.values())
        row.pv_seconds = allocation.storage_byte_seconds
        row.costs["cpu"] = decimal(row.cpu_seconds) / HOUR * rates.cpu(labels)
        row.costs["ram"] = decimal(row.ram_seconds) / HOUR / DECIMAL_GIB * rates.memory(labels)
        row.costs["gpu"] = sum((decimal(seconds) / HOUR * rates.gpu(model, labels)
                                for model, seconds in allocation.gpu_request_seconds.items()), ZERO)
        row.costs["pv"] = decimal(row.pv_seconds) / HOUR / DECIMAL_GIB / HOURS_PER_MONTH * rates.storage()
        return row


@dataclass(frozen=True)
class Schedule:
    periods: list  # [(Window, Priced)], covering the window in order
    by_node: bool = False  # some list in force prices by node label: group by node to price

    def within(self, window):
        """The same terms over ``window`` only (a step of the window this schedule was made for)."""
        pieces = []
        for period, priced in self.periods:
            begin, end = max(period.begin, window.begin), min(period.end, window.end)
            if begin < end:
                pieces.append((Window(begin, end), priced))
        return Schedule(periods=pieces, by_node=self.by_node)

    def idle_costs(self, idle, window):
        """Idle capacity priced with each piece's default list, pro rata of the piece's time.

        Node-label rules are not applied to idle: it is one row for the cluster.
        """
        costs = dict.fromkeys(RESOURCES, ZERO)
        for period, priced in self.periods:
            share = decimal(period.seconds / window.seconds) if window.seconds else ZERO
            rates = priced.terms_for(None).rates
            costs["cpu"] += decimal(idle.cpu_seconds) / HOUR * rates.cpu() * share
            costs["ram"] += decimal(idle.ram_seconds) / HOUR / DECIMAL_GIB * rates.memory() * share
            costs["gpu"] += decimal(idle.gpu_seconds) / HOUR * rates.gpu() * share
        return costs


def _terms(period, tenant_basis):
    if period.version is None:
        return Terms(_NO_LIST, tenant_basis or DEFAULT_BASIS)
    rates = pricing.Rates.of(period.version)
    # A list's own basis wins; empty means the tenant's (max(request, usage) for the unowned).
    return Terms(rates, rates.basis or tenant_basis or DEFAULT_BASIS, period.version)


def node_labels():
    """``{node: {label: value}}`` as the last inventory saw them (labels have no history)."""
    try:
        return {name: (details or {}).get("labels") or {} for name, details in inventory_nodes(get_redis()).items()}
    except Exception as exc:  # noqa: BLE001  (Redis down: price without node-label rules rather than fail)
        log.warning("node labels unavailable, pricing without node-label rules: %s", exc)
        return {}


def price_schedule(window, tenant_ids):
    """The pieces of ``window`` between price-list changes, with every tenant's terms in each."""
    tenants = Tenant.objects.in_bulk([t for t in tenant_ids if t is not None])
    scopes = {None: (None, "")}
    scopes.update({pk: (tenant, tenant.allocation_basis) for pk, tenant in tenants.items()})
    periods = {pk: pricing.price_periods(tenant, window.begin, window.end) for pk, (tenant, _) in scopes.items()}
    cuts = sorted({window.begin, window.end} | {p.begin for ps in periods.values() for p in ps})
    labels = None
    pieces, by_node = [], False
    for begin, end in zip(cuts, cuts[1:], strict=False):
        terms = {}
        for pk, (_, basis) in scopes.items():
            period = next(p for p in periods[pk] if p.begin <= begin < p.end)
            terms[pk] = _terms(period, basis)
        if any(t.rates.has_label_rules for t in terms.values()):
            by_node = True
            labels = node_labels() if labels is None else labels
        pieces.append((Window(begin, end), Priced(terms, labels or {})))
    return Schedule(periods=pieces, by_node=by_node)
