"""The pod watch against the simulated cluster: it follows changes, recovers, and feeds cycles."""

import time

import pytest

from collectors import cycles
from collectors.kubeerrors import KubeAccessDenied, KubeUnavailable
from collectors.podspec import index_pods
from collectors.podwatch import PodWatch

pytestmark = [pytest.mark.slow]
SCENARIO = {"seed": 7, "nodes": 5, "pods": 40, "gpu_nodes": 1}


def _view(index):
    return {key: (info.uid, info.phase, info.state, info.ready_containers,
                  {name: spec.restarts for name, spec in info.containers.items()})
            for key, info in index.items()}


def _listed(kube):
    return _view(index_pods(kube.list_pods()))


def _until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _in_step(watch, kube):
    return _until(lambda: watch.index() is not None and _view(watch.index()) == _listed(kube))


def _advance_past(simulator, version):
    """Advance until some object changed after ``version`` (a quiet step changes nothing)."""
    for _ in range(200):
        simulator.advance(15)
        if int(simulator.get("/sim/state")["resource_version"]) > int(version):
            return
    raise AssertionError("nothing changed in 50 simulated minutes")


@pytest.fixture
def watched(make_simulator):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()
    watch = PodWatch(kube, watch_seconds=3, backoff=0.2).start()
    yield simulator, kube, watch
    watch.stop()


def test_it_starts_with_the_same_pods_as_a_list(watched):
    simulator, kube, watch = watched
    assert _view(watch.index()) == _listed(kube)
    assert len(watch.index()) >= 40


def test_it_follows_pods_as_they_come_change_and_go(watched):
    simulator, kube, watch = watched
    victim = next(key for key, info in watch.index().items() if info.owner_kind == "ReplicaSet")
    simulator.control(action="delete_pod", namespace=victim[0], pod=victim[1], grace_seconds=1)
    for _ in range(40):  # ten simulated minutes: restarts, completions, replacements
        simulator.advance(15)
    assert _in_step(watch, kube)
    assert victim not in watch.index()
    assert watch.events > 0


def test_it_lists_again_when_its_resource_version_is_compacted_away(watched):
    simulator, kube, watch = watched
    first_version = watch._version
    _advance_past(simulator, first_version)
    assert _in_step(watch, kube)
    simulator.control(action="compact")
    # As after a long disconnection: resuming from a version etcd has compacted away.
    watch._version = first_version
    assert _until(lambda: watch.lists == 2)
    for _ in range(4):
        simulator.advance(15)
    assert _in_step(watch, kube)


def test_a_watch_from_a_compacted_version_says_expired(watched):
    simulator, kube, watch = watched
    _, version = kube.list_pods_with_version()
    _advance_past(simulator, version)
    simulator.control(action="compact")
    events = list(kube.watch_pods(version, timeout_seconds=1))
    assert events[0][0] == "EXPIRED"


def test_it_is_out_of_sync_during_an_api_outage_and_recovers_by_itself(watched):
    simulator, kube, watch = watched
    simulator.control(action="fail", target="api")
    try:
        assert _until(lambda: watch.index() is None)
        with pytest.raises(KubeUnavailable):
            kube.list_pods()
    finally:
        simulator.control(action="recover")
    simulator.advance(15)
    assert _in_step(watch, kube)


@pytest.mark.django_db
def test_a_usage_cycle_takes_its_pods_from_the_watch_and_writes_what_a_listing_cycle_writes(
        watched, store, redis_db):
    simulator, kube, watch = watched
    simulator.advance(15)
    assert _in_step(watch, kube)
    listing = cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db)
    watching = cycles.run_usage_cycle(kube=kube, store=store, redis=redis_db, pod_watch=watch)
    assert (listing.pods_from, watching.pods_from) == ("list", "watch")
    assert "parse_lists" not in watching.seconds
    # The same kubelet samples, so the same points.
    assert watching.points == listing.points
    assert watching.ok and sum(watching.points.values()) > 40


def test_a_refused_watch_turns_itself_off_and_cycles_list_instead(make_simulator):
    simulator = make_simulator(**SCENARIO)
    kube = simulator.kube()

    def refused(*args, **kwargs):
        raise KubeAccessDenied("the service account needs the RBAC verb 'watch' on 'pods'")
        yield  # a generator, like the real one

    kube.watch_pods = refused
    watch = PodWatch(kube, watch_seconds=3, backoff=0.1).start()
    try:
        assert _until(lambda: watch.denied)
        assert "'watch' on 'pods'" in watch.denied
        assert watch.index() is None
        time.sleep(0.5)
        assert watch.lists == 1  # it does not keep listing to retry
    finally:
        watch.stop()
