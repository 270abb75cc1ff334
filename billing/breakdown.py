"""What a window cost, tenant → namespace → pod, and per day: the portal's cost views (web/billing*.py).

Priced exactly as statements are (``billing.statements``): the same price periods, bases, rates,
node-label rules and rounding (each line's cost is its quantity × rate rounded half-even to the
cent). So:

- ``namespace_rows(tenant, window)`` are the namespaces of the statement ``draft(tenant, start,
  end)`` would make, and their sum is its total;
- ``tenant_rows(tenants, window)`` are each tenant's statement total over the window (its own
  price lists), plus, for the operator, the ``__unallocated__`` and (unless idle is shared
  among the tenants) ``__idle__`` lines of the operator's statement;
- ``pod_rows(tenant, namespace, window)`` price each pod's allocation (``metrics.allocation``,
  grouping ``pod``) line by line: a namespace's pods may add up to a few cents more or less than
  the namespace, since every line is rounded on its own;
- ``daily_costs(tenant, start, end, statement_lines=...)`` is the statement recomputed for each
  UTC day, priced at the statement's own rates (a chart: the statement is its lines).

Nothing here is stored: a statement is made only by ``billing.statements.draft`` and ``issue``.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from billing.pricing import Rates, cost, price_periods
from billing.statementmodels import IDLE, UNALLOCATED
from billing.statements import Context, StatementError, compute, resource_lines, rule_of
from metrics.allocation import allocate
from metrics.owners import pod_index
from metrics.selection import Selection
from metrics.window import Window

RESOURCES = ("cpu", "memory", "gpu", "storage")
ZERO = Decimal("0.00")
OPERATOR_ROWS = (UNALLOCATED, IDLE)


@dataclass
class CostRow:
    """One tenant, namespace or pod: cost and quantity per resource over the window."""

    key: str
    label: str
    costs: dict = field(default_factory=lambda: dict.fromkeys(RESOURCES, ZERO))
    quantities: dict = field(default_factory=lambda: dict.fromkeys(RESOURCES, Decimal(0)))
    currency: str = ""

    @property
    def total(self):
        return sum(self.costs.values(), ZERO)

    def add(self, line):
        self.costs[line.resource] += line.cost
        self.quantities[line.resource] += line.quantity
        self.currency = self.currency or line.version.content.get("currency", "")


def _rows(lines, key_of, label_of=None):
    rows = {}
    for line in lines:
        key = key_of(line)
        if key not in rows:
            rows[key] = CostRow(key, label_of(key) if label_of else key)
        rows[key].add(line)
    return sorted(rows.values(), key=lambda row: (-row.total, row.key))


def namespace_rows(tenant, window, ctx=None):
    """The namespaces of ``tenant``'s statement over ``window``, dearest first."""
    lines, _ = compute(tenant, window.begin, window.end, ctx or Context())
    return _rows(lines, lambda line: line.namespace)


def tenant_rows(tenants, window, ctx=None, operator=False):
    """``(rows, errors)``: each tenant's total over ``window`` at its own price lists (``errors``:
    ``{slug: message}`` where no list was in force), and with ``operator`` the operator's
    ``__unallocated__`` and ``__idle__`` rows."""
    ctx = ctx or Context()
    rows, errors = [], {}
    for tenant in tenants:
        try:
            lines, _ = compute(tenant, window.begin, window.end, ctx)
        except StatementError as exc:
            errors[tenant.slug] = str(exc)
            continue
        row = CostRow(tenant.slug, tenant.name)
        for line in lines:
            row.add(line)
        rows.append(row)
    if operator:
        try:
            # Under BILLING_IDLE=share the tenants' rows carry the idle already: the operator's
            # statement then has no __idle__ line, so nothing is counted twice.
            lines, _ = compute(None, window.begin, window.end, ctx)
        except StatementError as exc:
            errors["operator"] = str(exc)
        else:
            rows += _rows([x for x in lines if x.namespace in OPERATOR_ROWS], lambda line: line.namespace)
    return sorted(rows, key=lambda row: (-row.total, row.key)), errors


def pod_rows(tenant, namespace, window, ctx=None):
    """The pods of ``namespace`` (owned by ``tenant``) over ``window``, priced per line, dearest first."""
    ctx = ctx or Context()
    periods = price_periods(tenant, window.begin, window.end)
    missing = [p for p in periods if p.version is None]
    if missing:
        raise StatementError(f"no price list in force for {tenant.slug} from {missing[0].begin.isoformat()} "
                             f"to {missing[0].end.isoformat()}")
    selection = Selection.one(namespace)
    lines = []
    for period in periods:
        rates = Rates.of(period.version)
        basis = rates.basis or tenant.allocation_basis
        piece = Window(period.begin, period.end)
        nodes = pod_index(piece, selection, store=ctx.store) if rates.has_label_rules else {}
        allocations = allocate(piece, "pod", selection, store=ctx.store, use_rollup=ctx.use_rollup, now=ctx.now)
        for (ns, pod), allocation in sorted(allocations.items()):
            labels = ctx.labels((nodes.get((ns, pod)) or {}).get("node", "")) if nodes else None
            rule = rule_of(rates, labels) if labels else ""
            # The pod's name goes where a line has its namespace: the rows are keyed by it.
            lines += resource_lines(tenant.slug, pod, allocation, rates, basis, period, period.version, labels,
                                     rule)
    return _rows(lines, lambda line: line.namespace)


def utc_days(start, end):
    """The UTC days ``[day, next day)`` that ``[start, end)`` touches, clipped to it."""
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        following = day + timedelta(days=1)
        yield max(day, start), min(following, end)
        day = following


def _statement_rates(statement_lines):
    """``rate_at(line)``: the rate the statement charged for a line like ``line`` (same tenant,
    namespace, resource, GPU model and node-label rule) at the moment the line starts, or None."""
    periods = {}
    for x in statement_lines:
        key = (x.tenant, x.namespace, x.resource, x.gpu_model, x.node_label)
        periods.setdefault(key, []).append((x.period_start, x.period_end, x.rate))

    def rate_at(line):
        key = (line.tenant, line.namespace, line.resource, line.gpu_model, line.node_label)
        for begin, end, rate in periods.get(key, ()):
            if begin <= line.period_start < end:
                return rate
        return None

    return rate_at


def daily_costs(tenant, start, end, now=None, ctx=None, idle=None, statement_lines=None):
    """``[{"day": date, "costs": {resource: Decimal}, "total": Decimal}, ...]`` for each UTC day of
    ``[start, end)`` up to ``now``: the statement of ``tenant`` (None: the operator's) per day.

    With ``statement_lines`` (a statement's own lines), each day's quantities are priced at the
    rates that statement charged, so an issued statement's days keep its rates after a price list
    changes; a line it does not have (samples that came later) keeps today's rate.
    """
    now = now or datetime.now(UTC)
    ctx = ctx or Context(now=now)
    rate_at = _statement_rates(statement_lines) if statement_lines is not None else (lambda line: None)
    days = []
    for begin, stop in utc_days(start, min(end, max(now, start + timedelta(seconds=1)))):
        lines, _ = compute(tenant, begin, stop, ctx, idle)
        costs = dict.fromkeys(RESOURCES, ZERO)
        for line in lines:
            rate = rate_at(line)
            costs[line.resource] += line.cost if rate is None else cost(line.quantity, rate)
        days.append({"day": begin.date(), "costs": costs, "total": sum(costs.values(), ZERO)})
    return days
