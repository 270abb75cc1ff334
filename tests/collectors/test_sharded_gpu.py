"""The sharded GPU cycle (COLLECT_USAGE_SHARDS, collectors/shards.py) against the simulator's
DCGM and Jetson exporters."""

import time

import orjson
import pytest
from django.test import override_settings

from collectors import cycles
from collectors.kubeerrors import KubeUnavailable
from kubemon import keys
from kubemon.cluster import get_cycle_report, record_source_time
from tests.faults.support import sim_now
from tests.support.simulator import as_worker

pytestmark = pytest.mark.django_db
SCENARIO = {"seed": 11, "nodes": 8, "pods": 48, "gpu_nodes": 3, "jetson_nodes": 1}


def _gpu_rows(store):
    rows = []
    for series in store.query('SELECT * FROM "gpu"', epoch="s"):
        columns = series["columns"]
        rows += [tuple(sorted((c, v) for c, v in zip(columns, row, strict=True) if v is not None))
                 for row in series["values"]]
    return sorted(rows)


def _run_shards(kube, store, redis, sent, **kwargs):
    """Run what a dispatch sent, as the workers would (``kwargs``: per shard label, other arguments)."""
    reports = []
    for work, stamp in sent:
        for shard, exporters in work:
            reports.append(cycles.run_gpu_shard(shard, exporters, stamp, store=store, redis=redis, pod_watch=False,
                                                **({"kube": kube} | kwargs.get(shard.label, {}))))
    sent.clear()
    return reports


def _collect(simulator, store, redis, cycles_to_run, dispatched=False):
    kube = simulator.kube()
    reports, sent = [], []
    for _ in range(cycles_to_run):
        simulator.advance(15)
        # The usage cycle's part: the GPU points' slot is on the sources' clock.
        record_source_time(redis, sim_now(simulator))
        dispatch = (lambda work, stamp: sent.append((work, stamp))) if dispatched else None
        report = cycles.run_gpu_cycle(kube=kube, store=store, redis=redis, pod_watch=False, dispatch=dispatch)
        assert report.ok, report.error
        assert all(part.ok for part in _run_shards(kube, store, redis, sent))
        reports.append(report)
    return reports


@pytest.mark.parametrize("dispatched", [True, False], ids=["shards-as-tasks", "shards-run-here"])
def test_a_sharded_gpu_cycle_writes_exactly_the_points_of_a_whole_one(make_simulator, store, redis_db, dispatched):
    start = int(time.time()) - 2 * 3600  # the same clock for both: the same samples
    whole_sim = make_simulator(**SCENARIO, start=start)
    sharded_sim = make_simulator(**SCENARIO, start=start)
    with override_settings(COLLECT_USAGE_SHARDS=1):
        _collect(whole_sim, store, redis_db, 4)
    whole = _gpu_rows(store)
    whole_latest = sorted(orjson.loads(redis_db.get(keys.GPU_LATEST)), key=orjson.dumps)
    assert redis_db.exists(keys.SAMPLING_STATE + "gpu")
    store.drop_database()
    store.ensure_database()
    redis_db.flushdb()
    with override_settings(COLLECT_USAGE_SHARDS=3):
        reports = _collect(sharded_sim, store, redis_db, 4, dispatched)
    sharded = _gpu_rows(store)
    nodes = {dict(row)["node_name"] for row in whole}
    assert {"gpu-01", "gpu-02", "gpu-03", "jetson-01"} <= nodes
    assert len(whole) >= 4 * 4 and any(dict(row).get("pod_name") for row in whole)
    assert len(sharded) == len(whole)
    assert sharded == whole
    assert reports[-1].name == "gpu/dispatch" and reports[-1].points["shards"] == 3
    for label in ("1of3", "2of3", "3of3"):
        assert redis_db.exists(keys.SAMPLING_STATE + f"gpu/{label}")
        assert not redis_db.exists(keys.SAMPLING_IN_DOUBT + f"gpu/{label}")
    assert not redis_db.exists(keys.SAMPLING_STATE + "gpu")
    merged = get_cycle_report(redis_db, "gpu")
    assert merged["ok"] and merged["name"] == "gpu" and merged["shards"] == {"count": 3, "failed": [], "skipped": []}
    last = max(dict(row)["time"] for row in whole)
    assert merged["points"]["gpu"] == sum(1 for row in whole if dict(row)["time"] == last)
    # The live view's GPUs: every shard's, as the whole cycle keeps them.
    assert sorted(orjson.loads(redis_db.get(keys.GPU_LATEST)), key=orjson.dumps) == whole_latest


def test_a_gpu_shard_that_never_reports_is_named_missing_and_a_failed_one_failed(make_simulator, store, redis_db,
                                                                                   client):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()
    sent = []

    class PodsDown:
        """The API as the Jetson's shard sees it: its pods cannot be listed (the Jetson's GPU has no pod label)."""

        def list_pods(self):
            raise KubeUnavailable("the Kubernetes API is unreachable")

    with override_settings(COLLECT_USAGE_SHARDS=3):
        simulator.advance(15)
        record_source_time(redis_db, sim_now(simulator))
        assert cycles.run_gpu_cycle(kube=kube, store=store, redis=redis_db,
                                    dispatch=lambda work, stamp: sent.append((work, stamp))).ok
        jetson = next(shard.label for shard, part in sent[0][0] if any(e.node == "jetson-01" for e in part))
        parts = _run_shards(kube, store, redis_db, sent, **{jetson: {"kube": PodsDown()}})
        assert [part.name for part in parts if not part.ok] == [f"gpu/{jetson}"]
        merged = get_cycle_report(redis_db, "gpu")
        assert merged["ok"] is False and merged["shards"]["failed"] == [jetson]
        assert f"shard {jetson}: the Kubernetes API is unreachable" in merged["error"]

        # The next cycle's second shard is lost (its worker vanished, the task expired).
        simulator.advance(15)
        record_source_time(redis_db, sim_now(simulator))
        assert cycles.run_gpu_cycle(kube=kube, store=store, redis=redis_db,
                                    dispatch=lambda work, stamp: sent.append((work, stamp))).ok
        sent[0] = ([(shard, part) for shard, part in sent[0][0] if shard.index != 2], sent[0][1])
        assert all(part.ok for part in _run_shards(kube, store, redis_db, sent))
        # Still the cycle before's report: this one has not finished.
        assert get_cycle_report(redis_db, "gpu")["shards"]["failed"] == [jetson]
        simulator.advance(15)
        report = cycles.run_gpu_cycle(kube=kube, store=store, redis=redis_db, dispatch=lambda work, stamp: None)
    assert "2of3" in report.error and report.name == "gpu/dispatch"
    gpu_report = get_cycle_report(redis_db, "gpu")
    assert gpu_report["ok"] is False and gpu_report["missing_shards"] == ["2of3"]
    health = client.get("/healthz").json()
    assert health["collection"]["gpu"]["missing_shards"] == ["2of3"]
    assert health["collection"]["gpu"]["status"] == "incomplete"
    assert "usage" not in health["collection"]  # the usage cycle never ran sharded here


def test_the_gpu_dispatch_starts_no_pod_watch(make_simulator, store, redis_db, settings):
    simulator = make_simulator(**SCENARIO)
    simulator.advance(15)
    settings.COLLECT_USAGE_SHARDS = 3
    sent = []
    with as_worker(simulator, settings) as kube_module:
        report = cycles.run_gpu_cycle(store=store, redis=redis_db, dispatch=lambda work, stamp: sent.append(work))
        assert report.ok and report.name == "gpu/dispatch" and len(sent[0]) == 3
        assert kube_module._pod_watches == {}


def test_a_gpu_shard_run_after_a_later_cycles_writes_nothing(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()
    late, sent = [], []
    with override_settings(COLLECT_USAGE_SHARDS=2):
        _collect(simulator, store, redis_db, 2, dispatched=True)
        for queue in (late, sent):  # two cycles dispatched; the first one's shards wait in the queue
            simulator.advance(15)
            record_source_time(redis_db, sim_now(simulator))
            assert cycles.run_gpu_cycle(kube=kube, store=store, redis=redis_db, pod_watch=False,
                                        dispatch=lambda work, stamp, queue=queue: queue.append((work, stamp))).ok
        assert all(part.ok and not part.skipped for part in _run_shards(kube, store, redis_db, sent))
        before = _gpu_rows(store)
        parts = _run_shards(kube, store, redis_db, late)
    assert [part.skipped for part in parts] == [True, True]
    assert _gpu_rows(store) == before  # no point at the older slot, no series started again
