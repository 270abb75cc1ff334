"""The seeded scenario: which nodes, namespaces and workloads the cluster starts with.

Global choices (node sizes, namespace names, how many pods of each kind) come from one
``random.Random(seed)`` drawn in a fixed order; per-pod details come from keys derived from the
seed and the pod's sequence number. Same seed, same cluster.
"""

from __future__ import annotations

import random

from .config import ConfigError, Options
from .model import Namespace, Node
from .rand import derive, hex_id, uid

GiB = 1 << 30
MiB = 1 << 20

K8S_VERSION = "v1.31.4"

# (namespace, tenant slug or None). Several namespaces can belong to one tenant; some have none,
# so tenants must also be assignable explicitly in the portal.
NAMESPACE_POOL = [
    ("team-a", "team-a"),
    ("physics", "physics"),
    ("ml-lab", "ml-lab"),
    ("team-b", "team-b"),
    ("astro", None),
    ("genomics", "biology"),
    ("physics-sim", "physics"),
    ("ml-lab-dev", "ml-lab"),
    ("climate", "climate"),
    ("robotics", None),
    ("web-prod", "web"),
    ("web-staging", "web"),
    ("data-eng", "data"),
    ("chem", "chemistry"),
    ("neuro", None),
    ("hpc-ops", "ops"),
]

GPU_MODELS = [
    # (modelName, GPUs per node, framebuffer MiB, TDP W, node label product)
    ("NVIDIA A100-SXM4-40GB", 4, 40960, 400.0, "NVIDIA-A100-SXM4-40GB"),
    ("NVIDIA H100 80GB HBM3", 8, 81559, 700.0, "NVIDIA-H100-80GB-HBM3"),
    ("Tesla T4", 4, 15360, 70.0, "Tesla-T4"),
]

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
JETSON_TAINT = {"key": "kubemon.io/edge", "value": "jetson", "effect": "NoSchedule"}


def make_nodes(o: Options, rng: random.Random, created: int) -> list[Node]:
    nodes: list[Node] = []
    width = 2 if o.plain_workers < 100 else 3 if o.plain_workers < 1000 else 4

    def add(name: str, role: str) -> Node:
        n = Node(name, len(nodes), derive(o.seed, "node", name), role)
        n.uid = uid(n.key)
        i = n.seq
        n.ip = f"10.0.{i // 250}.{i % 250 + 4}"
        n.pod_cidr = f"10.{244 + i // 256}.{i % 256}.0/24"
        n.created = created - rng.randint(30, 400) * 86_400
        n.boot = created - rng.randint(1, 60) * 86_400 - rng.randint(0, 86_399)
        n.boot_id = uid(derive(n.key, "boot", 0))
        n.ready_at = n.boot + 40
        n.heartbeat = created - (n.seq * 7) % 300
        n.labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
        }
        nodes.append(n)
        return n

    for i in range(o.control_planes):
        n = add(f"cp-{i + 1}", "control-plane")
        n.cpu_cores, n.mem_bytes = 4, 16 * GiB
        n.labels["node-role.kubernetes.io/control-plane"] = ""
        n.labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        n.taints = [CP_TAINT]
    for i in range(o.plain_workers):
        n = add(f"node-{i + 1:0{width}d}", "worker")
        n.cpu_cores = rng.choice((8, 16, 16, 32))
        n.mem_bytes = n.cpu_cores * rng.choice((4, 4, 8)) * GiB
        n.labels["node.kubernetes.io/instance-type"] = f"c{n.cpu_cores}m{n.mem_bytes // GiB}"
    for i in range(o.gpu_nodes):
        model, count, fb, tdp, product = GPU_MODELS[i % len(GPU_MODELS)]
        n = add(f"gpu-{i + 1:02d}", "worker")
        n.cpu_cores, n.mem_bytes = (32, 256 * GiB) if count <= 4 else (64, 512 * GiB)
        n.gpu_kind, n.gpu_model, n.gpu_count, n.gpu_fb_mib, n.gpu_tdp = "dcgm", model, count, fb, tdp
        n.labels.update(
            {
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.product": product,
                "nvidia.com/gpu.count": str(count),
                "nvidia.com/gpu.memory": str(fb),
            }
        )
        n.taints = [GPU_TAINT]
    for i in range(o.jetson_nodes):
        n = add(f"jetson-{i + 1:02d}", "worker")
        n.cpu_cores, n.mem_bytes, n.arch = 8, 16 * GiB, "arm64"
        n.gpu_kind, n.gpu_model, n.gpu_count, n.gpu_fb_mib, n.gpu_tdp = "jetson", "Orin (nvgpu)", 1, 0, 25.0
        for key in ("beta.kubernetes.io/arch", "kubernetes.io/arch"):
            n.labels[key] = "arm64"
        n.labels.update(
            {
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.product": "Orin",
                "nvidia.com/gpu.count": "1",
                "kubemon.io/jetson": "true",
            }
        )
        n.taints = [JETSON_TAINT]
    for n in nodes:
        # allocatable = capacity minus kube/system reservations and the eviction threshold
        n.alloc_cpu_m = n.cpu_cores * 1000 - (100 if n.cpu_cores <= 8 else 200)
        n.alloc_mem = n.mem_bytes - min(n.mem_bytes // 16, 2 * GiB) - 100 * MiB
        n.fs_cap = (100 if n.gpu_kind != "jetson" else 64) * GiB + n.seq * 4096 * 25
        n.image_used = rng.randint(6, 30) * GiB
        n.gpu_owner = [None] * n.gpu_count
        n.gpu_step = [None] * n.gpu_count
        n.gpu_uuids = ["GPU-" + uid(derive(n.key, "gpu", g)) for g in range(n.gpu_count)]
        n.gpu_temps = [40.0] * n.gpu_count
        n.gpu_energy = [rng.randint(10**8, 10**10) for _ in range(n.gpu_count)]
    by_name = {n.name: n for n in nodes}
    for name, skew in o.clock_skew.items():
        if name not in by_name:
            raise ConfigError(f"--clock-skew: no node named {name!r} (the nodes are {', '.join(sorted(by_name))})")
        by_name[name].clock_skew = skew
    return nodes


def make_namespaces(o: Options, rng: random.Random, created: int) -> list[Namespace]:
    out = []
    system = ["default", "kube-node-lease", "kube-public", "kube-system"]
    if o.gpu_nodes:
        system.append("gpu-operator")
    for name in system:
        out.append(
            Namespace(
                name,
                uid(derive(o.seed, "ns", name)),
                created - 400 * 86_400,
                {"kubernetes.io/metadata.name": name},
                None,
            )
        )
    for i in range(o.namespaces):
        if i < len(NAMESPACE_POOL):
            name, tenant = NAMESPACE_POOL[i]
        else:
            name = f"project-{i - len(NAMESPACE_POOL) + 1:03d}"
            tenant = None if i % 3 == 0 else name
        labels = {"kubernetes.io/metadata.name": name}
        if tenant:
            labels["kubemon.io/tenant"] = tenant
        ns = Namespace(
            name, uid(derive(o.seed, "ns", name)), created - rng.randint(5, 300) * 86_400, labels, tenant
        )
        # tenants work in a few time zones: shifts their daily peak
        ns.phase_offset = rng.choice((0.0, 0.0, 3600.0 * 6, -3600.0 * 5, 3600.0 * 9))
        out.append(ns)
    return out


def machine_ids(n: Node) -> tuple[str, str]:
    return hex_id(derive(n.key, "machine"), 32), uid(derive(n.key, "sysuuid"))


def check_budget(o: Options, system: int) -> None:
    if o.pods < system:
        raise ConfigError(
            f"--pods {o.pods} is too small: {o.nodes} nodes already run {system} system pods "
            f"(kube-proxy on every node, control-plane and GPU exporter pods); use --pods {system} or more"
        )
