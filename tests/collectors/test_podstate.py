import json
from pathlib import Path

from collectors.kubetypes import as_pod
from collectors.podspec import index_pods, pod_info
from collectors.podstate import node_colour, pod_state

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _podlist():
    return [as_pod(item) for item in json.loads((SAMPLES / "podlist.json").read_text())["items"]]


def test_it_classifies_the_real_pods_with_odd_states():
    states = [pod_state(pod) for pod in _podlist()]
    assert states == [
        ("failed", "CrashLoopBackOff"),
        ("failed", "ImagePullBackOff"),
        ("pending", "Unschedulable"),
        ("succeeded", "Completed"),
        ("failed", "RunContainerError"),
        ("running", "Running"),
    ]


def test_a_pod_with_a_deletion_timestamp_is_deleting():
    pod = as_pod(json.loads((SAMPLES / "pod-terminating-deletionTimestamp.json").read_text()))
    assert pod_state(pod) == ("deleting", "Terminating")


def test_a_failed_phase_wins_over_containers():
    evicted = as_pod({"metadata": {}, "status": {"phase": "Failed", "reason": "Evicted"}})
    assert pod_state(evicted) == ("failed", "Evicted")


def test_a_node_takes_the_colour_of_its_worst_pod():
    assert node_colour(["running", "pending"]) == "yellow"
    assert node_colour(["running", "deleting", "pending"]) == "blue"
    assert node_colour(["succeeded", "failed", "deleting"]) == "red"
    assert node_colour([]) == "green"


def test_it_reads_requests_limits_and_restarts_from_the_spec():
    crashloop = pod_info(_podlist()[0])
    assert crashloop.namespace == "default"
    container = next(iter(crashloop.containers.values()))
    assert container.restarts >= 1
    assert crashloop.state == "failed"


def test_it_reads_gpu_and_mig_requests():
    pod = as_pod({
        "metadata": {"name": "train", "namespace": "ml", "uid": "u1",
                     "ownerReferences": [{"kind": "Job", "name": "train", "controller": True}]},
        "spec": {"nodeName": "gpu-1", "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                        "limits": {"nvidia.com/gpu": "2", "memory": "2Gi", "cpu": "1"}}},
            {"name": "b", "resources": {"limits": {"nvidia.com/mig-3g.40gb": "1"}}},
        ]},
        "status": {"phase": "Running"},
    })
    info = pod_info(pod)
    assert info.containers["a"].requests_gpu == 2.0
    assert info.containers["a"].requests_millicpu == 500.0
    assert info.containers["a"].limits_memory == 2 * 2**30
    assert info.containers["b"].requests_gpu == 1.0
    assert (info.owner_kind, info.owner_name) == ("Job", "train")


def test_one_unreadable_pod_is_skipped_not_fatal():
    good = _podlist()[5]
    bad = as_pod({"metadata": {"name": "odd", "namespace": "x"},
                  "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "lots"}}}]}})
    index = index_pods([bad, good, as_pod({"metadata": {}})])
    assert list(index) == [("default", "foo")]
