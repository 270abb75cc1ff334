"""What the usage collector needs from pod objects: requests, limits, GPUs, restarts, owner."""

import logging
from dataclasses import dataclass, field

from collectors.podstate import kubectl_status, pod_state
from collectors.quantity import QuantityError, cpu_millicores, to_bytes
from collectors.timeutil import epoch_seconds

log = logging.getLogger(__name__)

GPU_RESOURCE_PREFIXES = ("nvidia.com/gpu", "nvidia.com/mig-", "amd.com/gpu", "gpu.intel.com/")


def gpu_count(resources):
    """Whole or shared/MIG GPUs requested in a resources map (``nvidia.com/gpu``, ``nvidia.com/mig-3g.40gb``...)."""
    total = 0.0
    for name, value in (resources or {}).items():
        if name.startswith(GPU_RESOURCE_PREFIXES):
            total += float(value) if not isinstance(value, str) else float(to_bytes(value))
    return total


def _whole(value):
    """A whole number as an int: the usage points write these to float fields, and an int formats
    three times faster (``kubemon.timeseries.schema.FLOAT_FIELDS``)."""
    return int(value) if value.is_integer() else value


@dataclass(slots=True)
class ContainerSpec:
    # Millicores, bytes and GPUs: ints when whole (most are), floats otherwise.
    requests_millicpu: float = 0
    requests_memory: float = 0
    limits_millicpu: float = 0
    limits_memory: float = 0
    requests_gpu: float = 0
    restarts: int = 0
    # When the container's last instance ended (``state`` or else ``lastState.terminated.finishedAt``),
    # epoch seconds: the time it ran after its last sample is charged too (collectors.sampling).
    finished: int | None = None
    finished_from: int | None = None  # the start of the instance that ended then (``startedAt``)


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
    # For the live view (collectors/snapshot.py): kubectl's STATUS text, when the pod was created
    # and when a container last restarted (epoch seconds, None when unknown or never).
    status: str = ""
    created: int | None = None
    last_restart: int | None = None


def _container_spec(container):
    resources = container.resources
    requests = resources.requests or {}
    limits = resources.limits or {}
    spec = ContainerSpec()
    if "cpu" in requests:
        spec.requests_millicpu = _whole(cpu_millicores(requests["cpu"]))
    if "memory" in requests:
        spec.requests_memory = _whole(to_bytes(requests["memory"]))
    if "cpu" in limits:
        spec.limits_millicpu = _whole(cpu_millicores(limits["cpu"]))
    if "memory" in limits:
        spec.limits_memory = _whole(to_bytes(limits["memory"]))
    # Extended resources such as GPUs must have requests equal to limits; either may be given.
    spec.requests_gpu = _whole(gpu_count(requests) or gpu_count(limits))
    return spec


def _epoch_or_none(text):
    if not text:
        return None
    try:
        return epoch_seconds(text)
    except ValueError:
        return None


def pod_info(pod):
    """The ``PodInfo`` of a ``kubetypes.Pod``."""
    metadata, status = pod.metadata, pod.status
    if not metadata.name or not metadata.namespace:
        raise ValueError("a pod without a name or namespace")
    state, reason = pod_state(pod)
    owners = metadata.ownerReferences
    owner = next((o for o in owners if o.controller), owners[0] if owners else None)
    info = PodInfo(
        namespace=metadata.namespace,
        name=metadata.name,
        uid=metadata.uid,
        node=pod.spec.nodeName,
        phase=status.phase or "Unknown",
        state=state,
        reason=reason,
        owner_kind=owner.kind if owner else "",
        owner_name=owner.name if owner else "",
        start_time=status.startTime,
        status=kubectl_status(pod),
        created=_epoch_or_none(metadata.creationTimestamp),
    )
    for container in pod.spec.containers:
        info.containers[container.name] = _container_spec(container)
    for container_status in status.containerStatuses:
        target = info.containers.get(container_status.name)
        if target is not None:
            target.restarts = container_status.restartCount
            terminated = container_status.state.terminated or container_status.lastState.terminated
            last = container_status.lastState.terminated
            if last is not None and last.finishedAt:
                restarted = _epoch_or_none(last.finishedAt)
                if restarted is not None and (info.last_restart is None or restarted > info.last_restart):
                    info.last_restart = restarted
            if terminated is not None and terminated.finishedAt:
                try:
                    target.finished = epoch_seconds(terminated.finishedAt)
                    if terminated.startedAt:
                        target.finished_from = epoch_seconds(terminated.startedAt)
                except ValueError:
                    log.warning("pod %s/%s: unreadable finishedAt %r", info.namespace, info.name,
                                terminated.finishedAt)
        if container_status.ready:
            info.ready_containers += 1
    return info


def index_pods(pods):
    """``{(namespace, name): PodInfo}``; an object that cannot be read is logged and skipped."""
    index = {}
    for pod in pods:
        try:
            info = pod_info(pod)
        except (TypeError, ValueError, QuantityError) as exc:
            log.warning("skipping pod %s/%s: %s", pod.metadata.namespace, pod.metadata.name or "?", exc)
            continue
        index[(info.namespace, info.name)] = info
    return index
