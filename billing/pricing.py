"""Which price list is in force when, which rate applies, and how money is rounded (DESIGN §12).

- ``price_periods(tenant, start, end)``: ``[PricePeriod(begin, end, version), ...]`` covering
  ``[start, end)`` in order, split wherever a list starts or ends: the tenant's own lists where
  they are in force, the default lists elsewhere, ``version`` None where no list is.
- ``Rates.of(version)``: the rates of one frozen ``PriceListVersion`` as ``Decimal``s;
  ``rates.cpu(labels)``, ``.memory(labels)``, ``.gpu(model, labels)``, ``.storage()``.
- ``cost(quantity, rate)``: quantity × rate rounded once, half-even, to the cent; totals are sums
  of rounded lines (``total``).
- ``quantity(value)``: a float resource quantity as the ``Decimal`` a statement line shows
  (``QUANTITY_PLACES`` decimals): the cost is computed from that shown value, so anyone can
  recompute a line from its own numbers.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import Q

from billing.pricelists import HOURS_PER_MONTH, LABEL_RATE_KEYS, PriceList

CENT = Decimal("0.01")
QUANTITY_PLACES = Decimal("0.000001")


class PricingError(ValueError):
    pass


@dataclass(frozen=True)
class PricePeriod:
    begin: datetime
    end: datetime
    version: object  # a PriceListVersion, or None: no list in force


def _lists(tenant_id, start, end):
    return list(
        PriceList.objects.filter(tenant=tenant_id, effective_start__lt=end)
        .filter(Q(effective_end__isnull=True) | Q(effective_end__gt=start))
        .order_by("effective_start")
    )


def _in_force(lists, moment):
    for price_list in lists:
        end = price_list.effective_end
        if price_list.effective_start <= moment and (end is None or moment < end):
            return price_list
    return None


def price_periods(tenant, start, end):
    """The price lists in force over ``[start, end)`` for ``tenant`` (None: only the default lists)."""
    if start >= end:
        raise PricingError("the period must end after it begins")
    own = _lists(tenant.pk, start, end) if tenant is not None else []
    default = _lists(None, start, end)
    cuts = {start, end}
    for price_list in own + default:
        for moment in (price_list.effective_start, price_list.effective_end):
            if moment is not None and start < moment < end:
                cuts.add(moment)
    edges = sorted(cuts)
    periods = []
    for begin, stop in zip(edges, edges[1:], strict=False):
        chosen = _in_force(own, begin) or _in_force(default, begin)
        version = chosen.current_version if chosen is not None else None
        if periods and periods[-1].version == version:
            periods[-1] = PricePeriod(periods[-1].begin, stop, version)
        else:
            periods.append(PricePeriod(begin, stop, version))
    return periods


@dataclass(frozen=True)
class Rates:
    """One version's rates as ``Decimal``s, with the node-label rules and GPU models applied."""

    currency: str
    basis: str
    cpu_core_hour: Decimal
    memory_gib_hour: Decimal
    gpu_hour: Decimal
    storage_gib_month: Decimal
    gpu_models: dict
    label_rules: tuple

    @classmethod
    def of(cls, version):
        c = version.content
        rules = tuple({**rule, **{k: Decimal(rule[k]) for k in LABEL_RATE_KEYS if k in rule}}
                      for rule in c.get("node_label_rates", ()))
        return cls(currency=c["currency"], basis=c.get("allocation_basis") or "",
                   cpu_core_hour=Decimal(c["cpu_core_hour"]), memory_gib_hour=Decimal(c["memory_gib_hour"]),
                   gpu_hour=Decimal(c["gpu_hour"]), storage_gib_month=Decimal(c["storage_gib_month"]),
                   gpu_models={m: Decimal(r) for m, r in c.get("gpu_model_rates", {}).items()}, label_rules=rules)

    def _label_rate(self, key, labels):
        for rule in self.label_rules:
            if key in rule and (labels or {}).get(rule["label"]) == rule["value"]:
                return rule[key]
        return None

    def cpu(self, labels=None):
        rate = self._label_rate("cpu_core_hour", labels)
        return self.cpu_core_hour if rate is None else rate

    def memory(self, labels=None):
        rate = self._label_rate("memory_gib_hour", labels)
        return self.memory_gib_hour if rate is None else rate

    def gpu(self, model=None, labels=None):
        """A model's own rate first, then a node-label rule's, then the default GPU-hour."""
        if model in self.gpu_models:
            return self.gpu_models[model]
        rate = self._label_rate("gpu_hour", labels)
        return self.gpu_hour if rate is None else rate

    def storage(self):
        return self.storage_gib_month

    @property
    def has_label_rules(self):
        return bool(self.label_rules)


def quantity(value):
    return Decimal(repr(float(value))).quantize(QUANTITY_PLACES, rounding=ROUND_HALF_EVEN)


def cost(amount, rate):
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)


def total(costs):
    return sum(costs, Decimal("0.00"))


def gib_months(gib_hours):
    """Storage GiB-hours as GiB-months (``HOURS_PER_MONTH`` hours a month)."""
    return quantity(Decimal(repr(float(gib_hours))) / HOURS_PER_MONTH)
