"""Workloads: the templates pods are made from (system components and tenant applications).

A Workload stands for the controller that owns pods (Deployment via its ReplicaSet, StatefulSet,
DaemonSet, Job, static pod, bare pod); replacement pods are created from the same workload, so a
rolled pod keeps its ReplicaSet and a finished job is followed by the next run.
"""

from __future__ import annotations

import random

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


def system_workloads(o: Options, nodes: list[Node]) -> list[Workload]:
    s = o.seed
    out: list[Workload] = []
    proxy_img = f"registry.k8s.io/kube-proxy:{K8S_VERSION}"
    for n in nodes:
        out.append(
            Workload(
                derive(s, "ds", "kube-proxy", n.name),
                "kube-system",
                "service",
                "DaemonSet",
                "kube-proxy",
                [CSpec("kube-proxy", proxy_img, cpu_frac=0.0, mem_frac=0.0, daily_amp=0.1)],
                priority_class="system-node-critical",
                priority=2000001000,
                tolerations=TOL_ALL,
                host_network=True,
                pin=n.name,
                service_account="kube-proxy",
                labels={"k8s-app": "kube-proxy"},
                app="kube-proxy",
            )
        )
        if n.is_control_plane:
            for comp, img, cpu in (
                ("etcd", "registry.k8s.io/etcd:3.5.15-0", 100),
                ("kube-apiserver", f"registry.k8s.io/kube-apiserver:{K8S_VERSION}", 250),
                ("kube-controller-manager", f"registry.k8s.io/kube-controller-manager:{K8S_VERSION}", 200),
                ("kube-scheduler", f"registry.k8s.io/kube-scheduler:{K8S_VERSION}", 100),
            ):
                out.append(
                    Workload(
                        derive(s, "static", comp, n.name),
                        "kube-system",
                        "service",
                        "Node",
                        n.name,
                        [
                            CSpec(
                                comp,
                                img,
                                req_cpu=cpu,
                                req_mem=100 * MiB if comp == "etcd" else 0,
                                cpu_frac=0.6,
                                mem_frac=2.5,
                                daily_amp=0.15,
                            )
                        ],
                        priority_class="system-node-critical",
                        priority=2000001000,
                        tolerations=[{"effect": "NoExecute", "operator": "Exists"}],
                        host_network=True,
                        pin=n.name,
                        labels={"component": comp, "tier": "control-plane"},
                        app=comp,
                    )
                )
        if n.gpu_kind == "dcgm":
            out.append(
                Workload(
                    derive(s, "ds", "dcgm", n.name),
                    "gpu-operator",
                    "service",
                    "DaemonSet",
                    "nvidia-dcgm-exporter",
                    [
                        CSpec(
                            "nvidia-dcgm-exporter",
                            "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.8-3.6.0-ubuntu22.04",
                            cpu_frac=0.0,
                            mem_frac=0.0,
                            daily_amp=0.05,
                            ports=[{"containerPort": 9400, "name": "metrics", "protocol": "TCP"}],
                        )
                    ],
                    priority_class="system-node-critical",
                    priority=2000001000,
                    tolerations=TOL_ALL,
                    pin=n.name,
                    service_account="nvidia-dcgm-exporter",
                    labels={"app": "nvidia-dcgm-exporter"},
                    app="nvidia-dcgm-exporter",
                )
            )
        if n.gpu_kind == "jetson":
            out.append(
                Workload(
                    derive(s, "ds", "jetson", n.name),
                    "kube-system",
                    "service",
                    "DaemonSet",
                    "jetson-exporter",
                    [
                        CSpec(
                            "jetson-exporter",
                            "ghcr.io/kubemon/jetson-stats-exporter:0.4.1",
                            req_cpu=50,
                            req_mem=64 * MiB,
                            lim_mem=128 * MiB,
                            cpu_frac=0.3,
                            mem_frac=0.7,
                            daily_amp=0.05,
                            ports=[{"containerPort": 9998, "name": "metrics", "protocol": "TCP"}],
                        )
                    ],
                    tolerations=TOL_ALL,
                    pin=n.name,
                    labels={"app": "jetson-exporter"},
                    app="jetson-exporter",
                )
            )
    dns = Workload(
        derive(s, "deploy", "coredns"),
        "kube-system",
        "service",
        "ReplicaSet",
        "coredns",
        [
            CSpec(
                "coredns",
                "registry.k8s.io/coredns/coredns:v1.11.3",
                req_cpu=100,
                req_mem=70 * MiB,
                lim_mem=170 * MiB,
                cpu_frac=0.05,
                mem_frac=0.4,
                daily_amp=0.3,
                ports=[
                    {"containerPort": 53, "name": "dns", "protocol": "UDP"},
                    {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                    {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
                ],
            )
        ],
        priority_class="system-cluster-critical",
        priority=2000000000,
        tolerations=TOL_CP,
        service_account="coredns",
        labels={"k8s-app": "kube-dns"},
        app="coredns",
    )
    ms = Workload(
        derive(s, "deploy", "metrics-server"),
        "kube-system",
        "service",
        "ReplicaSet",
        "metrics-server",
        [
            CSpec(
                "metrics-server",
                "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
                req_cpu=100,
                req_mem=200 * MiB,
                cpu_frac=0.04,
                mem_frac=0.2,
                daily_amp=0.1,
                ports=[{"containerPort": 10250, "name": "https", "protocol": "TCP"}],
            )
        ],
        priority_class="system-cluster-critical",
        priority=2000000000,
        service_account="metrics-server",
        labels={"k8s-app": "metrics-server"},
        app="metrics-server",
    )
    out += [dns, dns, ms]  # two coredns replicas
    return out


# Tenant application archetypes: (name, image, owner kind, req cpu m, req mem, limit factor, cpu frac,
# mem frac, sidecar?)
SERVICES = [
    ("web", "nginx:1.27.3-alpine", "ReplicaSet", 100, 128 * MiB, 2, 0.3, 0.5, False),
    ("api", "registry.example.org/{ns}/api:v2.14.1", "ReplicaSet", 250, 512 * MiB, 2, 0.5, 0.6, True),
    ("worker", "python:3.12-slim", "ReplicaSet", 500, 1 * GiB, 2, 0.7, 0.6, False),
    ("frontend", "node:20.18-alpine", "ReplicaSet", 100, 256 * MiB, 4, 0.25, 0.6, False),
    ("redis", "redis:7.4.1", "StatefulSet", 100, 256 * MiB, 2, 0.2, 0.5, False),
    ("postgres", "postgres:16.4", "StatefulSet", 500, 2 * GiB, 2, 0.35, 0.55, False),
    ("jupyter", "quay.io/jupyter/scipy-notebook:2024-10-07", "StatefulSet", 500, 2 * GiB, 4, 0.3, 0.7, False),
    ("grafana", "grafana/grafana:11.3.0", "ReplicaSet", 100, 256 * MiB, 2, 0.1, 0.5, False),
    ("sim-runner", "ghcr.io/{ns}/sim:1.8.2", "ReplicaSet", 1000, 2 * GiB, 1, 0.85, 0.7, False),
    ("minio", "minio/minio:RELEASE.2024-10-13T13-34-11Z", "StatefulSet", 250, 1 * GiB, 2, 0.2, 0.6, False),
]
JOBS = [
    ("etl-nightly", "python:3.12-slim", 500, 1 * GiB, 0.8, 0.7),
    ("report", "alpine:3.20", 100, 128 * MiB, 0.6, 0.4),
    ("sim-batch", "ghcr.io/{ns}/sim:1.8.2", 2000, 4 * GiB, 0.9, 0.7),
    ("backup", "restic/restic:0.17.1", 250, 512 * MiB, 0.5, 0.5),
]


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
                if rng.random() < 0.6:
                    w = Workload(
                        derive(s, "gpujob", n.name, i),
                        ns.name,
                        "job",
                        "Job",
                        unique(ns.name, "train"),
                        [
                            CSpec(
                                "trainer",
                                "nvcr.io/nvidia/pytorch:24.08-py3",
                                req_cpu=4000,
                                req_mem=16 * GiB,
                                lim_cpu=8000,
                                lim_mem=32 * GiB,
                                gpus=want,
                                cpu_frac=0.6,
                                mem_frac=0.6,
                                gpu_base=85.0,
                                daily_amp=0.02,
                            )
                        ],
                        restart_policy="Never",
                        tolerations=TOL_GPU,
                        job_len=(1800, 7200),
                        ttl=300,
                        labels={"app": "trainer"},
                        app="trainer",
                    )
                else:
                    w = Workload(
                        derive(s, "gpusvc", n.name, i),
                        ns.name,
                        "service",
                        "ReplicaSet",
                        unique(ns.name, "llm-serve"),
                        [
                            CSpec(
                                "vllm",
                                "vllm/vllm-openai:v0.6.3",
                                req_cpu=2000,
                                req_mem=24 * GiB,
                                lim_cpu=4000,
                                lim_mem=32 * GiB,
                                gpus=want,
                                cpu_frac=0.35,
                                mem_frac=0.7,
                                gpu_base=35.0,
                                daily_amp=0.5,
                                ports=[{"containerPort": 8000, "name": "http", "protocol": "TCP"}],
                            )
                        ],
                        tolerations=TOL_GPU,
                        life=3 * 86_400,
                        labels={"app": "llm-serve"},
                        app="llm-serve",
                    )
                take(w, 1)
                free -= want
        elif n.gpu_kind == "jetson":
            ns = rng.choice(tenants)
            w = Workload(
                derive(s, "edge", n.name),
                ns.name,
                "service",
                "ReplicaSet",
                unique(ns.name, "edge-infer"),
                [
                    CSpec(
                        "infer",
                        "nvcr.io/nvidia/l4t-ml:r36.2.0-py3",
                        req_cpu=1000,
                        req_mem=2 * GiB,
                        lim_cpu=4000,
                        lim_mem=6 * GiB,
                        gpus=1,
                        cpu_frac=0.5,
                        mem_frac=0.6,
                        gpu_base=45.0,
                        daily_amp=0.4,
                    )
                ],
                tolerations=TOL_JETSON,
                node_selector={"kubernetes.io/arch": "arm64"},
                life=2 * 86_400,
                labels={"app": "edge-infer"},
                app="edge-infer",
            )
            take(w, 1)

    def odd(kind: str, i: int) -> Workload:
        ns = pick_ns()
        nm = ns.name
        if kind == "crashloop":
            return Workload(
                derive(s, kind, i),
                nm,
                kind,
                "ReplicaSet",
                unique(nm, "worker-broken"),
                [
                    CSpec(
                        "worker",
                        f"registry.example.org/{nm}/worker:2.3.0",
                        req_cpu=100,
                        req_mem=128 * MiB,
                        lim_cpu=500,
                        lim_mem=256 * MiB,
                        cpu_frac=0.8,
                        mem_frac=0.5,
                        daily_amp=0.0,
                    )
                ],
                labels={"app": "worker-broken"},
                app="worker-broken",
            )
        if kind == "runerror":
            return Workload(
                derive(s, kind, i),
                nm,
                kind,
                None,
                unique(nm, "debug-shell"),
                [CSpec("shell", "busybox:1.36", req_cpu=10, req_mem=16 * MiB)],
                labels={"run": "debug-shell"},
                app="debug-shell",
            )
        if kind == "imagepull":
            return Workload(
                derive(s, kind, i),
                nm,
                kind,
                "ReplicaSet",
                unique(nm, "dashboard"),
                [
                    CSpec(
                        "dashboard",
                        f"registry.example.org/{nm}/dashboard:v9.9.9-rc1",
                        req_cpu=100,
                        req_mem=128 * MiB,
                    )
                ],
                labels={"app": "dashboard"},
                app="dashboard",
            )
        if kind == "unschedulable":
            return Workload(
                derive(s, kind, i),
                nm,
                kind,
                "StatefulSet",
                unique(nm, "bigmem-analysis"),
                [
                    CSpec(
                        "analysis",
                        "ghcr.io/scverse/scanpy:1.10.3",
                        req_cpu=8000,
                        req_mem=512 * GiB,
                        lim_mem=512 * GiB,
                    )
                ],
                labels={"app": "bigmem-analysis"},
                app="bigmem-analysis",
            )
        # failed: a job pod whose container exited 1 and which is kept for debugging
        return Workload(
            derive(s, kind, i),
            nm,
            kind,
            "Job",
            unique(nm, "migrate-db"),
            [
                CSpec(
                    "migrate",
                    "registry.example.org/{ns}/migrate:1.4.0".replace("{ns}", nm),
                    req_cpu=100,
                    req_mem=256 * MiB,
                )
            ],
            restart_policy="Never",
            labels={"app": "migrate-db"},
            app="migrate-db",
        )

    t = max(left, 0)
    counts = {
        "crashloop": max(1, round(t * 0.03)),
        "imagepull": max(1, round(t * 0.015)),
        "unschedulable": max(1, round(t * 0.01)),
        "runerror": round(t * 0.005),
        "failed": max(1, round(t * 0.01)),
    }
    if t < 12:  # too few pods for every oddity: keep the cluster mostly healthy
        counts = {
            "crashloop": 1 if t >= 4 else 0,
            "imagepull": 1 if t >= 6 else 0,
            "unschedulable": 1 if t >= 8 else 0,
            "runerror": 0,
            "failed": 1 if t >= 10 else 0,
        }
    for kind, n in counts.items():
        for i in range(n):
            take(odd(kind, i + 1), 1)
    # batch jobs: some running, some finished and waiting for their TTL
    n_jobs = max(2, round(t * 0.10)) if t >= 12 else 0
    for i in range(n_jobs):
        name, img, cpu, mem, cf, mf = JOBS[i % len(JOBS)]
        ns = pick_ns()
        w = Workload(
            derive(s, "job", i),
            ns.name,
            "job",
            "Job",
            unique(ns.name, name),
            [
                CSpec(
                    name,
                    img.replace("{ns}", ns.name),
                    req_cpu=cpu,
                    req_mem=mem,
                    lim_cpu=cpu * 2,
                    lim_mem=mem * 2,
                    cpu_frac=cf,
                    mem_frac=mf,
                    daily_amp=0.05,
                )
            ],
            restart_policy="Never" if i % 2 else "OnFailure",
            job_len=(180, 1800),
            ttl=600,
            labels={"app": name},
            app=name,
        )
        take(w, 1, "done" if rng.random() < 0.3 else "running")
    # long-running services fill the rest; one replica starts out terminating
    terminating = left > 3
    i = 0
    while left > 0:
        i += 1
        name, img, owner, cpu, mem, lf, cf, mf, sidecar = SERVICES[rng.randrange(len(SERVICES))]
        # every tenant namespace gets a workload while pods last (a billing run over 200
        # namespaces needs 200 namespaces with usage), then sizes follow the Zipf weights
        empty = [t for t in tenants if t.name not in populated]
        ns = empty[0] if empty else pick_ns()
        req_cpu = int(cpu * rng.choice((0.5, 1, 1, 2)))
        req_mem = int(mem * rng.choice((0.5, 1, 1, 2)))
        best_effort = rng.random() < 0.05
        specs = [
            CSpec(
                name,
                img.replace("{ns}", ns.name),
                req_cpu=0 if best_effort else req_cpu,
                req_mem=0 if best_effort else req_mem,
                lim_cpu=0 if best_effort else _limit(req_cpu, lf),
                lim_mem=0 if best_effort else _limit(req_mem, lf),
                cpu_frac=cf * rng.uniform(0.5, 1.3),
                mem_frac=mf * rng.uniform(0.7, 1.2),
                daily_amp=rng.uniform(0.2, 0.6),
                idle=rng.random() < 0.04,
                ports=[{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            )
        ]
        if sidecar:
            specs.append(
                CSpec(
                    "log-shipper",
                    "fluent/fluent-bit:3.1.9",
                    req_cpu=50,
                    req_mem=64 * MiB,
                    lim_mem=128 * MiB,
                    cpu_frac=0.3,
                    mem_frac=0.6,
                    daily_amp=0.3,
                )
            )
        vols = ["data"] if owner == "StatefulSet" else (["tmp"] if rng.random() < 0.3 else [])
        wname = unique(ns.name, name)
        w = Workload(
            derive(s, "svc", i),
            ns.name,
            "service",
            owner,
            wname,
            specs,
            life=rng.choice((6, 12, 24, 48)) * 3600 if owner == "ReplicaSet" else None,
            labels={"app.kubernetes.io/name": name, "app.kubernetes.io/instance": wname},
            volumes=vols,
            grace=60 if owner == "StatefulSet" else 30,
            app=name,
        )
        reps = min(rng.choice((1, 1, 2, 2, 3, 4)), left, 1 if len(empty) > 1 else left)
        if terminating and owner == "ReplicaSet" and reps >= 1:
            take(w, 1, "terminating")
            terminating = False
            reps -= 1
        take(w, reps)
    return out
