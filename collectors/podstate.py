"""A pod's live state (DESIGN §5): the node-light rules, extended with terminal phases.

``deleting`` (deletion timestamp set) > ``failed`` (phase Failed, or a waiting container with an
error reason such as CrashLoopBackOff) > ``pending`` > ``running`` > ``succeeded``. A node's
colour is the worst state of its pods.
"""

ERROR_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "PreStartHookError",
        "PostStartHookError",
        "ContainerCannotRun",
        "OOMKilled",
    }
)
STATES = ("running", "pending", "deleting", "failed", "succeeded")
# Severity for a node's colour: the highest wins.
SEVERITY = {"succeeded": 0, "running": 1, "pending": 2, "deleting": 3, "failed": 4}
COLOURS = {"failed": "red", "deleting": "blue", "pending": "yellow", "running": "green", "succeeded": "green"}


def pod_state(pod):
    """``(state, reason)`` of a ``kubetypes.Pod``."""
    status = pod.status
    if pod.metadata.deletionTimestamp:
        return "deleting", "Terminating"
    phase = status.phase or "Unknown"
    if phase == "Failed":
        return "failed", status.reason or "Failed"
    for container in status.initContainerStatuses + status.containerStatuses:
        waiting = container.state.waiting
        if waiting is not None and waiting.reason in ERROR_REASONS:
            return "failed", waiting.reason
        terminated = container.state.terminated
        if terminated is not None and terminated.reason in ERROR_REASONS and phase != "Succeeded":
            return "failed", terminated.reason
    if phase == "Succeeded":
        return "succeeded", "Completed"
    if phase == "Pending" or phase == "Unknown":
        for condition in status.conditions:
            if condition.type == "PodScheduled" and condition.status == "False":
                return "pending", condition.reason or "Unschedulable"
        return "pending", phase
    return "running", "Running"


def node_colour(states):
    """The colour of a node from its pods' states; a node without pods is green."""
    worst = max(states, key=SEVERITY.__getitem__, default="running")
    return COLOURS[worst]


def _terminated_text(terminated, prefix=""):
    if terminated.reason:
        return prefix + terminated.reason
    if terminated.signal:
        return f"{prefix}Signal:{terminated.signal}"
    return f"{prefix}ExitCode:{terminated.exitCode}"


def _condition_true(status, kind):
    return any(c.type == kind and c.status == "True" for c in status.conditions)


def kubectl_status(pod):
    """The STATUS column of ``kubectl get pods`` (kubectl's ``printPod``, simplified where the
    fields kubemon decodes stop): ``Running``, ``CrashLoopBackOff``, ``ImagePullBackOff``,
    ``Completed``, ``Init:0/2``, ``Init:CrashLoopBackOff``, ``Pending``, ``ContainerCreating``,
    ``Terminating``... It is for people; ``pod_state`` is the state the colours follow."""
    status = pod.status
    reason = status.reason or status.phase or "Unknown"
    initializing = False
    init_total = len(pod.spec.initContainers)
    sidecars = {c.name for c in pod.spec.initContainers if c.restartPolicy == "Always"}
    for i, container in enumerate(status.initContainerStatuses):
        terminated, waiting = container.state.terminated, container.state.waiting
        if terminated is not None and terminated.exitCode == 0:
            continue
        if container.name in sidecars and container.started:
            continue
        initializing = True
        if terminated is not None:
            reason = _terminated_text(terminated, "Init:")
        elif waiting is not None and waiting.reason and waiting.reason != "PodInitializing":
            reason = "Init:" + waiting.reason
        else:
            reason = f"Init:{i}/{init_total or len(status.initContainerStatuses)}"
        break
    if not initializing or _condition_true(status, "Initialized"):
        has_running = False
        for container in reversed(status.containerStatuses):
            terminated, waiting = container.state.terminated, container.state.waiting
            if waiting is not None and waiting.reason:
                reason = waiting.reason
            elif terminated is not None:
                reason = _terminated_text(terminated)
            elif container.ready and container.state.running is not None:
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"
    if pod.metadata.deletionTimestamp:
        reason = "Unknown" if status.reason == "NodeLost" else "Terminating"
    return reason
