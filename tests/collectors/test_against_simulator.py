"""The collectors against the simulated cluster and the real InfluxDB, checked with /sim/truth."""

import time

import pytest

from collectors import cycles
from kubemon.cluster import get_health
from kubemon.timeseries import TimeseriesStore, get_store
from kubemon.timeseries.client import InfluxClient

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
SCENARIO = {"seed": 7, "nodes": 5, "pods": 40, "gpu_nodes": 1, "jetson_nodes": 1}


def _run(simulator, store, redis, steps, gpu=True):
    kube = simulator.kube()
    for step in range(steps):
        simulator.advance(15)
        if step % 2 == 0:
            assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis).ok
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis).ok
        if gpu:
            assert cycles.run_gpu_cycle(kube=kube, store=store, redis=redis).ok


def _per_namespace(store, field, measurement, start, end):
    series = store.query(
        f'SELECT sum("{field}") FROM "{measurement}" WHERE time > $start AND time <= $end GROUP BY "namespace"',
        params={"start": start, "end": end},
    )
    return {s["tags"]["namespace"]: s["values"][0][1] for s in series if s["tags"]["namespace"]}


def test_resource_time_per_namespace_matches_the_simulators_truth(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    start = simulator.get("/sim/state")["now"]
    _run(simulator, store, redis_db, steps=240)  # one simulated hour
    end = simulator.get("/sim/state")["now"]
    truth = simulator.get("/sim/truth", start=start, end=end)["namespaces"]

    cpu = _per_namespace(store, "cpu_core_seconds", "kubernetes_pod_container", start, end)
    memory = _per_namespace(store, "memory_working_set_bytes_integral", "kubernetes_pod_container", start, end)
    gpu_requested = _per_namespace(store, "resource_requests_gpu_integral", "kubernetes_pod_container", start, end)
    gpu_used = _per_namespace(store, "utilization_percent_integral", "gpu", start, end)
    checked = 0
    for namespace, expected in truth.items():
        if expected["cpu_core_seconds"] < 1:
            continue
        assert cpu[namespace] == pytest.approx(expected["cpu_core_seconds"], rel=0.005), namespace
        assert memory[namespace] == pytest.approx(expected["memory_byte_seconds"], rel=0.005), namespace
        if expected["gpu_seconds_requested"]:
            assert gpu_requested[namespace] == pytest.approx(expected["gpu_seconds_requested"], rel=0.005)
        checked += 1
    assert checked >= 5
    dcgm_namespaces = [ns for ns in gpu_used if truth.get(ns, {}).get("gpu_seconds_used")]
    assert dcgm_namespaces
    for namespace in dcgm_namespaces:
        assert gpu_used[namespace] / 100 == pytest.approx(truth[namespace]["gpu_seconds_used"], rel=0.005)


def test_odd_pods_get_the_right_state(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    _run(simulator, store, redis_db, steps=2, gpu=False)
    truth_states = {(p["namespace"], p["pod"]): p["state"] for p in simulator.get("/sim/truth")["pods"]}
    series = store.query('SELECT last("state") FROM "kubernetes_pod" GROUP BY "namespace", "pod_name"')
    stored = {(s["tags"]["namespace"], s["tags"]["pod_name"]): s["values"][0][1] for s in series}
    for wanted in ("failed", "pending", "deleting"):
        pods = [pod for pod, state in truth_states.items() if state == wanted]
        assert pods, f"the scenario has no {wanted} pod"
        for pod in pods:
            assert stored[pod] == wanted, pod
    crashlooping = [pod for pod in stored if pod[1].startswith("crashloop")]
    assert all(stored[pod] == "failed" for pod in crashlooping)


def test_a_deleted_pod_is_no_longer_charged(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    _run(simulator, store, redis_db, steps=2, gpu=False)
    victim = next(p for p in simulator.get("/sim/truth")["pods"] if p["state"] == "running"
                  and p["namespace"] == "team-a")
    simulator.control(action="delete_pod", namespace=victim["namespace"], pod=victim["pod"])
    _run(simulator, store, redis_db, steps=8, gpu=False)
    last = store.query('SELECT last("state") FROM "kubernetes_pod" WHERE "pod_name" = $pod', params={
        "pod": victim["pod"]})
    assert last[0]["values"][0][1] in ("deleting", "running")
    end = simulator.get("/sim/state")["now"]
    late = store.query('SELECT count("cpu_core_seconds") FROM "kubernetes_pod_container" '
                       'WHERE "pod_name" = $pod AND time > $since', params={"pod": victim["pod"], "since": end})
    assert late == []


def test_running_a_cycle_twice_on_the_same_sample_writes_no_duplicates(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()
    simulator.advance(15)
    cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db)
    simulator.advance(15)
    cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db)
    before = store.query('SELECT sum("cpu_core_seconds"), count("cpu_core_seconds") FROM "kubernetes_pod_container"')
    cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db)  # same kubelet samples again
    cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db)
    after = store.query('SELECT sum("cpu_core_seconds"), count("cpu_core_seconds") FROM "kubernetes_pod_container"')
    assert after[0]["values"][0][1:] == before[0]["values"][0][1:]


def _counts(client):
    counts = {}
    for measurement in ("kubernetes_pod_container", "kubernetes_pod_network", "kubernetes_pod", "kubernetes_node"):
        series = client.query(f'SELECT count("interval_seconds") FROM "{measurement}"') if measurement not in (
            "kubernetes_pod",) else client.query('SELECT count("containers") FROM "kubernetes_pod"')
        counts[measurement] = series[0]["values"][0][1] if series else 0
    return counts


def test_an_influxdb_outage_loses_no_sample(make_simulator, redis_db, private_influxdb, influxdb_server, settings):
    """Two identical simulated clusters; InfluxDB is stopped for 4 cycles during the second run."""
    reference_client = InfluxClient(influxdb_server.url, "reference")
    reference_client.drop_database()
    reference_client.ensure_database()
    reference = TimeseriesStore(reference_client, spool=get_store().spool)
    disturbed_client = InfluxClient(private_influxdb.url, "disturbed", timeout=2)
    disturbed_client.ensure_database()
    disturbed = TimeseriesStore(disturbed_client, spool=get_store().spool, retries=0)

    for store, outage in ((reference, False), (disturbed, True)):
        redis_db.flushdb()
        simulator = make_simulator(**SCENARIO)
        kube = simulator.kube()
        for step in range(12):
            if outage and step == 4:
                private_influxdb.stop()
            if outage and step == 8:
                private_influxdb.start()
            simulator.advance(15)
            report = cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db)
            assert report.ok
            if outage and 4 <= step < 8:
                assert report.write.spooled > 0
        simulator.stop()
    assert len(get_store().spool) == 0
    assert _counts(disturbed_client) == _counts(reference_client)
    assert _counts(reference_client)["kubernetes_pod_container"] > 0


def test_an_api_outage_fails_cycles_cleanly_and_recovers(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()
    simulator.advance(15)
    assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db).ok
    assert get_health(redis_db)["status"] == "OK"
    simulator.control(action="fail", target="api")
    report = cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db)
    assert not report.ok and "503" in report.error
    assert get_health(redis_db)["status"] == "unknown"
    simulator.control(action="recover")
    simulator.advance(15)
    assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db).ok
    assert get_health(redis_db)["status"] == "OK"


def test_a_not_ready_control_plane_turns_health_ko(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    control_plane = next(n["name"] for n in simulator.get("/sim/state")["nodes"] if n["role"] == "control-plane")
    simulator.control(action="node_not_ready", node=control_plane)
    assert cycles.run_inventory_cycle(kube=simulator.kube(), store=store, redis=redis_db).ok
    assert get_health(redis_db)["status"] == "KO"


def test_the_inventory_scrapes_node_exporter_temperatures(make_simulator, store, redis_db):
    from kubemon.temperatures import latest_temperatures

    simulator = make_simulator(**SCENARIO)
    simulator.advance(15)
    assert cycles.run_inventory_cycle(kube=simulator.kube(), store=store, redis=redis_db).ok
    series = store.query('SELECT last("celsius") FROM "node_temperature" WHERE "source" = $source GROUP BY "node_name"',
                         params={"source": "node-exporter"})
    nodes = {n["name"] for n in simulator.get("/sim/state")["nodes"]}
    assert {s["tags"]["node_name"] for s in series} == nodes
    assert all(20 < s["values"][0][1] < 110 for s in series)
    assert set(latest_temperatures(redis_db)) == nodes


def test_a_forbidden_node_proxy_falls_back_to_metrics_server(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    simulator.control(action="forbid", target="proxy")
    kube = simulator.kube()
    for _ in range(2):
        simulator.advance(15)
        report = cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db)
        assert report.ok
    assert report.points["kubernetes_pod_container"] > 20
    series = store.query('SELECT sum("cpu_core_seconds") FROM "kubernetes_pod_container" GROUP BY "namespace"')
    assert sum(s["values"][0][1] for s in series) > 0


def test_a_forbidden_list_names_the_rbac_verb_and_resource(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    simulator.control(action="forbid", target="api")
    report = cycles.run_usage_cycle(kube=simulator.kube(), store=store, redis=redis_db)
    assert not report.ok
    assert "refused /api/v1/pods (403)" in report.error
    assert "needs the RBAC verb 'list' on 'pods'" in report.error


def test_collect_once_gives_labelled_namespaces_to_their_tenants(make_simulator, store, redis_db, settings):
    """``manage.py collect --once`` does the whole job, billing's namespace assignment included."""
    from django.core.management import call_command

    from billing.models import NamespaceOwnership, Tenant
    from collectors.kube import reset_kube

    physics = Tenant.objects.create(name="Physics", slug="physics")
    simulator = make_simulator(**SCENARIO)
    simulator.advance(15)
    settings.KUBECONFIG = simulator.kubeconfig
    reset_kube()
    try:
        call_command("collect", "--once", "--only", "inventory")
    finally:
        reset_kube()
    labelled = {ns["metadata"]["name"] for ns in simulator.kube().list_namespaces()
                if ns["metadata"]["labels"].get("kubemon.io/tenant") == "physics"}
    assert labelled
    owned = NamespaceOwnership.objects.filter(tenant=physics, source=NamespaceOwnership.Source.LABEL)
    assert set(owned.values_list("namespace", flat=True)) == labelled


def _point_counts(store):
    counts = {}
    for measurement, field in (("kubernetes_pod", "containers"), ("kubernetes_node", "capacity_pods"),
                               ("gpu", "utilization_percent")):
        series = store.query(f'SELECT count("{field}") FROM "{measurement}"')
        counts[measurement] = series[0]["values"][0][1] if series else 0
    return counts


def test_rerunning_the_inventory_and_gpu_cycles_on_the_same_cluster_state_rewrites_the_same_points(
        make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()
    simulator.advance(15)
    assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db).ok
    assert cycles.run_gpu_cycle(kube=kube, store=store, redis=redis_db).ok
    first = _point_counts(store)
    nodes = simulator.get("/sim/state")["nodes"]
    assert first["kubernetes_pod"] >= 40
    assert first["kubernetes_node"] == len(nodes)
    assert first["gpu"] == sum(n["gpus"] for n in nodes)
    time.sleep(1.1)  # a rerun a moment later, as Celery's at-least-once delivery or an operator does
    assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db).ok
    assert cycles.run_gpu_cycle(kube=kube, store=store, redis=redis_db).ok
    assert _point_counts(store) == first


def _per_pod(store, field, start, end):
    series = store.query(
        f'SELECT sum("{field}") FROM "kubernetes_pod_container" WHERE time > $start AND time <= $end '
        'GROUP BY "namespace", "pod_name"',
        params={"start": start, "end": end},
    )
    return {(s["tags"]["namespace"], s["tags"]["pod_name"]): s["values"][0][1] for s in series}


def test_a_crash_looping_pod_is_charged_the_memory_it_used_and_not_its_back_off(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    start = simulator.get("/sim/state")["now"]
    _run(simulator, store, redis_db, steps=120, gpu=False)  # half a simulated hour: back-offs up to 5 min
    end = simulator.get("/sim/state")["now"]
    truth = {(p["namespace"], p["pod"]): p for p in simulator.get("/sim/truth", start=start, end=end)["pods"]}
    crashlooping = [pod for pod in truth if pod[1].startswith("worker-broken")]
    assert crashlooping
    memory = _per_pod(store, "memory_working_set_bytes_integral", start, end)
    cpu = _per_pod(store, "cpu_core_seconds", start, end)
    for pod in crashlooping:
        assert memory[pod] == pytest.approx(truth[pod]["memory_byte_seconds"], rel=0.005), pod
        assert cpu[pod] == pytest.approx(truth[pod]["cpu_core_seconds"], rel=0.005), pod


def test_a_jetson_gpu_is_attributed_to_the_pod_that_requests_it(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    start = simulator.get("/sim/state")["now"]
    _run(simulator, store, redis_db, steps=8)
    end = simulator.get("/sim/state")["now"]
    jetsons = [n["name"] for n in simulator.get("/sim/state")["nodes"] if n["gpu_kind"] == "jetson"]
    assert jetsons
    truth = simulator.get("/sim/truth", start=start, end=end)["pods"]
    for node in jetsons:
        (gpu_pod,) = [p for p in truth if p["node"] == node and p["gpu_seconds_requested"]]
        series = store.query(
            'SELECT count("utilization_percent"), sum("utilization_percent_integral") FROM "gpu" '
            'WHERE "node_name" = $node AND time > $start AND time <= $end GROUP BY "namespace", "pod_name"',
            params={"node": node, "start": start, "end": end},
        )
        assert [(s["tags"]["namespace"], s["tags"]["pod_name"]) for s in series] == [
            (gpu_pod["namespace"], gpu_pod["pod"])]
        assert series[0]["values"][0][1] == 8
        assert series[0]["values"][0][2] / 100 == pytest.approx(gpu_pod["gpu_seconds_used"], rel=0.005)
