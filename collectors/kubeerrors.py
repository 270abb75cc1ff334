"""What goes wrong when kubemon asks the Kubernetes API: raised by ``collectors.kube`` and the pod watch."""


class KubeError(Exception):
    """The Kubernetes API could not answer the request."""


class KubeConfigError(KubeError):
    """The Kubernetes configuration (a kubeconfig, the in-cluster service account) cannot be loaded."""


class KubeUnavailable(KubeError):
    """The API server is unreachable, timed out, or answered 5xx."""


class KubeAccessDenied(KubeError):
    """401/403: the message names the missing RBAC verb and resource."""


class KubeNotFound(KubeError):
    pass


class KubeTLSError(KubeError):
    """A kubelet's certificate did not verify against the configured CA (``KUBELET_CA_FILE``)."""
