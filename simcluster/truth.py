"""``/sim/truth``: exact resource-time per pod, namespace and cluster over a window.

Usage is piecewise constant per step, so the integral over any [start, end] is exact: whole steps
come from cumulative sums, and the partial steps at either end contribute value × fraction. All
arithmetic is in integers (CPU in nanocore-microseconds, memory in byte-microseconds, GPU in
GPU-microseconds and %-GPU-microseconds) and converted to float once, so a collector that sums
the kubelet's counters over the same boundaries gets bit-for-bit the same float.

The cumulative sum of a pod at a past boundary j comes from the nearest checkpoint at or before
j (every CHECKPOINT_EVERY steps) plus the pure step values after it; at the current boundary it
is the live running total. Windows are clipped to [simulation start, last completed boundary].
"""

from __future__ import annotations

from .model import Pod, step_values
from .timeutil import fmt_time_us

US = 1_000_000


def step_sums(cluster, p: Pod, k: int) -> tuple[int, int, int, int]:
    """(nanocores, working-set bytes, GPUs, %×GPUs) of pod p during step k."""
    t_mid = cluster.t0 + k * cluster.S - cluster.S / 2.0
    r = w = g = u = 0
    for c in p.containers:
        if c.running_during(k):
            cr, cw, cu = step_values(c, k, t_mid, cluster.span)
            r += cr
            w += cw
            if c.gpus:
                g += c.gpus
                u += cu * c.gpus
    return r, w, g, u


def cum_at(cluster, p: Pod, j: int) -> list[int]:
    """Cumulative (core-ns, byte-s, GPU-s, %-GPU-s) of p from the start to boundary j ≤ K."""
    if j <= p.born_step or j <= 0:
        return [0, 0, 0, 0]
    if j >= cluster.K or (p.final_step is not None and j >= p.final_step):
        return list(p.cum)
    c = j // cluster.M
    if c < p.ckpt_first:
        base = [0, 0, 0, 0]
        frm = p.born_step
    else:
        i = (c - p.ckpt_first) * 4
        base = list(p.ckpt[i : i + 4])
        frm = c * cluster.M
    S = cluster.S
    for k in range(frm + 1, j + 1):
        r, w, g, u = step_sums(cluster, p, k)
        base[0] += r * S
        base[1] += w * S
        base[2] += g * S
        base[3] += u * S
    return base


def cum_at_us(cluster, p: Pod, t_us: int) -> list[int]:
    """Cumulative integrals up to an arbitrary instant, in micro-units (see module docstring)."""
    rel = t_us - cluster.t0 * US
    if rel <= 0:
        return [0, 0, 0, 0]
    s_us = cluster.S * US
    k = -(-rel // s_us)  # the step (t_{k-1}, t_k] that contains t
    frac = rel - (k - 1) * s_us
    if frac == s_us:
        return [x * US for x in cum_at(cluster, p, k)]
    base = cum_at(cluster, p, k - 1)
    v = step_sums(cluster, p, k)
    return [base[i] * US + v[i] * frac for i in range(4)]


def _values(x: list[int]) -> dict[str, float]:
    return {
        "cpu_core_seconds": x[0] / 10**15,
        "memory_byte_seconds": x[1] / US,
        "gpu_seconds_requested": x[2] / US,
        "gpu_seconds_used": x[3] / (100 * US),
    }


def window(cluster, start_us: int | None, end_us: int | None) -> tuple[int, int]:
    """Clip a requested window to what has been simulated; raise ValueError if it is empty."""
    lo = cluster.t0 * US
    hi = cluster.step_time() * US
    start = lo if start_us is None else max(start_us, lo)
    end = hi if end_us is None else min(end_us, hi)
    if start > end:
        raise ValueError(
            f"empty window: start {fmt_time_us(start)} is after end {fmt_time_us(end)} (the "
            f"simulation covers {fmt_time_us(lo)} to {fmt_time_us(hi)})"
        )
    return start, end


def truth(cluster, start_us: int | None = None, end_us: int | None = None) -> dict:
    start, end = window(cluster, start_us, end_us)
    pods = []
    per_ns: dict[str, list[int]] = {}
    total = [0, 0, 0, 0]
    for p in sorted(cluster.all_pods, key=lambda p: (p.namespace, p.name, p.seq)):
        a = cum_at_us(cluster, p, start)
        b = cum_at_us(cluster, p, end)
        d = [b[i] - a[i] for i in range(4)]
        acc = per_ns.setdefault(p.namespace, [0, 0, 0, 0])
        for i in range(4):
            acc[i] += d[i]
            total[i] += d[i]
        rec = {
            "namespace": p.namespace,
            "pod": p.name,
            "uid": p.uid,
            "node": p.node.name if p.node is not None else None,
            "state": p.state(),
        }
        rec.update(_values(d))
        pods.append(rec)
    return {
        "start": fmt_time_us(start),
        "end": fmt_time_us(end),
        "pods": pods,
        "namespaces": {ns: _values(v) for ns, v in sorted(per_ns.items())},
        "total": _values(total),
    }
