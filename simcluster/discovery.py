"""Discovery: ``/version``, ``/api``, ``/apis`` and the resource lists, enough for the ``kubernetes``
client; they list only what is served."""

from __future__ import annotations

import orjson

from .responses import TEXT, metrics_down

GIT = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4",
    "gitCommit": "a78aa47129b8539636eb86a9d00e31b2720fe06b",
    "gitTreeState": "clean",
    "buildDate": "2024-12-10T11:37:26Z",
    "goVersion": "go1.22.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _resource_list(group_version: str, resources: list[tuple[str, str, bool, list[str]]]) -> bytes:
    return orjson.dumps(
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": [
                {
                    "name": name,
                    "singularName": "" if "/" in name else name.rstrip("s"),
                    "namespaced": nsd,
                    "kind": kind,
                    "verbs": verbs,
                }
                for name, kind, nsd, verbs in resources
            ],
        }
    )


API_V1 = _resource_list(
    "v1",
    [
        ("namespaces", "Namespace", False, ["get", "list", "watch"]),
        ("nodes", "Node", False, ["get", "list", "watch"]),
        ("nodes/proxy", "NodeProxyOptions", False, ["get"]),
        ("pods", "Pod", True, ["delete", "get", "list", "watch"]),
    ],
)
METRICS_V1B1 = _resource_list(
    "metrics.k8s.io/v1beta1",
    [
        ("nodes", "NodeMetrics", False, ["get", "list"]),
        ("pods", "PodMetrics", True, ["get", "list"]),
    ],
)
METRICS_GROUP = {
    "name": "metrics.k8s.io",
    "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
    "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"},
}


class Discovery:
    """Handler methods for the discovery paths (a mixin of server.Handler)."""

    def _r_version(self, method, q):
        self._send(200, orjson.dumps(GIT))

    def _r_api(self, method, q):
        self._send(
            200,
            orjson.dumps(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.server.port}"}
                    ],
                }
            ),
        )

    def _r_api_v1(self, method, q):
        self._send(200, API_V1)

    def _r_apis(self, method, q):
        self._send(200, orjson.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": [METRICS_GROUP]}))

    def _r_metrics_group(self, method, q):
        self._send(200, orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", **METRICS_GROUP}))

    def _r_metrics_v1beta1(self, method, q):
        if "metrics" in self.server.sim.failed:
            raise metrics_down("")
        self._send(200, METRICS_V1B1)

    def _r_health(self, method, q):
        self._send(200, b"ok", TEXT)
