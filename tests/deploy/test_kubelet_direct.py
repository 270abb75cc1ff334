"""Kubelet summaries read from each kubelet (``KUBELET_ACCESS=direct``, only ``nodes/stats``),
against the simulator's per-node kubelets: TLS with its CA, its token checks, the same points as
through the API server's node proxy."""

import json
import logging
import ssl
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from collectors import cycles
from collectors.kube import KubeClient
from collectors.kubeerrors import KubeAccessDenied, KubeConfigError, KubeTLSError
from collectors.kubelet import KubeletAccess, kubelet_endpoint
from collectors.podspec import index_pods
from collectors.sampling import SamplingState
from collectors.usage import collect_pod_usage
from simcluster import options_from_namespace, start
from simcluster import tls as sim_tls

# two hours ago: within the raw retention policy of the test database
START = datetime.fromtimestamp(int(time.time()) - 2 * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
SCENARIO = {"seed": 5, "nodes": 5, "pods": 40, "manual_clock": True, "quiet": True, "start": START}


@pytest.fixture
def sim(tmp_path):
    running = start(options_from_namespace(dict(SCENARIO, kubeconfig=str(tmp_path / "kubeconfig"))))
    running.kubeconfig = str(tmp_path / "kubeconfig")
    yield running
    running.stop()


def _direct(sim, **access):
    return KubeClient.from_config(sim.kubeconfig, kubelet=KubeletAccess("direct", **dict(
        {"ca_file": sim.kubelet_ca}, **access)))


def _control(sim, **body):
    with sim.sim.lock:  # as the simulator's /sim/control does
        sim.sim.control(body)


def _advance(sim, seconds=15):
    _control(sim, action="advance", seconds=seconds)


def test_each_simulated_node_advertises_its_own_kubelet_on_loopback(sim):
    nodes = json.load(urllib.request.urlopen(sim.url + "/api/v1/nodes", timeout=10))["items"]
    endpoints = [kubelet_endpoint(node) for node in nodes]
    assert len(endpoints) == 5
    assert {host for host, _ in endpoints} == {"127.0.0.1"}
    assert len({port for _, port in endpoints}) == 5
    assert 10250 not in {port for _, port in endpoints}


def test_a_simulated_kubelet_wants_a_token_and_nodes_stats_as_a_real_one(sim):
    nodes = json.load(urllib.request.urlopen(sim.url + "/api/v1/nodes", timeout=10))["items"]
    _, port = kubelet_endpoint(nodes[1])
    context = ssl.create_default_context(cafile=sim.kubelet_ca)

    def get(token):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(f"https://127.0.0.1:{port}/stats/summary", headers=headers)
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    assert get(None) == (401, b"Unauthorized")
    assert get("someone-elses-token") == (401, b"Unauthorized")
    status, body = get("simcluster-token")
    assert status == 200 and json.loads(body)["node"]["nodeName"] == nodes[1]["metadata"]["name"]
    _control(sim, action="forbid", target="stats")
    status, body = get("simcluster-token")
    assert status == 403
    assert b"verb=get, resource=nodes, subresource(s)=[stats]" in body


def _points(kube, pods, node_names):
    points = []
    collect_pod_usage(kube, SamplingState(), pods, node_names, sink=points.extend)
    return sorted(points, key=lambda p: (p.measurement, sorted(p.tags.items())))


def test_direct_mode_writes_the_same_points_as_the_node_proxy(sim):
    _advance(sim, 120)
    direct, proxy = _direct(sim), KubeClient.from_config(sim.kubeconfig)
    pods = index_pods(proxy.list_pods())
    node_names = [n["metadata"]["name"] for n in direct.list_nodes()]
    from_kubelets = _points(direct, pods, node_names)
    through_proxy = _points(proxy, pods, node_names)
    containers = [p for p in from_kubelets if p.measurement == "kubernetes_pod_container"]
    assert len(containers) > 30
    assert all("cpu_usage_core_nanoseconds" in p.fields for p in containers)  # the kubelet's counter
    assert from_kubelets == through_proxy


def test_a_token_without_nodes_stats_gets_an_error_naming_the_permission(sim, caplog):
    kube = _direct(sim)
    node = kube.list_nodes()[0]["metadata"]["name"]
    _control(sim, action="forbid", target="stats")
    with pytest.raises(KubeAccessDenied, match="needs the RBAC verb 'get' on 'nodes/stats'") as refused:
        kube.node_summary_raw(node)
    assert "(403)" in str(refused.value) and node in str(refused.value)
    # a usage cycle says so for every node, then falls back to metrics.k8s.io (rates, no counters)
    pods = index_pods(kube.list_pods())
    names = [n["metadata"]["name"] for n in kube.list_nodes()]
    with caplog.at_level(logging.WARNING, logger="collectors.usage"):
        result = collect_pod_usage(kube, SamplingState(), pods, names)
    assert result.source == "metrics.k8s.io"
    assert sum("'nodes/stats'" in r.getMessage() for r in caplog.records) == len(names)


def test_a_kubelet_certificate_from_another_ca_is_refused_unless_insecure_tls_is_set(sim, tmp_path):
    other_ca = sim_tls.make_authority(str(tmp_path / "other-ca"), name="not-the-kubelets-ca")
    kube = _direct(sim, ca_file=other_ca.ca_cert)
    node = kube.list_nodes()[1]["metadata"]["name"]
    with pytest.raises(KubeTLSError, match="KUBELET_CA_FILE") as refused:
        kube.node_summary_raw(node)
    assert other_ca.ca_cert in str(refused.value) and "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    insecure = _direct(sim, ca_file=other_ca.ca_cert, insecure=True)
    insecure.list_nodes()
    proxy = KubeClient.from_config(sim.kubeconfig)
    assert insecure.node_summary_raw(node) == proxy.node_summary_raw(node)


def test_a_node_missing_from_the_last_list_is_looked_up(sim):
    kube = _direct(sim)  # no list_nodes() first: the endpoint comes from GET /api/v1/nodes/<name>
    assert json.loads(kube.node_summary_raw("node-02"))["node"]["nodeName"] == "node-02"


def test_the_preferred_address_types_choose_the_address_dialled():
    node = {"status": {"addresses": [{"type": "Hostname", "address": "pi-3"},
                                     {"type": "InternalIP", "address": "192.0.2.13"},
                                     {"type": "ExternalIP", "address": "198.51.100.7"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10255}}}}
    assert kubelet_endpoint(node) == ("192.0.2.13", 10255)
    assert kubelet_endpoint(node, ("Hostname", "InternalIP")) == ("pi-3", 10255)
    assert kubelet_endpoint(node, ("ExternalDNS",)) is None
    del node["status"]["daemonEndpoints"]
    assert kubelet_endpoint(node, ("ExternalIP",)) == ("198.51.100.7", 10250)


def test_the_settings_choose_the_mode_and_a_wrong_one_is_named(settings):
    settings.KUBELET_ACCESS = "direct"
    settings.KUBELET_PREFERRED_ADDRESS_TYPES = ["Hostname"]
    settings.KUBELET_CA_FILE = "/etc/kubemon/kubelet-ca.crt"
    settings.KUBELET_INSECURE_TLS = False
    assert KubeletAccess.from_settings() == KubeletAccess("direct", ("Hostname",), "/etc/kubemon/kubelet-ca.crt")
    settings.KUBELET_ACCESS = "exec"
    with pytest.raises(KubeConfigError, match="KUBELET_ACCESS must be direct or proxy, not 'exec'"):
        KubeletAccess.from_settings()


@pytest.mark.django_db
def test_a_usage_cycle_in_direct_mode_stores_the_kubelets_counters(sim, store, redis_db):
    kube = _direct(sim)
    for _ in range(2):
        _advance(sim)
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    series = store.query('SELECT last("cpu_usage_core_nanoseconds") FROM "kubernetes_pod_container" '
                         'GROUP BY "namespace", "pod_name", "container_name"')
    assert sum(s["values"][0][1] > 0 for s in series) > 30
