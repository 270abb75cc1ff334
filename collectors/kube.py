"""Access to the Kubernetes API through the official client, reading raw JSON where it is hot.

Deserialising 10,000 pods into ``V1Pod`` models takes seconds (DESIGN §2), so list calls go
through the client's transport (auth, TLS, kubeconfig handling) but parse the body with orjson.
"""

import functools
import logging
import threading
import time

import orjson
import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from collectors.kubeerrors import KubeAccessDenied, KubeConfigError, KubeError, KubeNotFound, KubeUnavailable
from collectors.kubelet import DirectKubelets, KubeletAccess
from collectors.kubetypes import WatchFailed, decode_pod_list, decode_watch_event
from collectors.podwatch import PodWatch

log = logging.getLogger(__name__)

PAGE_SIZE = 500


def _rbac_hint(path):
    """``(verb, resource)`` that a Role must grant for ``path``."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if "proxy" in parts:
        return "get", "nodes/proxy"
    if parts[:1] == ["apis"] and len(parts) > 3:
        group = parts[1]
        return "list", f"{parts[-1]}.{group}"
    return "list", parts[-1] if parts else "?"


def _at_most_every(hook, seconds):
    """Run the kubeconfig's token-refresh ``hook`` at most once per ``seconds``.

    The client calls it before every request. For a kubeconfig token it re-applies the whole
    configuration, and setting the host reads every proxy variable of the environment: with
    500 kubelet summaries a cycle, that was about a sixth of the collector's CPU
    (docs/benchmarks.md). An expiring token (exec or OIDC plugins) is still refreshed within a
    second of its expiry.
    """
    lock = threading.Lock()
    state = {"hook": hook, "last": float("-inf")}

    def throttled(configuration):
        with lock:
            now = time.monotonic()
            if now - state["last"] < seconds:
                return
            state["last"] = now
            state["hook"](configuration)
            # The kubeconfig loader's hook installs a fresh hook of its own each time it runs.
            if configuration.refresh_api_key_hook is not throttled:
                state["hook"] = configuration.refresh_api_key_hook
                configuration.refresh_api_key_hook = throttled

    return throttled


class KubeClient:
    def __init__(self, api_client, timeout=10.0, kubelet=None):
        """``kubelet``: a ``KubeletAccess`` saying how summaries are read (the node proxy by default)."""
        self.api_client = api_client
        self.timeout = timeout
        self.kubelet = kubelet or KubeletAccess()
        self.kubelets = None
        if self.kubelet.mode == "direct":
            self.kubelets = DirectKubelets(api_client.configuration, self.kubelet, timeout)

    @classmethod
    def from_settings(cls):
        from django.conf import settings

        return cls.from_config(settings.KUBECONFIG, settings.KUBERNETES_IN_CLUSTER, settings.KUBERNETES_TIMEOUT,
                               kubelet=KubeletAccess.from_settings())

    @classmethod
    def from_config(cls, kubeconfig="", in_cluster=False, timeout=10.0, pool_size=16, kubelet=None):
        configuration = k8s_client.Configuration()
        try:
            if in_cluster:
                k8s_config.load_incluster_config(client_configuration=configuration)
            else:
                k8s_config.load_kube_config(config_file=kubeconfig or None, client_configuration=configuration)
        except (k8s_config.ConfigException, OSError, TypeError) as exc:
            where = "the in-cluster service account" if in_cluster else (kubeconfig or "~/.kube/config")
            raise KubeConfigError(f"cannot load the Kubernetes configuration from {where}: {exc}") from exc
        if configuration.refresh_api_key_hook is not None:
            configuration.refresh_api_key_hook = _at_most_every(configuration.refresh_api_key_hook, 1.0)
        # Fail fast: a cycle that cannot reach the API is retried by the next cycle, not here.
        configuration.retries = False
        configuration.connection_pool_maxsize = pool_size
        return cls(k8s_client.ApiClient(configuration), timeout=timeout, kubelet=kubelet)

    @property
    def server(self):
        return self.api_client.configuration.host

    def _open(self, path, query=None, timeout=None):
        """GET ``path`` and return the unread response once its status is 200."""
        params = self.api_client.param_serialize(
            "GET",
            path,
            query_params=list((query or {}).items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api_client.call_api(*params, _request_timeout=timeout or self.timeout)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailable(f"the Kubernetes API at {self.server} is unreachable: {exc}") from exc
        status = response.status
        if status == 200:
            return response
        try:
            text = _status_message(response.read())
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            text = str(exc)
        if status in (401, 403):
            verb, resource = _rbac_hint(path)
            if query and query.get("watch"):
                verb = "watch"
            raise KubeAccessDenied(
                f"the Kubernetes API refused {path} ({status}): {text}. "
                f"The service account needs the RBAC verb '{verb}' on '{resource}'."
            )
        if status == 404:
            raise KubeNotFound(f"{path} not found: {text}")
        if status >= 500:
            raise KubeUnavailable(f"the Kubernetes API answered {status} for {path}: {text}")
        raise KubeError(f"the Kubernetes API answered {status} for {path}: {text}")

    def get_raw(self, path, query=None):
        """GET ``path`` and return the body as bytes; raise a ``KubeError`` subclass on failure."""
        response = self._open(path, query)
        try:
            return response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailable(f"the Kubernetes API at {self.server} is unreachable: {exc}") from exc

    def get_json(self, path, query=None):
        return orjson.loads(self.get_raw(path, query))

    def list_all(self, path, query=None, page_size=PAGE_SIZE):
        """Every item of a list endpoint, following ``continue`` tokens."""
        items = []
        query = dict(query or {}, limit=page_size)
        while True:
            page = self.get_json(path, query)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    # --- the calls kubemon makes ---
    def version(self):
        return self.get_json("/version")

    def list_pods(self):
        """Every pod as a typed ``kubetypes.Pod`` (see that module for why)."""
        return self.list_pods_with_version()[0]

    def list_pods_with_version(self):
        """``(pods, resourceVersion)``: the list, and where a watch of its changes starts."""
        pods, query, version = [], {"limit": PAGE_SIZE}, ""
        while True:
            page = decode_pod_list(self.get_raw("/api/v1/pods", query))
            pods.extend(page.items)
            version = page.metadata.resourceVersion or version
            if not page.metadata.continue_:
                return pods, version
            query["continue"] = page.metadata.continue_

    def watch_pods(self, resource_version, timeout_seconds=60, stopped=None):
        """Follow pod changes after ``resource_version`` until the server ends the watch.

        Yields ``("ADDED" | "MODIFIED" | "DELETED", Pod)``, ``("BOOKMARK", resourceVersion)`` and,
        when the version is too old to resume from, ``("EXPIRED", message)``. A connection that
        stays silent past ``timeout_seconds`` (the server would have ended it) raises
        ``KubeUnavailable``; so does one that drops. Stops early once ``stopped`` is set.
        """
        query = {"watch": "1", "resourceVersion": resource_version, "timeoutSeconds": str(timeout_seconds),
                 "allowWatchBookmarks": "true"}
        response = self._open("/api/v1/pods", query, timeout=(self.timeout, timeout_seconds + 15))
        pending = b""
        try:
            for chunk in response.response.stream(65536):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    if line.strip():
                        yield decode_watch_event(line)
                if stopped is not None and stopped.is_set():
                    return
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailable(f"the pod watch on {self.server} was cut: {exc}") from exc
        except WatchFailed as exc:
            raise KubeError(f"the pod watch on {self.server} failed: {exc}") from exc
        finally:
            response.response.release_conn()

    def list_nodes(self):
        nodes = self.list_all("/api/v1/nodes")
        if self.kubelets is not None:
            # where each kubelet listens: the usage cycle lists the nodes, then reads their summaries
            self.kubelets.remember(nodes)
        return nodes

    def list_namespaces(self):
        return self.list_all("/api/v1/namespaces")

    def node_summary_raw(self, node_name):
        """The kubelet's stats summary, undecoded: the usage cycle decodes it in its own thread.

        Read from the kubelet itself (``nodes/stats``) or through the API server's node proxy
        (``nodes/proxy``), as ``KUBELET_ACCESS`` says (collectors/kubelet.py).
        """
        if self.kubelets is not None:
            return self.kubelets.summary_raw(node_name, lambda name: self.get_json(f"/api/v1/nodes/{name}"))
        return self.get_raw(f"/api/v1/nodes/{node_name}/proxy/stats/summary")

    def pod_metrics(self):
        return self.list_all("/apis/metrics.k8s.io/v1beta1/pods")


def _status_message(body):
    try:
        status = orjson.loads(body)
        return status.get("message") or status.get("reason") or body[:200].decode("utf-8", "replace")
    except (orjson.JSONDecodeError, AttributeError):
        return body[:200].decode("utf-8", "replace")


@functools.cache
def get_kube():
    return KubeClient.from_settings()


_pod_watches = {}
_pod_watches_lock = threading.Lock()


def get_pod_watch():
    """The worker process's ``PodWatch`` on ``get_kube()``, started on first use; None when
    ``KUBERNETES_POD_WATCH`` is off. Raises ``KubeError`` when its first list fails (the next
    call tries again)."""
    from django.conf import settings

    if not settings.KUBERNETES_POD_WATCH:
        return None
    kube = get_kube()
    with _pod_watches_lock:
        watch = _pod_watches.get(id(kube))
        if watch is None or not (watch.running or watch.denied):
            watch = _pod_watches[id(kube)] = PodWatch(kube).start()
        return watch


def reset_kube():
    with _pod_watches_lock:
        for watch in _pod_watches.values():
            watch.stop(timeout=0)
        _pod_watches.clear()
    get_kube.cache_clear()
