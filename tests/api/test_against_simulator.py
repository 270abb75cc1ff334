"""The metric API end to end: the simulated cluster, the real collectors, InfluxDB, then POST /api/<metric>.

Resource-time per namespace and per pod must agree with the simulator's /sim/truth.
"""

from datetime import datetime, timedelta

import pytest
from django.test import override_settings

from collectors import cycles

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
HEADERS = {"HTTP_X_USERNAME": "billing", "HTTP_X_PASSWORD": "legacy-secret"}


def _iso(text, plus_seconds=0):
    moment = datetime.fromisoformat(text) + timedelta(seconds=plus_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def collected(make_simulator, store, redis_db):
    simulator = make_simulator(seed=11, nodes=5, pods=40, gpu_nodes=1)
    kube = simulator.kube()
    start = simulator.get("/sim/state")["now"]
    for step in range(120):  # 30 simulated minutes
        simulator.advance(15)
        if step % 2 == 0:
            cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db)
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db).ok
    end = simulator.get("/sim/state")["now"]
    truth = simulator.get("/sim/truth", start=start, end=end)
    # Samples stand for the time before them, so the last one is at `end`: the API's window
    # end is exclusive, hence one second more.
    window = {"timeBeginInterval": _iso(start), "timeEndInterval": _iso(end, 1)}
    return truth, window


def _post(client, metric, body):
    with override_settings(API_USERNAME="billing", API_PASSWORD="legacy-secret"):
        return client.post(f"/api/{metric}", body, content_type="application/json", **HEADERS)


def test_all_namespace_integrals_match_the_truth(client, collected):
    truth, window = collected
    cpu = _post(client, "cpu/usage_rate", {"agg": "all-namespace", "excludeNamespaces": [], **window})
    memory = _post(client, "memory/working_set", {"agg": "all-namespace", "excludeNamespaces": [], **window})
    assert cpu.status_code == 200 and memory.status_code == 200
    cpu_rows = {row["namespace_name"]: row for row in cpu.json()}
    memory_rows = {row["namespace_name"]: row for row in memory.json()}
    checked = 0
    for namespace, expected in truth["namespaces"].items():
        if expected["cpu_core_seconds"] < 1:
            continue
        assert cpu_rows[namespace]["unit"] == "millicores"
        assert cpu_rows[namespace]["integral"] == pytest.approx(expected["cpu_core_seconds"] * 1000, rel=0.005)
        assert memory_rows[namespace]["integral"] == pytest.approx(expected["memory_byte_seconds"], rel=0.005)
        checked += 1
    assert checked >= 5


def test_the_legacy_exclusion_leaves_kube_system_out(client, collected):
    _, window = collected
    rows = _post(client, "cpu/usage_rate", {"agg": "all-namespace", **window}).json()
    assert "kube-system" not in {row["namespace_name"] for row in rows}


def test_pod_by_namespace_integrals_match_the_truth_per_pod(client, collected):
    truth, window = collected
    namespace = "physics"
    rows = _post(client, "cpu/usage_rate", {"agg": "pod-by-namespace", "namespace": namespace, **window}).json()
    by_pod = {row["pod_name"]: row for row in rows}
    expected = {p["pod"]: p for p in truth["pods"] if p["namespace"] == namespace and p["cpu_core_seconds"] > 1}
    assert expected
    for pod, truth_row in expected.items():
        assert by_pod[pod]["integral"] == pytest.approx(truth_row["cpu_core_seconds"] * 1000, rel=0.005), pod
    assert {row["namespace_name"] for row in rows} == {namespace}


def test_gpu_requests_match_the_truth(client, collected):
    truth, window = collected
    rows = _post(client, "gpu/request", {"agg": "all-namespace", "excludeNamespaces": [], **window}).json()
    by_namespace = {row["namespace_name"]: row for row in rows}
    expected = {ns: v["gpu_seconds_requested"] for ns, v in truth["namespaces"].items() if v["gpu_seconds_requested"]}
    assert expected
    for namespace, gpu_seconds in expected.items():
        assert by_namespace[namespace]["integral"] == pytest.approx(gpu_seconds, rel=0.005)
