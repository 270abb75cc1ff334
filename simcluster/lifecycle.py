"""Pod lifecycles: creation, scheduling, start, crash, completion, deletion, node failure.

Every transition happens at a step boundary t_k (the agenda maps k to actions), so a container
either runs for a whole step or not at all, which keeps the usage model piecewise constant.
A container that stops at boundary k still ran during step k and so still appears in the kubelet
summary reported for t_k; a pod being deleted has its containers stopped one boundary before its
object disappears, so no usage is ever reported for a pod that is no longer listed.
"""

from __future__ import annotations

import math

from .model import OPEN, Container, Pod
from .objects import normalise_image
from .rand import derive, draw, hex_id, suffix, uid, unit
from .scenario import GiB, MiB
from .timeutil import mem_spec, millicpu
from .workloads import CSpec, Workload

BACKOFF_CAP = 300  # kubelet's maximum restart/pull back-off, seconds


def go_duration(seconds: int) -> str:
    """Go's time.Duration spelling, as in the kubelet's back-off messages: 40s, 1m20s, 5m0s."""
    return f"{seconds // 60}m{seconds % 60}s" if seconds >= 60 else f"{seconds}s"


class LifecycleMixin:
    """Methods of Cluster that move pods through their lives (split out for size)."""

    # -- helpers -------------------------------------------------------------------------------
    def t(self, k: int) -> int:
        return self.t0 + k * self.S

    def boundary_at_or_after(self, when: float) -> int:
        return max(self.K + 1, math.ceil((when - self.t0) / self.S))

    def _at(self, k: int, action: str, pod: Pod) -> None:
        self.agenda.setdefault(k, []).append((pod.seq, action, pod, pod.plan))

    def _backoff_steps(self, n: int) -> int:
        seconds = min(10 * 2 ** max(n - 1, 0), BACKOFF_CAP)
        return max(1, math.ceil(seconds / self.S))

    # -- creation -------------------------------------------------------------------------------
    def spawn(self, w: Workload, created: int) -> Pod:
        seq = self.next_seq
        self.next_seq += 1
        key = derive(self.opts.seed, "pod", seq)
        w.counter += 1
        if w.owner_kind == "ReplicaSet":
            name = f"{w.rs_name}-{suffix(key)}"
            gen = f"{w.rs_name}-"
        elif w.owner_kind == "DaemonSet":
            name, gen = f"{w.name}-{suffix(key)}", f"{w.name}-"
        elif w.owner_kind == "StatefulSet":
            ordinal = 0  # the lowest free ordinal, as the StatefulSet controller does
            while (w.namespace, f"{w.name}-{ordinal}") in self.by_key:
                ordinal += 1
            name, gen = f"{w.name}-{ordinal}", None
        elif w.owner_kind == "Job":
            # CronJob-style job names: the scheduled minute since the epoch
            job = f"{w.name}-{created // 60}" if w.kind != "failed" else w.name
            name, gen = f"{job}-{suffix(key)}", f"{job}-"
        elif w.owner_kind == "Node":
            name, gen = f"{w.containers[0].name}-{w.name}", None
        else:
            name, gen = w.name if w.counter == 1 else f"{w.name}-{w.counter}", None
        if w.owner_kind == "Node":
            # static pods: the uid is the config hash, as in the kubelet-stats sample
            pod_uid = hex_id(derive(key, "static"), 32)
        else:
            pod_uid = uid(key)
        p = Pod(seq, key, pod_uid, name, w.namespace, w.kind)
        p.generate_name = gen
        p.created = created
        p.labels = dict(w.labels)
        if w.owner_kind == "ReplicaSet":
            p.labels["pod-template-hash"] = w.rs_name.rsplit("-", 1)[1]
            p.owner = ("apps/v1", "ReplicaSet", w.rs_name, w.owner_uid)
        elif w.owner_kind == "DaemonSet":
            p.labels["controller-revision-hash"] = w.rs_name[:4] + suffix(w.key, 6)
            p.labels["pod-template-generation"] = "1"
            p.owner = ("apps/v1", "DaemonSet", w.name, w.owner_uid)
        elif w.owner_kind == "StatefulSet":
            p.labels["statefulset.kubernetes.io/pod-name"] = name
            p.labels["apps.kubernetes.io/pod-index"] = name.rsplit("-", 1)[1]
            p.owner = ("apps/v1", "StatefulSet", w.name, w.owner_uid)
        elif w.owner_kind == "Job":
            job = gen[:-1]
            job_uid = uid(derive(w.key, "job", w.counter))
            p.labels.update(
                {
                    "batch.kubernetes.io/controller-uid": job_uid,
                    "batch.kubernetes.io/job-name": job,
                    "controller-uid": job_uid,
                    "job-name": job,
                }
            )
            p.owner = ("batch/v1", "Job", job, job_uid)
            p.finalizers = ["batch.kubernetes.io/job-tracking"]
        elif w.owner_kind == "Node":
            p.owner = ("v1", "Node", w.name, self.nodes[w.name].uid)
            p.annotations = {
                "kubernetes.io/config.hash": pod_uid,
                "kubernetes.io/config.source": "file",
                "kubernetes.io/config.seen": self.fmt(created),
            }
        p.restart_policy = w.restart_policy
        p.priority_class = w.priority_class
        p.priority = w.priority
        p.service_account = w.service_account
        p.grace = w.grace
        p.tolerations = w.tolerations
        p.node_selector = w.node_selector
        p.host_network = w.host_network
        p.volumes = w.volumes
        ns = self.namespaces.get(w.namespace)
        phase0 = ns.phase_offset if ns is not None else 0.0
        for i, spec in enumerate(w.containers):
            p.containers.append(self._container(p, i, spec, phase0))
        p.req_cpu_m = sum(c.req_cpu_m for c in p.containers)
        p.req_mem = sum(c.req_mem for c in p.containers)
        p.gpus = sum(c.gpus for c in p.containers)
        p.qos = _qos(w.containers)
        p.born_step = max(self.K, 0)
        p.ckpt_first = p.born_step // self.M + 1
        self.workload_of[p.uid] = w
        self.pods[p.uid] = p
        self.by_key[(p.namespace, p.name)] = p
        self.all_pods.append(p)
        self.sorted_pods = None
        return p

    def _container(self, p: Pod, i: int, spec: CSpec, phase0: float) -> Container:
        c = Container(spec.name, spec.image)
        c.key = derive(p.key, "c", i)
        repo = normalise_image(spec.image)[1]
        c.image_id = f"{repo}@sha256:{hex_id(derive(spec.image), 64)}"
        c.ports = spec.ports
        if spec.req_cpu:
            c.requests["cpu"] = millicpu(spec.req_cpu)
        if spec.req_mem:
            c.requests["memory"] = mem_spec(spec.req_mem)
        if spec.lim_cpu:
            c.limits["cpu"] = millicpu(spec.lim_cpu)
        if spec.lim_mem:
            c.limits["memory"] = mem_spec(spec.lim_mem)
        if spec.gpus:
            # extended resources: requests must equal limits
            c.requests["nvidia.com/gpu"] = c.limits["nvidia.com/gpu"] = str(spec.gpus)
        c.req_cpu_m = spec.req_cpu
        c.req_mem = spec.req_mem
        c.lim_mem = spec.lim_mem
        c.gpus = spec.gpus
        u = unit(c.key, 1)
        base_cpu_m = spec.req_cpu or spec.lim_cpu or 100
        c.cpu_base = 0.0 if spec.idle else base_cpu_m * 1e6 * max(spec.cpu_frac, 0.002) * (0.7 + 0.6 * u)
        c.cpu_cap = (spec.lim_cpu or 4000) * 1_000_000
        base_mem = spec.req_mem or spec.lim_mem or 96 * MiB
        c.mem_base = base_mem * max(spec.mem_frac, 0.05) * (0.8 + 0.4 * unit(c.key, 2))
        c.mem_cap = int(spec.lim_mem * 0.97) if spec.lim_mem else 16 * GiB
        c.daily_amp = spec.daily_amp
        c.phase = phase0 + 3600.0 * (unit(c.key, 3) - 0.5)
        c.gpu_base = spec.gpu_base
        c.fb_mib = 0
        c.net_base = 2e3 + 2e6 * unit(c.key, 4) ** 3
        c.log_rate = int(20 + 2000 * unit(c.key, 5) ** 2)
        c.rootfs = 4096 * int(5 + 5000 * unit(c.key, 6))
        c.mounts = [
            {
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "name": f"kube-api-access-{suffix(p.key)}",
                "readOnly": True,
            }
        ]
        if p.volumes and i == 0:
            c.mounts.insert(0, {"mountPath": f"/{p.volumes[0]}", "name": p.volumes[0]})
        return c

    # -- scheduling ------------------------------------------------------------------------------
    def schedule(self, p: Pod, now: int) -> str:
        """Bind p to the least allocated of the first few nodes that fit, scanning from a per-pod
        offset, or record why it cannot run.

        Returns "bound", "changed" (still pending, new message) or "same"; the caller emits the
        watch event, so a new pod produces one ADDED rather than ADDED then MODIFIED."""
        w = self.workload_of[p.uid]
        nodes = self.node_list
        if w.pin is not None:
            target = [self.nodes[w.pin]]
        else:
            start = draw(p.key, 11) % len(nodes)
            target = nodes[start:] + nodes[:start]
        taint, notready, selector, cpu, mem, gpu, full = 0, 0, 0, 0, 0, 0, 0
        fits = []
        tolerated = {t.get("key") for t in p.tolerations if t.get("key")}
        tolerate_all = any(t.get("operator") == "Exists" and not t.get("key") for t in p.tolerations)
        for n in target:
            if not n.ready:
                notready += 1
                continue
            if not tolerate_all and any(t["key"] not in tolerated for t in n.taints):
                taint += 1
                continue
            if p.node_selector and any(n.labels.get(k) != v for k, v in p.node_selector.items()):
                selector += 1
                continue
            if w.pin is None:
                if len(n.pods) >= n.max_pods:
                    full += 1
                    continue
                if n.req_cpu_m + p.req_cpu_m > n.alloc_cpu_m:
                    cpu += 1
                    continue
                if n.req_mem + p.req_mem > n.alloc_mem:
                    mem += 1
                    continue
                if p.gpus and n.gpus_free() < p.gpus:
                    gpu += 1
                    continue
            fits.append(n)
            if len(fits) == 4:
                break
        if fits:
            # like the scheduler's LeastAllocated score, among a few feasible nodes
            best = min(
                fits,
                key=lambda n: (
                    (n.req_cpu_m / n.alloc_cpu_m + n.req_mem / n.alloc_mem)
                    if n.alloc_cpu_m and n.alloc_mem
                    else 0.0
                ),
            )
            self._bind(p, best, now)
            return "bound"
        parts = []
        if taint:
            parts.append(f"{taint} node(s) had untolerated taint(s)")
        if notready:
            parts.append(f"{notready} node(s) had untolerated taint {{node.kubernetes.io/unreachable: }}")
        if selector:
            parts.append(f"{selector} node(s) didn't match Pod's node affinity/selector")
        if cpu:
            parts.append(f"{cpu} Insufficient cpu")
        if mem:
            parts.append(f"{mem} Insufficient memory")
        if gpu:
            parts.append(f"{gpu} Insufficient nvidia.com/gpu")
        if full:
            parts.append(f"{full} Too many pods")
        total = len(target)
        fit = cpu + mem + gpu + full
        msg = (
            f"0/{total} nodes are available: {', '.join(parts)}. preemption: 0/{total} nodes are available: "
            f"{total - fit} Preemption is not helpful for scheduling, {fit} No preemption victims found "
            f"for incoming pod."
        )
        self.unscheduled[p.uid] = p
        if p.unsched_msg != msg:
            p.unsched_msg = msg
            p.scheduled_at = now
            return "changed"
        return "same"

    def _bind(self, p: Pod, n, now: int) -> None:
        p.node = n
        p.unsched_msg = None
        p.scheduled_at = now
        p.initialized_at = now
        p.ready_at = now
        p.started_at = now
        n.pods[p.uid] = p
        n.req_cpu_m += p.req_cpu_m
        n.req_mem += p.req_mem
        p.holds = True
        if p.gpus:
            got = []
            for i, owner in enumerate(n.gpu_owner):
                if owner is None and len(got) < p.gpus:
                    n.gpu_owner[i] = p
                    got.append(i)
            p.gpu_ids = got
        if p.host_network:
            p.ip = n.ip
        else:
            base = n.pod_cidr.rsplit(".", 1)[0]
            p.ip = f"{base}.{n.ip_next}"
            n.ip_next = n.ip_next + 1 if n.ip_next < 254 else 2
        self.unscheduled.pop(p.uid, None)

    def _release(self, p: Pod) -> None:
        """Give back the node's requests and GPUs (pod finished or gone)."""
        n = p.node
        if n is None or not p.holds:
            return
        p.holds = False
        n.req_cpu_m -= p.req_cpu_m
        n.req_mem -= p.req_mem
        for i in p.gpu_ids:
            if n.gpu_owner[i] is p:
                n.gpu_owner[i] = None

    # -- container transitions ---------------------------------------------------------------------
    def _start(self, c: Container, k: int, fresh: bool) -> None:
        c.running = True
        c.started_at = self.t(k)
        c.segments += [k, OPEN]
        if fresh:
            c.restarts += 1
            c.cpu_ns = c.pf = c.mpf = c.logs = 0
        c.container_id = "containerd://" + hex_id(derive(c.key, "cid", c.restarts), 64)
        c.waiting = None
        c.term = None

    def _stop(self, c: Container, k: int, code: int, reason: str, message: str | None = None) -> None:
        if c.running:
            c.running = False
            c.segments[-1] = k
        c.term = (code, reason, c.started_at, self.t(k), message, c.container_id)

    # -- agenda --------------------------------------------------------------------------------------
    def run_agenda(self, k: int) -> None:
        due = self.agenda.pop(k, None)
        if due:
            due.sort(key=lambda e: (e[0], e[1]))
            for _seq, action, pod, token in due:
                if pod.removed or token != pod.plan:
                    continue
                getattr(self, "_do_" + action)(pod, k)
        if self.unscheduled:
            now = self.t(k)
            for p in sorted(self.unscheduled.values(), key=lambda p: p.seq):
                if p.removed or p.deletion is not None:
                    self.unscheduled.pop(p.uid, None)
                    continue
                got = self.schedule(p, now)
                if got == "bound":
                    self._creating(p, k)
                if got != "same":
                    self.touch_pod(p)

    def _creating(self, p: Pod, k: int) -> None:
        """Bound, sandbox being created: ContainerCreating until the next boundary."""
        p.phase = "Pending"
        for c in p.containers:
            c.waiting = ("ContainerCreating", None)
        self._at(k + 1, "start", p)

    def create_pod(self, w: Workload, when: int, k: int) -> Pod:
        """A controller creates a pod: schedule it and announce it with one ADDED event."""
        p = self.spawn(w, when)
        if self.schedule(p, when) == "bound":
            self._creating(p, k)
        self.touch_pod(p, "ADDED")
        return p

    def _plan_running(self, p: Pod, k: int) -> None:
        w = self.workload_of[p.uid]
        if p.kind == "job":
            lo, hi = w.job_len
            length = lo + (hi - lo) * unit(p.key, 20 + p.runs)
            self._at(k + max(1, math.ceil(length / self.S)), "finish", p)
        elif p.kind == "crashloop":
            self._at(k + 1 + draw(p.key, 30 + p.runs) % 3, "crash", p)
        elif w.life:
            life = -w.life * math.log(1.0 - unit(p.key, 40 + p.runs) * 0.999)
            self._at(k + max(2, math.ceil(life / self.S)), "roll", p)
        p.runs += 1

    def _do_start(self, p: Pod, k: int) -> None:
        for c in p.containers:
            self._start(c, k, fresh=False)
        p.phase = "Running"
        p.ready = p.kind != "crashloop"
        p.ready_at = self.t(k)
        self.touch_pod(p)
        self._plan_running(p, k)

    def _do_finish(self, p: Pod, k: int) -> None:
        for c in p.containers:
            self._stop(c, k, 0, "Completed")
        p.phase = "Succeeded"
        p.ready = False
        p.ready_at = self.t(k)
        self._release(p)
        self.touch_pod(p)
        self._at(k + max(1, math.ceil(self.workload_of[p.uid].ttl / self.S)), "ttl", p)

    def _do_ttl(self, p: Pod, k: int) -> None:
        # the TTL controller deletes the finished pod; the next run of the job starts now
        self.delete_pod(p, 0, self.t(k))
        self.create_pod(self.workload_of[p.uid], self.t(k), k)

    def _do_roll(self, p: Pod, k: int) -> None:
        # a rolling update: the ReplicaSet replaces the pod as soon as it is terminating
        self.delete_pod(p, p.grace, self.t(k))
        self.create_pod(self.workload_of[p.uid], self.t(k), k)

    def _do_crash(self, p: Pod, k: int) -> None:
        c = p.containers[0]
        self._stop(c, k, 1, "Error")
        c.last_term, c.term = c.term, None
        back = self._backoff_steps(c.restarts + 1)
        wait = go_duration(min(10 * 2**c.restarts, BACKOFF_CAP))
        c.waiting = (
            "CrashLoopBackOff",
            f"back-off {wait} restarting failed container={c.name} pod={p.name}_{p.namespace}({p.uid})",
        )
        p.ready = False
        p.ready_at = self.t(k)
        self.touch_pod(p)
        self._at(k + back, "restart", p)

    def _do_restart(self, p: Pod, k: int) -> None:
        self._start(p.containers[0], k, fresh=True)
        self.touch_pod(p)
        self._plan_running(p, k)

    def _do_retry(self, p: Pod, k: int) -> None:
        c = p.containers[0]
        c.restarts += 1
        cid = "containerd://" + hex_id(derive(c.key, "cid", c.restarts), 64)
        msg = (
            "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
            'runc create failed: unable to start container process: exec: "echo foo": executable file '
            "not found in $PATH: unknown"
        )
        c.last_term = (128, "StartError", self.t(k), self.t(k), msg, cid)
        c.waiting = ("RunContainerError", msg)
        self.touch_pod(p)
        self._at(k + self._backoff_steps(c.restarts), "retry", p)

    def _do_pull(self, p: Pod, k: int) -> None:
        c = p.containers[0]
        if c.waiting and c.waiting[0] == "ErrImagePull":
            c.waiting = ("ImagePullBackOff", f'Back-off pulling image "{c.image}"')
            p.backoff += 1
            nxt = self._backoff_steps(p.backoff)
        else:
            c.waiting = (
                "ErrImagePull",
                f"rpc error: code = NotFound desc = failed to pull and unpack image "
                f'"{c.image}": failed to resolve reference "{c.image}": not found',
            )
            nxt = 1
        self.touch_pod(p)
        self._at(k + nxt, "pull", p)

    def _do_stop(self, p: Pod, k: int) -> None:
        for c in p.containers:
            if c.running:
                self._stop(c, k, 0, "Completed")
        self.touch_pod(p)

    def _do_remove(self, p: Pod, k: int) -> None:
        for c in p.containers:
            if c.running:  # cannot happen (stopped one boundary earlier) but never leak usage
                self._stop(c, k, 0, "Completed")
        self._release(p)
        p.removed = True
        p.final_step = k
        if p.node is not None:
            p.node.pods.pop(p.uid, None)
        self.pods.pop(p.uid, None)
        if self.by_key.get((p.namespace, p.name)) is p:
            del self.by_key[(p.namespace, p.name)]
        self.unscheduled.pop(p.uid, None)
        self.sorted_pods = None
        self.touch_pod(p, "DELETED")  # the final object, under a resourceVersion of its own
        if p.replace == "removal":
            self.create_pod(self.workload_of[p.uid], self.t(k), k)
        self.workload_of.pop(p.uid, None)
        _forget(p)

    # -- deletion --------------------------------------------------------------------------------
    def delete_by_user(self, p: Pod, grace: int | None, now: float) -> None:
        """``kubectl delete pod``: the owning controller replaces the pod like a real one would
        (a ReplicaSet at once, a StatefulSet, DaemonSet, static pod or unfinished Job once the
        old object is gone); bare pods and finished pods are not replaced."""
        if p.deletion is not None or p.removed:
            return
        w = self.workload_of[p.uid]
        self.delete_pod(p, p.grace if grace is None else grace, now)
        if w.owner_kind == "ReplicaSet":
            self.create_pod(w, math.ceil(now), self.K)
        elif w.owner_kind in ("StatefulSet", "DaemonSet", "Node") or (
            w.owner_kind == "Job" and p.phase not in ("Succeeded", "Failed")
        ):
            p.replace = "removal"

    def delete_pod(self, p: Pod, grace: int, now: float) -> None:
        """Graceful deletion: deletionTimestamp now + grace, containers stop at the boundary
        before the object disappears (see module docstring)."""
        if p.deletion is not None or p.removed:
            return
        running = any(c.running for c in p.containers)
        if not running or p.node is None or not p.node.ready:
            grace = 0
        when = math.ceil(now + grace)
        kb = self.boundary_at_or_after(when)
        p.plan += 1  # cancel whatever the pod had planned
        p.deletion = when
        p.deleted_grace = grace
        p.ready = False
        if kb - 1 <= self.K:
            for c in p.containers:
                if c.running:
                    self._stop(c, self.K, 0, "Completed")
        else:
            self._at(kb - 1, "stop", p)
        self._at(kb, "remove", p)
        self.touch_pod(p)

    # -- node failure ------------------------------------------------------------------------------
    def set_node_ready(self, n, ready: bool, now: float) -> None:
        if n.ready == ready:
            return
        k = self.K
        n.ready = ready
        n.ready_at = int(now)
        if not ready:
            for p in sorted(n.pods.values(), key=lambda p: p.seq):
                for c in p.containers:
                    if c.running:
                        # the node is gone: its containers stop consuming; the API keeps showing
                        # the last status it heard, like a real apiserver for an unreachable node
                        c.running = False
                        c.segments[-1] = k
                if p.deletion is None:
                    p.plan += 1
                    p.ready = False
                    self.touch_pod(p)
        else:
            n.boot = int(now)
            n.boot_id = uid(derive(n.key, "boot", n.boot))
            n.cpu_ns = n.pf = n.mpf = n.net_rx = n.net_tx = 0
            n.sys_cpu = [0, 0]
            for p in sorted(n.pods.values(), key=lambda p: p.seq):
                if p.deletion is not None:
                    continue
                self._recover(p, k)
        self.touch_node(n)

    def _recover(self, p: Pod, k: int) -> None:
        """After a node reboot: what was running restarts; what was waiting tries again."""
        if p.phase == "Running" and p.kind in ("service", "job"):
            for c in p.containers:
                if c.term is None and c.waiting is None:
                    self._start(c, k, fresh=True)
            p.ready = True
            p.ready_at = self.t(k)
            self._plan_running(p, k)
        elif p.kind == "crashloop":
            c = p.containers[0]
            if c.term is None and c.waiting is None:
                self._start(c, k, fresh=True)
                self._plan_running(p, k)
            else:
                self._at(k + 1, "restart", p)
        elif p.kind == "runerror":
            self._at(k + 1, "retry", p)
        elif p.kind == "imagepull":
            self._at(k + 1, "pull", p)
        elif p.phase == "Pending":
            self._at(k + 1, "start", p)
        elif p.phase == "Succeeded":
            self._at(k + 1, "ttl", p)
        self.touch_pod(p)


def _qos(specs: list[CSpec]) -> str:
    if all(not s.req_cpu and not s.req_mem and not s.lim_cpu and not s.lim_mem for s in specs):
        return "BestEffort"
    if all(s.lim_cpu and s.lim_mem and s.req_cpu == s.lim_cpu and s.req_mem == s.lim_mem for s in specs):
        return "Guaranteed"
    return "Burstable"


def _forget(p: Pod) -> None:
    """Keep of a gone pod only what /sim/truth needs (names, node, cumulative sums, checkpoints,
    the containers' usage profiles and run segments): churn must not grow memory by whole pods.
    The watch history still holds its last rendering."""
    p.view = None
    p.labels = {}
    p.annotations = None
    p.unsched_msg = None
    for c in p.containers:
        c.requests = c.limits = {}
        c.mounts = []
        c.ports = None
        c.image_id = c.container_id = ""
        c.waiting = c.term = c.last_term = None
