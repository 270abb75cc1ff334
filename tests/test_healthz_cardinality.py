"""/healthz warns at 80 % of each InfluxDB cardinality limit, tested by lowering the limits."""

import pytest
from django.test import override_settings

from kubemon.timeseries import Point, get_store, reset_store
from kubemon.timeseries.schema import POD, VOLUME


def _write_pods(store, count):
    """``count`` pods, each with its own token volume (``kube-api-access-<suffix>``): one series
    of kubernetes_pod and one of kubernetes_pod_volume per pod."""
    import time

    now = int(time.time()) - 60
    points = []
    for i in range(count):
        tags = {"namespace": "batch", "pod_name": f"job-{i}", "node_name": "node-01"}
        points.append(Point(POD, tags, {"containers": 1}, now))
        points.append(Point(VOLUME, {**tags, "volume_name": f"kube-api-access-{i:05d}"}, {"used_bytes": 4096}, now))
    report = store.write(points)
    assert report.rejected == 0 and report.written == 2 * count


def _healthz(client, **limits):
    with override_settings(**limits):
        reset_store()
        try:
            response = client.get("/healthz")
        finally:
            reset_store()
    assert response.status_code == 200  # a warning is not an outage
    return response.json()


@pytest.mark.django_db
def test_healthz_warns_at_80_percent_of_max_values_per_tag_for_every_churning_tag(client, store):
    _write_pods(store, 8)
    body = _healthz(client, INFLUXDB_MAX_VALUES_PER_TAG=10, INFLUXDB_MAX_SERIES_PER_DATABASE=0)
    assert body["status"] == "ok"
    influxdb = body["influxdb"]
    assert influxdb["pod_names"] == 8
    assert influxdb["tag_values"]["volume_name"] == {"measurement": f"raw.{VOLUME}", "values": 8}
    assert influxdb["limits"] == {"max-series-per-database": 0, "max-values-per-tag": 10}
    assert sorted(body["warnings"]) == sorted([
        f"influxdb: 8 values of the tag pod_name in raw.{POD}: over 80 % of max-values-per-tag (10)",
        f"influxdb: 8 values of the tag volume_name in raw.{VOLUME}: over 80 % of max-values-per-tag (10)",
    ])
    assert body["warnings"] == [f"influxdb: {w}" for w in influxdb["warnings"]]


@pytest.mark.django_db
def test_healthz_warns_at_80_percent_of_max_series_per_database(client, store):
    _write_pods(store, 8)  # 16 series
    body = _healthz(client, INFLUXDB_MAX_VALUES_PER_TAG=0, INFLUXDB_MAX_SERIES_PER_DATABASE=20)
    assert body["influxdb"]["series"] == 16
    assert body["warnings"] == ["influxdb: 16 series: over 80 % of max-series-per-database (20)"]


@pytest.mark.django_db
def test_healthz_says_nothing_below_80_percent_or_without_limits(client, store):
    _write_pods(store, 7)  # 7 pod names, 14 series
    for limits in ({"INFLUXDB_MAX_VALUES_PER_TAG": 10, "INFLUXDB_MAX_SERIES_PER_DATABASE": 18},
                   {"INFLUXDB_MAX_VALUES_PER_TAG": 0, "INFLUXDB_MAX_SERIES_PER_DATABASE": 0}):
        body = _healthz(client, **limits)
        assert "warnings" not in body and "warnings" not in body["influxdb"], limits
        assert body["influxdb"]["pod_names"] == 7 and body["influxdb"]["series"] == 14


@pytest.mark.django_db
def test_the_shipped_limits_are_the_default_ones(store, settings):
    from pathlib import Path

    conf = (Path(__file__).resolve().parents[1] / "deploy" / "influxdb" / "influxdb.conf").read_text()
    assert f"max-series-per-database = {settings.INFLUXDB_MAX_SERIES_PER_DATABASE}" in conf
    assert f"max-values-per-tag = {settings.INFLUXDB_MAX_VALUES_PER_TAG}" in conf
    reset_store()
    assert (get_store().max_series, get_store().max_values_per_tag) == (1_000_000, 100_000)


@pytest.mark.django_db
def test_healthz_counts_the_pod_names_the_rollup_tiers_keep_past_the_raw_retention(client, store):
    """InfluxDB's SHOW TAG VALUES without FROM reads the default policy (raw) only, while the
    hourly rollup and the pod tier keep 90 days of pod names (INFLUXDB_HOURLY_RETENTION)."""
    import time

    from kubemon.timeseries.schema import CONTAINER, HOURLY_POLICY, POD_DAILY_POLICY

    hour = (int(time.time()) - 60 * 86400) // 3600 * 3600  # older than the raw retention, inside the pod detail
    tags = [{"namespace": "batch", "pod_name": f"cron-{i}", "container_name": "main", "node_name": "n"}
            for i in range(9)]
    assert store.write([Point(CONTAINER, t, {"cpu_core_seconds": 1.0}, hour) for t in tags],
                       policy=HOURLY_POLICY).rejected == 0
    assert store.write([Point(CONTAINER, {"namespace": "batch", "pod_name": t["pod_name"]},
                              {"cpu_core_seconds": 1.0}, hour // 86400 * 86400) for t in tags[:3]],
                       policy=POD_DAILY_POLICY).rejected == 0
    _write_pods(store, 2)  # two more in raw
    body = _healthz(client, INFLUXDB_MAX_VALUES_PER_TAG=10, INFLUXDB_MAX_SERIES_PER_DATABASE=0)
    assert body["influxdb"]["pod_names"] == 9
    assert body["influxdb"]["tag_values"]["pod_name"] == {"measurement": f"{HOURLY_POLICY}.{CONTAINER}", "values": 9}
    assert body["warnings"] == [f"influxdb: 9 values of the tag pod_name in {HOURLY_POLICY}.{CONTAINER}: "
                                "over 80 % of max-values-per-tag (10)"]


@pytest.mark.django_db
def test_healthz_keeps_the_counts_for_INFLUXDB_CARDINALITY_SECONDS_and_judges_them_on_every_call(client, store):
    _write_pods(store, 3)
    assert _healthz(client, INFLUXDB_CARDINALITY_SECONDS=3600)["influxdb"]["pod_names"] == 3
    _write_pods(store, 8)  # job-0 .. job-7: five more pod names
    kept = _healthz(client, INFLUXDB_CARDINALITY_SECONDS=3600, INFLUXDB_MAX_VALUES_PER_TAG=3)
    assert kept["influxdb"]["pod_names"] == 3  # counted an hour ago at most, not again
    assert "warnings" in kept  # 3 of 3: the limit applies to the kept counts at once
    assert _healthz(client, INFLUXDB_CARDINALITY_SECONDS=0)["influxdb"]["pod_names"] == 8


@pytest.mark.django_db
def test_healthz_answers_without_counts_while_another_process_counts(client, store, redis_db):
    from kubemon import keys

    redis_db.set(keys.INFLUXDB_CARDINALITY + ":counting", 1, ex=60)
    body = _healthz(client, INFLUXDB_CARDINALITY_SECONDS=3600)
    assert body["status"] == "ok"
    assert body["influxdb"]["cardinality"] == "being counted by another process"
    assert "series" not in body["influxdb"]
