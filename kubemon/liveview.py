"""The live view's shapes (docs/web.md, "Live protocol"): rows, views, deltas and tenant views.

The collectors build the cluster's view after each usage cycle and publish deltas between two
views; the web's consumers and overview page send a user the view their access allows. Both
sides need these functions and may not import each other (DESIGN §1), so they live here, below
every app, as plain functions of plain data.

Rows are arrays, not objects: at 10,000 pods the keys would be most of the message. The column
order is part of the protocol (``POD_COLUMNS``, ``NODE_COLUMNS``) and every full view carries it.
"""

POD_COLUMNS = (
    "id",  # stable while the pod exists: the key deltas use
    "namespace", "name", "node",  # node "" while unscheduled
    "state",  # running | pending | deleting | failed | succeeded (DESIGN §5): the colour
    "status",  # kubectl's STATUS text: Running, CrashLoopBackOff, Completed, Init:0/1, Terminating...
    "ready", "containers",  # ready containers / containers in the spec
    "restarts", "last_restart",  # restarts of all containers; epoch s of the last one (null: never)
    "cpu", "cpu_request", "cpu_limit",  # millicores; usage null without a sample, 0 = no request/limit
    "memory", "memory_request", "memory_limit",  # bytes (working set)
    "gpus", "gpu_util", "gpu_memory",  # GPUs requested; mean % and bytes used of the pod's GPUs (null)
    "net",  # rx+tx bytes/s since the previous sample (null)
    "created",  # epoch s (the age column)
)
P = {name: index for index, name in enumerate(POD_COLUMNS)}
# What changes every cycle; a delta sends these in ``usage``, the other columns' changes in ``changed``.
USAGE_COLUMNS = ("cpu", "memory", "gpu_util", "gpu_memory", "net")
USAGE_INDEXES = tuple(P[name] for name in USAGE_COLUMNS)
_STATIC_INDEXES = tuple(i for i in range(len(POD_COLUMNS)) if i not in USAGE_INDEXES and i != P["id"])

NODE_COLUMNS = (
    "name",
    "status",  # as kubectl shows it: Ready, NotReady, Unknown, + ",SchedulingDisabled"
    "roles",  # "control-plane", "worker"... joined by ","
    "cpu_percent", "memory_percent",  # usage % of allocatable (null: no sample, or a tenant's view)
    "cpu_requests_percent", "memory_requests_percent",  # requests of the pods on it, % of allocatable
    "temperature",  # °C, the hottest sensor
    "gpu_util", "gpu_memory_used", "gpu_memory_total", "gpus",  # mean %, bytes, bytes, allocatable GPUs
    "pods",  # pods on it that hold resources (not succeeded nor failed by phase)
    "state",  # the worst state of its pods (a tenant's view: of the tenant's pods)
    "colour",  # red failed, blue deleting, yellow pending, green running (DESIGN §5)
)
N = {name: index for index, name in enumerate(NODE_COLUMNS)}

SEVERITY = {"succeeded": 0, "running": 1, "pending": 2, "deleting": 3, "failed": 4}
COLOURS = {"failed": "red", "deleting": "blue", "pending": "yellow", "running": "green", "succeeded": "green"}
# Pods that hold their requests on a node (kubectl describe node's "Non-terminated Pods").
HOLDING = frozenset({"running", "pending", "deleting", "failed"})


def worst_state(states):
    """The node-light rule: the most severe state, ``running`` for a node without pods."""
    worst = max(states, key=SEVERITY.__getitem__, default="running")
    return "running" if worst == "succeeded" else worst


def totals_of(pods, allocatable, gpu_usage=None):
    """CPU (millicores), memory (bytes) and GPU usage, requests and limits of ``pods``, against
    ``allocatable`` ({"cpu", "memory", "gpu"}), and the pods per state.

    Requests and limits count the pods that hold them on a node, as ``kubectl describe node``
    does (``HOLDING`` and bound to a node): a pending pod that no node can take asks for resources
    but holds none, and counting it put the cluster at 164 % of its memory. Such pods' requests
    are summed apart, in ``unscheduled``. GPU usage is the busy GPU-equivalents (utilisation x
    GPUs), of the whole cluster when ``gpu_usage`` is given."""
    cpu = [0.0, 0.0, 0.0]
    memory = [0.0, 0.0, 0.0]
    gpu = [0.0, 0.0]
    waiting = [0, 0.0, 0.0, 0.0]  # unscheduled pods: count, cpu, memory, gpu requests
    states = {}
    busy = 0.0
    for row in pods:
        state = row[4]
        states[state] = states.get(state, 0) + 1
        if row[10] is not None:
            cpu[0] += row[10]
        if row[13] is not None:
            memory[0] += row[13]
        if state in HOLDING:
            if not row[3]:
                waiting[0] += 1
                waiting[1] += row[11]
                waiting[2] += row[14]
                waiting[3] += row[16]
                continue
            cpu[1] += row[11]
            cpu[2] += row[12]
            memory[1] += row[14]
            memory[2] += row[15]
            gpu[0] += row[16]
        if row[17] is not None and row[16]:
            busy += row[16] * row[17] / 100.0
    return {
        "cpu": {"usage": round(cpu[0]), "requests": round(cpu[1]), "limits": round(cpu[2]),
                "allocatable": allocatable.get("cpu")},
        "memory": {"usage": round(memory[0]), "requests": round(memory[1]), "limits": round(memory[2]),
                   "allocatable": allocatable.get("memory")},
        # GPU limits equal requests (extended resources cannot be overcommitted).
        "gpu": {"usage": round(busy if gpu_usage is None else gpu_usage, 2), "requests": gpu[0], "limits": gpu[0],
                "allocatable": allocatable.get("gpu")},
        "pods": states,
        "unscheduled": {"pods": waiting[0], "cpu": round(waiting[1]), "memory": round(waiting[2]),
                        "gpu": waiting[3]},
    }


def tenant_view(view, namespaces):
    """The part of the cluster's ``view`` that a tenant owning ``namespaces`` may see.

    Its own pods; the nodes that run them, with the tenant's own pod count and worst state, but
    none of the node's usage, temperature or GPUs (a shared node's load reveals other tenants');
    totals of its own pods against the cluster's allocatable (its share)."""
    allowed = frozenset(namespaces)
    pods = [row for row in view["pods"] if row[1] in allowed]
    on_node = {}
    for row in pods:
        if row[3]:
            on_node.setdefault(row[3], []).append(row[4])
    nodes = []
    for node in view["nodes"]:
        states = on_node.get(node[0])
        if states is None:
            continue
        worst = worst_state(states)
        holding = sum(1 for state in states if state in HOLDING)
        nodes.append([node[0], node[1], node[2], None, None, None, None, None, None, None, None, None, holding,
                      worst, COLOURS[worst]])
    allocatable = {key: view["totals"][key]["allocatable"] for key in ("cpu", "memory", "gpu")}
    return {**view, "scope": "tenant", "nodes": nodes, "pods": pods, "totals": totals_of(pods, allocatable)}


def diff_by_namespace(previous, current):
    """``{namespace: [added, changed, removed, usage]}`` from the pod rows of two views.

    ``added`` and ``changed`` are whole rows (changed: a column other than usage differs: the
    rows a page highlights), ``removed`` ids, ``usage`` a flat list ``[id, cpu, memory,
    gpu_util, gpu_memory, net, id, ...]`` of the rows whose usage alone changed."""
    before = {row[0]: row for row in previous}
    parts = {}
    for row in current:
        old = before.pop(row[0], None)
        if old is not None and old == row:
            continue
        part = parts.get(row[1])
        if part is None:
            part = parts[row[1]] = [[], [], [], []]
        if old is None:
            part[0].append(row)
        elif any(row[i] != old[i] for i in _STATIC_INDEXES):
            part[1].append(row)
        else:
            part[3].append(row[0])
            part[3].extend(row[i] for i in USAGE_INDEXES)
    for row in before.values():
        part = parts.get(row[1])
        if part is None:
            part = parts[row[1]] = [[], [], [], []]
        part[2].append(row[0])
    return parts


def delta_message(view, base, parts, namespaces=None):
    """The delta from the view at seq ``base`` to ``view``, for all ``parts`` or only ``namespaces``'.

    ``base`` None means "no delta applies": a receiver sends the full view instead."""
    added, changed, removed, usage = [], [], [], []
    for namespace, (a, c, r, u) in parts.items():
        if namespaces is not None and namespace not in namespaces:
            continue
        added += a
        changed += c
        removed += r
        usage += u
    return {
        "type": "delta", "seq": view["seq"], "base": base, "time": view["time"], "published": view["published"],
        "every": view["every"], "scope": view["scope"], "health": view["health"], "totals": view["totals"],
        "nodes": view["nodes"], "added": added, "changed": changed, "removed": removed, "usage": usage,
    }
