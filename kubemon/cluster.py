"""The watched cluster's state as the collectors last saw it, and who owns its namespaces.

All of it lives in Redis under the keys of ``kubemon.keys``. It sits here, below every app, so
that the collectors' cycles and the live snapshot share it without importing each other,
``/healthz`` reads the cluster's health without importing the collectors, and the collectors and
billing hand each other namespace labels and ownership without importing each other (DESIGN §1):
the inventory cycle records the labels, billing's ``assign_namespaces`` task turns them into
ownership rows and publishes the ownership map, the live snapshot reads that map.
"""

import time

import orjson

from kubemon import keys
from kubemon.selfmetrics import count_cycle

# --- the sources' clock (written by the usage cycle) ---


def source_now(redis):
    """The sources' clock: the latest kubelet sample time, moved on by the wall time since.

    Inventory objects carry no sample time of their own; using the kubelet's keeps every point of
    a simulated cluster (whose clock may run fast) on one time line.
    """
    return _moved_on(redis.get(keys.SOURCE_TIME))


async def async_source_now(redis):
    """``source_now`` for a ``redis.asyncio`` client (the temperature push endpoint is an async view)."""
    return _moved_on(await redis.get(keys.SOURCE_TIME))


def _moved_on(raw):
    if raw:
        sample_time, seen_at = orjson.loads(raw)
        return int(sample_time + (time.time() - seen_at))
    return int(time.time())


def source_slot(redis, every):
    """The start of the current ``every``-second slot on the sources' clock: the stamp of points
    whose source carries no time of its own (the inventory's pods and nodes, most GPU exporters).

    It is the latest kubelet sample time floored to the cycle's schedule, moved on by the whole
    schedules of wall time since that sample was seen. A run that follows another within the same
    slot therefore stamps its points identically, and they overwrite the first run's instead of
    adding near-duplicates seconds apart (Celery is at-least-once; ``collect --once`` may run beside
    the workers). Before the first usage cycle, the wall clock floored to the schedule.
    """
    if every <= 0:
        return source_now(redis)
    raw = redis.get(keys.SOURCE_TIME)
    if raw:
        sample_time, seen_at = orjson.loads(raw)
        elapsed = max(0.0, time.time() - seen_at)
    else:
        sample_time, elapsed = time.time(), 0.0
    return int(sample_time // every * every + elapsed // every * every)


def record_source_time(redis, sample_time):
    """Remember the latest kubelet sample time and the wall time it was seen at."""
    redis.set(keys.SOURCE_TIME, orjson.dumps([sample_time, time.time()]))


# --- health (the inventory cycle; any cycle that cannot reach the API makes it unknown) ---


def set_health(redis, status, detail=""):
    redis.set(keys.CLUSTER_HEALTH, orjson.dumps({"status": status, "detail": detail, "time": time.time()}))


def get_health(redis):
    raw = redis.get(keys.CLUSTER_HEALTH)
    return orjson.loads(raw) if raw else {"status": "unknown", "detail": "no inventory cycle has run yet"}


# --- cycle reports ---


def save_cycle_report(redis, name, report):
    """Keep the last report (a dict) of the cycle ``name``, stamped with the wall time."""
    pipe = redis.pipeline(transaction=False)
    pipe.set(keys.CYCLE_REPORT + name, orjson.dumps({**report, "time": time.time()}))
    count_cycle(pipe, name, report)  # /metrics' counters, in the same round trip
    pipe.execute()


def get_cycle_report(redis, name):
    """The last report saved for cycle ``name``, or None."""
    raw = redis.get(keys.CYCLE_REPORT + name)
    return orjson.loads(raw) if raw else None


# --- what the inventory cycle listed ---


def record_inventory(redis, nodes, namespace_labels):
    """Remember the nodes (``{node: details}``) and the namespaces' labels (``{namespace: {label: value}}``).

    The node names also go to a set, which the temperature push checks a node against.
    """
    pipe = redis.pipeline()
    pipe.delete(keys.KNOWN_NODES)
    if nodes:
        pipe.sadd(keys.KNOWN_NODES, *nodes)
    pipe.set(keys.INVENTORY_NODES, orjson.dumps(nodes))
    pipe.set(keys.NAMESPACE_LABELS, orjson.dumps(namespace_labels))
    pipe.execute()


def inventory_nodes(redis):
    """``{node: {ready, roles, allocatable...}}`` of the last inventory, ``{}`` before the first."""
    raw = redis.get(keys.INVENTORY_NODES)
    return orjson.loads(raw) if raw else {}


def namespace_labels(redis):
    """``{namespace: {label: value}}`` of the last inventory; None before the first (not "no namespaces")."""
    raw = redis.get(keys.NAMESPACE_LABELS)
    return orjson.loads(raw) if raw is not None else None


# --- ownership (published by billing) ---


def publish_tenant_namespaces(redis, owned):
    """Store the ownership map ``{tenant_id: [namespace, ...]}`` for readers that may not import billing."""
    redis.set(keys.TENANT_NAMESPACES, orjson.dumps({str(tenant): sorted(names) for tenant, names in owned.items()}))


def tenant_namespaces(redis):
    """``{tenant_id: [namespace, ...]}`` as billing last published it; ``{}`` before it did."""
    raw = redis.get(keys.TENANT_NAMESPACES)
    return {int(tenant): names for tenant, names in orjson.loads(raw).items()} if raw else {}
