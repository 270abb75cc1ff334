"""The spool keeps every point written while InfluxDB is down and replays them in order."""

import time

import pytest

from kubemon.timeseries import Point, TimeseriesStore, TimeseriesUnavailable
from kubemon.timeseries.client import InfluxClient
from kubemon.timeseries.spool import FileSpool, RedisSpool

T0 = int(time.time()) - 7200


def _points(start, count):
    return [Point("spooltest", {"pod_name": f"p{i % 50}"}, {"v": i}, T0 + start + i) for i in range(count)]


def _count(client):
    series = client.query('SELECT count("v") FROM "spooltest"')
    return series[0]["values"][0][1] if series else 0


@pytest.fixture(params=["redis", "file"])
def spool(request, redis_db, tmp_path):
    if request.param == "redis":
        return RedisSpool(redis_db, "kubemon:test:spool")
    return FileSpool(tmp_path / "spool")


def test_it_replays_every_point_after_influxdb_comes_back(private_influxdb, spool):
    client = InfluxClient(private_influxdb.url, "spooldb", timeout=2)
    client.ensure_database()
    store = TimeseriesStore(client, spool=spool, batch_lines=100, retries=1, backoff=0.01)

    assert store.write(_points(0, 250)).written == 250
    private_influxdb.stop()
    down = [store.write(_points(1000 + 300 * k, 300)) for k in range(3)]
    assert [r.spooled for r in down] == [300, 300, 300]
    assert len(spool) == 9  # three batches of 100 lines per write

    private_influxdb.start()
    after = store.write(_points(5000, 120))
    assert after.replayed == 900 and after.written == 120
    assert len(spool) == 0
    assert _count(client) == 250 + 900 + 120


def test_new_points_queue_behind_older_spooled_ones(private_influxdb, spool):
    client = InfluxClient(private_influxdb.url, "spooldb", timeout=2)
    client.ensure_database()
    store = TimeseriesStore(client, spool=spool, batch_lines=10, retries=0, replay_budget=0)
    private_influxdb.stop()
    store.write(_points(0, 10))
    private_influxdb.start()
    # No time to replay in this call: the new batch must wait behind the old one.
    report = store.write(_points(100, 10))
    assert report.spooled == 10 and report.written == 0
    assert spool.peek()[2].startswith(f"spooltest,pod_name=p0 v=0i {T0}")
    assert store.replay(budget=5) == 20
    assert _count(client) == 20


def test_without_a_spool_an_outage_raises(private_influxdb):
    client = InfluxClient(private_influxdb.url, "spooldb", timeout=1)
    store = TimeseriesStore(client, spool=None, retries=0)
    private_influxdb.stop()
    with pytest.raises(TimeseriesUnavailable, match="unreachable"):
        store.write(_points(0, 5))


def test_a_rejected_batch_is_not_spooled(private_influxdb, spool):
    client = InfluxClient(private_influxdb.url, "spooldb", timeout=2)
    client.ensure_database()
    store = TimeseriesStore(client, spool=spool)
    store.write([Point("spooltest", {}, {"v": 1}, T0)])
    report = store.write([Point("spooltest", {}, {"v": "now a string"}, T0 + 1)])  # field type conflict
    assert report.rejected == 1 and report.spooled == 0 and len(spool) == 0
    assert "field type conflict" in report.errors[0]
