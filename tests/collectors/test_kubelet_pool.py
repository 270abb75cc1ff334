"""The direct kubelet reader's connection pools (collectors/kubelet.py) at a 5,000-node cluster."""

from types import SimpleNamespace

from collectors.kubelet import DirectKubelets, KubeletAccess


def _node(i):
    return {"metadata": {"name": f"node-{i:05d}"},
            "status": {"addresses": [{"type": "InternalIP", "address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}


def _kubelets():
    configuration = SimpleNamespace(ssl_ca_cert=None, cert_file=None, key_file=None)
    return DirectKubelets(configuration, KubeletAccess("direct", insecure=True))


def _pools(kubelets, nodes):
    """The pool each node's kubelet is read through, as a summary request would pick it."""
    return [kubelets.pools.connection_from_host(_node(i)["status"]["addresses"][0]["address"], 10250, "https")
            for i in nodes]


def test_it_keeps_one_pool_per_kubelet_of_a_5000_node_cluster_from_one_cycle_to_the_next():
    kubelets = _kubelets()
    kubelets.remember([_node(i) for i in range(5000)])
    first = _pools(kubelets, range(5000))
    second = _pools(kubelets, range(5000))
    # A pool evicted between two cycles would be a new object (and a new TLS handshake).
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert len(kubelets.pools.pools) == 5000


def test_it_grows_its_pools_with_the_nodes_it_looks_up_and_keeps_a_quarter_to_spare():
    kubelets = _kubelets()
    small = kubelets.pools
    kubelets.remember([_node(i) for i in range(40)])
    assert kubelets.pools is small  # a small cluster fits the initial pools: none reopened
    by_name = {f"node-{i:05d}": _node(i) for i in range(300)}
    for name in by_name:  # a shard's worker that never listed the nodes looks each one up
        kubelets.endpoint(name, by_name.__getitem__)
    assert kubelets.capacity >= 300 * 1.25
    assert kubelets.pools.pools._maxsize == kubelets.capacity
    grown = kubelets.pools
    kubelets.remember(list(by_name.values()))
    assert kubelets.pools is grown  # the same nodes again: no new manager
