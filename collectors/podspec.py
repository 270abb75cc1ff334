"""What the usage collector needs from pod objects: requests, limits, GPUs, restarts, owner."""

import logging
from dataclasses import dataclass, field

from collectors.podstate import pod_state
from collectors.quantity import QuantityError, cpu_millicores, to_bytes

log = logging.getLogger(__name__)

GPU_RESOURCE_PREFIXES = ("nvidia.com/gpu", "nvidia.com/mig-", "amd.com/gpu", "gpu.intel.com/")


def gpu_count(resources):
    """Whole or shared/MIG GPUs requested in a resources map (``nvidia.com/gpu``, ``nvidia.com/mig-3g.40gb``...)."""
    total = 0.0
    for name, value in (resources or {}).items():
        if name.startswith(GPU_RESOURCE_PREFIXES):
            total += float(value) if not isinstance(value, str) else float(to_bytes(value))
    return total


@dataclass(slots=True)
class ContainerSpec:
    requests_millicpu: float = 0.0
    requests_memory: float = 0.0
    limits_millicpu: float = 0.0
    limits_memory: float = 0.0
    requests_gpu: float = 0.0
    restarts: int = 0


@dataclass(slots=True)
class PodInfo:
    namespace: str
    name: str
    uid: str
    node: str
    phase: str
    state: str
    reason: str
    owner_kind: str
    owner_name: str
    start_time: str
    containers: dict = field(default_factory=dict)
    ready_containers: int = 0


def _container_spec(container):
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    spec = ContainerSpec()
    if "cpu" in requests:
        spec.requests_millicpu = cpu_millicores(requests["cpu"])
    if "memory" in requests:
        spec.requests_memory = to_bytes(requests["memory"])
    if "cpu" in limits:
        spec.limits_millicpu = cpu_millicores(limits["cpu"])
    if "memory" in limits:
        spec.limits_memory = to_bytes(limits["memory"])
    # Extended resources such as GPUs must have requests equal to limits; either may be given.
    spec.requests_gpu = gpu_count(requests) or gpu_count(limits)
    return spec


def pod_info(pod):
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    state, reason = pod_state(pod)
    owners = metadata.get("ownerReferences") or []
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else {})
    info = PodInfo(
        namespace=metadata["namespace"],
        name=metadata["name"],
        uid=metadata.get("uid", ""),
        node=spec.get("nodeName") or "",
        phase=status.get("phase") or "Unknown",
        state=state,
        reason=reason,
        owner_kind=owner.get("kind", ""),
        owner_name=owner.get("name", ""),
        start_time=status.get("startTime") or "",
    )
    for container in spec.get("containers") or []:
        info.containers[container["name"]] = _container_spec(container)
    for container_status in status.get("containerStatuses") or []:
        target = info.containers.get(container_status.get("name"))
        if target is not None:
            target.restarts = int(container_status.get("restartCount") or 0)
        if container_status.get("ready"):
            info.ready_containers += 1
    return info


def index_pods(pods):
    """``{(namespace, name): PodInfo}``; an object that cannot be read is logged and skipped."""
    index = {}
    for pod in pods:
        try:
            info = pod_info(pod)
        except (KeyError, TypeError, ValueError, QuantityError) as exc:
            name = (pod.get("metadata") or {}).get("name", "?") if isinstance(pod, dict) else "?"
            log.warning("skipping pod %s: %s", name, exc)
            continue
        index[(info.namespace, info.name)] = info
    return index
