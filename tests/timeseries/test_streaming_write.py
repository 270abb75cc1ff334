"""StreamingWrite: batches written from a background thread while the caller still produces lines."""

import threading
import time

import pytest

from kubemon.timeseries import TimeseriesStore, TimeseriesUnavailable
from kubemon.timeseries.client import InfluxClient
from kubemon.timeseries.spool import RedisSpool

T0 = int(time.time()) - 3600


def _lines(start, count):
    return [f"streamtest,pod_name=p{i % 7} v={i}i {T0 + start + i}" for i in range(count)]


def _count(client):
    series = client.query('SELECT count("v") FROM "streamtest"')
    return series[0]["values"][0][1] if series else 0


def test_it_writes_every_line_in_full_batches_and_the_rest_on_close(private_influxdb, redis_db):
    client = InfluxClient(private_influxdb.url, "streamdb")
    client.ensure_database()
    store = TimeseriesStore(client, spool=RedisSpool(redis_db, "kubemon:test:spool"), batch_lines=100)
    with store.streaming_write() as stream:
        for chunk in range(7):
            stream.add(_lines(chunk * 45, 45))
    assert stream.report.written == 315
    assert _count(client) == 315


def test_an_outage_mid_stream_goes_to_the_spool(private_influxdb, redis_db):
    client = InfluxClient(private_influxdb.url, "streamdb", timeout=2)
    client.ensure_database()
    spool = RedisSpool(redis_db, "kubemon:test:spool")
    store = TimeseriesStore(client, spool=spool, batch_lines=50, retries=0)
    private_influxdb.stop()
    stream = store.streaming_write()
    stream.add(_lines(0, 120))
    report = stream.close()
    assert report.spooled == 120 and report.written == 0
    private_influxdb.start()
    assert store.replay(budget=5) == 120
    assert _count(client) == 120


def test_without_a_spool_the_error_reaches_the_caller_on_close(private_influxdb):
    client = InfluxClient(private_influxdb.url, "streamdb", timeout=1)
    store = TimeseriesStore(client, spool=None, batch_lines=10, retries=0)
    private_influxdb.stop()
    stream = store.streaming_write()
    stream.add(_lines(0, 25))
    with pytest.raises(TimeseriesUnavailable):
        stream.close()


def test_two_writers_share_the_batches_and_the_report_adds_up(private_influxdb, monkeypatch):
    client = InfluxClient(private_influxdb.url, "streamdb")
    client.ensure_database()
    store = TimeseriesStore(client, spool=None, batch_lines=20)
    threads = set()
    write_lines = store.write_lines

    def recording(lines, *args):
        threads.add(threading.current_thread().name)
        time.sleep(0.05)  # long enough for the other writer to take the next batch
        return write_lines(lines, *args)

    monkeypatch.setattr(store, "write_lines", recording)
    with store.streaming_write(writers=2) as stream:
        stream.add(_lines(0, 200))
    assert len(threads) == 2
    assert stream.report.written == 200
    assert _count(client) == 200
