"""A fresh InfluxDB: the store creates the database and its retention policies on first use, as
Telegraf does unless told not to (INFLUXDB_CREATE_DATABASE=false turns it off)."""

import time

import pytest

from kubemon.timeseries import Point, TimeseriesStore, TimeseriesWriteError
from kubemon.timeseries.client import InfluxClient

T0 = int(time.time()) - 600


def _store(server, **options):
    return TimeseriesStore(InfluxClient(server.url, "fresh"), **options)


def _points(count=3):
    return [Point("kubernetes_node", {"node_name": f"n{i}"}, {"ready": True}, T0 + i) for i in range(count)]


def test_the_first_write_to_a_fresh_influxdb_creates_the_database_and_keeps_every_point(private_influxdb):
    store = _store(private_influxdb)
    report = store.write(_points())
    assert (report.written, report.rejected) == (3, 0)
    assert store.query('SELECT count("ready") FROM "kubernetes_node"')[0]["values"][0][1] == 3
    assert set(store.retention_policies()) >= {"raw", "hourly"}


def test_the_created_policies_use_the_configured_retention(private_influxdb):
    store = _store(private_influxdb, retention=("7d", "90d"))
    store.write(_points(1))
    policies = store.retention_policies()
    assert (policies["raw"], policies["hourly"]) == ("168h0m0s", "2160h0m0s")


def test_with_creation_off_a_write_to_a_fresh_influxdb_is_refused_with_the_reason(private_influxdb):
    store = _store(private_influxdb, create_database=False)
    report = store.write(_points())
    assert report.written == 0 and report.rejected == 3
    assert "has no database 'fresh'" in report.errors[0]
    with pytest.raises(TimeseriesWriteError):
        InfluxClient(private_influxdb.url, "fresh").write_body(f"m v=1 {T0}")


@pytest.mark.slow
def test_a_celery_worker_creates_the_database_when_it_starts(private_influxdb, redis_db, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from django.conf import settings

    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", KUBEMON_TEST_INFLUXDB_URL=private_influxdb.url,
               INFLUXDB_DATABASE="created_at_start", REDIS_URL=settings.REDIS_URL, COLLECT_USAGE_SECONDS="0")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "kubemon", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=Path(__file__).resolve().parents[2], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = InfluxClient(private_influxdb.url, "created_at_start")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "raw" not in _policies_or_none(client):
            time.sleep(0.3)
        assert {"raw", "hourly"} <= set(_policies_or_none(client))
    finally:
        worker.terminate()
        worker.wait(20)


def _policies_or_none(client):
    try:
        return client.retention_policies()
    except Exception:  # noqa: BLE001  (the database does not exist yet)
        return {}
