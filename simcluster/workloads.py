"""Workloads: the templates pods are made from (system components and tenant applications).

A Workload stands for the controller that owns pods (Deployment via its ReplicaSet, StatefulSet,
DaemonSet, Job, static pod, bare pod); replacement pods are created from the same workload, so a
rolled pod keeps its ReplicaSet and a finished job is followed by the next run.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from .config import Options
from .model import Namespace, Node
from .rand import derive, template_hash, uid
from .scenario import K8S_VERSION, GiB, MiB

TOL_DEFAULT = [
    {
        "effect": "NoExecute",
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "tolerationSeconds": 300,
    },
    {
        "effect": "NoExecute",
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "tolerationSeconds": 300,
    },
]
TOL_ALL = [{"operator": "Exists"}]
TOL_GPU = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, *TOL_DEFAULT]
TOL_JETSON = [
    {"key": "kubemon.io/edge", "operator": "Equal", "value": "jetson", "effect": "NoSchedule"},
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    *TOL_DEFAULT,
]
TOL_CP = [
    {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
    {"key": "CriticalAddonsOnly", "operator": "Exists"},
    *TOL_DEFAULT,
]


class CSpec:
    """A container template: requests/limits in millicores and bytes, and the usage profile."""

    __slots__ = (
        "name",
        "image",
        "req_cpu",
        "req_mem",
        "lim_cpu",
        "lim_mem",
        "gpus",
        "cpu_frac",
        "mem_frac",
        "gpu_base",
        "daily_amp",
        "ports",
        "idle",
    )

    def __init__(
        self,
        name,
        image,
        req_cpu=0,
        req_mem=0,
        lim_cpu=0,
        lim_mem=0,
        gpus=0,
        cpu_frac=0.4,
        mem_frac=0.6,
        gpu_base=0.0,
        daily_amp=0.4,
        ports=None,
        idle=False,
    ):
        self.name, self.image = name, image
        self.req_cpu, self.req_mem, self.lim_cpu, self.lim_mem = req_cpu, req_mem, lim_cpu, lim_mem
        self.gpus, self.cpu_frac, self.mem_frac, self.gpu_base = gpus, cpu_frac, mem_frac, gpu_base
        self.daily_amp, self.ports, self.idle = daily_amp, ports, idle


class Workload:
    """What creates pods: a Deployment (through its ReplicaSet), a StatefulSet, a DaemonSet, a
    Job, a static pod or a bare pod. Replacement pods are made from the same workload."""

    __slots__ = (
        "key",
        "namespace",
        "kind",
        "owner_api",
        "owner_kind",
        "name",
        "rs_name",
        "owner_uid",
        "containers",
        "restart_policy",
        "priority_class",
        "priority",
        "service_account",
        "tolerations",
        "node_selector",
        "host_network",
        "labels",
        "grace",
        "pin",
        "life",
        "job_len",
        "ttl",
        "counter",
        "volumes",
        "app",
    )

    def __init__(self, key, namespace, kind, owner_kind, name, containers, **kw):
        self.key = key
        self.namespace = namespace
        self.kind = kind  # behaviour: service, job, crashloop, runerror, imagepull, unschedulable, failed
        self.owner_kind = owner_kind  # ReplicaSet, StatefulSet, DaemonSet, Job, Node, None
        self.owner_api = {
            "ReplicaSet": "apps/v1",
            "StatefulSet": "apps/v1",
            "DaemonSet": "apps/v1",
            "Job": "batch/v1",
            "Node": "v1",
        }.get(owner_kind)
        self.name = name
        self.rs_name = f"{name}-{template_hash(key)}" if owner_kind == "ReplicaSet" else name
        self.owner_uid = uid(derive(key, "owner"))
        self.containers = containers
        self.restart_policy = kw.get("restart_policy", "Always")
        self.priority_class = kw.get("priority_class")
        self.priority = kw.get("priority", 0)
        self.service_account = kw.get("service_account", "default")
        self.tolerations = kw.get("tolerations", TOL_DEFAULT)
        self.node_selector = kw.get("node_selector")
        self.host_network = kw.get("host_network", False)
        self.labels = kw.get("labels", {})
        self.grace = kw.get("grace", 30)
        self.pin = kw.get("pin")  # node name for DaemonSet and static pods
        self.life = kw.get("life")  # mean life in seconds before a rolling replacement, or None
        self.job_len = kw.get("job_len", (300, 1800))
        self.ttl = kw.get("ttl", 600)
        self.counter = 0
        self.volumes = kw.get("volumes", [])
        self.app = kw.get("app", name)


class Template(NamedTuple):
    """A row of the workload tables below: what ``build`` turns into a Workload."""

    key: tuple[str, ...]  # the workload's key is derive(seed, *key, *parts given to build)
    namespace: str | None  # None: a tenant namespace, chosen when the workload is built
    kind: str
    owner_kind: str | None
    name: str  # also the ``app`` unless extra says otherwise
    containers: tuple[dict, ...]  # CSpec arguments; "{ns}" in an image stands for the namespace
    extra: dict  # Workload keyword arguments


def build(
    t: Template,
    seed: int,
    *parts: int | str,
    namespace: str | None = None,
    name: str | None = None,
    spec: dict | None = None,
    **kw,
) -> Workload:
    """The Workload of a table row; ``spec`` overrides the first container's CSpec arguments and
    ``kw`` the row's Workload arguments."""
    ns = namespace or t.namespace
    rows = [{**t.containers[0], **(spec or {})}, *t.containers[1:]]
    containers = [CSpec(**{**c, "image": c["image"].replace("{ns}", ns)}) for c in rows]
    kw = {"app": t.name, **t.extra, **kw}
    return Workload(derive(seed, *t.key, *parts), ns, t.kind, t.owner_kind, name or t.name, containers, **kw)


def _port(number: int, name: str, protocol: str = "TCP") -> dict:
    return {"containerPort": number, "name": name, "protocol": protocol}


NODE_CRITICAL = {"priority_class": "system-node-critical", "priority": 2000001000}
CLUSTER_CRITICAL = {"priority_class": "system-cluster-critical", "priority": 2000000000}

# The tables: Template(key, namespace, kind, owner kind, name, containers, Workload arguments).


def _static(component: str, image: str, req_cpu: int, req_mem: int = 0) -> Template:
    """A control-plane static pod: the kubelet runs it from a manifest, its owner is the Node."""
    c = dict(name=component, image=image, req_cpu=req_cpu, req_mem=req_mem, cpu_frac=0.6, mem_frac=2.5, daily_amp=0.15)
    return Template(("static", component), "kube-system", "service", "Node", component, (c,), dict(
        **NODE_CRITICAL, tolerations=[{"effect": "NoExecute", "operator": "Exists"}], host_network=True,
        labels={"component": component, "tier": "control-plane"}))


# (which nodes, template): the system pods of each node, in the order they are created
NODE_WORKLOADS = (
    ("all", Template(("ds", "kube-proxy"), "kube-system", "service", "DaemonSet", "kube-proxy", (
        dict(name="kube-proxy", image=f"registry.k8s.io/kube-proxy:{K8S_VERSION}", cpu_frac=0.0, mem_frac=0.0,
             daily_amp=0.1),
    ), dict(**NODE_CRITICAL, tolerations=TOL_ALL, host_network=True, service_account="kube-proxy",
            labels={"k8s-app": "kube-proxy"}))),
    ("control-plane", _static("etcd", "registry.k8s.io/etcd:3.5.15-0", 100, 100 * MiB)),
    ("control-plane", _static("kube-apiserver", f"registry.k8s.io/kube-apiserver:{K8S_VERSION}", 250)),
    ("control-plane", _static(
        "kube-controller-manager", f"registry.k8s.io/kube-controller-manager:{K8S_VERSION}", 200)),
    ("control-plane", _static("kube-scheduler", f"registry.k8s.io/kube-scheduler:{K8S_VERSION}", 100)),
    ("dcgm", Template(("ds", "dcgm"), "gpu-operator", "service", "DaemonSet", "nvidia-dcgm-exporter", (
        dict(name="nvidia-dcgm-exporter", image="nvcr.io/nvidia/k8s/dcgm-exporter:3.3.8-3.6.0-ubuntu22.04",
             cpu_frac=0.0, mem_frac=0.0, daily_amp=0.05, ports=[_port(9400, "metrics")]),
    ), dict(**NODE_CRITICAL, tolerations=TOL_ALL, service_account="nvidia-dcgm-exporter",
            labels={"app": "nvidia-dcgm-exporter"}))),
    ("jetson", Template(("ds", "jetson"), "kube-system", "service", "DaemonSet", "jetson-exporter", (
        dict(name="jetson-exporter", image="ghcr.io/kubemon/jetson-stats-exporter:0.4.1", req_cpu=50,
             req_mem=64 * MiB, lim_mem=128 * MiB, cpu_frac=0.3, mem_frac=0.7, daily_amp=0.05,
             ports=[_port(9998, "metrics")]),
    ), dict(tolerations=TOL_ALL, labels={"app": "jetson-exporter"}))),
)
# (template, replicas): the cluster's own Deployments
CLUSTER_DEPLOYMENTS = (
    (Template(("deploy", "coredns"), "kube-system", "service", "ReplicaSet", "coredns", (
        dict(name="coredns", image="registry.k8s.io/coredns/coredns:v1.11.3", req_cpu=100, req_mem=70 * MiB,
             lim_mem=170 * MiB, cpu_frac=0.05, mem_frac=0.4, daily_amp=0.3,
             ports=[_port(53, "dns", "UDP"), _port(53, "dns-tcp"), _port(9153, "metrics")]),
    ), dict(**CLUSTER_CRITICAL, tolerations=TOL_CP, service_account="coredns", labels={"k8s-app": "kube-dns"})), 2),
    (Template(("deploy", "metrics-server"), "kube-system", "service", "ReplicaSet", "metrics-server", (
        dict(name="metrics-server", image="registry.k8s.io/metrics-server/metrics-server:v0.7.2", req_cpu=100,
             req_mem=200 * MiB, cpu_frac=0.04, mem_frac=0.2, daily_amp=0.1, ports=[_port(10250, "https")]),
    ), dict(**CLUSTER_CRITICAL, service_account="metrics-server", labels={"k8s-app": "metrics-server"})), 1),
)


def _runs_on(n: Node, where: str) -> bool:
    if where == "control-plane":
        return n.is_control_plane
    return where == "all" or n.gpu_kind == where


def system_workloads(o: Options, nodes: list[Node]) -> list[Workload]:
    out: list[Workload] = []
    for n in nodes:
        for where, t in NODE_WORKLOADS:
            if _runs_on(n, where):
                # a static pod's workload is its node: the pod is named "<component>-<node>"
                name = n.name if t.owner_kind == "Node" else t.name
                out.append(build(t, o.seed, n.name, name=name, pin=n.name))
    for t, replicas in CLUSTER_DEPLOYMENTS:
        out += [build(t, o.seed)] * replicas  # the replicas share their workload
    return out


# GPU work: training jobs and LLM serving on DCGM nodes (``gpus`` set per pod), inference on Jetsons
TRAIN = Template(("gpujob",), None, "job", "Job", "train", (
    dict(name="trainer", image="nvcr.io/nvidia/pytorch:24.08-py3", req_cpu=4000, req_mem=16 * GiB, lim_cpu=8000,
         lim_mem=32 * GiB, cpu_frac=0.6, mem_frac=0.6, gpu_base=85.0, daily_amp=0.02),
), dict(restart_policy="Never", tolerations=TOL_GPU, job_len=(1800, 7200), ttl=300, labels={"app": "trainer"},
        app="trainer"))
LLM_SERVE = Template(("gpusvc",), None, "service", "ReplicaSet", "llm-serve", (
    dict(name="vllm", image="vllm/vllm-openai:v0.6.3", req_cpu=2000, req_mem=24 * GiB, lim_cpu=4000,
         lim_mem=32 * GiB, cpu_frac=0.35, mem_frac=0.7, gpu_base=35.0, daily_amp=0.5, ports=[_port(8000, "http")]),
), dict(tolerations=TOL_GPU, life=3 * 86_400, labels={"app": "llm-serve"}))
EDGE_INFER = Template(("edge",), None, "service", "ReplicaSet", "edge-infer", (
    dict(name="infer", image="nvcr.io/nvidia/l4t-ml:r36.2.0-py3", req_cpu=1000, req_mem=2 * GiB, lim_cpu=4000,
         lim_mem=6 * GiB, gpus=1, cpu_frac=0.5, mem_frac=0.6, gpu_base=45.0, daily_amp=0.4),
), dict(tolerations=TOL_JETSON, node_selector={"kubernetes.io/arch": "arm64"}, life=2 * 86_400,
        labels={"app": "edge-infer"}))


def _oddity(kind: str, owner_kind: str | None, name: str, container: dict, **extra) -> Template:
    """A workload in trouble; ``kind`` says which trouble (see Workload.kind)."""
    return Template((kind,), None, kind, owner_kind, name, (container,), extra)


SMALL = 12  # fewer tenant pods than this are too few for every oddity: keep the cluster mostly healthy
# (template, share of the tenant pods, at least, on a SMALL cluster: one from that many pods on, or never)
ODDITIES = (
    (_oddity("crashloop", "ReplicaSet", "worker-broken", dict(
        name="worker", image="registry.example.org/{ns}/worker:2.3.0", req_cpu=100, req_mem=128 * MiB, lim_cpu=500,
        lim_mem=256 * MiB, cpu_frac=0.8, mem_frac=0.5, daily_amp=0.0), labels={"app": "worker-broken"}), 0.03, 1, 4),
    (_oddity("imagepull", "ReplicaSet", "dashboard", dict(
        name="dashboard", image="registry.example.org/{ns}/dashboard:v9.9.9-rc1", req_cpu=100, req_mem=128 * MiB),
        labels={"app": "dashboard"}), 0.015, 1, 6),
    (_oddity("unschedulable", "StatefulSet", "bigmem-analysis", dict(
        name="analysis", image="ghcr.io/scverse/scanpy:1.10.3", req_cpu=8000, req_mem=512 * GiB, lim_mem=512 * GiB),
        labels={"app": "bigmem-analysis"}), 0.01, 1, 8),
    (_oddity("runerror", None, "debug-shell", dict(name="shell", image="busybox:1.36", req_cpu=10, req_mem=16 * MiB),
             labels={"run": "debug-shell"}), 0.005, 0, None),
    # a job pod whose container exited 1 and which is kept for debugging
    (_oddity("failed", "Job", "migrate-db", dict(
        name="migrate", image="registry.example.org/{ns}/migrate:1.4.0", req_cpu=100, req_mem=256 * MiB),
        restart_policy="Never", labels={"app": "migrate-db"}), 0.01, 1, 10),
)


def _oddity_count(tenant_pods: int, share: float, at_least: int, small_from: int | None) -> int:
    if tenant_pods < SMALL:
        return 1 if small_from is not None and tenant_pods >= small_from else 0
    return max(at_least, round(tenant_pods * share))


def _job(name: str, image: str, cpu: int, mem: int, cpu_frac: float, mem_frac: float) -> Template:
    """A batch job, CronJob-style; its limits are twice its requests."""
    c = dict(name=name, image=image, req_cpu=cpu, req_mem=mem, lim_cpu=cpu * 2, lim_mem=mem * 2, cpu_frac=cpu_frac,
             mem_frac=mem_frac, daily_amp=0.05)
    return Template(("job",), None, "job", "Job", name, (c,), dict(job_len=(180, 1800), ttl=600, labels={"app": name}))


JOBS = (  # (name, image, req cpu m, req mem, cpu frac, mem frac)
    _job("etl-nightly", "python:3.12-slim", 500, 1 * GiB, 0.8, 0.7),
    _job("report", "alpine:3.20", 100, 128 * MiB, 0.6, 0.4),
    _job("sim-batch", "ghcr.io/{ns}/sim:1.8.2", 2000, 4 * GiB, 0.9, 0.7),
    _job("backup", "restic/restic:0.17.1", 250, 512 * MiB, 0.5, 0.5),
)
LOG_SHIPPER = dict(name="log-shipper", image="fluent/fluent-bit:3.1.9", req_cpu=50, req_mem=64 * MiB,
                   lim_mem=128 * MiB, cpu_frac=0.3, mem_frac=0.6, daily_amp=0.3)


def _service(name: str, image: str, owner_kind: str, cpu: int, mem: int, limit_factor: int, cpu_frac: float,
             mem_frac: float, sidecar: bool = False) -> tuple[Template, int]:
    """A tenant application archetype and its limit factor (limits = factor × requests, 0 = none);
    requests and usage fractions are scaled by draws when a workload is made from it."""
    c = dict(name=name, image=image, req_cpu=cpu, req_mem=mem, cpu_frac=cpu_frac, mem_frac=mem_frac,
             ports=[_port(8080, "http")])
    containers = (c, LOG_SHIPPER) if sidecar else (c,)
    grace = 60 if owner_kind == "StatefulSet" else 30
    return Template(("svc",), None, "service", owner_kind, name, containers, dict(grace=grace)), limit_factor


SERVICES = (  # (name, image, owner kind, req cpu m, req mem, limit factor, cpu frac, mem frac, log shipper?)
    _service("web", "nginx:1.27.3-alpine", "ReplicaSet", 100, 128 * MiB, 2, 0.3, 0.5),
    _service("api", "registry.example.org/{ns}/api:v2.14.1", "ReplicaSet", 250, 512 * MiB, 2, 0.5, 0.6, True),
    _service("worker", "python:3.12-slim", "ReplicaSet", 500, 1 * GiB, 2, 0.7, 0.6),
    _service("frontend", "node:20.18-alpine", "ReplicaSet", 100, 256 * MiB, 4, 0.25, 0.6),
    _service("redis", "redis:7.4.1", "StatefulSet", 100, 256 * MiB, 2, 0.2, 0.5),
    _service("postgres", "postgres:16.4", "StatefulSet", 500, 2 * GiB, 2, 0.35, 0.55),
    _service("jupyter", "quay.io/jupyter/scipy-notebook:2024-10-07", "StatefulSet", 500, 2 * GiB, 4, 0.3, 0.7),
    _service("grafana", "grafana/grafana:11.3.0", "ReplicaSet", 100, 256 * MiB, 2, 0.1, 0.5),
    _service("sim-runner", "ghcr.io/{ns}/sim:1.8.2", "ReplicaSet", 1000, 2 * GiB, 1, 0.85, 0.7),
    _service("minio", "minio/minio:RELEASE.2024-10-13T13-34-11Z", "StatefulSet", 250, 1 * GiB, 2, 0.2, 0.6),
)


def _limit(req: int, factor: int) -> int:
    return req * factor if factor else 0


def tenant_workloads(
    o: Options, rng: random.Random, nodes: list[Node], namespaces: list[Namespace], budget: int
) -> list[tuple[Workload, int, str]]:
    """Tenant workloads with their replica count and initial state, filling ``budget`` pods.

    Returns (workload, replicas, initial) with initial one of: running, done, terminating.
    """
    s = o.seed
    tenants = [
        ns
        for ns in namespaces
        if ns.tenant is not None
        or ns.name not in ("default", "kube-node-lease", "kube-public", "kube-system", "gpu-operator")
    ]
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(tenants))]
    out: list[tuple[Workload, int, str]] = []
    left = budget
    used: set[tuple[str, str]] = set()

    def unique(ns: str, name: str) -> str:
        """Plain names like ``api`` unless the namespace already has one: then ``api-2``…"""
        cand, i = name, 1
        while (ns, cand) in used:
            i += 1
            cand = f"{name}-{i}"
        used.add((ns, cand))
        return cand

    def pick_ns() -> Namespace:
        return rng.choices(tenants, weights)[0]

    populated: set[str] = set()

    def take(w: Workload, n: int, initial: str = "running") -> None:
        nonlocal left
        n = min(n, left)
        if n > 0:
            out.append((w, n, initial))
            left -= n
            populated.add(w.namespace)

    def make(t: Template, ns: Namespace, *parts: int | str, **kw) -> Workload:
        return build(t, s, *parts, namespace=ns.name, name=unique(ns.name, t.name), **kw)

    ml = [ns for ns in tenants if ns.name.startswith(("ml-lab", "physics"))] or tenants
    # GPU work: fill about three quarters of each DCGM node's GPUs, one pod per Jetson
    for n in nodes:
        if n.gpu_kind == "dcgm":
            free = n.gpu_count
            i = 0
            while free > n.gpu_count // 4 and left > 0:
                want = min(free, rng.choice((1, 1, 2)) if n.gpu_count <= 4 else rng.choice((1, 2, 4)))
                ns = rng.choice(ml)
                i += 1
                tmpl = TRAIN if rng.random() < 0.6 else LLM_SERVE
                take(make(tmpl, ns, n.name, i, spec={"gpus": want}), 1)
                free -= want
        elif n.gpu_kind == "jetson":
            take(make(EDGE_INFER, rng.choice(tenants), n.name), 1)

    t = max(left, 0)
    for oddity, *share in ODDITIES:
        for i in range(_oddity_count(t, *share)):
            take(make(oddity, pick_ns(), i + 1), 1)
    # batch jobs: some running, some finished and waiting for their TTL
    n_jobs = max(2, round(t * 0.10)) if t >= SMALL else 0
    for i in range(n_jobs):
        w = make(JOBS[i % len(JOBS)], pick_ns(), i, restart_policy="Never" if i % 2 else "OnFailure")
        take(w, 1, "done" if rng.random() < 0.3 else "running")
    # long-running services fill the rest; one replica starts out terminating
    terminating = left > 3
    i = 0
    while left > 0:
        i += 1
        svc, lf = SERVICES[rng.randrange(len(SERVICES))]
        main = svc.containers[0]
        # every tenant namespace gets a workload while pods last (a billing run over 200
        # namespaces needs 200 namespaces with usage), then sizes follow the Zipf weights
        empty = [t for t in tenants if t.name not in populated]
        ns = empty[0] if empty else pick_ns()
        req_cpu = int(main["req_cpu"] * rng.choice((0.5, 1, 1, 2)))
        req_mem = int(main["req_mem"] * rng.choice((0.5, 1, 1, 2)))
        best_effort = rng.random() < 0.05
        spec = {
            "req_cpu": 0 if best_effort else req_cpu,
            "req_mem": 0 if best_effort else req_mem,
            "lim_cpu": 0 if best_effort else _limit(req_cpu, lf),
            "lim_mem": 0 if best_effort else _limit(req_mem, lf),
            "cpu_frac": main["cpu_frac"] * rng.uniform(0.5, 1.3),
            "mem_frac": main["mem_frac"] * rng.uniform(0.7, 1.2),
            "daily_amp": rng.uniform(0.2, 0.6),
            "idle": rng.random() < 0.04,
        }
        owner = svc.owner_kind
        vols = ["data"] if owner == "StatefulSet" else (["tmp"] if rng.random() < 0.3 else [])
        wname = unique(ns.name, svc.name)
        life = rng.choice((6, 12, 24, 48)) * 3600 if owner == "ReplicaSet" else None
        labels = {"app.kubernetes.io/name": svc.name, "app.kubernetes.io/instance": wname}
        w = build(svc, s, i, namespace=ns.name, name=wname, spec=spec, life=life, labels=labels, volumes=vols)
        reps = min(rng.choice((1, 1, 2, 2, 3, 4)), left, 1 if len(empty) > 1 else left)
        if terminating and owner == "ReplicaSet" and reps >= 1:
            take(w, 1, "terminating")
            terminating = False
            reps -= 1
        take(w, reps)
    return out
