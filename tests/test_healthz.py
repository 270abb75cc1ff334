import pytest
from django.test import override_settings

from kubemon.timeseries import reset_store


@pytest.mark.django_db
def test_it_reports_every_dependency_up(client, store):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["redis"]["status"] == "ok"
    assert body["influxdb"]["status"] == "ok"
    assert body["influxdb"]["version"].startswith("1.")


@pytest.mark.django_db
def test_it_turns_503_when_influxdb_is_stopped(client, private_influxdb):
    with override_settings(INFLUXDB_URL=private_influxdb.url, INFLUXDB_TIMEOUT=2):
        reset_store()
        assert client.get("/healthz").status_code == 200
        private_influxdb.stop()
        response = client.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded"
        assert body["influxdb"]["status"] == "down"
        assert "unreachable" in body["influxdb"]["error"]
    reset_store()


@pytest.mark.django_db
def test_it_turns_503_when_redis_is_unreachable(client):
    from kubemon.redis import reset_redis

    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        reset_redis()
        reset_store()
        response = client.get("/healthz")
    reset_redis()
    reset_store()
    assert response.status_code == 503
    assert response.json()["redis"]["status"] == "down"


@pytest.mark.django_db
def test_it_shows_the_cluster_health_without_turning_503(client, store):
    from kubemon.cluster import set_health
    from kubemon.redis import get_redis

    set_health(get_redis(), "KO", "a control-plane node is not Ready")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["cluster"]["status"] == "KO"
