"""The accuracy harness of issue 15 ("Done when"): collect a simulated cluster as the workers do,
then compare what the API would answer with the simulator's exact ``/sim/truth``.

The simulator steps every ``step`` seconds (5 by default), so crash loops, restarts, births and
deaths happen *between* the collector's samples, which are ``CADENCE`` (15 s) of simulated time
apart, as in production. Per 15 s: advance the manual clock, run the usage cycle and the GPU
cycle, the inventory cycle every 30 s and the rollup cycle every 5 minutes (the rollup takes its
"now" from the source clock in Redis). An optional gap skips every cycle for ``GAP_SECONDS``: the
samples on either side of it are 60 s apart.

The compared window ``[begin, end)`` is whole hours, preceded by a warm-up (a container's first
sample ever is an estimate) and followed by a tail (the rollup of the last hour, the edge samples
after ``end``). The whole run lies in the past, so every hour is settled for the planner.

Numbers are read through ``metrics.engine.aggregate_rows`` (what ``POST /api/<metric>`` with
``agg=all-namespace`` calls), once with raw data only and once with the hourly rollup:

- CPU: ``cpu/usage_rate``'s integral (from the kubelet counter), millicore-s → core-s;
- memory: ``memory/working_set``'s integral, byte-s;
- GPU requested: ``gpu/request``'s integral, GPU-s;
- GPU used: ``gpu/utilization``'s integral, percent-s → GPU-s;
- coverage: the ``coverage/*`` metrics' sums (charged, gap and unobserved container-seconds), when
  the catalogue has them.

``bench/bench_accuracy.py`` runs it by hand; ``tests/accuracy/`` runs a short version.
"""

import inspect
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from collectors import cycles
from kubemon.timeseries import schema
from kubemon.timeseries.heads import set_heads_since
from metrics.catalogue import get_metric
from metrics.engine import aggregate_rows, plan
from metrics.selection import Selection
from metrics.window import Window

CADENCE = 15  # simulated seconds between usage (and GPU) samples: the production schedule
INVENTORY_EVERY = 30
ROLLUP_EVERY = 300
GAP_SECONDS = 60
HOUR = 3600


@dataclass(frozen=True)
class Resource:
    metric: str
    factor: float  # the API's integral × factor = the truth's unit
    truth: str  # key in /sim/truth
    tolerance: float  # relative
    floor: float  # truths below this (in the truth's unit) are too small to compare relatively
    unit: str
    per_unit: float  # truth's unit per displayed unit


RESOURCES = {
    "cpu": Resource("cpu/usage_rate", 1e-3, "cpu_core_seconds", 0.001, 1.0, "core-h", HOUR),
    "memory": Resource("memory/working_set", 1.0, "memory_byte_seconds", 0.005, 2**20 * 60.0, "GiB-h", 2**30 * HOUR),
    "gpu_requested": Resource("gpu/request", 1.0, "gpu_seconds_requested", 0.005, 1.0, "GPU-h", HOUR),
    "gpu_used": Resource("gpu/utilization", 0.01, "gpu_seconds_used", 0.005, 1.0, "GPU-h", HOUR),
}
SOURCES = {"raw": False, "rollup": True}
# The rollup's retention policies (the hourly rollup, and its per-namespace tiers where they exist).
ROLLUP_POLICIES = getattr(schema, "ROLLUP_POLICIES", (schema.HOURLY_POLICY,))
COVERAGE = {"charged": "coverage/charged_seconds", "gap": "coverage/gap_seconds",
            "unobserved": "coverage/unobserved_seconds"}


@dataclass
class Scenario:
    hours: int = 6
    seed: int = 7
    nodes: int = 5
    pods: int = 60
    gpu_nodes: int = 1
    jetson_nodes: int = 1
    step: int = 5
    warmup: int = 300  # simulated seconds collected before the window
    tail: int = 300  # and after it
    gap_at: float | None = None  # minutes after the window's begin
    # The UTC hour of day the window begins at (the latest such hour that is settled): the usage
    # curves follow the time of day, so a fixed hour makes runs comparable; None: the latest hour.
    begin_hour: int | None = 2

    def simulator_options(self, start):
        return {"seed": self.seed, "nodes": self.nodes, "pods": self.pods, "gpu_nodes": self.gpu_nodes,
                "jetson_nodes": self.jetson_nodes, "step": self.step, "start": iso(start)}


@dataclass
class Times:
    start: int  # the simulator's start, epoch seconds
    begin: int  # the compared window [begin, end), whole hours
    end: int
    stop: int  # the last collection
    gap: tuple | None = None  # (last sample before, first sample after)

    def in_gap(self, t):
        return self.gap is not None and self.gap[0] < t < self.gap[1]

    def hours(self):
        return list(range(self.begin, self.end, HOUR))

    def gap_hours(self):
        if self.gap is None:
            return set()
        return {h for h in self.hours() if h < self.gap[1] and self.gap[0] < h + HOUR}


def iso(epoch):
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_times(scenario, now=None):
    """A window of whole hours that ends at least an hour before ``now``: settled for the planner."""
    now = int(now or time.time())
    begin = (now // HOUR - scenario.hours - 2) * HOUR
    if scenario.begin_hour is not None:
        begin -= (begin - scenario.begin_hour * HOUR) % 86400
    end = begin + scenario.hours * HOUR
    start = begin - scenario.warmup
    times = Times(start=start, begin=begin, end=end, stop=end + scenario.tail)
    if scenario.gap_at is not None:
        last = begin + int(scenario.gap_at * 60) // CADENCE * CADENCE
        times.gap = (last, last + GAP_SECONDS)
    return times


# --- collection ---


@dataclass
class Timings:
    seconds: dict = field(default_factory=dict)  # cycle -> [wall seconds per run]
    failures: list = field(default_factory=list)
    skipped_for_gap: int = 0
    collections: int = 0

    def timed(self, name, function):
        started = time.perf_counter()
        report = function()
        self.seconds.setdefault(name, []).append(time.perf_counter() - started)
        if not report.ok or report.skipped:
            self.failures.append(f"{name}: {report.error or 'skipped'}")
        return report

    def summary(self):
        return {name: {"runs": len(s), "total_s": round(sum(s), 2), "median_ms": round(statistics.median(s) * 1e3, 1),
                       "max_ms": round(max(s) * 1e3, 1)} for name, s in self.seconds.items()}


def collect(simulator, store, redis, times, progress=None):
    """Drive the clock from ``times.start`` to ``times.stop`` and collect as the beat schedule does."""
    kube = simulator.kube()
    timings = Timings()
    t, rolled = times.start, None
    while t < times.stop:
        started = time.perf_counter()
        simulator.advance(CADENCE)
        timings.seconds.setdefault("advance", []).append(time.perf_counter() - started)
        t += CADENCE
        if times.in_gap(t):
            timings.skipped_for_gap += 1
            continue
        timings.collections += 1
        timings.timed("usage", lambda: cycles.run_usage_cycle(kube=kube, store=store, redis=redis))
        timings.timed("gpu", lambda: cycles.run_gpu_cycle(kube=kube, store=store, redis=redis))
        if (t - times.start) % INVENTORY_EVERY == 0:
            timings.timed("inventory", lambda: cycles.run_inventory_cycle(kube=kube, store=store, redis=redis))
        if t % ROLLUP_EVERY == 0:
            timings.timed("rollup", lambda: cycles.run_rollup_cycle(store=store, redis=redis))
            rolled = t
        if progress and (t - times.start) % HOUR == 0:
            progress(t, timings)
    if rolled != t:
        timings.timed("rollup", lambda: cycles.run_rollup_cycle(store=store, redis=redis))
    return timings


# --- reading: the API's path, and the truth ---


def window(begin, end):
    return Window(datetime.fromtimestamp(begin, UTC), datetime.fromtimestamp(end, UTC))


def measured(store, begin, end, use_rollup, mode="all-namespace"):
    """``{resource: {group: value}}`` as the API answers; a group is a namespace (or
    ``namespace/pod`` for ``all-pod``). ``None`` where the API's integral is null."""
    values = {}
    for name, resource in RESOURCES.items():
        rows = aggregate_rows(get_metric(resource.metric), window(begin, end), mode, Selection(),
                              store=store, use_rollup=use_rollup)
        values[name] = {}
        for row in rows:
            group = row["namespace_name"] if mode == "all-namespace" else f"{row['namespace_name']}/{row['pod_name']}"
            values[name][group] = None if row["integral"] is None else row["integral"] * resource.factor
    return values


def coverage(store, begin, end, use_rollup):
    """``{namespace: {"charged": s, "gap": s, "unobserved": s}}``: the API's ``coverage/*`` metrics
    (container-seconds, docs/api.md "Coverage"), or None when the catalogue has none of them."""
    if not any(get_metric(metric) for metric in COVERAGE.values()):
        return None
    result = {}
    for key, name in COVERAGE.items():
        metric = get_metric(name)
        rows = aggregate_rows(metric, window(begin, end), "all-namespace", Selection(), store=store,
                              use_rollup=use_rollup) if metric else []
        for row in rows:
            result.setdefault(row["namespace_name"], dict.fromkeys(COVERAGE, 0.0))[key] = row["sum"] or 0.0
    return result


def observed_share(counts):
    """The share of a namespace's time that its samples saw at the usual spacing (1.0: all of it)."""
    seen = counts["charged"] + counts["unobserved"]
    return 1.0 - (counts["gap"] + counts["unobserved"]) / seen if seen else 1.0


def truth(simulator, begin, end, per_pod=False):
    """``{resource: {group: value}}`` from ``/sim/truth`` over ``[begin, end]``."""
    doc = simulator.get("/sim/truth", start=iso(begin), end=iso(end))
    result = {name: {} for name in RESOURCES}
    if not per_pod:
        for namespace, values in doc["namespaces"].items():
            for name, resource in RESOURCES.items():
                result[name][namespace] = values[resource.truth]
        return result
    for pod in doc["pods"]:  # a StatefulSet pod recreated under its name is one group, as in the API
        for name, resource in RESOURCES.items():
            group = f"{pod['namespace']}/{pod['pod']}"
            result[name][group] = result[name].get(group, 0.0) + pod[resource.truth]
    return result


def rollup_share(store, begin, end):
    """``({resource: share}, {resource: policies})``: the share of ``[begin, end)`` the planner reads
    from a rollup (1.0: all of it) for the per-namespace question, and the policies it reads."""
    shares, policies = {}, {}
    per_namespace = {"group_tags": ("namespace",)} if "group_tags" in inspect.signature(plan).parameters else {}
    for name, resource in RESOURCES.items():
        pieces = plan(get_metric(resource.metric), window(begin, end), store, use_rollup=True, **per_namespace)
        rolled = sum((w.end - w.begin).total_seconds() for policy, w in pieces if policy in ROLLUP_POLICIES)
        shares[name] = rolled / (end - begin)
        policies[name] = sorted({policy for policy, _ in pieces})
    return shares, policies


# --- comparing ---


def compare(resource, got, expected, where):
    """One row per group that either side charged: truth, measured and the relative error.

    ``rel`` is None for a group whose truth is below the resource's floor (too small to compare
    relatively) unless kubemon charged it more than the floor, which is an error (``inf``).
    """
    rows = []
    for group in sorted(set(got) | set(expected)):
        want, have = expected.get(group, 0.0), got.get(group, 0.0)
        if have is None:
            rel = float("nan")  # the API answered integral: null
        elif want >= resource.floor:
            rel = (have - want) / want
        elif abs(have - want) >= resource.floor:
            rel = float("inf")
        else:
            continue
        rows.append({"where": where, "group": group, "truth": want, "measured": have, "rel": rel})
    return rows


def bad(row, tolerance):
    rel = row["rel"]
    return rel != rel or abs(rel) > tolerance  # NaN counts as bad


def worst(rows):
    if not rows:
        return None
    return max(rows, key=lambda r: float("inf") if r["rel"] != r["rel"] else abs(r["rel"]))


def evaluate(simulator, store, times, per_pod=True):
    """Every comparison of one run: the window's totals and each hour, from raw data and the rollup."""
    started = time.perf_counter()
    result = {"totals": {}, "hourly": {}, "coverage": {}, "pods": {}}
    expected = truth(simulator, times.begin, times.end)
    hourly_truth = {h: truth(simulator, h, h + HOUR) for h in times.hours()}
    for source, use_rollup in SOURCES.items():
        got = measured(store, times.begin, times.end, use_rollup)
        result["totals"][source] = {name: compare(r, got[name], expected[name], "window")
                                    for name, r in RESOURCES.items()}
        result["coverage"][source] = {"window": coverage(store, times.begin, times.end, use_rollup)}
        result["hourly"][source] = {name: [] for name in RESOURCES}
        for h in times.hours():
            got = measured(store, h, h + HOUR, use_rollup)
            result["coverage"][source][iso(h)] = coverage(store, h, h + HOUR, use_rollup)
            for name, r in RESOURCES.items():
                result["hourly"][source][name] += compare(r, got[name], hourly_truth[h][name], iso(h))
    if per_pod:  # which pods make a namespace's error (raw data)
        got = measured(store, times.begin, times.end, False, mode="all-pod")
        expected = truth(simulator, times.begin, times.end, per_pod=True)
        result["pods"] = {name: compare(r, got[name], expected[name], "window") for name, r in RESOURCES.items()}
    result["rollup_share"], result["rollup_policies"] = rollup_share(store, times.begin, times.end)
    result["late_hours_pending"] = [d.isoformat() for d in store.backlog.pending()] if store.backlog else []
    result["seconds_to_compare"] = round(time.perf_counter() - started, 2)
    return result


def hourly_rows(result, source, name, hours=None):
    """The namespace-hour rows of one source and resource, only ``hours`` (ISO texts) when given."""
    rows = result["hourly"][source][name]
    return rows if hours is None else [r for r in rows if r["where"] in hours]


def summary(result, times):
    """One row per resource and source: worst errors, and namespace-hours over 0.1 % and over tolerance.

    With a gap, the hourly columns count only the hours outside it; ``gap_hours_worst`` is the
    worst namespace-hour of the hours that hold it.
    """
    gap = {iso(h) for h in times.gap_hours()}
    outside = {iso(h) for h in times.hours()} - gap
    rows = []
    for name, resource in RESOURCES.items():
        for source in SOURCES:
            totals = result["totals"][source][name]
            hourly = hourly_rows(result, source, name, outside)
            row = {"resource": name, "source": source, "tolerance": resource.tolerance,
                   "namespaces": len(totals), "window_worst": worst(totals),
                   "namespaces_over_tolerance": sum(bad(r, resource.tolerance) for r in totals),
                   "namespace_hours": len(hourly), "hourly_worst": worst(hourly),
                   "namespace_hours_over_0.1%": sum(bad(r, 0.001) for r in hourly),
                   "namespace_hours_over_tolerance": sum(bad(r, resource.tolerance) for r in hourly)}
            if gap:
                row["gap_hours_worst"] = worst(hourly_rows(result, source, name, gap))
            rows.append(row)
    return rows


def coverage_reported(result):
    """Whether the API has the ``coverage/*`` metrics at all (issue 15 adds them)."""
    return any(counts is not None for source in result["coverage"].values() for counts in source.values())


def run(scenario, start_simulator, store, redis, progress=None, times=None):
    """Collect ``scenario`` into ``store`` and compare: ``(results as plain data, the simulator)``.

    ``start_simulator(**options)`` returns a started ``tests.support.simulator.Simulator``.
    """
    times = times or plan_times(scenario)
    started = time.perf_counter()
    simulator = start_simulator(**scenario.simulator_options(times.start))
    simulator_start = time.perf_counter() - started
    started = time.perf_counter()
    # kubemon has written its samples' heads since before the run (the rollup task's marker): the
    # rollup's answers take whole-hour window edges from them (kubemon/timeseries/heads.py).
    set_heads_since(redis, datetime.fromtimestamp(times.begin, UTC))
    timings = collect(simulator, store, redis, times, progress)
    collection = time.perf_counter() - started
    result = evaluate(simulator, store, times)
    result.update(scenario=asdict(scenario), times=asdict(times), summary=summary(result, times),
                  coverage_in_api=coverage_reported(result), failures=timings.failures[:20],
                  failure_count=len(timings.failures),
                  timings={"simulator_start_s": round(simulator_start, 2), "collection_s": round(collection, 1),
                           "collections": timings.collections, "skipped_for_gap": timings.skipped_for_gap,
                           "cycles": timings.summary(), "compare_s": result.pop("seconds_to_compare")})
    return result, simulator


# --- the report ---


def _pct(row):
    if row is None:
        return "–"
    rel = row["rel"]
    if rel != rel:
        return f"null ({row['group']})"
    return f"{rel * 100:+.4f} % ({row['group']}{', ' + row['where'][11:16] if row['where'] != 'window' else ''})"


def table(result):
    """The figures as Markdown tables."""
    lines = ["| resource | source | tolerance | worst namespace, whole window | namespaces over tolerance | "
             "worst namespace-hour | namespace-hours over 0.1 % | over tolerance |",
             "| --- | --- | ---: | --- | ---: | --- | ---: | ---: |"]
    for row in result["summary"]:
        lines.append(f"| {row['resource']} | {row['source']} | {row['tolerance'] * 100:.1f} % | "
                     f"{_pct(row['window_worst'])} | {row['namespaces_over_tolerance']}/{row['namespaces']} | "
                     f"{_pct(row['hourly_worst'])} | {row['namespace_hours_over_0.1%']}/{row['namespace_hours']} | "
                     f"{row['namespace_hours_over_tolerance']}/{row['namespace_hours']} |")
    if any("gap_hours_worst" in row for row in result["summary"]):
        lines += ["", "| resource | source | worst namespace-hour in the gap's hour |", "| --- | --- | --- |"]
        lines += [f"| {row['resource']} | {row['source']} | {_pct(row['gap_hours_worst'])} |"
                  for row in result["summary"]]
    return "\n".join(lines)


def namespace_table(result, source="raw"):
    """Per namespace and resource over the whole window: truth, measured (display units), error."""
    lines = ["| namespace | resource | truth | kubemon | error |", "| --- | --- | ---: | ---: | ---: |"]
    for name, resource in RESOURCES.items():
        for row in result["totals"][source][name]:
            measured_value = "null" if row["measured"] is None else f"{row['measured'] / resource.per_unit:.4f}"
            lines.append(f"| {row['group']} | {name} | {row['truth'] / resource.per_unit:.4f} {resource.unit} | "
                         f"{measured_value} | {_pct(row).split(' (')[0]} |")
    return "\n".join(lines)


def worst_pods(result, count=8):
    """The pods furthest from the truth (raw data, whole window), per resource."""
    lines = ["| resource | pod | truth | kubemon | error |", "| --- | --- | ---: | ---: | ---: |"]
    for name, resource in RESOURCES.items():
        rows = [r for r in result["pods"].get(name, []) if bad(r, resource.tolerance)]
        rows.sort(key=lambda r: -abs(r["rel"]) if r["rel"] == r["rel"] else float("-inf"))
        for row in rows[:count]:
            measured_value = "null" if row["measured"] is None else f"{row['measured'] / resource.per_unit:.5f}"
            lines.append(f"| {name} | {row['group']} | {row['truth'] / resource.per_unit:.5f} {resource.unit} | "
                         f"{measured_value} | {_pct(row).split(' (')[0]} |")
    return "\n".join(lines)


def coverage_table(result, source="raw"):
    """Per hour: what the API's ``coverage/*`` metrics say, summed over the namespaces."""
    lines = ["| hour | charged container-h | gap container-s | unobserved container-s | namespaces with a gap | "
             "lowest observed share |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for where, per_namespace in result["coverage"][source].items():
        if not per_namespace:
            continue
        total = {key: sum(c[key] for c in per_namespace.values()) for key in COVERAGE}
        lowest = min(per_namespace.items(), key=lambda item: observed_share(item[1]))
        lines.append(f"| {where[11:16] if where != 'window' else 'window'} | {total['charged'] / HOUR:.2f} | "
                     f"{total['gap']:.0f} | {total['unobserved']:.0f} | "
                     f"{sum(1 for c in per_namespace.values() if c['gap'] or c['unobserved'])}/{len(per_namespace)} | "
                     f"{observed_share(lowest[1]) * 100:.3f} % ({lowest[0]}) |")
    return "\n".join(lines)
