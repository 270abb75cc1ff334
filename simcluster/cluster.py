"""The simulated cluster: state, the step loop, resource versions, watch events and controls.

Time is advanced lazily: every request (and a background ticker, so that watchers see events
even when nobody lists) calls ``sync()``, which runs every step boundary that has passed on the
simulated clock. One lock guards the state; big responses are assembled from cached bytes after
the lock is released.
"""

from __future__ import annotations

import base64
import math
import random
import threading
import time
from collections import OrderedDict, deque

import orjson

from .config import Options
from .lifecycle import LifecycleMixin
from .model import CHECKPOINT_EVERY, OPEN, Node, Pod
from .objects import View, render_namespace, render_node, render_pod
from .rand import derive, hex_id, unit
from .scenario import check_budget, make_namespaces, make_nodes
from .timeutil import fmt_time
from .usage import UsageMixin, node_target
from .workloads import system_workloads, tenant_workloads

EVENTS_KEPT = 10_000  # watch history (~35 MB at 10,000 pods); older resourceVersions get 410 Expired
SNAPSHOT_SECONDS = 300.0  # continue tokens live 5 real minutes (etcd's default compaction interval)
SNAPSHOTS_KEPT = 16
FAIL_TARGETS = ("api", "metrics", "kubelet", "gpu", "node-exporter")
FORBID_TARGETS = ("api", "proxy", "stats")
EXPIRED_CONTINUE = (  # the API server's own words
    "The provided continue parameter is too old to display a consistent list result. You can start a "
    "new list without the continue parameter, or use the continue token in this response to retrieve "
    "the remainder of the results. Continuing with the provided token results in an inconsistent list "
    "- objects that were created, modified, or deleted between the time the first chunk was returned "
    "and now may show up in the list."
)


class ApiError(Exception):
    """An error the API answers with a ``Status`` body."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict | None = None, extra: dict | None = None
    ):
        super().__init__(message)
        self.code, self.reason, self.message, self.details, self.extra = code, reason, message, details, extra


class Clock:
    """Simulated epoch seconds: real time × speed from the start, or moved by hand."""

    def __init__(self, start: int, speed: float, manual: bool):
        self.start = start
        self.speed = speed
        self.manual = manual
        self.offset = 0.0
        self.mono0 = time.monotonic()

    def now(self) -> float:
        if self.manual:
            return self.start + self.offset
        return self.start + (time.monotonic() - self.mono0) * self.speed

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class Cluster(LifecycleMixin, UsageMixin):
    def __init__(self, opts: Options, base_url: str, fan=None, kubelets=None):
        self.opts = opts
        self.kubelets = kubelets  # kubelets.KubeletFleet: a port of its own for each node's kubelet
        self.base_url = base_url
        self.fan = fan
        self.S = opts.step
        self.t0 = opts.start
        self.M = CHECKPOINT_EVERY
        # smooth-noise knots about every 5 simulated minutes, whatever the step
        self.span = max(1, round(300 / self.S))
        self.clock = Clock(opts.start, opts.speed, opts.manual_clock)
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.K = 0
        self.rv = 1000
        self.next_seq = 0
        self.nodes: dict[str, Node] = {}
        self.node_list: list[Node] = []
        self.namespaces: dict = {}
        self.pods: dict[str, Pod] = {}
        self.by_key: dict[tuple[str, str], Pod] = {}
        self.all_pods: list[Pod] = []
        self.workload_of: dict = {}
        self.unscheduled: dict[str, Pod] = {}
        self.agenda: dict[int, list] = {}
        self.sorted_pods: list[Pod] | None = None
        self.events: deque = deque(maxlen=EVENTS_KEPT)
        self.events_floor = 0
        self.snapshots: OrderedDict = OrderedDict()
        self.failed: set[str] = set()
        # RBAC refusals (403) to simulate a service account without a permission: "api", "proxy" and,
        # at the kubelets, "stats" (nodes/stats).
        self.forbidden: set[str] = set()
        self.building = True
        self.stopped = False
        self.steps_run = 0
        self.step_seconds = 0.0
        self.fmt = fmt_time
        self.on_advance = None  # set by the temperature agents: wakes them when time moves
        self.pusher = None
        self._build()
        self.building = False

    # -- construction -------------------------------------------------------------------------------
    def _build(self) -> None:
        o = self.opts
        rng = random.Random(o.seed)
        nodes = make_nodes(o, rng, self.t0)
        self.nodes = {n.name: n for n in nodes}
        self.node_list = nodes
        self.namespaces = {ns.name: ns for ns in make_namespaces(o, rng, self.t0)}
        system = system_workloads(o, nodes)
        check_budget(o, len(system))
        tenant = tenant_workloads(o, rng, nodes, list(self.namespaces.values()), o.pods - len(system))
        for w in system:
            self._initial(w, "running", rng)
        for w, reps, initial in tenant:
            for _ in range(reps):
                self._initial(w, initial, rng)
        for ns in self.namespaces.values():
            self.rv += 1
            ns.rv = self.rv
            ns.view = render_namespace(ns, self.rv)
        for n in nodes:
            if self.kubelets is not None:
                n.kubelet_port = self.kubelets.bind(n.name)
            self.rv += 1
            n.rv = self.rv
            n.view = render_node(n, self.rv, self.base_url)
        for p in self.all_pods:
            self.rv += 1
            p.rv = self.rv
            p.view = render_pod(p, self.rv)
        self.events_floor = self.rv
        # step 0 (the step ending at the start time) so that the first summary has values, and
        # temperatures at their no-fan equilibrium
        self.step_usage(0)
        for p in self.all_pods:
            p.cum = [0, 0, 0, 0]  # step 0 ends at the start: it is history, not part of the truth
        for n in nodes:
            n.temp = node_target(n, self.t0, False)
            n.gpu_temps = [n.temp + 6.0 + 40.0 * (s[2] if s else 0) / 100.0 for s in n.gpu_step]

    def _initial(self, w, initial: str, rng: random.Random) -> None:
        """A pod that already exists when the simulation starts, with some history behind it."""
        t0, S = self.t0, self.S
        ages = {
            "service": (3600, 30 * 86_400),
            "job": (30, 900),
            "crashloop": (600, 7200),
            "runerror": (300, 3600),
            "imagepull": (120, 3600),
            "unschedulable": (60, 7200),
            "failed": (1800, 10_800),
        }
        lo, hi = ages[w.kind]
        if initial == "done":
            lo, hi = 900, 3600
        if w.pin is not None and w.kind == "service":
            created = self.nodes[w.pin].boot + 20
        else:
            created = t0 - rng.randint(lo, hi)
        p = self.spawn(w, created)
        if self.schedule(p, created) != "bound":
            return
        started = created + rng.randint(2, 8)
        p.ready_at = started + 3
        if w.kind in ("service", "job") and initial != "done":
            run = t0 - started
            for c in p.containers:
                c.running = True
                c.started_at = started
                c.segments = [(started - t0) // S, OPEN]
                c.container_id = "containerd://" + hex_id(derive(c.key, "cid", 0), 64)
                c.cpu_ns = int(c.cpu_base * 0.8 * run)
                c.pf = int(run * (50 + 400 * unit(c.key, 12)))
                c.logs = c.log_rate * run
                p.pod_cpu_ns += c.cpu_ns + int(2e5 * run)
                p.net_rx += int(c.net_base * 0.9 * run)
                p.net_tx += int(c.net_base * 0.25 * run)
            p.phase = "Running"
            p.ready = True
            self._plan_running(p, 0)
            if initial == "terminating":
                p.replace = "removal"
                self.delete_pod(p, 30 + rng.randint(1, 8) * S, t0)
            return
        c = p.containers[0]
        cid = "containerd://" + hex_id(derive(c.key, "cid", 0), 64)
        c.container_id = cid
        if w.kind == "job":  # finished before the start, waiting for the TTL controller
            finished = t0 - rng.randint(30, max(31, w.ttl - 30))
            for c in p.containers:
                c.started_at = started
                c.term = (0, "Completed", started, finished, None, c.container_id or cid)
            p.phase = "Succeeded"
            p.ready_at = finished
            self._release(p)
            self._at(self.boundary_at_or_after(finished + w.ttl), "ttl", p)
        elif w.kind == "failed":
            finished = started + rng.randint(5, 300)
            c.started_at = started
            c.term = (1, "Error", started, finished, None, cid)
            p.phase = "Failed"
            p.ready_at = finished
            self._release(p)
        elif w.kind == "crashloop":
            c.restarts = rng.randint(3, 40)
            finished = t0 - rng.randint(1, 100)
            c.started_at = finished - rng.randint(5, 40)
            c.container_id = "containerd://" + hex_id(derive(c.key, "cid", c.restarts), 64)
            c.last_term = (1, "Error", c.started_at, finished, None, c.container_id)
            c.waiting = (
                "CrashLoopBackOff",
                f"back-off 5m0s restarting failed container={c.name} pod={p.name}_{p.namespace}({p.uid})",
            )
            p.phase = "Running"
            self._at(self.boundary_at_or_after(finished + 300), "restart", p)
        elif w.kind == "runerror":
            c.restarts = rng.randint(2, 20)
            c.container_id = ""
            msg = (
                "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
                'runc create failed: unable to start container process: exec: "echo foo": executable file '
                "not found in $PATH: unknown"
            )
            last = t0 - rng.randint(1, 250)
            c.last_term = (128, "StartError", last, last, msg, cid)
            c.waiting = ("RunContainerError", msg)
            p.phase = "Running"
            self._at(self.boundary_at_or_after(last + 300), "retry", p)
        elif w.kind == "imagepull":
            c.container_id = ""
            p.backoff = 5
            c.waiting = ("ImagePullBackOff", f'Back-off pulling image "{c.image}"')
            self._at(self.boundary_at_or_after(t0 + rng.randint(1, 300)), "pull", p)

    # -- resource versions and events ----------------------------------------------------------------
    def emit(self, etype: str, old: View | None, new: View) -> None:
        if self.building:
            return
        ev = self.events
        if len(ev) == ev.maxlen:
            self.events_floor = ev[0][0]
        ev.append((new.rv, etype, old, new))

    def touch_pod(self, p: Pod, etype: str = "MODIFIED") -> None:
        if self.building:
            return
        self.rv += 1
        old = p.view
        p.rv = self.rv
        p.view = render_pod(p, self.rv)
        self.emit(etype, old, p.view)

    def touch_node(self, n: Node) -> None:
        self.rv += 1
        old = n.view
        n.rv = self.rv
        n.view = render_node(n, self.rv, self.base_url)
        self.emit("MODIFIED", old, n.view)

    def events_after(self, kind: str, rv: int) -> list[tuple]:
        """Events of a kind with resourceVersion > rv (caller holds the lock)."""
        out = []
        for ev in reversed(self.events):
            if ev[0] <= rv:
                break
            if ev[3].kind == kind:
                out.append(ev)
        out.reverse()
        return out

    # -- time --------------------------------------------------------------------------------------
    def target_step(self) -> int:
        return math.floor((self.clock.now() - self.t0) / self.S)

    def sync(self) -> None:
        """Run every step whose boundary has passed (caller holds the lock)."""
        target = self.target_step()
        if target <= self.K:
            return
        t = time.perf_counter()
        before = self.rv
        while self.K < target:
            k = self.K + 1
            self.step_usage(k)
            self.K = k
            self.run_agenda(k)
            self._heartbeats(k)
            self.steps_run += 1
        self.step_seconds += time.perf_counter() - t
        if self.rv != before:
            self.cond.notify_all()

    def _heartbeats(self, k: int) -> None:
        # kubelets post their status every 5 minutes when nothing changes
        t_k = self.t(k)
        for n in self.node_list:
            if n.ready and t_k - n.heartbeat >= 300:
                n.heartbeat = t_k
                self.touch_node(n)

    def fan_running(self) -> bool:
        return bool(self.fan is not None and self.fan.running)

    def step_time(self) -> int:
        return self.t(self.K)

    # -- lists and pagination -------------------------------------------------------------------------
    def views(self, kind: str, namespace: str | None = None, node: str | None = None) -> list[View]:
        if kind == "Pod":
            if node is not None:
                n = self.nodes.get(node)
                pods = sorted(n.pods.values(), key=lambda p: (p.namespace, p.name)) if n else []
                return [p.view for p in pods if namespace is None or p.namespace == namespace]
            if self.sorted_pods is None:
                self.sorted_pods = sorted(self.pods.values(), key=lambda p: (p.namespace, p.name))
            if namespace is not None:
                return [p.view for p in self.sorted_pods if p.namespace == namespace]
            return [p.view for p in self.sorted_pods]
        if kind == "Node":
            return [n.view for n in sorted(self.node_list, key=lambda n: n.name)]
        return [ns.view for ns in sorted(self.namespaces.values(), key=lambda ns: ns.name)]

    def page(
        self, kind: str, namespace: str | None, node: str | None, limit: int, cont: str | None, match
    ) -> tuple[int, list[View], str | None, int | None]:
        """One page of a list: (resourceVersion, items, continue token, remainingItemCount)."""
        now = time.monotonic()
        for key in [k for k, (born, _) in self.snapshots.items() if now - born > SNAPSHOT_SECONDS]:
            del self.snapshots[key]
        if cont:
            rv, start = _decode_continue(cont)
            snap = self.snapshots.get((kind, namespace, node, rv))
            if snap is None:
                raise ApiError(
                    410,
                    "Expired",
                    EXPIRED_CONTINUE,
                    extra={"metadata": {"continue": cont}},
                )
            views = snap[1]
        else:
            rv, start = self.rv, 0
            views = self.views(kind, namespace, node)
        if not limit:
            items = [v for v in views if match(v)] if match else views
            return rv, items, None, None
        items = []
        i = start
        while i < len(views) and len(items) < limit:
            v = views[i]
            i += 1
            if match is None or match(v):
                items.append(v)
        if i >= len(views):
            return rv, items, None, None
        key = (kind, namespace, node, rv)
        if key not in self.snapshots:
            self.snapshots[key] = (now, views)
            while len(self.snapshots) > SNAPSHOTS_KEPT:
                self.snapshots.popitem(last=False)
        remaining = None if match else len(views) - i
        return rv, items, _encode_continue(rv, views[i - 1], i), remaining

    def compact(self) -> None:
        """Forget continue snapshots and watch history, as an etcd compaction does."""
        self.snapshots.clear()
        self.events.clear()
        self.events_floor = self.rv

    # -- controls ---------------------------------------------------------------------------------------
    def control(self, body: dict) -> dict:
        action = body.get("action")
        if action == "advance":
            if not self.clock.manual:
                raise ValueError("advance needs --manual-clock (the clock follows real time otherwise)")
            seconds = body.get("seconds")
            if (
                not isinstance(seconds, (int, float))
                or isinstance(seconds, bool)
                or not 0 < seconds <= 366 * 86_400
            ):
                raise ValueError("advance needs 'seconds', a positive number (at most a year)")
            self.clock.advance(float(seconds))
            self.sync()
        elif action in ("node_not_ready", "node_ready"):
            n = self.nodes.get(body.get("node") or "")
            if n is None:
                raise LookupError(f"no node named {body.get('node')!r}")
            self.sync()
            self.set_node_ready(n, action == "node_ready", self.clock.now())
            self.cond.notify_all()
        elif action == "delete_pod":
            p = self.by_key.get((body.get("namespace") or "", body.get("pod") or ""))
            if p is None:
                raise LookupError(f"no pod {body.get('namespace')}/{body.get('pod')}")
            grace = body.get("grace_seconds")
            if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool) or grace < 0):
                raise ValueError("grace_seconds must be a non-negative integer")
            self.sync()
            self.delete_by_user(p, grace, self.clock.now())
            self.cond.notify_all()
        elif action == "fail":
            target = body.get("target", "api")
            if target not in FAIL_TARGETS and target != "all":
                raise ValueError(f"target must be one of {', '.join(FAIL_TARGETS)} or all")
            self.failed |= set(FAIL_TARGETS) if target == "all" else {target}
        elif action == "forbid":
            target = body.get("target", "proxy")
            if target not in FORBID_TARGETS:
                raise ValueError(f"target must be one of {', '.join(FORBID_TARGETS)}")
            self.forbidden.add(target)
        elif action == "recover":
            target = body.get("target")
            if target is None or target == "all":
                self.failed.clear()
                self.forbidden.clear()
            else:
                self.failed.discard(target)
                self.forbidden.discard(target)
        elif action == "compact":
            self.compact()
        else:
            raise ValueError(
                "action must be one of advance, node_not_ready, node_ready, delete_pod, fail, "
                "forbid, recover, compact"
            )
        return self.state()

    def state(self) -> dict:
        by_state: dict[str, int] = {}
        by_phase: dict[str, int] = {}
        for p in self.pods.values():
            s = p.state()
            by_state[s] = by_state.get(s, 0) + 1
            by_phase[p.phase] = by_phase.get(p.phase, 0) + 1
        by_state["deleted"] = len(self.all_pods) - len(self.pods)
        return {
            "now": _fmt_float(self.clock.now()),
            "start": fmt_time(self.t0),
            "step": self.K,
            "step_time": fmt_time(self.t(self.K)),
            "step_seconds": self.S,
            "speed": self.opts.speed,
            "manual_clock": self.clock.manual,
            "seed": self.opts.seed,
            "resource_version": str(self.rv),
            "pods": {
                "total": len(self.pods),
                "by_state": dict(sorted(by_state.items())),
                "by_phase": dict(sorted(by_phase.items())),
            },
            "nodes": [
                {
                    "name": n.name,
                    "role": n.role,
                    "ready": n.ready,
                    "gpu_kind": n.gpu_kind,
                    "gpus": n.gpu_count,
                    "pods": len(n.pods),
                    "cpu_usage_cores": round(n.rate / 1e9, 6),
                    "temperature_celsius": round(n.temp, 3),
                }
                for n in self.node_list
            ],
            "namespaces": [{"name": ns.name, "tenant": ns.tenant} for ns in self.namespaces.values()],
            "fan": {"url": self.opts.fan_url, "running": self.fan_running() if self.fan else None},
            "failed_targets": sorted(self.failed),
            "forbidden_targets": sorted(self.forbidden),
            "temperature_push": self.pusher.stats() if self.pusher is not None else None,
            "sim_steps_run": self.steps_run,
            "sim_step_cpu_seconds": round(self.step_seconds, 6),
        }


def _fmt_float(t: float) -> str:
    us = int(round(t * 1e6))
    s, frac = divmod(us, 1_000_000)
    return fmt_time(s) if not frac else f"{fmt_time(s)[:-1]}.{frac:06d}Z"


def _encode_continue(rv: int, last: View, index: int) -> str:
    key = f"{last.namespace}/{last.name}" if last.namespace else last.name
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": key + "\u0000", "i": index})
    return base64.b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, int]:
    try:
        d = orjson.loads(base64.b64decode(token.encode(), validate=True))
        rv, i = int(d["rv"]), int(d["i"])
        if d.get("v") != "meta.k8s.io/v1" or rv <= 0 or i < 0:
            raise ValueError
        return rv, i
    except (ValueError, KeyError, TypeError):  # bad base64, bad JSON, missing or odd fields
        raise ApiError(
            400, "BadRequest", f"continue key is not valid: invalid continue token {token!r}"
        ) from None
