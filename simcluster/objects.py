"""Kubernetes objects (Pod, Node, Namespace) as the API server serialises them.

Each object is rendered to JSON bytes (orjson) once per change and kept in a ``View``; list and
watch responses are joins of those bytes, which is what lets a 10,000-pod list go out in well
under a second. Field names and shapes follow the samples in /work/shared/samples and are checked
against the ``kubernetes`` client's models by the tests.
"""

from __future__ import annotations

import orjson

from .model import Namespace, Node, Pod
from .rand import suffix
from .scenario import K8S_VERSION, machine_ids
from .timeutil import fmt_time


class View:
    """An immutable rendering of one object version, plus what selectors need."""

    __slots__ = ("kind", "namespace", "name", "labels", "fields", "data", "rv")

    def __init__(self, kind, namespace, name, labels, fields, data, rv):
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.labels = labels
        self.fields = fields
        self.data = data
        self.rv = rv


# -- pods ------------------------------------------------------------------------------------------


def normalise_image(image: str) -> tuple[str, str]:
    """(image as the runtime reports it, repository for the digest), like containerd does."""
    name = image
    first = image.split("/", 1)[0]
    if "/" not in image:
        name = f"docker.io/library/{image}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{image}"
    repo = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    return name, repo


def _term(t: tuple, skew: int = 0) -> dict:
    code, reason, started, finished, message, cid = t
    d = {"exitCode": code, "finishedAt": fmt_time(finished + skew), "reason": reason,
         "startedAt": fmt_time(started + skew)}
    if cid:
        d["containerID"] = cid
    if message:
        d["message"] = message
    return d


def _container_status(p: Pod, c, node_ready: bool) -> dict:
    st: dict
    skew = p.node.clock_skew if p.node is not None else 0  # the kubelet writes these times (--clock-skew)
    started = False
    if c.waiting is not None:
        reason, message = c.waiting
        st = {"waiting": {"reason": reason, "message": message} if message else {"reason": reason}}
    elif c.term is not None:
        st = {"terminated": _term(c.term, skew)}
    else:
        # running, or believed running: for an unreachable node the API keeps the last status
        st = {"running": {"startedAt": fmt_time(c.started_at + skew)}}
        started = True
    pulled = not (c.waiting and c.waiting[0] in ("ErrImagePull", "ImagePullBackOff", "ContainerCreating"))
    d = {
        "image": normalise_image(c.image)[0],
        "imageID": c.image_id if pulled else "",
        "lastState": {"terminated": _term(c.last_term, skew)} if c.last_term else {},
        "name": c.name,
        "ready": bool(started and p.ready and node_ready),
        "restartCount": c.restarts,
        "started": started,
        "state": st,
    }
    if c.container_id and pulled:
        d["containerID"] = c.container_id
    if c.waiting is None or c.waiting[0] != "ContainerCreating":
        d["volumeMounts"] = [
            {
                "mountPath": m["mountPath"],
                "name": m["name"],
                **({"readOnly": True, "recursiveReadOnly": "Disabled"} if m.get("readOnly") else {}),
            }
            for m in c.mounts
        ]
    return d


def _conditions(p: Pod, node_ready: bool) -> list[dict]:
    if p.node is None:
        return [
            {
                "lastProbeTime": None,
                "lastTransitionTime": fmt_time(p.scheduled_at or p.created),
                "message": p.unsched_msg,
                "reason": "Unschedulable",
                "status": "False",
                "type": "PodScheduled",
            }
        ]
    done = p.phase in ("Succeeded", "Failed")
    creating = p.phase == "Pending" and any(
        c.waiting and c.waiting[0] == "ContainerCreating" for c in p.containers
    )
    sched = fmt_time(p.scheduled_at)
    ready_t = fmt_time(p.ready_at or p.scheduled_at)
    ready = p.ready and node_ready and not done
    out = [
        {
            "lastProbeTime": None,
            "lastTransitionTime": ready_t if done or creating else sched,
            "status": "False" if done or creating else "True",
            "type": "PodReadyToStartContainers",
        }
    ]
    init = {"lastProbeTime": None, "lastTransitionTime": sched, "status": "True", "type": "Initialized"}
    if done:
        init["reason"] = "PodCompleted"
    out.append(init)
    for typ in ("Ready", "ContainersReady"):
        cond = {
            "lastProbeTime": None,
            "lastTransitionTime": ready_t,
            "status": "True" if ready else "False",
            "type": typ,
        }
        if not ready:
            if done:
                cond["reason"] = "PodCompleted" if p.phase == "Succeeded" else "PodFailed"
            else:
                names = [c.name for c in p.containers]
                cond["reason"] = "ContainersNotReady"
                cond["message"] = f"containers with unready status: [{' '.join(names)}]"
        out.append(cond)
    out.append({"lastProbeTime": None, "lastTransitionTime": sched, "status": "True", "type": "PodScheduled"})
    return out


def _volumes(p: Pod) -> list[dict]:
    vols = []
    for v in p.volumes:
        if v == "data":
            vols.append({"name": "data", "persistentVolumeClaim": {"claimName": f"data-{p.name}"}})
        else:
            vols.append({"emptyDir": {}, "name": v})
    vols.append(
        {
            "name": f"kube-api-access-{suffix(p.key)}",
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            "name": "kube-root-ca.crt",
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    "path": "namespace",
                                }
                            ]
                        }
                    },
                ],
            },
        }
    )
    return vols


def render_pod(p: Pod, rv: int) -> View:
    node_ready = p.node.ready if p.node is not None else True
    meta = {
        "creationTimestamp": fmt_time(p.created),
        "name": p.name,
        "namespace": p.namespace,
        "resourceVersion": str(rv),
        "uid": p.uid,
    }
    if p.generate_name:
        meta["generateName"] = p.generate_name
    if p.labels:
        meta["labels"] = p.labels
    if p.annotations:
        meta["annotations"] = p.annotations
    if p.owner:
        api, kind, name, ouid = p.owner
        meta["ownerReferences"] = [
            {
                "apiVersion": api,
                "blockOwnerDeletion": True,
                "controller": True,
                "kind": kind,
                "name": name,
                "uid": ouid,
            }
        ]
    if p.finalizers and not (p.removed or p.phase in ("Succeeded", "Failed")):
        meta["finalizers"] = p.finalizers
    if p.deletion is not None:
        meta["deletionTimestamp"] = fmt_time(p.deletion)
        meta["deletionGracePeriodSeconds"] = p.deleted_grace
    containers = []
    for c in p.containers:
        cd = {
            "image": c.image,
            "imagePullPolicy": c.pull_policy,
            "name": c.name,
            "resources": {},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "volumeMounts": c.mounts,
        }
        if c.requests:
            cd["resources"]["requests"] = c.requests
        if c.limits:
            cd["resources"]["limits"] = c.limits
        if c.ports:
            cd["ports"] = c.ports
        if p.kind == "runerror":
            cd["command"] = ["echo foo"]
        containers.append(cd)
    spec = {
        "containers": containers,
        "dnsPolicy": "ClusterFirstWithHostNet" if p.host_network else "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": p.priority,
        "restartPolicy": p.restart_policy,
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": p.service_account,
        "serviceAccountName": p.service_account,
        "terminationGracePeriodSeconds": p.grace,
        "tolerations": p.tolerations,
        "volumes": _volumes(p),
    }
    if p.node is not None:
        spec["nodeName"] = p.node.name
    if p.priority_class:
        spec["priorityClassName"] = p.priority_class
    if p.node_selector:
        spec["nodeSelector"] = p.node_selector
    if p.host_network:
        spec["hostNetwork"] = True
    status: dict = {"phase": p.phase, "qosClass": p.qos, "conditions": _conditions(p, node_ready)}
    if p.node is not None:
        status["hostIP"] = p.node.ip
        status["hostIPs"] = [{"ip": p.node.ip}]
        status["startTime"] = fmt_time(p.started_at + p.node.clock_skew)  # set by the kubelet
        if p.phase != "Pending" or not any(
            c.waiting and c.waiting[0] == "ContainerCreating" for c in p.containers
        ):
            status["podIP"] = p.ip
            status["podIPs"] = [{"ip": p.ip}]
        status["containerStatuses"] = [_container_status(p, c, node_ready) for c in p.containers]
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}
    fields = {
        "metadata.name": p.name,
        "metadata.namespace": p.namespace,
        "spec.nodeName": p.node.name if p.node is not None else "",
        "spec.restartPolicy": p.restart_policy,
        "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": p.service_account,
        "spec.hostNetwork": "true" if p.host_network else "false",
        "status.phase": p.phase,
        "status.podIP": p.ip or "",
        "status.nominatedNodeName": "",
    }
    return View("Pod", p.namespace, p.name, p.labels, fields, orjson.dumps(doc), rv)


# -- nodes -----------------------------------------------------------------------------------------


def node_annotations(n: Node, base_url: str) -> dict[str, str]:
    a = {
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        "kubemon.io/node-exporter-url": f"{base_url}/node-exporter/{n.name}/metrics",
    }
    if n.gpu_kind:
        a["kubemon.io/gpu-exporter-url"] = f"{base_url}/gpu/{n.name}/metrics"
        a["kubemon.io/gpu-exporter-kind"] = n.gpu_kind
    return a


def render_node(n: Node, rv: int, base_url: str) -> View:
    hb = fmt_time(n.heartbeat + n.clock_skew)  # the kubelet's heartbeat, on its own clock
    since = fmt_time(n.ready_at)
    if n.ready:
        conds = [
            (
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ]
    else:
        conds = [
            (t, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
            for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
        ]
    cap = {
        "cpu": str(n.cpu_cores),
        "ephemeral-storage": f"{n.fs_cap // 1024}Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{n.mem_bytes // 1024}Ki",
        "pods": str(n.max_pods),
    }
    alloc = dict(cap)
    alloc["cpu"] = f"{n.alloc_cpu_m}m"
    alloc["memory"] = f"{n.alloc_mem // 1024}Ki"
    alloc["ephemeral-storage"] = str(n.fs_cap * 9 // 10)
    if n.gpu_count:
        cap["nvidia.com/gpu"] = alloc["nvidia.com/gpu"] = str(n.gpu_count)
    taints = list(n.taints)
    if not n.ready:
        taints += [
            {"effect": "NoSchedule", "key": "node.kubernetes.io/unreachable", "timeAdded": since},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "timeAdded": since},
        ]
    machine, system_uuid = machine_ids(n)
    jetson = n.gpu_kind == "jetson"
    spec: dict = {"podCIDR": n.pod_cidr, "podCIDRs": [n.pod_cidr]}
    if taints:
        spec["taints"] = taints
    doc = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": node_annotations(n, base_url),
            "creationTimestamp": fmt_time(n.created),
            "labels": n.labels,
            "name": n.name,
            "resourceVersion": str(rv),
            "uid": n.uid,
        },
        "spec": spec,
        "status": {
            # the kubelet's address: every simulated kubelet listens on loopback (kubelets.py), and
            # an advertised address is one a client dials, so it is never a made-up network's
            "addresses": [{"address": "127.0.0.1", "type": "InternalIP"}, {"address": n.name, "type": "Hostname"}],
            "allocatable": alloc,
            "capacity": cap,
            "conditions": [
                {
                    "lastHeartbeatTime": hb,
                    "lastTransitionTime": since,
                    "message": m,
                    "reason": r,
                    "status": s,
                    "type": t,
                }
                for t, s, r, m in conds
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": n.kubelet_port}},
            "nodeInfo": {
                "architecture": n.arch,
                "bootID": n.boot_id,
                "containerRuntimeVersion": "containerd://1.7.22",
                "kernelVersion": "5.15.148-tegra" if jetson else "6.1.0-26-amd64",
                "kubeProxyVersion": K8S_VERSION,
                "kubeletVersion": K8S_VERSION,
                "machineID": machine,
                "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.4 LTS" if jetson else "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": system_uuid,
            },
        },
    }
    fields = {"metadata.name": n.name, "spec.unschedulable": "false"}
    return View("Node", "", n.name, n.labels, fields, orjson.dumps(doc), rv)


def render_namespace(ns: Namespace, rv: int) -> View:
    doc = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "creationTimestamp": fmt_time(ns.created),
            "labels": ns.labels,
            "name": ns.name,
            "resourceVersion": str(rv),
            "uid": ns.uid,
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    fields = {"metadata.name": ns.name, "status.phase": "Active"}
    return View("Namespace", "", ns.name, ns.labels, fields, orjson.dumps(doc), rv)


def list_doc(
    kind: str,
    api_version: str,
    rv: int,
    items: list[bytes],
    cont: str | None = None,
    remaining: int | None = None,
) -> bytes:
    """A List response assembled from cached item bytes (no re-serialisation)."""
    meta: dict = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
        if remaining is not None:
            meta["remainingItemCount"] = remaining
    head = b'{"apiVersion":"' + api_version.encode() + b'","items":['
    tail = b'],"kind":"' + kind.encode() + b'","metadata":' + orjson.dumps(meta) + b"}"
    return b"".join((head, b",".join(items), tail))
