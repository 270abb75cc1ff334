"""Advancing usage by one step: containers, pods, nodes, GPUs and temperatures.

Only CPU, working set and GPU (the quantities ``/sim/truth`` integrates) come from the pure
``step_values``; page faults, network bytes and logs are counters advanced here from per-step
hashes, so they are deterministic too but not recomputable (nothing needs them to be).
"""

from __future__ import annotations

import math

from .model import jitter_bits, step_values
from .rand import unit

MiB = 1 << 20
_TWO_PI_DAY = 2.0 * math.pi / 86_400.0

# Thermal model: a first-order lag towards ambient + heat(load). The time constant and the
# fan's effect are picked so that a loaded Raspberry Pi sits around 70-75 °C without the fan and
# about 20 °C cooler with it, close to what the Pi-tower deployments reported.
TAU_SECONDS = 120.0
IDLE_RISE = 22.0
LOAD_RISE = 30.0
GPU_RISE = 12.0
FAN_FACTOR = 0.55


def ambient(t: float) -> float:
    """Room temperature, warmest mid-afternoon (UTC)."""
    return 21.0 + 2.0 * math.sin((t - 10 * 3600.0) * _TWO_PI_DAY)


def node_target(n, t: float, fan: bool) -> float:
    load = n.rate / (n.cpu_cores * 1e9) if n.cpu_cores else 0.0
    gpu = 0.0
    if n.gpu_count:
        gpu = sum(s[2] for s in n.gpu_step if s is not None) / (100.0 * n.gpu_count)
    rise = IDLE_RISE + LOAD_RISE * min(load, 1.0) + GPU_RISE * gpu
    return ambient(t) + rise * (FAN_FACTOR if fan else 1.0)


class UsageMixin:
    """Methods of Cluster that compute step k (split out for size)."""

    def step_usage(self, k: int) -> None:
        S = self.S
        t_k = self.t0 + k * S
        t_mid = t_k - S / 2.0
        span = self.span
        checkpoint = k % self.M == 0
        ck = k // self.M
        nodes = self.node_list
        for n in nodes:
            n.rate = 0
            n.ws = 0
            n.pods_rate = 0
            if n.gpu_count:
                n.gpu_step = [None] * n.gpu_count
        for p in self.pods.values():
            rsum = 0
            wsum = 0
            net = 0.0
            ran = False
            cum = p.cum
            for c in p.containers:
                if not c.running:
                    c.ran = False
                    continue
                r, w, u = step_values(c, k, t_mid, span)
                c.rate = r
                c.ws = w
                c.util = u
                c.ran = True
                c.cpu_ns += r * S
                h = jitter_bits(c.key, k)
                c.pf += ((r >> 20) + (h & 0xFF)) * S
                if (h >> 8) & 0x1FF == 0:
                    c.mpf += 1
                c.logs += c.log_rate * S
                rsum += r
                wsum += w
                net += c.net_base
                if c.gpus:
                    cum[2] += c.gpus * S
                    cum[3] += u * c.gpus * S
                    n = p.node
                    fb = int(n.gpu_fb_mib * (0.25 + 0.6 * unit(c.key, 9)) * (0.6 + 0.4 * u / 100.0))
                    c.fb = fb
                    for i in p.gpu_ids:
                        n.gpu_step[i] = (p, c, u, fb)
                ran = True
            p.rate = rsum
            p.ws = wsum
            p.ran = ran
            if ran:
                cum[0] += rsum * S
                cum[1] += wsum * S
                p.pod_cpu_ns += rsum * S
                h = jitter_bits(p.key, k)
                rx = int(net * (0.4 + (h & 0xFFFF) / 65536.0) * S)
                tx = int(rx * (0.2 + ((h >> 16) & 0xFF) / 400.0))
                p.net_rx += rx
                p.net_tx += tx
                if (h >> 24) & 0x3FF == 0:
                    p.net_rxe += 1
                n = p.node
                n.rate += rsum
                n.pods_rate += rsum
                n.pods_cpu += rsum * S
                n.ws += wsum
                n.net_rx += rx
                n.net_tx += tx
            if checkpoint and ck >= p.ckpt_first:
                p.ckpt.extend(cum)
        fan = self.fan_running()
        alpha = 1.0 - math.exp(-S / TAU_SECONDS)
        for n in nodes:
            if not n.ready:
                n.temp += (ambient(t_mid) - n.temp) * alpha  # a dead node cools to room temperature
                continue
            h = jitter_bits(n.key, k)
            kubelet = int((25e6 + 20e6 * ((h & 0xFFFF) / 65536.0)) * (1 + len(n.pods) / 60))
            runtime = int(12e6 + 15e6 * (((h >> 16) & 0xFFFF) / 65536.0))
            n.sys_rate = [kubelet, runtime]
            n.sys_cpu[0] += kubelet * S
            n.sys_cpu[1] += runtime * S
            n.sys_ws = [(70 + len(n.pods) // 2) * MiB, 180 * MiB + ((h >> 32) & 0xFFF) * 4096]
            n.rate += kubelet + runtime + 8_000_000  # plus the OS itself
            n.cpu_ns += n.rate * S
            n.ws += n.sys_ws[0] + n.sys_ws[1] + 350 * MiB
            n.usage = min(n.ws + n.ws // 2 + 800 * MiB, n.mem_bytes)
            n.rss = int(n.ws * 0.62) >> 12 << 12
            n.pf += ((n.rate >> 18) + (h & 0xFFF)) * S
            n.mpf += (h >> 48) & 1
            n.net_rx += 1500 * S
            n.net_tx += 900 * S
            n.fs_used = n.image_used + sum(c.logs + c.rootfs for p in n.pods.values() for c in p.containers)
            n.temp += (node_target(n, t_mid, fan) - n.temp) * alpha
            if n.gpu_count:
                for i, s in enumerate(n.gpu_step):
                    util = s[2] if s is not None else 0
                    target = n.temp + 6.0 + 40.0 * util / 100.0
                    n.gpu_temps[i] += (target - n.gpu_temps[i]) * alpha
                    n.gpu_energy[i] += int(gpu_power(n, util) * 1000 * S)


def gpu_power(n, util: int) -> float:
    """Board power in W: idle draw plus a share of the TDP proportional to utilisation."""
    return n.gpu_tdp * (0.12 + 0.83 * util / 100.0)
