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
