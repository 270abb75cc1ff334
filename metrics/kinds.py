"""One strategy per metric kind: how a window of it is aggregated, rolled up and shown raw.

The catalogue (``metrics.catalogue``) names each metric's kind; everything that depends on the
kind lives here, so the planner, the statement builder and the raw reader never test kinds
themselves. Identifiers come from the schema whitelist; values never appear in a statement.

Every aggregation statement returns the same columns (a subset of ``s, i, mx, n, sb, ib, u``, see
``metrics.results.Partial``), so partial answers from raw data, the hourly rollup and the day
cache add up the same way whatever the kind. Raw statements of kinds with resource-time also
return ``k``, the samples that carry kubemon's per-sample resource-time: when it is below ``n``,
the engine derives the rest from the samples' spacing (``foreign_statements``).
"""

from dataclasses import dataclass

from kubemon.timeseries.schema import (
    INTEGRAL_FIELDS,
    ROLLUP_POLICIES,
    SPACING_CAP_SECONDS,
    SUMMED_FIELDS,
    UNKNOWN_SUFFIX,
    field_identifier,
    quote_identifier,
)
from metrics.results import Aggregate

# The CPU rate is on every container sample and the rollup counts it: increments count samples on it.
SAMPLE_COUNT_FIELD = "cpu_usage_nanocores"

# Samples of other writers (Telegraf's kubernetes input) carry none of kubemon's per-sample
# resource-time. Theirs comes from the spacing of their series: a sample stands for the time since
# the previous sample of the same series, if that is at most SPACING_CAP_SECONDS (else, and for a
# series' first sample, for nothing). collectors/rollup.py writes the same into the hourly points,
# with the same cap, and marks the samples of series that mix both kinds (``<field>_unknown``).
MIXED_NOTE = ("a series mixes kubemon's samples with samples of another writer that lack kubemon's "
              "resource-time (same tags): its resource-time is unknown")


@dataclass(frozen=True)
class Term:
    """One resource-time column (``i``, ``ib`` or ``s``) and how other writers' samples give it."""

    column: str
    kubemon: str  # kubemon's per-sample field: ``<gauge>_integral`` or ``cpu_core_seconds``
    gauge: str  # the gauge whose samples are counted (``n``) and integrated over their spacing
    counter: str | None = None  # a cumulative counter whose increase is preferred when a series has it
    factor: float = 1.0  # (gauge x seconds, or counter) in the units of ``kubemon``


def _f(measurement, name):
    return field_identifier(measurement, name)


def unknown_identifier(measurement, kubemon_field):
    """The hourly field counting the samples of mixed series that lack ``kubemon_field``."""
    _f(measurement, kubemon_field)  # whitelisted base; the suffix is ours
    return quote_identifier(kubemon_field + UNKNOWN_SUFFIX)


def foreign_statements(metric, source, tags, span, lead, begin_ns, end_ns):
    """``[(label, statement)]`` giving, per series of a raw span, what other writers' samples need.

    ``"counts"``: ``n`` samples, ``k`` with kubemon's resource-time and ``c<j>`` with term j's
    counter. ``("gauge"|"counter", j)``: the resource-time of term j from the spacing, as ``t`` in
    the bucket that starts at ``begin_ns``. ``tags`` selects the series, ``span`` bounds the span in
    time; ``lead`` starts ``SPACING_CAP_SECONDS`` earlier so the span's first samples find their
    predecessor.
    """
    q, m, terms = quote_identifier, metric.measurement, metric.strategy.terms(metric)
    counts = [f"count({_f(m, terms[0].gauge)}) AS {q('n')}", f"count({_f(m, terms[0].kubemon)}) AS {q('k')}"]
    counts += [f"count({_f(m, t.counter)}) AS {q(f'c{j}')}" for j, t in enumerate(terms) if t.counter]
    out = [("counts", f"SELECT {', '.join(counts)} FROM {source} WHERE {tags} AND {span} GROUP BY *")]  # noqa: S608
    length = end_ns - begin_ns
    bucket = f"GROUP BY time({length}ns, {begin_ns % length}ns), * fill(none)"
    for j, term in enumerate(terms):
        out.append((("gauge", j), spacing_statement(_f(m, term.gauge), source, tags, lead, bucket)))
        if term.counter:
            out.append((("counter", j), spacing_statement(_f(m, term.counter), source, tags, lead, bucket, True)))
    return out


def spacing_statement(field, source, tags, when, group, counter=False):
    """Per series and ``group`` bucket, ``t``: the sum over the samples of value x seconds since
    the previous sample of the series (``counter``: the counter's increase since it), for gaps of at
    most ``SPACING_CAP_SECONDS``. InfluxQL cannot multiply a transform by a field, so the values
    come back through ``difference(cumulative_sum())``. The outer time bounds (``when``) reach down
    to the innermost query, so ``when`` must start one cap before the first bucket kept."""
    q, cap = quote_identifier, SPACING_CAP_SECONDS * 10**9
    if counter:
        inner = (f"SELECT non_negative_difference({field}) AS {q('p')}, elapsed({field}) AS {q('e')} "  # noqa: S608
                 f"FROM {source} WHERE {tags} GROUP BY *")
    else:
        values = f"SELECT cumulative_sum({field}) AS {q('c')} FROM {source} WHERE {tags} GROUP BY *"  # noqa: S608
        steps = f"SELECT difference({q('c')}) AS {q('v')}, elapsed({q('c')}) AS {q('e')} FROM ({values}) GROUP BY *"  # noqa: S608,E501
        inner = f"SELECT {q('e')} / 1000000000.0 * {q('v')} AS {q('p')}, {q('e')} FROM ({steps}) GROUP BY *"  # noqa: S608
    return f"SELECT sum({q('p')}) AS {q('t')} FROM ({inner}) WHERE {when} AND {q('e')} <= {cap} {group}"  # noqa: S608


def _integrals(metric):
    return INTEGRAL_FIELDS.get(metric.measurement, ())


def _summed(metric):
    return SUMMED_FIELDS.get(metric.measurement, ())


class Kind:
    """The defaults: no aggregate, no rollup, the stored value as the raw row."""

    name = ""
    # Whether a raw span may be cut into pieces read in parallel (a difference across a cut is lost).
    splittable = True
    # How ``metrics.raw`` reads raw rows: "select" the ``raw_value`` expression; "rate": the
    # counter, differentiated in Python; "as_of": ``field`` divided by the latest ``other`` of the
    # series at or before each sample, joined in Python (the two are in different points).
    raw_reader = "select"
    # Whether the kind's reads are plain columns that can share a statement with other metrics'.
    merges = False

    def has_integral(self, metric):
        return False

    def edge_fields(self, metric):
        """``[(per-sample resource-time field, Partial column)]``: what a window's edges share out.

        A sample stands for ``(t - interval_seconds, t]``; at a window's edges only the part of it
        inside the window counts (``metrics.edges``).
        """
        return []

    def terms(self, metric):
        """The resource-time columns other writers' samples must be given (``Term``), if any."""
        return ()

    def rollup(self, metric):
        """Whether whole hours can be read from the ``hourly`` rollup with identical results."""
        return False

    def statement(self, metric, policy, source, where, group):
        raise ValueError(f"no direct aggregation for kind {self.name}")

    def raw_value(self, metric):
        """The InfluxQL expression of a raw row's value, or None when rows are derived in Python."""
        return _f(metric.measurement, metric.field)

    def finish(self, metric, part, window):
        """The group's ``Aggregate`` in the metric's unit from the summed ``Partial``."""
        integral = part.i * metric.scale if self.has_integral(metric) else None
        return self._aggregate(part.s * metric.scale, integral, None, part.n, window, part.u)

    @staticmethod
    def _aggregate(total, integral, peak, samples, window, unknown=0):
        note = MIXED_NOTE if unknown else None
        if unknown:
            integral = None
        mean = integral / window.seconds if integral is not None else None
        return Aggregate(sum=total, integral=integral, max=peak, samples=samples, mean=mean, note=note)


class ColumnKind(Kind):
    """Kinds aggregated by plain column functions, on raw data and on the rollup alike: each
    subclass gives ``columns(metric, hourly)``, the ``(alias, expression)`` pairs to select;
    ``terms`` adds ``k`` (raw) or ``u`` (rollup)."""

    # Plain columns over the same span and groups: several such metrics' reads can share a
    # statement (``metrics.batch``).
    merges = True

    def pairs(self, metric, policy):
        """``[(alias, expression)]`` one read of ``policy`` selects."""
        hourly = policy in ROLLUP_POLICIES
        pairs = list(self.columns(metric, hourly))
        terms = self.terms(metric)
        if terms:
            m, first = metric.measurement, terms[0]
            pairs.append(("u", f"sum({unknown_identifier(m, first.kubemon)})") if hourly
                         else ("k", f"count({_f(m, first.kubemon)})"))
        return pairs

    def statement(self, metric, policy, source, where, group):
        q = quote_identifier
        columns = ", ".join(f"{expr} AS {q(alias)}" for alias, expr in self.pairs(metric, policy))
        return f"SELECT {columns} FROM {source} WHERE {where} GROUP BY {group}"  # noqa: S608  (whitelisted identifiers; values are $params)


class Gauge(ColumnKind):
    """An instantaneous value (CPU rate, memory, requests): ``sum`` of the samples, ``integral``
    the resource-time when the schema stores ``<field>_integral`` (or another field gives it)."""

    name = "gauge"

    def has_integral(self, metric):
        return metric.integral_from is not None or metric.field in _integrals(metric)

    def edge_fields(self, metric):
        if metric.integral_from is not None:
            return [(metric.integral_from[0], "i")]
        return [(metric.field + "_integral", "i")] if self.has_integral(metric) else []

    def terms(self, metric):
        if metric.integral_from is not None:
            if metric.foreign_counter is None:
                return ()
            counter, factor = metric.foreign_counter
            return (Term("i", metric.integral_from[0], metric.field, counter, factor),)
        if metric.field in _integrals(metric):
            return (Term("i", metric.field + "_integral", metric.field),)
        return ()

    def rollup(self, metric):
        return metric.field in _integrals(metric) and (
            metric.integral_from is None or metric.integral_from[0] in _summed(metric)
        )

    def columns(self, metric, hourly):
        m, f = metric.measurement, metric.field
        cols = [
            ("s", f"sum({_f(m, f + '_sum')})" if hourly else f"sum({_f(m, f)})"),
            ("mx", f"max({_f(m, f + '_max')})" if hourly else f"max({_f(m, f)})"),
            ("n", f"sum({_f(m, f + '_samples')})" if hourly else f"count({_f(m, f)})"),
        ]
        if metric.integral_from is not None:
            cols.append(("i", f"sum({_f(m, metric.integral_from[0])})"))
        elif self.has_integral(metric):
            cols.append(("i", f"sum({_f(m, f + '_integral')})"))
        return cols

    def finish(self, metric, part, window):
        k = metric.scale
        if metric.integral_from is not None:
            integral = part.i * metric.integral_from[1]
        else:
            integral = part.i * k if self.has_integral(metric) else None
        peak = part.mx * k if part.mx is not None else None
        return self._aggregate(part.s * k, integral, peak, part.n, window, part.u)


class Increment(ColumnKind):
    """A per-sample increase (``cpu_core_seconds``): ``sum`` is the exact total of the window."""

    name = "increment"

    def rollup(self, metric):
        return metric.field in _summed(metric) and SAMPLE_COUNT_FIELD in _integrals(metric)

    def terms(self, metric):
        if metric.foreign_counter is None:
            return ()
        counter, factor = metric.foreign_counter
        return (Term("s", metric.field, SAMPLE_COUNT_FIELD, counter, factor),)

    def columns(self, metric, hourly):
        m = metric.measurement
        count = (f"sum({_f(m, SAMPLE_COUNT_FIELD + '_samples')})" if hourly
                 else f"count({_f(m, SAMPLE_COUNT_FIELD)})")
        return [("s", f"sum({_f(m, metric.field)})"), ("n", count)]


class Difference(ColumnKind):
    """``field - other`` of two gauges (memory cache = usage - RSS)."""

    name = "difference"

    def has_integral(self, metric):
        return metric.field in _integrals(metric) and metric.other in _integrals(metric)

    def edge_fields(self, metric):
        if not self.has_integral(metric):
            return []
        return [(metric.field + "_integral", "i"), (metric.other + "_integral", "ib")]

    def rollup(self, metric):
        return self.has_integral(metric)

    def terms(self, metric):
        if not self.has_integral(metric):
            return ()
        f, o = metric.field, metric.other
        return (Term("i", f + "_integral", f), Term("ib", o + "_integral", o))

    def columns(self, metric, hourly):
        m, f, o = metric.measurement, metric.field, metric.other
        return [
            ("s", f"sum({_f(m, f + '_sum')})" if hourly else f"sum({_f(m, f)})"),
            ("sb", f"sum({_f(m, o + '_sum')})" if hourly else f"sum({_f(m, o)})"),
            ("i", f"sum({_f(m, f + '_integral')})"),
            ("ib", f"sum({_f(m, o + '_integral')})"),
            ("n", f"sum({_f(m, f + '_samples')})" if hourly else f"count({_f(m, f)})"),
        ]

    def raw_value(self, metric):
        return f"{_f(metric.measurement, metric.field)} - {_f(metric.measurement, metric.other)}"

    def finish(self, metric, part, window):
        k = metric.scale
        return self._aggregate((part.s - part.sb) * k, (part.i - part.ib) * k, None, part.n, window, part.u)


class Counter(Kind):
    """A cumulative counter (network bytes, page faults): ``sum`` is its increase in the window."""

    name = "counter"
    splittable = False

    def statement(self, metric, policy, source, where, group):
        # Differences need each series in time order, so they are taken per series in a subquery.
        q = quote_identifier
        field = _f(metric.measurement, metric.field)
        inner = f"non_negative_difference({field}) AS {q('d')}"
        outer = f"sum({q('d')}) AS {q('s')}, count({q('d')}) AS {q('n')}"
        return (f"SELECT {outer} FROM (SELECT {inner} FROM {source} WHERE {where} GROUP BY *) "  # noqa: S608  (as above)
                f"GROUP BY {group}")


class Rate(Kind):
    """The per-second rate of a cumulative counter: ``sum`` adds the per-sample rates (the
    legacy meaning), ``integral`` is the increase, ``max`` the highest rate."""

    name = "rate"
    splittable = False
    raw_reader = "rate"

    def has_integral(self, metric):
        return True

    def statement(self, metric, policy, source, where, group):
        q = quote_identifier
        field = _f(metric.measurement, metric.field)
        inner = f"non_negative_difference({field}) AS {q('d')}, non_negative_derivative({field}, 1s) AS {q('r')}"
        outer = (f"sum({q('d')}) AS {q('i')}, sum({q('r')}) AS {q('s')}, max({q('r')}) AS {q('mx')}, "
                 f"count({q('r')}) AS {q('n')}")
        return (f"SELECT {outer} FROM (SELECT {inner} FROM {source} WHERE {where} GROUP BY *) "  # noqa: S608  (as above)
                f"GROUP BY {group}")

    def raw_value(self, metric):
        return None  # InfluxQL's derivative runs backwards under ORDER BY time DESC: see metrics.raw

    def finish(self, metric, part, window):
        k = metric.scale
        peak = part.mx * k if part.mx is not None else None
        return self._aggregate(part.s * k, part.i * k, peak, part.n, window)


class Ratio(Kind):
    """``field / other`` on one node (reservation, utilisation); raw rows only.

    The two fields need not share a point: a node's usage comes from the usage cycle, its
    allocatable from the inventory, at other times. Each sample of ``field`` is divided by the
    latest ``other`` of the same node at or before it (``metrics.raw``).
    """

    name = "ratio"
    raw_reader = "as_of"

    def raw_value(self, metric):
        return None  # two points per row: joined in Python, see metrics.raw


KINDS = {kind.name: kind for kind in (Gauge(), Increment(), Difference(), Counter(), Rate(), Ratio())}
