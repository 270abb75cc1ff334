"""What the kubelet, metrics-server and the GPU/temperature exporters would report.

Everything here describes the last completed step K: ``time``/``timestamp`` is t_K, rates and
working sets are step K's values, and counters are the exact integrals up to t_K. A collector
that samples once per step therefore sees every step exactly once.
"""

from __future__ import annotations

import orjson

from .model import Node, Pod
from .rand import suffix
from .timeutil import cpu_quantity, fmt_time, memory_quantity
from .usage import gpu_power

INODES = 6_258_720
DRIVER = "550.127.05"


def _fs(t: str, cap: int, used: int, inodes_used: int) -> dict:
    used = min(used, cap)
    return {
        "time": t,
        "availableBytes": cap - used,
        "capacityBytes": cap,
        "usedBytes": used,
        "inodesFree": INODES - inodes_used,
        "inodes": INODES,
        "inodesUsed": inodes_used,
    }


def _mem(t: str, ws: int, pf: int, mpf: int, limit: int | None = None) -> dict:
    d = {"time": t}
    if limit:
        d["availableBytes"] = max(limit - ws, 0)
    # page cache on top of the working set, and anonymous memory below it: derived from the
    # working set so they stay consistent with it
    d.update(
        {
            "usageBytes": ws + (ws >> 3 >> 12 << 12),
            "workingSetBytes": ws,
            "rssBytes": (ws * 7 // 8) >> 12 << 12,
            "pageFaults": pf,
            "majorPageFaults": mpf,
        }
    )
    return d


def _pod_alive(p: Pod) -> bool:
    """The pod has a sandbox the kubelet reports on (or ran during the step)."""
    if p.ran:
        return True
    if p.phase not in ("Running", "Pending"):
        return False
    return not any(c.waiting and c.waiting[0] == "ContainerCreating" for c in p.containers)


def cached_summary(cluster, n: Node) -> bytes:
    """``summary`` of ``n``, made once per step and resource version (the caller holds the lock).

    The node proxy and the node's own kubelet serve the same bytes for the same moment.
    """
    key = (cluster.K, cluster.rv)
    if n.summary is None or n.summary[0] != key:
        n.summary = (key, summary(cluster, n))
    return n.summary[1]


def summary(cluster, n: Node) -> bytes:
    skew = n.clock_skew  # every time the kubelet reports is on its own clock (--clock-skew)

    def at(seconds: float) -> str:
        return fmt_time(seconds + skew)

    t = at(cluster.step_time())
    fs_cap = n.fs_cap
    pods = []
    for p in sorted(n.pods.values(), key=lambda p: (p.namespace, p.name)):
        if not _pod_alive(p):
            continue
        containers = []
        pf = mpf = rootfs = logs = 0
        for c in p.containers:
            rootfs += c.rootfs
            logs += c.logs
            if not c.ran:
                continue
            pf += c.pf
            mpf += c.mpf
            containers.append(
                {
                    "name": c.name,
                    "startTime": at(c.started_at),
                    "cpu": {"time": t, "usageNanoCores": c.rate, "usageCoreNanoSeconds": c.cpu_ns},
                    "memory": _mem(t, c.ws, c.pf, c.mpf, c.lim_mem),
                    "rootfs": _fs(t, fs_cap, c.rootfs, 5 + c.rootfs // 40_960),
                    "logs": _fs(t, fs_cap, c.logs, 4 + c.logs // 1_048_576),
                }
            )
        volumes = []
        vol_used = 0
        for name in p.volumes:
            used = 4096 * (1 + (p.key >> 20) % 50_000)
            vol_used += used
            v = _fs(t, fs_cap, used, 1 + used // 65_536)
            v["name"] = name
            if name == "data":
                v["capacityBytes"] = 10 << 30
                v["availableBytes"] = (10 << 30) - used
                v["pvcRef"] = {"name": f"data-{p.name}", "namespace": p.namespace}
            volumes.append(v)
        token = _fs(t, min(n.mem_bytes, 1 << 31), 12_288, 9)
        token["name"] = f"kube-api-access-{suffix(p.key)}"
        volumes.append(token)
        pods.append(
            {
                "podRef": {"name": p.name, "namespace": p.namespace, "uid": p.uid},
                "startTime": at(p.started_at),
                "containers": containers,
                "cpu": {
                    "time": t,
                    "usageNanoCores": p.rate if p.ran else 0,
                    "usageCoreNanoSeconds": p.pod_cpu_ns,
                },
                "memory": _mem(t, p.ws if p.ran else 0, pf, mpf),
                "network": {
                    "time": t,
                    "name": "eth0",
                    "rxBytes": p.net_rx,
                    "rxErrors": p.net_rxe,
                    "txBytes": p.net_tx,
                    "txErrors": p.net_txe,
                    "interfaces": [
                        {
                            "name": "eth0",
                            "rxBytes": p.net_rx,
                            "rxErrors": p.net_rxe,
                            "txBytes": p.net_tx,
                            "txErrors": p.net_txe,
                        }
                    ],
                },
                "volume": volumes,
                "ephemeral-storage": _fs(t, fs_cap, rootfs + logs + vol_used, 20),
                "process_stats": {"process_count": 1 + 2 * len(containers)},
            }
        )
    boot = at(n.boot)
    node = {
        "nodeName": n.name,
        "systemContainers": [
            {
                "name": "kubelet",
                "startTime": at(n.boot + 12),
                "cpu": {"time": t, "usageNanoCores": n.sys_rate[0], "usageCoreNanoSeconds": n.sys_cpu[0]},
                "memory": _mem(t, n.sys_ws[0], n.sys_cpu[0] >> 24, 31),
            },
            {
                "name": "runtime",
                "startTime": at(n.boot + 9),
                "cpu": {"time": t, "usageNanoCores": n.sys_rate[1], "usageCoreNanoSeconds": n.sys_cpu[1]},
                "memory": _mem(t, n.sys_ws[1], n.sys_cpu[1] >> 24, 12),
            },
            {
                "name": "pods",
                "startTime": at(n.boot + 12),
                "cpu": {"time": t, "usageNanoCores": n.pods_rate, "usageCoreNanoSeconds": n.pods_cpu},
                "memory": dict(
                    _mem(t, sum(p.ws for p in n.pods.values() if p.ran), 0, 0),
                    availableBytes=max(n.alloc_mem - sum(p.ws for p in n.pods.values() if p.ran), 0),
                ),
            },
        ],
        "startTime": boot,
        "cpu": {"time": t, "usageNanoCores": n.rate, "usageCoreNanoSeconds": n.cpu_ns},
        "memory": dict(
            _mem(t, n.ws, n.pf, n.mpf),
            availableBytes=max(n.mem_bytes - n.ws, 0),
            usageBytes=n.usage,
            rssBytes=n.rss,
        ),
        "network": {
            "time": t,
            "name": "eth0",
            "rxBytes": n.net_rx,
            "rxErrors": 0,
            "txBytes": n.net_tx,
            "txErrors": 0,
            "interfaces": [
                {"name": "eth0", "rxBytes": n.net_rx, "rxErrors": 0, "txBytes": n.net_tx, "txErrors": 0}
            ],
        },
        "fs": _fs(t, fs_cap, n.fs_used, 120_000 + len(n.pods) * 300),
        "runtime": {
            "imageFs": _fs(t, fs_cap, n.image_used, 90_000),
            "containerFs": _fs(t, fs_cap, n.fs_used - n.image_used, 30_000),
        },
        "rlimit": {"time": t, "maxpid": 4_194_304, "curproc": 180 + 6 * len(n.pods)},
    }
    return orjson.dumps({"node": node, "pods": pods})


# -- metrics.k8s.io ---------------------------------------------------------------------------------


def node_metrics(cluster, n: Node, now: str) -> dict:
    return {
        "metadata": {"name": n.name, "creationTimestamp": now, "labels": n.labels},
        "timestamp": fmt_time(cluster.step_time() + n.clock_skew),  # metrics-server passes the kubelet's time on
        "window": f"{cluster.S}s",
        "usage": {"cpu": cpu_quantity(n.rate), "memory": memory_quantity(n.ws)},
    }


def pod_metrics(cluster, p: Pod, now: str) -> dict:
    return {
        "metadata": {"name": p.name, "namespace": p.namespace, "creationTimestamp": now, "labels": p.labels},
        "timestamp": fmt_time(cluster.step_time() + (p.node.clock_skew if p.node is not None else 0)),
        "window": f"{cluster.S}s",
        "containers": [
            {"name": c.name, "usage": {"cpu": cpu_quantity(c.rate), "memory": memory_quantity(c.ws)}}
            for c in p.containers
            if c.ran
        ],
    }


def has_metrics(p: Pod) -> bool:
    """metrics-server lists only pods it scraped: at least one container ran during the window,
    on a node it can reach."""
    return p.ran and p.node is not None and p.node.ready


# -- GPU exporters -----------------------------------------------------------------------------------

_DCGM = [
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
]


def dcgm_page(n: Node) -> bytes:
    """dcgm-exporter in Kubernetes mode: one series per GPU, pod labels on attributed GPUs."""
    rows = []
    for i in range(n.gpu_count):
        s = n.gpu_step[i]
        labels = (
            f'gpu="{i}",UUID="{n.gpu_uuids[i]}",device="nvidia{i}",modelName="{n.gpu_model}",'
            f'Hostname="{n.name}",DCGM_FI_DRIVER_VERSION="{DRIVER}"'
        )
        util = fb = 0
        if s is not None:
            p, c, util, fb = s
            labels += f',container="{c.name}",namespace="{p.namespace}",pod="{p.name}"'
        reserved = 531 if n.gpu_fb_mib > 20_000 else 260
        power = gpu_power(n, util)
        values = {
            "DCGM_FI_DEV_SM_CLOCK": str(210 + 12 * util if util else 210),
            "DCGM_FI_DEV_MEM_CLOCK": "1215" if n.gpu_fb_mib > 20_000 else "5000",
            "DCGM_FI_DEV_GPU_TEMP": str(int(n.gpu_temps[i])),
            "DCGM_FI_DEV_POWER_USAGE": f"{power:.6f}",
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": str(n.gpu_energy[i]),
            "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": "0",
            "DCGM_FI_DEV_GPU_UTIL": str(util),
            "DCGM_FI_DEV_MEM_COPY_UTIL": str(util * 2 // 5),
            "DCGM_FI_DEV_ENC_UTIL": "0",
            "DCGM_FI_DEV_DEC_UTIL": "0",
            "DCGM_FI_DEV_XID_ERRORS": "0",
            "DCGM_FI_DEV_FB_FREE": str(n.gpu_fb_mib - reserved - fb),
            "DCGM_FI_DEV_FB_USED": str(fb),
        }
        rows.append((labels, values))
    out = []
    for name, typ, help_ in _DCGM:
        out.append(f"# HELP {name} {help_}\n# TYPE {name} {typ}\n")
        for labels, values in rows:
            out.append(f"{name}{{{labels}}} {values[name]}\n")
    return "".join(out).encode()


def _g(v: float) -> str:
    """prometheus_client's float formatting (``45.0``), which the Jetson exporter uses."""
    return repr(float(v))


def jetson_page(cluster, n: Node) -> bytes:
    """The jetson-stats Prometheus exporter's families (gpu_usage_gpu, gpu_temperatures in °C,
    gpu_usage_power in mW). It cannot attribute the GPU to a pod: no pod labels."""
    s = n.gpu_step[0] if n.gpu_count else None
    util = s[2] if s is not None else 0
    up = max(cluster.step_time() - n.boot, 0)
    cores = n.cpu_cores
    per_core = min(100.0, n.rate / 1e7 / max(cores, 1))
    lines = [
        "# HELP gpu_info_board_info Board sys info",
        "# TYPE gpu_info_board_info gauge",
        'gpu_info_board_info{board_info="info",jetpack="6.0",l4t="36.3.0",machine="NVIDIA Jetson Orin NX '
        'Engineering Reference Developer Kit"} 1.0',
        "# HELP gpu_uptime System uptime",
        "# TYPE gpu_uptime gauge",
        f'gpu_uptime{{uptime="days"}} {_g(up // 86_400)}',
        f'gpu_uptime{{uptime="hours"}} {_g(up % 86_400 // 3600)}',
        f'gpu_uptime{{uptime="minutes"}} {_g(up % 3600 // 60)}',
        "# HELP gpu_usage_cpu CPU % schedutil",
        "# TYPE gpu_usage_cpu gauge",
    ]
    lines += [f'gpu_usage_cpu{{cpu="cpu_{i + 1}"}} {_g(round(per_core, 1))}' for i in range(8)]
    fan = 100.0 if cluster.fan_running() else 0.0
    gpu_temp = n.gpu_temps[0] if n.gpu_temps else n.temp
    lines += [
        "# HELP gpu_usage_gpu GPU % schedutil",
        "# TYPE gpu_usage_gpu gauge",
        f'gpu_usage_gpu{{gpu="val"}} {_g(util)}',
        "# HELP gpu_usage_fan Fan usage",
        "# TYPE gpu_usage_fan gauge",
        f'gpu_usage_fan{{fan="speed"}} {_g(fan)}',
        "# HELP gpu_temperatures Sensor temperatures",
        "# TYPE gpu_temperatures gauge",
        f'gpu_temperatures{{temperature="cpu"}} {_g(round(n.temp, 2))}',
        f'gpu_temperatures{{temperature="gpu"}} {_g(round(gpu_temp, 2))}',
        f'gpu_temperatures{{temperature="tj"}} {_g(round(max(n.temp, gpu_temp) + 1.5, 2))}',
        "# HELP gpu_usage_power Power usage",
        "# TYPE gpu_usage_power gauge",
        f'gpu_usage_power{{power="cv"}} {_g(round(400 + 20 * per_core))}',
        f'gpu_usage_power{{power="gpu"}} {_g(round(gpu_power(n, util) * 1000))}',
        f'gpu_usage_power{{power="sys5v"}} {_g(round(3500 + 35 * per_core))}',
    ]
    return ("\n".join(lines) + "\n").encode()


def node_exporter_page(n: Node) -> bytes:
    """node_exporter's temperature families, as in samples/node-exporter-temperature.txt."""
    c = f"{n.temp:.3f}"
    return (
        "# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)\n"
        "# TYPE node_hwmon_temp_celsius gauge\n"
        f'node_hwmon_temp_celsius{{chip="thermal_thermal_zone0",sensor="temp1"}} {c}\n'
        "# HELP node_thermal_zone_temp Zone temperature in Celsius\n"
        "# TYPE node_thermal_zone_temp gauge\n"
        f'node_thermal_zone_temp{{type="cpu-thermal",zone="0"}} {c}\n'
    ).encode()
