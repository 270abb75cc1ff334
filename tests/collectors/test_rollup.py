"""The hourly rollup keeps resource-time exact and is idempotent."""

from datetime import UTC, datetime, timedelta

import pytest

from collectors.rollup import rollup_window
from kubemon.timeseries import Point

HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
T0 = int(HOUR.timestamp())


def _container_points():
    points = []
    # Irregular sampling: 15 s, then a 40 s gap, then 5 s; memory changes each sample.
    times_and_memory = [(T0 + 15, 100.0, 15.0), (T0 + 55, 300.0, 40.0), (T0 + 60, 50.0, 5.0),
                        (T0 + 3600 + 10, 1000.0, 10.0)]
    for stamp, memory, interval in times_and_memory:
        points.append(Point(
            "kubernetes_pod_container",
            {"namespace": "team-a", "pod_name": "p", "container_name": "c", "node_name": "n"},
            {"memory_working_set_bytes": memory, "memory_working_set_bytes_integral": memory * interval,
             "interval_seconds": interval, "cpu_core_seconds": interval * 0.25, "cpu_usage_nanocores": 2.5e8,
             "cpu_usage_nanocores_integral": 2.5e8 * interval},
            stamp,
        ))
    return points


def _hourly(store):
    series = store.query('SELECT * FROM "hourly"."kubernetes_pod_container" GROUP BY *')
    assert len(series) == 1
    return [dict(zip(series[0]["columns"], row, strict=True)) for row in series[0]["values"]]


@pytest.mark.django_db
def test_it_sums_integrals_instead_of_averaging(store):
    store.write(_container_points())
    rollup_window(HOUR, HOUR + timedelta(hours=2), store=store)
    first, second = _hourly(store)
    assert first["memory_working_set_bytes_integral"] == 100 * 15 + 300 * 40 + 50 * 5
    assert first["memory_working_set_bytes_sum"] == 450
    assert first["memory_working_set_bytes_max"] == 300
    assert first["memory_working_set_bytes_samples"] == 3
    assert first["interval_seconds"] == 60
    assert first["cpu_core_seconds"] == pytest.approx(15.0)
    assert second["memory_working_set_bytes_integral"] == 10000


@pytest.mark.django_db
def test_running_it_twice_rewrites_the_same_points(store):
    store.write(_container_points())
    rollup_window(HOUR, HOUR + timedelta(hours=2), store=store)
    once = _hourly(store)
    rollup_window(HOUR, HOUR + timedelta(hours=2), store=store)
    assert _hourly(store) == once


@pytest.mark.django_db
def test_a_rollup_of_a_partial_hour_is_completed_by_the_next_run(store):
    points = _container_points()
    store.write(points[:1])
    rollup_window(HOUR, HOUR + timedelta(minutes=30), store=store)
    assert _hourly(store)[0]["memory_working_set_bytes_samples"] == 1
    store.write(points[1:])
    rollup_window(HOUR, HOUR + timedelta(hours=1), store=store)
    assert _hourly(store)[0]["memory_working_set_bytes_samples"] == 3
