"""The sampling state rebuilt from InfluxDB's last points is the state Redis had."""

import json
import logging
import time
from pathlib import Path

import orjson
import pytest

from collectors.sampling import CYCLES_KEY, SamplingState
from collectors.staterebuild import LOOKBACK_SECONDS, load_sampling, rebuild_entries
from collectors.timeutil import epoch_seconds
from collectors.usage import UsageResult, summary_points
from kubemon import keys
from kubemon.timeseries import Point, TimeseriesStore
from kubemon.timeseries.client import InfluxClient
from kubemon.timeseries.schema import GPU
from tests.collectors.test_usage_parsing import _later

pytestmark = pytest.mark.django_db
SUMMARY = Path(__file__).resolve().parent.parent / "samples" / "kubelet-stats-summary-containerd-2023.json"


def _cycle(summary, state, store):
    result = UsageResult()
    summary_points(summary, None, state, result)
    store.write(result.points)
    return result


def _recent_summary():
    summary = json.loads(SUMMARY.read_text())
    newest = max(epoch_seconds(t) for t in _times(summary))
    return _later(summary, int(time.time()) - 120 - newest)


def _times(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "time" and isinstance(value, str):
                yield value
            else:
                yield from _times(value)
    elif isinstance(node, list):
        for item in node:
            yield from _times(item)


def test_the_rebuilt_usage_state_has_the_counters_and_times_redis_had(store, redis_db):
    summary = _recent_summary()
    state = SamplingState(cap_seconds=30, nominal_seconds=15)
    _cycle(summary, state, store)
    later = _later(summary, 15, cpu_seconds=1.5)
    result = _cycle(later, state, store)
    assert result.containers >= 5
    state.save(redis_db, result.sample_time)
    had = orjson.loads(redis_db.get(keys.SAMPLING_STATE + "usage"))

    # The pods' own CPU counters (``p/`` series) are not written to InfluxDB: after a rebuild they
    # start again, which costs at most the CPU of a container that crashed in that interval.
    pods = {key for key in had if key.startswith("p/")}
    assert pods
    assert had.pop(CYCLES_KEY) == [result.sample_time]  # the cycles' times, not a series
    had = {key: entry for key, entry in had.items() if key not in pods}
    rebuilt = rebuild_entries(store, "usage", result.sample_time - LOOKBACK_SECONDS)
    assert set(rebuilt) == set(had)
    assert {k[:2] for k in had} >= {"c/", "n/", "v/", "no"}
    for key, (when, counter, start, interval, increment, *container) in had.items():
        # The start time is not in InfluxDB: it is unknown, the rest is what Redis had.
        assert rebuilt[key][:5] == [when, counter, None, interval, increment], key
        assert start is None or key.startswith("c/")
        if container:  # flags, working set, the interval's mean CPU rate
            assert rebuilt[key][5:] == [0, container[1], pytest.approx(container[2])], key

    # And the next sample is charged alike from either state.
    from_redis = SamplingState(had, cap_seconds=30, nominal_seconds=15)
    from_influxdb = SamplingState(rebuilt, cap_seconds=30, nominal_seconds=15)
    following = _later(summary, 30, cpu_seconds=3.0)
    for sampling in (from_redis, from_influxdb):
        summary_points(following, None, sampling, UsageResult())
    assert {k: v for k, v in from_influxdb.entries.items() if k not in pods} == \
        {k: v for k, v in from_redis.entries.items() if k not in pods}


def test_the_rebuilt_gpu_state_is_the_state_redis_had(store, redis_db):
    state = SamplingState(cap_seconds=30, nominal_seconds=15)
    now = int(time.time()) - 60
    points = []
    for step, pod in ((0, ""), (15, "trainer-0")):  # attributed on the second sample: another series
        for gpu in ("0", "1"):
            key = f"g/gpu-node/{gpu}/GPU-{gpu}"
            sample = state.advance(key, now + step)
            tags = {"node_name": "gpu-node", "gpu": gpu, "uuid": f"GPU-{gpu}", "model_name": "H100",
                    "namespace": "ml" if pod else "", "pod_name": pod, "container_name": ""}
            points.append(Point(GPU, tags, {"utilization_percent": 50.0, "interval_seconds": float(sample.interval)},
                                now + step))
    store.write(points)
    state.save(redis_db, now + 15, name="gpu")
    had = orjson.loads(redis_db.get(keys.SAMPLING_STATE + "gpu"))
    had.pop(CYCLES_KEY)
    assert rebuild_entries(store, "gpu", now - LOOKBACK_SECONDS) == had


def test_only_an_absent_document_is_rebuilt_and_the_log_says_how_many(store, redis_db, caplog):
    summary = _recent_summary()
    state = SamplingState()
    result = _cycle(summary, state, store)
    redis_db.set(keys.SOURCE_TIME, orjson.dumps([result.sample_time, time.time()]))
    redis_db.set(keys.SAMPLING_STATE + "usage", b"{}")  # a cluster without pods: state like any other
    assert load_sampling(redis_db, store, "usage", 30, 15).entries == {}
    redis_db.delete(keys.SAMPLING_STATE + "usage")
    with caplog.at_level(logging.WARNING, logger="collectors.staterebuild"):
        rebuilt = load_sampling(redis_db, store, "usage", 30, 15)
    stored = [key for key in state.entries if not key.startswith("p/")]  # pod counters are not stored
    assert len(rebuilt.entries) == len(stored) > 0
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"rebuilt {len(stored)} series" in line


def test_without_influxdb_either_the_series_start_from_scratch_and_the_log_says_so(redis_db, caplog):
    down = TimeseriesStore(InfluxClient("http://127.0.0.1:9", "nowhere", timeout=1), retries=0)
    with caplog.at_level(logging.WARNING, logger="collectors.staterebuild"):
        state = load_sampling(redis_db, down, "usage", 30, 15)
    assert state.entries == {}
    (line,) = [r.getMessage() for r in caplog.records]
    assert "charged from scratch" in line
