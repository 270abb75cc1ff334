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
    """``(state, reason)`` for a pod object as the API returns it (a dict)."""
    metadata = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if metadata.get("deletionTimestamp"):
        return "deleting", "Terminating"
    phase = status.get("phase") or "Unknown"
    if phase == "Failed":
        return "failed", status.get("reason") or "Failed"
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") in ERROR_REASONS:
            return "failed", waiting["reason"]
        terminated = (container.get("state") or {}).get("terminated")
        if terminated and terminated.get("reason") in ERROR_REASONS and phase != "Succeeded":
            return "failed", terminated["reason"]
    if phase == "Succeeded":
        return "succeeded", "Completed"
    if phase == "Pending" or phase == "Unknown":
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                return "pending", condition.get("reason") or "Unschedulable"
        return "pending", phase
    return "running", "Running"


def node_colour(states):
    """The colour of a node from its pods' states; a node without pods is green."""
    worst = max(states, key=SEVERITY.__getitem__, default="running")
    return COLOURS[worst]
