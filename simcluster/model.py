"""The simulated cluster's objects and the usage model.

Usage is piecewise constant: step k covers (t_k - step, t_k] and, during it, every running
container has one CPU rate, one working set and one GPU utilisation, given by ``step_values``,
a pure function of the container's profile and k. Everything the simulator reports (kubelet
summary, metrics.k8s.io, DCGM) is taken from these values, and ``/sim/truth`` integrates them, so
the truth is exact by construction rather than approximately equal to what was served.

Objects use ``__slots__``: 10,000 pods must fit, with their cached JSON, in well under 500 MB.
"""

from __future__ import annotations

import math
from array import array

from .rand import GOLDEN, M64, draw, halves, mix64

# Checkpoints of each pod's cumulative integrals are kept every CHECKPOINT_EVERY steps; the truth
# for a step between two checkpoints is recomputed from the (pure) step values. 16 keeps a
# 10,000-pod cluster's history to about 20 KB per step and a truth query under a second or two.
CHECKPOINT_EVERY = 16

OPEN = 1 << 62  # "segment still running"

_JITTER = 0x5851F42D4C957F2D
_TWO_PI_DAY = 2.0 * math.pi / 86_400.0
_INV21 = 1.0 / (1 << 21)

# Waiting reasons that make a pod "failed" in DESIGN §5's sense.
ERROR_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "RunContainerError",
        "CreateContainerError",
        "CreateContainerConfigError",
        "InvalidImageName",
    }
)


class Container:
    __slots__ = (
        "name",
        "image",
        "image_id",
        "pull_policy",
        "requests",
        "limits",
        "req_cpu_m",
        "req_mem",
        "lim_mem",
        "ports",
        "mounts",
        # profile: fixed at creation, the inputs of step_values
        "key",
        "cpu_base",
        "cpu_cap",
        "mem_base",
        "mem_cap",
        "daily_amp",
        "phase",
        "gpus",
        "gpu_base",
        "fb_mib",
        "net_base",
        "log_rate",
        # lifecycle
        "segments",
        "running",
        "started_at",
        "restarts",
        "container_id",
        "waiting",
        "term",
        "last_term",
        # cumulative counters since this container instance started (reset on restart)
        "cpu_ns",
        "pf",
        "mpf",
        "logs",
        "rootfs",
        # the last completed step
        "ran",
        "rate",
        "ws",
        "util",
        "fb",
        # cache of the smooth-noise knots (results do not depend on it)
        "knot_i",
        "knot_a",
        "knot_b",
    )

    def __init__(self, name: str, image: str):
        self.name = name
        self.image = image
        self.image_id = ""
        self.pull_policy = "IfNotPresent"
        self.requests: dict[str, str] = {}
        self.limits: dict[str, str] = {}
        self.req_cpu_m = 0
        self.req_mem = 0
        self.lim_mem = 0
        self.ports: list | None = None
        self.mounts: list = []
        self.key = 0
        self.cpu_base = 0.0
        self.cpu_cap = 0
        self.mem_base = 0.0
        self.mem_cap = 0
        self.daily_amp = 0.0
        self.phase = 0.0
        self.gpus = 0
        self.gpu_base = 0.0
        self.fb_mib = 0
        self.net_base = 0.0
        self.log_rate = 0
        self.segments: list[int] = []
        self.running = False
        self.started_at = 0
        self.restarts = 0
        self.container_id = ""
        self.waiting: tuple[str, str] | None = None
        self.term: tuple | None = None
        self.last_term: tuple | None = None
        self.cpu_ns = 0
        self.pf = 0
        self.mpf = 0
        self.logs = 0
        self.rootfs = 0
        self.ran = False
        self.rate = 0
        self.ws = 0
        self.util = 0
        self.fb = 0
        self.knot_i = -(1 << 40)
        self.knot_a = (0.0, 0.0)
        self.knot_b = (0.0, 0.0)

    def running_during(self, k: int) -> bool:
        """Whether this container ran during step k (segments are (start, end] in step indices)."""
        seg = self.segments
        for i in range(len(seg) - 2, -1, -2):
            if seg[i] < k <= seg[i + 1]:
                return True
            if seg[i + 1] < k:
                return False
        return False


def step_values(c: Container, k: int, t_mid: float, span: int) -> tuple[int, int, int]:
    """(CPU nanocores, working-set bytes, GPU utilisation %) of container c during step k.

    A daily sine (amplitude per container, phase per namespace), a smooth random walk (value
    noise with knots every ``span`` steps) and a small per-step jitter, clamped to the limits.
    """
    i = k // span
    if c.knot_i != i:
        c.knot_a = c.knot_b if c.knot_i == i - 1 else halves(mix64(c.key + i * GOLDEN))
        c.knot_b = halves(mix64(c.key + (i + 1) * GOLDEN))
        c.knot_i = i
    f = (k - i * span) / span
    w = f * f * (3.0 - 2.0 * f)
    a_cpu, a_mem = c.knot_a
    b_cpu, b_mem = c.knot_b
    s_cpu = a_cpu + (b_cpu - a_cpu) * w
    s_mem = a_mem + (b_mem - a_mem) * w
    h = mix64((c.key ^ _JITTER) + k * GOLDEN)
    j1 = (h >> 43) * _INV21
    j2 = ((h >> 22) & 0x1FFFFF) * _INV21
    daily = 1.0 + c.daily_amp * math.sin((t_mid - c.phase) * _TWO_PI_DAY)
    rate = int(c.cpu_base * daily * (0.55 + 0.9 * s_cpu) * (0.85 + 0.3 * j1))
    if rate > c.cpu_cap:
        rate = c.cpu_cap
    ws = c.mem_base * (0.9 + 0.2 * s_mem) * (0.98 + 0.04 * j2)
    if ws > c.mem_cap:
        ws = c.mem_cap
    ws = max(int(ws) >> 12, 16) << 12  # whole 4 KiB pages, as cgroups count them
    if c.gpus:
        j3 = (h & 0x1FFFFF) * _INV21
        util = int(c.gpu_base + 30.0 * (s_cpu - 0.5) + 10.0 * (j3 - 0.5) + 0.5)
        util = 0 if util < 0 else 100 if util > 100 else util
    else:
        util = 0
    return rate, ws, util


class Pod:
    __slots__ = (
        "seq",
        "key",
        "uid",
        "name",
        "namespace",
        "labels",
        "annotations",
        "owner",
        "generate_name",
        "finalizers",
        "kind",
        "containers",
        "node",
        "created",
        "rv",
        "view",
        # spec
        "restart_policy",
        "priority",
        "priority_class",
        "service_account",
        "grace",
        "tolerations",
        "node_selector",
        "volumes",
        "host_network",
        "qos",
        "gpus",
        "gpu_ids",
        "req_cpu_m",
        "req_mem",
        # status
        "phase",
        "scheduled_at",
        "initialized_at",
        "ready_at",
        "ready",
        "started_at",
        "ip",
        "unsched_msg",
        "reason",
        "deletion",
        "deleted_grace",
        "removed",
        # accounting: cumulative integrals since the simulation start (cpu core-ns, memory
        # byte-s, GPU-s requested, GPU %-s used), checkpoints, and the creation step
        "cum",
        "ckpt",
        "ckpt_first",
        "born_step",
        "final_step",
        # pod-level counters (pod cgroup and network namespace: they survive container restarts)
        "pod_cpu_ns",
        "net_rx",
        "net_tx",
        "net_rxe",
        "net_txe",
        "rate",
        "ws",
        "ran",
        # behaviour
        "plan",
        "backoff",
        "runs",
        "holds",
        "replace",
    )

    def __init__(self, seq: int, key: int, uid: str, name: str, namespace: str, kind: str):
        self.seq = seq
        self.key = key
        self.uid = uid
        self.name = name
        self.namespace = namespace
        self.kind = kind
        self.labels: dict[str, str] = {}
        self.annotations: dict[str, str] | None = None
        self.owner: tuple[str, str, str, str] | None = None  # (apiVersion, kind, name, uid)
        self.generate_name: str | None = None
        self.finalizers: list[str] | None = None
        self.containers: list[Container] = []
        self.node = None
        self.created = 0
        self.rv = 0
        self.view = None
        self.restart_policy = "Always"
        self.priority = 0
        self.priority_class: str | None = None
        self.service_account = "default"
        self.grace = 30
        self.tolerations: list = []
        self.node_selector: dict | None = None
        self.volumes: list = []
        self.host_network = False
        self.qos = "BestEffort"
        self.gpus = 0
        self.gpu_ids: list[int] = []
        self.req_cpu_m = 0
        self.req_mem = 0
        self.phase = "Pending"
        self.scheduled_at: int | None = None
        self.initialized_at: int | None = None
        self.ready_at: int | None = None
        self.ready = False
        self.started_at: int | None = None
        self.ip: str | None = None
        self.unsched_msg: str | None = None
        self.reason: str | None = None
        self.deletion: int | None = None
        self.deleted_grace: int | None = None
        self.removed = False
        self.cum = [0, 0, 0, 0]
        self.ckpt = array("q")
        self.ckpt_first = 0
        self.born_step = 0
        self.final_step: int | None = None
        self.pod_cpu_ns = 0
        self.net_rx = 0
        self.net_tx = 0
        self.net_rxe = 0
        self.net_txe = 0
        self.rate = 0
        self.ws = 0
        self.ran = False
        self.plan = 0
        self.backoff = 0
        self.runs = 0
        self.holds = False  # requests/GPUs counted on the node
        self.replace: str | None = None  # "removal": the owner recreates the pod once it is gone

    def state(self) -> str:
        """DESIGN §5: deleting, failed, pending, running, succeeded (and deleted once gone)."""
        if self.removed:
            return "deleted"
        if self.deletion is not None:
            return "deleting"
        if self.phase == "Failed":
            return "failed"
        for c in self.containers:
            if c.waiting is not None and c.waiting[0] in ERROR_WAITING:
                return "failed"
        if self.phase == "Pending":
            return "pending"
        if self.phase == "Running":
            return "running"
        if self.phase == "Succeeded":
            return "succeeded"
        return "pending"


class Node:
    __slots__ = (
        "name",
        "seq",
        "key",
        "uid",
        "role",
        "gpu_kind",
        "gpu_model",
        "gpu_count",
        "gpu_fb_mib",
        "gpu_tdp",
        "gpu_uuids",
        "kubelet_port",
        "arch",
        "cpu_cores",
        "mem_bytes",
        "alloc_cpu_m",
        "alloc_mem",
        "max_pods",
        "labels",
        "taints",
        "ready",
        "ready_at",
        "heartbeat",
        "boot",
        "boot_id",
        "created",
        "ip",
        "pod_cidr",
        "pods",
        "req_cpu_m",
        "req_mem",
        "gpu_owner",
        "gpu_step",
        "rv",
        "view",
        "summary",
        "fs_cap",
        "fs_used",
        "image_used",
        "ip_next",
        # node-level counters and the last step's values
        "cpu_ns",
        "rate",
        "ws",
        "usage",
        "rss",
        "pf",
        "mpf",
        "net_rx",
        "net_tx",
        "sys_cpu",
        "sys_rate",
        "sys_ws",
        "temp",
        "gpu_temps",
        "gpu_energy",
        "pods_cpu",
        "pods_rate",
        "clock_skew",
    )

    def __init__(self, name: str, seq: int, key: int, role: str):
        self.name = name
        self.seq = seq
        self.key = key
        self.uid = ""
        self.role = role  # "control-plane" | "worker"
        self.gpu_kind: str | None = None  # None | "dcgm" | "jetson"
        self.gpu_model = ""
        self.gpu_count = 0
        self.gpu_fb_mib = 0
        self.gpu_tdp = 0.0
        self.gpu_uuids: list[str] = []
        self.arch = "amd64"
        self.cpu_cores = 0
        self.mem_bytes = 0
        self.alloc_cpu_m = 0
        self.alloc_mem = 0
        self.max_pods = 110
        self.labels: dict[str, str] = {}
        self.taints: list[dict] = []
        self.ready = True
        self.ready_at = 0
        self.heartbeat = 0
        self.boot = 0
        self.boot_id = ""
        self.created = 0
        self.ip = ""
        self.kubelet_port = 10250  # its own loopback port when the simulator serves kubelets
        self.pod_cidr = ""
        self.pods: dict[str, Pod] = {}
        self.req_cpu_m = 0
        self.req_mem = 0
        self.gpu_owner: list[Pod | None] = []
        self.gpu_step: list[tuple | None] = []
        self.rv = 0
        self.view = None
        self.clock_skew = 0  # seconds the node's kubelet clock is ahead of the simulated clock (--clock-skew)
        self.summary: tuple[int, bytes] | None = None
        self.fs_cap = 0
        self.fs_used = 0
        self.image_used = 0
        self.ip_next = 2
        self.cpu_ns = 0
        self.rate = 0
        self.ws = 0
        self.usage = 0
        self.rss = 0
        self.pf = 0
        self.mpf = 0
        self.net_rx = 0
        self.net_tx = 0
        self.sys_cpu = [0, 0]  # kubelet, runtime cumulative core-ns
        self.sys_rate = [0, 0]
        self.sys_ws = [0, 0]
        self.temp = 35.0
        self.gpu_temps: list[float] = []
        self.gpu_energy: list[int] = []  # mJ since boot, per GPU (DCGM's TOTAL_ENERGY_CONSUMPTION)
        self.pods_cpu = 0  # the "pods" cgroup's counter: keeps the usage of pods that are gone
        self.pods_rate = 0

    @property
    def is_control_plane(self) -> bool:
        return self.role == "control-plane"

    def gpus_free(self) -> int:
        return sum(1 for o in self.gpu_owner if o is None)


class Namespace:
    __slots__ = ("name", "uid", "labels", "created", "rv", "view", "tenant", "phase_offset")

    def __init__(self, name: str, uid: str, created: int, labels: dict[str, str], tenant: str | None):
        self.name = name
        self.uid = uid
        self.created = created
        self.labels = labels
        self.tenant = tenant
        self.rv = 0
        self.view = None
        # tenants in different time zones peak at different hours; shared by their pods
        self.phase_offset = 0.0


def jitter_bits(key: int, k: int) -> int:
    """Extra per-step randomness for counters that are not part of the truth (network, faults)."""
    return draw(key ^ 0x2545F4914F6CDD1D, k) & M64
