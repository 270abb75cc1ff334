"""The agents' temperature push: GET with the token in the path, POST with it in a header."""

import pytest
from django.test import override_settings

from collectors.temperature import KNOWN_NODES_KEY, QUEUE_KEY, flush_temperatures

TOKEN = "s3cret-push-token"
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("push_token")]


@pytest.fixture
def push_token():
    with override_settings(TEMPERATURE_PUSH_TOKEN=TOKEN):
        yield


def _celsius_rows(store):
    series = store.query('SELECT "celsius" FROM "node_temperature" GROUP BY "node_name"')
    return {s["tags"]["node_name"]: [v[1] for v in s["values"]] for s in series}


def test_it_stores_a_pushed_temperature(client, store, redis_db):
    response = client.get(f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-1", "value": "48312"})
    assert response.status_code == 200
    assert response.json()["celsius"] == 48.312
    assert flush_temperatures(redis_db, store) == 1
    assert _celsius_rows(store) == {"rpi-1": [48.312]}


def test_it_accepts_a_post_with_the_token_in_a_header(client, store, redis_db):
    response = client.post("/k8s/collect/temperature", {"node": "rpi-2", "value": "-1500"},
                           HTTP_X_KUBEMON_TOKEN=TOKEN)
    assert response.status_code == 200
    flush_temperatures(redis_db, store)
    assert _celsius_rows(store) == {"rpi-2": [-1.5]}


@pytest.mark.parametrize(
    "path, params, status, message",
    [
        ("/k8s/collect/wrong/temperature", {"node": "rpi-1", "value": "40000"}, 403, "invalid token"),
        (f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-1", "value": "hot"}, 400, "value:"),
        (f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-1", "value": "40.5"}, 400, "value:"),
        (f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-1", "value": "150001"}, 400, "between"),
        (f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-1", "value": "-50001"}, 400, "between"),
        (f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-1"}, 400, "value is required"),
        (f"/k8s/collect/{TOKEN}/temperature", {"value": "40000"}, 400, "node is required"),
        (f"/k8s/collect/{TOKEN}/temperature", {"node": "RPI_1; DROP", "value": "40000"}, 400, "DNS-1123"),
        (f"/k8s/collect/{TOKEN}/temperature", {"node": "a" * 300, "value": "40000"}, 400, "node:"),
        (f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-1", "value": "4" * 5000}, 400, "too long"),
    ],
)
def test_it_refuses_bad_pushes_and_writes_nothing(client, redis_db, path, params, status, message):
    response = client.get(path, params)
    assert response.status_code == status
    body = response.json()
    assert body["code"] == status and message in body["message"]
    assert redis_db.llen(QUEUE_KEY) == 0


def test_it_refuses_a_node_the_inventory_does_not_know(client, redis_db):
    redis_db.sadd(KNOWN_NODES_KEY, "rpi-1")
    assert client.get(f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-1", "value": "1"}).status_code == 200
    response = client.get(f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-9", "value": "1"})
    assert response.status_code == 400 and "unknown node" in response.json()["message"]
    assert redis_db.llen(QUEUE_KEY) == 1


def test_a_post_without_the_header_is_refused(client, redis_db):
    response = client.post("/k8s/collect/temperature", {"node": "rpi-2", "value": "1000"})
    assert response.status_code == 403
    assert redis_db.llen(QUEUE_KEY) == 0


def test_the_push_is_refused_when_no_token_is_configured(client, redis_db):
    with override_settings(TEMPERATURE_PUSH_TOKEN=""):
        response = client.get("/k8s/collect/anything/temperature", {"node": "rpi-1", "value": "1"})
    assert response.status_code == 403 and "disabled" in response.json()["message"]


def test_a_wrong_method_gets_405_with_a_json_message(client):
    response = client.put(f"/k8s/collect/{TOKEN}/temperature")
    assert (response.status_code, response["Allow"]) == (405, "GET")
    assert response.json() == {"code": 405, "message": "method PUT not allowed: use GET"}
    response = client.get("/k8s/collect/temperature")
    assert (response.status_code, response.json()["message"]) == (405, "method GET not allowed: use POST")


def test_it_reads_hwmon_and_thermal_zones_from_a_real_node_exporter_page():
    from pathlib import Path

    from collectors.temperature import node_exporter_points

    text = (Path(__file__).resolve().parent.parent / "samples" / "node-exporter-temperature.txt").read_text()
    points = node_exporter_points(text, "rpi-1", 1000)
    sensors = {p.tags["sensor"]: p.fields["celsius"] for p in points}
    assert sensors["platform_coretemp_0/temp1"] == 55.0
    assert sensors["hwmon4/temp2"] == 54.0
    assert any(sensor.startswith("thermal_zone/") for sensor in sensors)
    assert {p.tags["source"] for p in points} == {"node-exporter"}
    assert {p.tags["node_name"] for p in points} == {"rpi-1"}


def test_the_flush_cycle_stores_the_pushed_temperatures(client, store, redis_db):
    # The beat's task runs the flush through the cycle runner, not flush_temperatures directly.
    from collectors.cycles import run_temperature_flush

    client.get(f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-1", "value": "51000"})
    report = run_temperature_flush(store=store, redis=redis_db)
    assert report.ok, report.error
    assert _celsius_rows(store) == {"rpi-1": [51.0]}


def test_a_push_is_stamped_on_the_clusters_clock_not_the_portals(client, store, redis_db):
    # A push carries no time of its own, like the inventory's points: it is stamped on the sources'
    # clock (the latest kubelet sample time moved on by the wall time since), so a cluster whose
    # clock differs from the portal's (a simulated one, a skewed one) keeps its temperatures on
    # the same time line as its CPU and memory.
    import time

    import orjson

    from kubemon import keys

    kubelet_time = int(time.time()) - 600
    redis_db.set(keys.SOURCE_TIME, orjson.dumps([kubelet_time, time.time()]))
    client.get(f"/k8s/collect/{TOKEN}/temperature", {"node": "rpi-1", "value": "47000"})
    flush_temperatures(redis_db, store)
    (series,) = store.query('SELECT "celsius" FROM "node_temperature"', epoch="s")
    stamped = series["values"][0][0]
    assert kubelet_time <= stamped <= kubelet_time + 5
    # Its freshness for the fan and the live view is still the portal's wall time.
    from kubemon.temperatures import latest_temperatures

    assert latest_temperatures(redis_db) == {"rpi-1": 47.0}
