"""The temperature queue and each node's latest temperature, shared through Redis.

The push endpoint (``api/temperature.py``) validates a push and queues it here (one RPUSH);
the collectors flush the queue into InfluxDB (``collectors.temperature``) and keep the hottest
scraped sensor of each node here too; the live snapshot and the fan read the latest values.
Every reader and writer meets in the keys of ``kubemon.keys``, so none imports another app.
"""

import re
import time

import orjson

from kubemon import keys
from kubemon.cluster import async_source_now
from kubemon.timeseries import to_line
from kubemon.timeseries.schema import TEMPERATURE

QUEUE_KEY = keys.TEMPERATURE_QUEUE
LATEST_KEY = keys.TEMPERATURE_LATEST
KNOWN_NODES_KEY = keys.KNOWN_NODES
MIN_MILLIDEGREES = -50_000
MAX_MILLIDEGREES = 150_000
# A DNS-1123 subdomain: what Kubernetes accepts as a node name. Both are fullmatch()ed: "$" would also
# match before a final newline, which line protocol cannot carry (a 500, found by tests/fuzz).
_DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SENSOR = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class TemperatureError(ValueError):
    """A push that must be refused; ``field`` names what was wrong."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def validate(node, value, sensor="cpu"):
    """``(node, millidegrees, sensor)`` or ``TemperatureError``."""
    if not node:
        raise TemperatureError("node", "node is required")
    if len(node) > 253 or not _DNS1123.fullmatch(node):
        raise TemperatureError("node", "node must be a valid Kubernetes node name (DNS-1123)")
    if value is None or value == "":
        raise TemperatureError("value", "value is required (integer millidegrees Celsius)")
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d{1,7}", text):
        raise TemperatureError("value", "value must be an integer number of millidegrees Celsius")
    millidegrees = int(text)
    if not MIN_MILLIDEGREES <= millidegrees <= MAX_MILLIDEGREES:
        raise TemperatureError("value", f"value must be between {MIN_MILLIDEGREES} and {MAX_MILLIDEGREES}")
    if not _SENSOR.fullmatch(sensor or ""):
        raise TemperatureError("sensor", "sensor must be 1-64 letters, digits, '_', '-' or '.'")
    return node, millidegrees, sensor


async def is_known_node(redis, node):
    """True when the inventory knows the node, or has not listed nodes yet (first start).

    ``redis`` is a ``redis.asyncio`` client: the push endpoint is an async view.
    """
    pipe = redis.pipeline(transaction=False)
    pipe.exists(KNOWN_NODES_KEY)
    pipe.sismember(KNOWN_NODES_KEY, node)
    listed, known = await pipe.execute()
    return not listed or bool(known)


async def record_push(redis, node, millidegrees, sensor="cpu", source="push", now=None):
    """Queue the sample and keep it as the node's latest; returns degrees Celsius.

    A push carries no time of its own: the point is stamped on the sources' clock, as the
    inventory's points are (``kubemon.cluster.source_now``), so that it lands on the same time line
    as the kubelet's CPU and memory when the cluster's clock is not the portal's (a simulated
    cluster, a skewed one). Its freshness (``LATEST_KEY``) is the portal's wall time: the fan and
    the live view ask how long ago the node was heard from.
    """
    now = time.time() if now is None else now
    stamp = await async_source_now(redis)
    celsius = millidegrees / 1000.0
    line = to_line(TEMPERATURE, {"node_name": node, "sensor": sensor, "source": source},
                   {"celsius": celsius}, stamp)
    pipe = redis.pipeline(transaction=False)
    pipe.rpush(QUEUE_KEY, line)
    pipe.hset(LATEST_KEY, f"{node}/{sensor}", orjson.dumps({"celsius": celsius, "time": now}))
    await pipe.execute()
    return celsius


def latest_temperatures(redis, max_age=120.0, now=None):
    """``{node: hottest celsius}`` of values younger than ``max_age`` seconds."""
    now = time.time() if now is None else now
    hottest = {}
    for key, raw in redis.hgetall(LATEST_KEY).items():
        node = key.decode().split("/", 1)[0]
        entry = orjson.loads(raw)
        if now - entry["time"] <= max_age:
            hottest[node] = max(hottest.get(node, -1000.0), entry["celsius"])
    return hottest


def remember_latest(redis, points, now=None):
    """Keep each node's hottest scraped sensor as its latest value (the live view and the fan read it)."""
    now = time.time() if now is None else now
    hottest = {}
    for point in points:
        node = point.tags["node_name"]
        hottest[node] = max(hottest.get(node, -1000.0), point.fields["celsius"])
    if hottest:
        redis.hset(LATEST_KEY, mapping={f"{node}/node-exporter": orjson.dumps({"celsius": c, "time": now})
                                        for node, c in hottest.items()})
