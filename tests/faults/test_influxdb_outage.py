"""InfluxDB down for 60 (and 200) simulated minutes during collection (issue 14's fault suite).

A throw-away ``influxd`` of the test's own is stopped 20 simulated minutes into the run and
started again 60 simulated minutes later, while the beat goes on (tests/faults/support.py): the
usage, GPU and inventory cycles write into the spool (Redis, as configured by default), the
rollup cycles fail. After InfluxDB returns, the cycles and the spool task replay the spool as
they run. The run straddles midnight UTC (23:00 to 00:40 of a day two days back), so the outage
holds the end of one day and the start of the next. The 200-minute outage (21:20 to 00:40) also
holds hours older than the rollup's recomputed ones (the current hour and the two before) when it
first runs again: only the backlog of late hours (kubemon/timeseries/backlog.py) re-rolls those.

Then: every point each cycle reported is in InfluxDB (points lost = 0), no interval is charged
twice, every namespace is within the accuracy bounds of ``/sim/truth`` (0.1 % CPU, 0.5 % memory),
and the rollup is right at once: the hourly rollup, the namespace tier, the daily namespace tier
and the pod tier (the day before midnight, re-rolled with its late data) hold exactly the sums of
the raw points, no late hour is left pending, and the API's answer from the rollup is the raw
answer.

The store's retry back-off is cut from 0.2 s to 0.02 s (two retries either way) so that the 240
cycles against a closed port do not spend six minutes sleeping; nothing else differs from
production.
"""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.test import override_settings

from collectors import cycles
from kubemon import keys
from kubemon.timeseries import get_store, reset_store
from kubemon.timeseries.schema import (
    CONTAINER,
    HOURLY_POLICY,
    NAMESPACE_DAILY_POLICY,
    NAMESPACE_POLICY,
    POD_DAILY_POLICY,
    source_identifier,
)
from kubemon.timeseries.spool import _decode
from tests.faults.support import Beat, double_charged, record, sim_now, stored_points, truth_errors, within_truth
from tests.support import accuracy

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
WARMUP_STEPS = 80  # 20 simulated minutes
AFTER_STEPS = 80  # 20
# Outage minutes -> the UTC hour the run starts at: each outage ends 20 minutes past midnight or later.
OUTAGES = {60: 23, 200: 21}
FIELDS = ("cpu_core_seconds", "memory_working_set_bytes_integral")


@pytest.fixture
def outage_store(private_influxdb, redis_db):
    with override_settings(INFLUXDB_URL=private_influxdb.url):
        reset_store()
        store = get_store()
        store.ensure_database()
        store.backoff = 0.02
        yield store
    reset_store()


def _start(hour):
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    return day + timedelta(hours=hour)


def _sums(store, policy, start, end, tags=("namespace",), bucket=None):
    """``{(bucket start, *tags): (cpu, memory)}`` summed from ``policy`` over ``[start, end)``."""
    group = ", ".join(f'"{t}"' for t in tags) + (f", time({bucket})" if bucket else "")
    series = store.query(
        f'SELECT sum("{FIELDS[0]}"), sum("{FIELDS[1]}") FROM {source_identifier(CONTAINER, policy)} '  # noqa: S608
        f"WHERE time >= $start AND time < $end GROUP BY {group} fill(none)",
        params={"start": int(start.timestamp()) * 10**9, "end": int(end.timestamp()) * 10**9}, epoch="s")
    sums = {}
    for item in series:
        for t, cpu, memory in item["values"]:
            sums[(t if bucket else None, *(item["tags"][tag] for tag in tags))] = (cpu, memory)
    return sums


def _assert_same(rolled, raw, label):
    assert set(rolled) == set(raw), (label, sorted(set(rolled) ^ set(raw))[:5])
    for key, values in raw.items():
        assert rolled[key] == pytest.approx(values, rel=1e-9), (label, key)


@pytest.mark.parametrize("minutes", list(OUTAGES), ids=[f"{m}min" for m in OUTAGES])
def test_influxdb_down_loses_no_sample_and_the_rollup_is_right_afterwards(
        minutes, make_simulator, outage_store, redis_db, private_influxdb):
    store = outage_store
    start = _start(OUTAGES[minutes])
    outage_steps = minutes * 60 // 15
    midnight = start.replace(hour=0) + timedelta(days=1)
    simulator = make_simulator(seed=7, nodes=5, pods=40, gpu_nodes=1, start=start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    beat = Beat(simulator, store, redis_db)
    began = sim_now(simulator)
    wall = time.perf_counter()
    beat.steps(WARMUP_STEPS)
    assert not [r.error for _, r in beat.reports if not r.ok], "a cycle failed before the outage"

    private_influxdb.stop()
    down_at, down_wall = beat.now, time.perf_counter()
    beat.steps(outage_steps)
    outage_wall = time.perf_counter() - down_wall
    during = [r for t, r in beat.reports if t > down_at]
    writers = [r for r in during if r.name in ("usage", "gpu", "inventory")]
    assert writers and all(r.ok and r.write.written == 0 and r.write.spooled == r.write.lines for r in writers), \
        [r.as_dict() for r in writers if not r.ok][:3]
    failed_rollups = [r for r in during if r.name == "rollup"]
    assert len(failed_rollups) == outage_steps * 15 // 300 and all(r.failure == "influxdb" for r in failed_rollups)
    spool = store.spool
    spooled_lines = sum(r.write.spooled for r in during)
    spool_batches = len(spool)
    blobs = redis_db.lrange(settings.INFLUXDB_SPOOL_KEY, 0, -1)
    spool_bytes = sum(len(blob) for blob in blobs)
    spool_lines = sum(len(_decode(blob)[2].split("\n")) for blob in blobs)
    del blobs
    assert spool_batches > 0 and spooled_lines > 0

    private_influxdb.start()
    back_at, back_wall = beat.now, time.perf_counter()
    replay_steps = 0
    while len(spool) and replay_steps < AFTER_STEPS:
        beat.step()
        replay_steps += 1
    replay_wall = time.perf_counter() - back_wall
    assert not len(spool), f"the spool still holds {len(spool)} batches after {replay_steps} cycles"
    beat.steps(AFTER_STEPS - replay_steps)
    if beat.now % 300:
        beat.run(cycles.run_rollup_cycle)
    after = [r for t, r in beat.reports if t > back_at]
    assert all(r.ok and not r.skipped for r in after), [r.as_dict() for r in after if not r.ok][:3]
    replayed = sum(r.write.replayed for _, r in beat.reports)
    # What the outage spooled, and what the first cycles after it spooled behind the replay.
    spooled_in_all = sum(r.write.spooled for _, r in beat.reports)
    end = beat.now
    run_wall = time.perf_counter() - wall

    # Points lost: 0. Every point a cycle reported is in InfluxDB, once.
    reported = beat.reported_points()
    stored = stored_points(store, reported)
    lost = {m: reported[m] - stored[m] for m in reported if reported[m] != stored[m]}
    assert not lost, (lost, reported, stored)
    assert replayed == spooled_in_all >= spooled_lines
    assert store.dead_letter_entries() == [], "InfluxDB refused replayed lines for good"
    assert double_charged(store) == []
    errors = truth_errors(simulator, store, began, end)
    assert len(errors) >= 5 and within_truth(errors), errors

    # The rollup right afterwards: the replay recorded the hours it wrote into (23:00 and 00:00),
    # the rollup re-rolled them, and both days' generations moved (the day cache's key, so no
    # cached answer of either day is served); then hours, namespace tier, daily tiers, pod tier.
    assert store.backlog.pending() == []
    rerolled = sum(r.points.get("rerolled_hours", 0) for t, r in beat.reports if t > back_at and r.name == "rollup")
    outage_hours = range(down_at - down_at % 3600, back_at - back_at % 3600 + 1, 3600)
    assert rerolled == len(outage_hours), (rerolled, len(outage_hours))
    first_rollup = next(t for t, r in beat.reports if t > back_at and r.name == "rollup")
    # Hours older than the rollup's recomputed ones (the current and the two before) when it first
    # ran after the outage: only the backlog re-rolled those (none for the 60-minute outage).
    backlog_only = [h for h in outage_hours if h < first_rollup - first_rollup % 3600 - 2 * 3600]
    assert bool(backlog_only) == (minutes > 120), backlog_only
    for day in (midnight - timedelta(days=1), midnight):
        assert int(redis_db.get(keys.ROLLUP_DAY_GENERATION + day.strftime("%Y-%m-%d")) or 0) >= 2, day
    first, last = start, datetime.fromtimestamp(end, UTC)
    hours_end = last.replace(minute=0, second=0) + timedelta(hours=1)
    raw_hours = _sums(store, "raw", first, hours_end, bucket="1h")
    _assert_same(_sums(store, HOURLY_POLICY, first, hours_end, bucket="1h"), raw_hours, "hourly")
    _assert_same(_sums(store, NAMESPACE_POLICY, first, hours_end, bucket="1h"), raw_hours, "namespace_hourly")
    days = (midnight - timedelta(days=1), midnight + timedelta(days=1))
    _assert_same(_sums(store, NAMESPACE_DAILY_POLICY, *days, bucket="1d"),
                 _sums(store, "raw", *days, bucket="1d"), "namespace_daily")
    pod_tags = ("namespace", "pod_name")
    _assert_same(_sums(store, POD_DAILY_POLICY, days[0], midnight, tags=pod_tags, bucket="1d"),
                 _sums(store, "raw", days[0], midnight, tags=pod_tags, bucket="1d"),
                 "pod_daily (the day before midnight)")
    # The API reads the hour before midnight (in the outage) from the rollup, and answers what raw
    # data does.
    begin_s, end_s = int(midnight.timestamp()) - 3600, int(midnight.timestamp())
    rolled = accuracy.measured(store, begin_s, end_s, use_rollup=True)
    raw = accuracy.measured(store, begin_s, end_s, use_rollup=False)
    shares, _ = accuracy.rollup_share(store, begin_s, end_s)
    assert shares["cpu"] == 1.0 and shares["memory"] == 1.0, shares
    for name in ("cpu", "memory"):
        assert rolled[name] == pytest.approx(raw[name], rel=1e-9), name

    record(f"influxdb_outage_{minutes}min", {
        "simulated": f"{accuracy.iso(began)} to {accuracy.iso(end)}, InfluxDB down {accuracy.iso(down_at)} "
                     f"to {accuracy.iso(back_at)}",
        "cycles": len(beat.reports), "spooled_lines": spooled_lines, "spool_batches": spool_batches,
        "spool_bytes": spool_bytes, "spool_lines_at_return": spool_lines, "replayed_lines": replayed,
        "spooled_after_return": spooled_in_all - spooled_lines,
        "replay_wall_s": round(replay_wall, 2),
        "replay_cycles": replay_steps, "points": sum(reported.values()), "points_lost": sum(lost.values()),
        "double_charged": 0,
        "rerolled_hours": rerolled, "rerolled_by_the_backlog_only": len(backlog_only),
        "outage_wall_s": round(outage_wall, 1),
        "run_wall_s": round(run_wall, 1),
        "worst_cpu": max(abs(c) for c, _ in errors.values()), "worst_memory": max(abs(m) for _, m in errors.values()),
    })
