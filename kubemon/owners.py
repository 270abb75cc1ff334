"""A pod's controller from its owner reference: shared by the rollup's controller tier
(``collectors.rollup.roll_controllers``) and the read side (``metrics.owners``), so both name a
pod's controller the same way.

- a ReplicaSet owner is reported as its Deployment, derived from the name: Kubernetes names a
  Deployment's ReplicaSets ``<deployment>-<pod-template-hash>``. A ReplicaSet whose name has no
  such suffix stays a ``replicaset``. A CronJob's pods are reported under their Job, as OpenCost
  does; a static pod (owned by its Node) has no controller.

Kinds are lower case, as OpenCost reports them (``deployment``, ``statefulset``, ``daemonset``,
``job``).
"""

import re

# pod-template-hash: a hash of the pod template printed with Kubernetes' "safe" alphabet
# (no vowels, no 0, 1 or 3), 1 to 10 characters.
_TEMPLATE_HASH_RE = re.compile(r"^(?P<name>.+)-(?P<hash>[bcdfghjklmnpqrstvwxz2456789]{1,10})$")


def controller_of(owner_kind, owner_name):
    """``(controllerKind, controller)`` from a pod's owner reference; ``("", "")`` for none."""
    if not owner_kind or not owner_name or owner_kind == "Node":
        return "", ""
    if owner_kind == "ReplicaSet":
        match = _TEMPLATE_HASH_RE.match(owner_name)
        if match:
            return "deployment", match.group("name")
        return "replicaset", owner_name
    return owner_kind.lower(), owner_name
