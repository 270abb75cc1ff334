"""The sharded usage cycle (COLLECT_USAGE_SHARDS, collectors/shards.py) against the simulator."""

import multiprocessing
import os
import signal
import time
from datetime import UTC, datetime

import orjson
import pytest
from django.test import override_settings

from collectors import cycles, shards, usage
from collectors.timeutil import epoch_seconds
from kubemon import keys
from kubemon.cluster import get_cycle_report
from kubemon.openhour import open_hour
from tests.support.simulator import as_worker

pytestmark = pytest.mark.django_db
SCENARIO = {"seed": 11, "nodes": 6, "pods": 48}
MEASUREMENTS = ("kubernetes_pod_container", "kubernetes_pod_volume", "kubernetes_node", "kubernetes_pod_network")


def _start():
    return datetime.fromtimestamp(int(time.time()) // 3600 * 3600 - 2 * 3600 + 3540, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _dump(store):
    """Every point the cycles wrote: ``{measurement: sorted rows}`` (tags and fields by name)."""
    out = {}
    for series in store.query("SHOW MEASUREMENTS"):
        for (measurement,) in series["values"]:
            rows = []
            for s in store.query(f'SELECT * FROM "{measurement}"', epoch="s"):
                columns = s["columns"]
                rows += [tuple(sorted((c, v) for c, v in zip(columns, row, strict=True) if v is not None))
                         for row in s["values"]]
            out[measurement] = sorted(rows)
    return out


def _collect(simulator, store, redis, cycles_to_run):
    kube = simulator.kube()
    reports = []
    for _ in range(cycles_to_run):
        simulator.advance(15)
        report = cycles.run_usage_cycle(kube=kube, store=store, redis=redis, pod_watch=False)
        assert report.ok, report.error
        reports.append(report)
    return reports


def test_it_splits_nodes_stably_and_counts_shards_by_node_count():
    assert shards.shard_count(100, configured=0, per_shard=250) == 1
    assert shards.shard_count(1000, configured=0, per_shard=250) == 4
    assert shards.shard_count(1100, configured=0, per_shard=250) == 8  # a power of two: rarely changes
    assert shards.shard_count(5000, configured=3) == 3
    nodes = [f"node-{i:04d}" for i in range(1000)]
    split = shards.split(nodes, 4)
    assert sorted(sum(split, [])) == nodes
    assert all(200 < len(part) < 300 for part in split)
    grown = shards.split([*nodes, "node-new-1", "node-new-2"], 4)
    assert [sorted(set(part) - {"node-new-1", "node-new-2"}) for part in grown] == split  # no node moved


def test_a_sharded_cycle_writes_exactly_the_points_of_a_whole_one(make_simulator, store, redis_db):
    start = _start()
    whole_sim = make_simulator(**SCENARIO, start=start)
    sharded_sim = make_simulator(**SCENARIO, start=start)
    with override_settings(COLLECT_USAGE_SHARDS=1):
        _collect(whole_sim, store, redis_db, 6)
    whole = _dump(store)
    end = epoch_seconds(whole_sim.get("/sim/state")["now"])
    hour = end // 3600 * 3600
    whole_hour = open_hour(redis_db, hour)
    assert whole_hour is not None and whole_hour["pods"]

    whole_view = orjson.loads(redis_db.get(keys.SNAPSHOT))
    assert whole_view["pods"]
    store.drop_database()
    store.ensure_database()
    redis_db.flushdb()
    with override_settings(COLLECT_USAGE_SHARDS=3):
        reports = _collect(sharded_sim, store, redis_db, 6)
    sharded = _dump(store)
    assert set(whole) >= {"kubernetes_pod_container", "kubernetes_node"}
    for measurement in whole:
        assert len(sharded[measurement]) == len(whole[measurement]), measurement
        assert sharded[measurement] == whole[measurement], measurement
    # Three shards with nodes, each with its own state; the cycle report merges them.
    assert reports[-1].name == "usage/dispatch"
    assert reports[-1].points["kubernetes_pod_container"] == sum(
        1 for row in whole["kubernetes_pod_container"] if dict(row)["time"] == end)
    for label in ("1of3", "2of3", "3of3"):
        assert redis_db.exists(keys.SAMPLING_STATE + f"usage/{label}")
        assert not redis_db.exists(keys.SAMPLING_IN_DOUBT + f"usage/{label}")
    assert not redis_db.exists(keys.SAMPLING_STATE + "usage")
    merged = get_cycle_report(redis_db, "usage")
    assert merged["ok"] and merged["shards"]["count"] == 3 and not merged["shards"]["failed"]
    assert merged["points"]["kubernetes_pod_container"] == reports[-1].points["kubernetes_pod_container"]
    assert merged["seconds"]["publish"] > 0  # the shard that completed the cycle published the live view
    assert orjson.loads(redis_db.get(keys.SNAPSHOT))["pods"] == whole_view["pods"]  # the same live rows
    # The shards' running sums of the open hour, merged, are the whole cycle's.
    sharded_hour = open_hour(redis_db, hour)
    assert sharded_hour is not None
    assert sorted(sharded_hour["slots"]) == sorted(whole_hour["slots"])
    assert sharded_hour["pods"].keys() == whole_hour["pods"].keys()
    for level in ("pods", "namespaces"):
        for group, sums in whole_hour[level].items():
            got = sharded_hour[level][group]
            assert [value is None for value in got] == [value is None for value in sums], group
            assert [v for v in got if v is not None] == pytest.approx([v for v in sums if v is not None],
                                                                       rel=1e-9), group


def test_the_next_dispatch_names_the_shards_that_never_reported(make_simulator, store, redis_db, client):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()
    dropped = []

    def lose_the_second(planned):
        for shard in planned:
            if shard.index == 2:
                dropped.append(shard)  # its worker vanished and the task expired
            else:
                cycles.run_usage_shard(shard, kube=kube, store=store, redis=redis_db, pod_watch=False)

    with override_settings(COLLECT_USAGE_SHARDS=3):
        simulator.advance(15)
        assert cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db, dispatch=lose_the_second).ok
        assert dropped
        simulator.advance(15)
        report = cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db, dispatch=lambda planned: None)
    assert "2of3" in report.error
    usage_report = get_cycle_report(redis_db, "usage")
    assert usage_report["ok"] is False and usage_report["missing_shards"] == ["2of3"]
    health = client.get("/healthz").json()
    assert health["collection"]["usage"]["missing_shards"] == ["2of3"]
    assert health["collection"]["usage"]["status"] == "incomplete"


def _die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def _killed_shard(kubeconfig, shard):
    from collectors.kube import KubeClient
    from kubemon.redis import get_redis
    from kubemon.timeseries import get_store, reset_store

    reset_store()
    get_redis().connection_pool.reset()
    store = get_store()
    store.batch_lines = 10  # small batches: the first node's points are written before the kill
    original, calls = usage.summary_points, []

    def patched(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            time.sleep(0.5)
            _die()
        return original(*args, **kwargs)

    usage.summary_points = patched
    with override_settings(COLLECT_USAGE_SHARDS=3):
        cycles.run_usage_shard(shard, kube=KubeClient.from_config(kubeconfig, timeout=10), store=store,
                               redis=get_redis())
    os._exit(0)


def _per_namespace(store, start, end):
    series = store.query('SELECT sum("cpu_core_seconds") FROM "kubernetes_pod_container" WHERE time > $start '
                         'AND time <= $end GROUP BY "namespace"', params={"start": start, "end": end})
    return {s["tags"]["namespace"]: s["values"][0][1] for s in series}


def test_a_shard_killed_mid_write_is_retried_without_touching_the_other_shards(make_simulator, store, redis_db):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()
    start = simulator.get("/sim/state")["now"]
    with override_settings(COLLECT_USAGE_SHARDS=3):
        _collect(simulator, store, redis_db, 3)
        simulator.advance(15)
        nodes = [n["metadata"]["name"] for n in kube.list_nodes()]
        planned, _ = shards.plan(redis_db, nodes, 3)
        victim = max(planned, key=lambda s: len(s.nodes))
        assert len(victim.nodes) >= 2
        others = [s for s in planned if s is not victim]
        for shard in others:
            assert cycles.run_usage_shard(shard, kube=kube, store=store, redis=redis_db, pod_watch=False).ok
        states = {s.label: redis_db.get(keys.SAMPLING_STATE + s.name) for s in others}
        process = multiprocessing.get_context("fork").Process(target=_killed_shard,
                                                              args=(simulator.kubeconfig, victim))
        process.start()
        process.join(60)
        assert process.exitcode == -signal.SIGKILL
        assert redis_db.exists(keys.SAMPLING_IN_DOUBT + victim.name)
        assert get_cycle_report(redis_db, "usage")["ok"]  # the previous cycle's: this one is not finished
        # The broker redelivers the dead worker's shard (acks late); its lock lapses with its lease.
        redis_db.delete(keys.LOCK + victim.name)
        retried = cycles.run_usage_shard(victim, kube=kube, store=store, redis=redis_db, pod_watch=False)
        assert retried.ok
        merged = get_cycle_report(redis_db, "usage")
        assert merged["ok"] and merged["shards"] == {"count": 3, "failed": [], "skipped": []}
        # The other shards' states were not touched by the kill nor by the retry.
        assert {s.label: redis_db.get(keys.SAMPLING_STATE + s.name) for s in others} == states
        end_hour = epoch_seconds(simulator.get("/sim/state")["now"]) // 3600 * 3600
        assert open_hour(redis_db, end_hour) is None  # the killed shard's sums are broken: read raw
        _collect(simulator, store, redis_db, 3)
    end = simulator.get("/sim/state")["now"]
    # One point per container series and cycle on every node: nothing written twice or lost.
    counts = store.query('SELECT count("cpu_core_seconds") FROM "kubernetes_pod_container" WHERE time > $start '
                         'GROUP BY "namespace", "pod_name", "container_name", "node_name"', params={"start": start})
    assert counts and max(s["values"][0][1] for s in counts) == 7 == 3 + 1 + 3
    truth = simulator.get("/sim/truth", start=start, end=end)["namespaces"]
    cpu = _per_namespace(store, start, end)
    checked = 0
    for namespace, expected in truth.items():
        if expected["cpu_core_seconds"] < 1:
            continue
        assert cpu[namespace] == pytest.approx(expected["cpu_core_seconds"], rel=0.001), namespace
        checked += 1
    assert checked >= 3


def test_collect_once_honours_the_shard_setting(make_simulator, store, redis_db, settings):
    from io import StringIO

    from django.core.management import call_command

    from collectors.kube import reset_kube

    simulator = make_simulator(**SCENARIO)
    simulator.advance(15)
    settings.KUBECONFIG = simulator.kubeconfig
    settings.COLLECT_USAGE_SHARDS = 2
    out = StringIO()
    reset_kube()
    try:
        call_command("collect", "--once", "--only", "usage", stdout=out)
    finally:
        reset_kube()
    assert out.getvalue().startswith("usage: ok in ")
    assert "fetch_summaries" in out.getvalue()
    merged = get_cycle_report(redis_db, "usage")
    assert merged["ok"] and merged["shards"]["count"] == 2
    for label in ("1of2", "2of2"):
        assert get_cycle_report(redis_db, f"usage/{label}")["points"]["kubernetes_pod_container"] > 0
    count = store.query('SELECT count("cpu_core_seconds") FROM "kubernetes_pod_container"')
    assert count[0]["values"][0][1] == merged["points"]["kubernetes_pod_container"]


def test_the_celery_dispatch_starts_no_pod_watch_and_only_what_reads_pods_does(make_simulator, store, redis_db,
                                                                              settings):
    simulator = make_simulator(**SCENARIO)
    simulator.advance(15)
    settings.COLLECT_USAGE_SHARDS = 3
    sent = []
    with as_worker(simulator, settings) as kube_module:
        # The beat's task on the worker's own client: it lists the nodes and sends the shards.
        report = cycles.run_usage_cycle(store=store, redis=redis_db, dispatch=sent.extend)
        assert report.ok and report.name == "usage/dispatch" and len(sent) == 3
        assert kube_module._pod_watches == {}
        # A shard reads the pod index: it starts its worker's watch and takes the pods from it.
        assert cycles.run_usage_shard(sent[0], store=store, redis=redis_db).ok
        assert len(kube_module._pod_watches) == 1
        assert get_cycle_report(redis_db, sent[0].name)["pods_from"] == "watch"
        # Few nodes make one shard: the dispatch runs the cycle itself, from the worker's watch.
        kube_module.reset_kube()
        settings.COLLECT_USAGE_SHARDS = 0
        simulator.advance(15)
        report = cycles.run_usage_cycle(store=store, redis=redis_db, dispatch=sent.extend)
        assert report.ok and report.name == "usage" and report.pods_from == "watch"
        assert len(sent) == 3 and len(kube_module._pod_watches) == 1
