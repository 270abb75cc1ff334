"""Dependency probes shared by ``GET /healthz`` and the Django system checks."""

from django.db import connection

from kubemon.cluster import get_health


def database_status():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001  (any failure means down)
        return {"status": "down", "error": str(exc)}


def redis_status():
    from kubemon.redis import get_redis

    try:
        get_redis().ping()
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001
        return {"status": "down", "error": str(exc)}


def influxdb_status():
    from kubemon.timeseries import get_store

    store = get_store()
    info = store.health(cardinality=False)
    if info["status"] == "ok":
        info.update(influxdb_cardinality(store))
    return info


def influxdb_cardinality(store):
    """The series and tag-value counts judged against the limits (kubemon/timeseries/cardinality.py).

    Counting reads every policy's index, which on a year of churn takes long and much of
    influxd's memory (docs/reliability.md, "Cardinality"), while probes ask every few seconds: the
    counts are kept in Redis for ``INFLUXDB_CARDINALITY_SECONDS`` (0: counted on every call), and
    one process counts at a time (the others answer without counts meanwhile). The limits are
    applied on every call.
    """
    import orjson
    from django.conf import settings

    from kubemon import keys
    from kubemon.redis import get_redis
    from kubemon.timeseries.cardinality import count_cardinality, judge_cardinality

    every = int(settings.INFLUXDB_CARDINALITY_SECONDS)
    redis = counts = None
    if every > 0:
        try:
            redis = get_redis()
            raw = redis.get(keys.INFLUXDB_CARDINALITY)
            counts = orjson.loads(raw) if raw else None
            if counts is None and not redis.set(keys.INFLUXDB_CARDINALITY + ":counting", 1, nx=True, ex=600):
                return {"cardinality": "being counted by another process"}
        except Exception as exc:  # noqa: BLE001  (Redis down is reported by redis_status)
            return {"cardinality_error": f"Redis: {exc}"}
    if counts is None:
        counts = count_cardinality(store)
        if redis is not None:
            try:
                if "cardinality_error" not in counts:
                    redis.set(keys.INFLUXDB_CARDINALITY, orjson.dumps(counts), ex=every)
                redis.delete(keys.INFLUXDB_CARDINALITY + ":counting")
            except Exception:  # noqa: BLE001, S110  (the counts are still answered)
                pass
    return judge_cardinality(counts, store.max_series, store.max_values_per_tag)


def cluster_status():
    """The watched cluster's health as the last inventory cycle saw it (``OK``, ``KO`` or ``unknown``)."""
    from kubemon.redis import get_redis

    try:
        return get_health(get_redis())
    except Exception as exc:  # noqa: BLE001
        return {"status": "unknown", "detail": str(exc)}


def collection_status():
    """The sharded usage and GPU cycles' layouts and the shards their previous cycles never heard
    from (collectors/shards.py); ``{}`` when neither cycle is sharded."""
    import orjson

    from kubemon import keys
    from kubemon.redis import get_redis

    try:
        raws = get_redis().mget(keys.USAGE_SHARDS, keys.GPU_SHARDS)
    except Exception as exc:  # noqa: BLE001
        return {"status": "unknown", "detail": str(exc)}
    status = {}
    for kind, raw in zip(("usage", "gpu"), raws, strict=True):
        if not raw:
            continue
        last = orjson.loads(raw)
        missing = last.get("previous_missing") or []
        status[kind] = {"shards": last["count"], "dispatched": last["time"], "missing_shards": missing,
                        "status": "incomplete" if missing else "ok"}
    return status


def dependency_report():
    """Each dependency's status; ``ok`` is False when any of them is down.

    The cluster's own health is reported too but does not make kubemon unhealthy: kubemon is
    working precisely when it can tell that a cluster is not. Nor do ``warnings`` (InfluxDB past
    80 % of a cardinality limit).
    """
    report = {"database": database_status(), "redis": redis_status(), "influxdb": influxdb_status()}
    ok = all(part["status"] == "ok" for part in report.values())
    if report["influxdb"].get("warnings"):
        # Near a cardinality limit: still healthy (nothing is refused yet), but said at the top.
        report["warnings"] = [f"influxdb: {warning}" for warning in report["influxdb"]["warnings"]]
    report["cluster"] = cluster_status()
    collection = collection_status()
    if collection:
        report["collection"] = collection  # informative, like the cluster: a lost shard is retried
    return ok, report
