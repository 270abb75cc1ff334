"""Each kubelet's ``/stats/summary`` read directly, as metrics-server and Telegraf read it.

Through the API server (``/api/v1/nodes/<node>/proxy/stats/summary``) the service account needs
``nodes/proxy``, which also allows exec into every pod of every node (the CIS benchmark says to
avoid granting it). Read directly (``https://<node address>:<kubelet port>/stats/summary``), it
needs only ``get`` on ``nodes/stats``. The address and the port come from the Node object
(``status.addresses`` in the preferred order of types, ``status.daemonEndpoints``); the kubelet's
certificate is verified against ``KUBELET_CA_FILE`` (by default the API server's CA, which signs
the kubelets' serving certificates on k3s and on kubeadm with ``serverTLSBootstrap``) unless
``KUBELET_INSECURE_TLS`` says the kubelets' certificates are self-signed (metrics-server's
``--kubelet-insecure-tls``). The request carries the service account's token, as the API
client's own requests do (refreshed with it).
"""

import logging
import ssl
import threading
from dataclasses import dataclass

import urllib3

from collectors.kubeerrors import KubeAccessDenied, KubeConfigError, KubeError, KubeTLSError, KubeUnavailable

log = logging.getLogger(__name__)

DEFAULT_ADDRESS_TYPES = ("InternalIP", "InternalDNS", "Hostname", "ExternalIP", "ExternalDNS")
DEFAULT_PORT = 10250
MIN_POOLS = 64  # before the first node list: a small cluster never needs more


@dataclass(frozen=True)
class KubeletAccess:
    """How summaries are read: ``mode`` ``direct`` or ``proxy`` (the API server's node proxy)."""

    mode: str = "proxy"
    address_types: tuple = DEFAULT_ADDRESS_TYPES
    ca_file: str = ""
    insecure: bool = False

    def __post_init__(self):
        if self.mode not in ("direct", "proxy"):
            raise KubeConfigError(f"KUBELET_ACCESS must be direct or proxy, not {self.mode!r}")

    @classmethod
    def from_settings(cls):
        from django.conf import settings

        return cls(settings.KUBELET_ACCESS, tuple(settings.KUBELET_PREFERRED_ADDRESS_TYPES),
                   settings.KUBELET_CA_FILE, settings.KUBELET_INSECURE_TLS)


def kubelet_endpoint(node, address_types=DEFAULT_ADDRESS_TYPES):
    """``(host, port)`` of a Node object's kubelet, or None when it advertises no usable address."""
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_PORT
    for wanted in address_types:
        for address in addresses:
            if address.get("type") == wanted and address.get("address"):
                return address["address"], int(port)
    return None


def _url_host(host):
    return f"[{host}]" if ":" in host else host


class DirectKubelets:
    """Summaries fetched from the kubelets themselves, over keep-alive TLS connections."""

    def __init__(self, configuration, access, timeout=10.0):
        self.configuration = configuration
        self.access = access
        self.timeout = timeout
        self.ca_file = access.ca_file or configuration.ssl_ca_cert or None
        tls = {"cert_reqs": ssl.CERT_NONE, "assert_hostname": False} if access.insecure else \
              {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": self.ca_file}
        if configuration.cert_file and configuration.key_file:  # a kubeconfig's client certificate
            tls.update(cert_file=configuration.cert_file, key_file=configuration.key_file)
        self._tls = tls
        self._endpoints = {}
        self._lock = threading.Lock()
        self.pools = self._pool_manager(MIN_POOLS)
        if access.insecure:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def _pool_manager(self, capacity):
        # One pool per kubelet, one connection each: a cycle fetches 16 summaries at a time, each
        # from another kubelet. ``num_pools`` is an LRU bound, not a reservation: a manager that
        # holds fewer pools than the kubelets it reads closes the least recently used pool to open
        # the next, so a cycle over more nodes than pools reopens every connection (a TLS
        # handshake per kubelet per cycle, the 4,096 of old at 5,000 nodes).
        self.capacity = capacity
        return urllib3.PoolManager(num_pools=capacity, maxsize=1, retries=False, **self._tls)

    def _fit_pools(self, known):
        """Grow the pool manager to hold a connection to each of the ``known`` kubelets.

        The count is every node this process knows (the last node list, plus the nodes looked up
        since), not the shard's: a worker takes whichever shard the broker hands it, so over a
        few cycles it reads every kubelet, and a pool sized to one shard would evict the
        connections its next shard needs. The capacity grows to a power of two with a quarter
        to spare, so a growing cluster replaces the manager (its connections reopen once) only
        when it doubles; it never shrinks (an unused pool holds no connection after its kubelet
        closes it, and an LRU bound costs nothing unused).
        """
        if known <= self.capacity:
            return
        wanted = max(MIN_POOLS, 1 << (known + known // 4 - 1).bit_length())
        old, self.pools = self.pools, self._pool_manager(wanted)
        old.clear()  # a request still running on it finishes; its connection is then closed
        log.info("kubelet connection pools: %d for %d known nodes", wanted, known)

    def remember(self, nodes):
        """Note every node's kubelet endpoint from a node list (the usage cycle lists nodes first)."""
        found = {}
        for node in nodes:
            name = (node.get("metadata") or {}).get("name")
            endpoint = kubelet_endpoint(node, self.access.address_types)
            if name and endpoint:
                found[name] = endpoint
        with self._lock:
            self._endpoints = found
            self._fit_pools(len(found))

    def endpoint(self, node_name, lookup):
        """The node's ``(host, port)``; ``lookup(name)`` fetches a Node object not seen in a list."""
        with self._lock:
            endpoint = self._endpoints.get(node_name)
        if endpoint is None:
            endpoint = kubelet_endpoint(lookup(node_name), self.access.address_types)
            if endpoint is None:
                raise KubeError(f"node {node_name} advertises none of the address types "
                                f"{', '.join(self.access.address_types)} (KUBELET_PREFERRED_ADDRESS_TYPES)")
            with self._lock:
                self._endpoints[node_name] = endpoint
                self._fit_pools(len(self._endpoints))
        return endpoint

    def summary_raw(self, node_name, lookup):
        host, port = self.endpoint(node_name, lookup)
        url = f"https://{_url_host(host)}:{port}/stats/summary"
        headers = {"Accept": "application/json"}
        token = self.configuration.auth_settings().get("BearerToken", {}).get("value")
        if token:
            headers["Authorization"] = token
        try:
            response = self.pools.request("GET", url, headers=headers, timeout=self.timeout, preload_content=True)
        except urllib3.exceptions.SSLError as exc:
            raise KubeTLSError(
                f"the kubelet of node {node_name} at {url} has a certificate that "
                f"{self.ca_file or 'the system CA bundle'} does not verify: {exc}. Set KUBELET_CA_FILE to the CA "
                "that signs the kubelets' serving certificates, or KUBELET_INSECURE_TLS=true where they are "
                "self-signed."
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailable(f"the kubelet of node {node_name} at {url} is unreachable: {exc}") from exc
        if response.status == 200:
            return response.data
        text = response.data[:300].decode("utf-8", "replace").strip()
        if response.status == 401:
            raise KubeAccessDenied(
                f"the kubelet of node {node_name} at {url} refused the service account's token (401): {text}. "
                "The kubelet must accept bearer tokens (its authentication.webhook.enabled)."
            )
        if response.status == 403:
            raise KubeAccessDenied(
                f"the kubelet of node {node_name} at {url} refused /stats/summary (403): {text}. "
                "The service account needs the RBAC verb 'get' on 'nodes/stats'."
            )
        if response.status >= 500:
            raise KubeUnavailable(f"the kubelet of node {node_name} answered {response.status}: {text}")
        raise KubeError(f"the kubelet of node {node_name} answered {response.status} for {url}: {text}")
