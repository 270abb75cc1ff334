"""The pod STATUS text of the live view is kubectl's (``kubectl get pods``), from the pod object."""

from collectors.kubetypes import as_pod
from collectors.podspec import pod_info


def _pod(phase="Running", statuses=(), init_statuses=(), init_containers=(), deleting=False, reason="",
         conditions=()):
    return as_pod({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u", "creationTimestamp": "2026-01-01T00:00:00Z",
                     **({"deletionTimestamp": "2026-01-01T01:00:00Z"} if deleting else {})},
        "spec": {"nodeName": "n1", "containers": [{"name": s["name"]} for s in statuses] or [{"name": "app"}],
                 "initContainers": [{"name": n} for n in init_containers]},
        "status": {"phase": phase, "reason": reason, "containerStatuses": list(statuses),
                   "initContainerStatuses": list(init_statuses), "conditions": list(conditions)},
    })


def _running(name="app", ready=True, restarts=0, last_finished=None):
    status = {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {}}}
    if last_finished:
        status["lastState"] = {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": last_finished}}
    return status


def _waiting(reason, name="app", restarts=0):
    return {"name": name, "ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}


def test_a_running_pod_is_running_and_counts_its_restarts_and_when_the_last_one_was():
    info = pod_info(_pod(statuses=[_running(restarts=3, last_finished="2026-01-01T00:30:00Z")]))
    assert (info.status, info.ready_containers, info.last_restart) == ("Running", 1, 1767227400)
    assert info.created == 1767225600


def test_a_waiting_container_gives_its_reason():
    assert pod_info(_pod(statuses=[_waiting("CrashLoopBackOff", restarts=5)])).status == "CrashLoopBackOff"
    assert pod_info(_pod(phase="Pending", statuses=[_waiting("ImagePullBackOff")])).status == "ImagePullBackOff"
    assert pod_info(_pod(phase="Pending", statuses=[_waiting("ContainerCreating")])).status == "ContainerCreating"


def test_a_finished_job_is_completed_and_a_pod_without_statuses_shows_its_phase():
    done = {"name": "app", "ready": False, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}
    assert pod_info(_pod(phase="Succeeded", statuses=[done])).status == "Completed"
    assert pod_info(_pod(phase="Pending")).status == "Pending"
    assert pod_info(_pod(phase="Failed", reason="Evicted")).status == "Evicted"


def test_init_containers_show_their_progress_or_their_failure():
    done = {"name": "first", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}
    running = {"name": "second", "state": {"running": {}}}
    pod = _pod(phase="Pending", init_containers=("first", "second"), init_statuses=[done, running],
               statuses=[_waiting("PodInitializing")])
    assert pod_info(pod).status == "Init:1/2"
    crashing = _waiting("CrashLoopBackOff", name="first")
    assert pod_info(_pod(phase="Pending", init_containers=("first",), init_statuses=[crashing])).status \
        == "Init:CrashLoopBackOff"


def test_a_pod_being_deleted_is_terminating():
    assert pod_info(_pod(statuses=[_running()], deleting=True)).status == "Terminating"
