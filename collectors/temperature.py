"""Node temperatures pushed by agents (DESIGN §5) and scraped from node-exporter.

A push is validated, then queued in Redis (one RPUSH) and the node's latest value kept for the
live view and the fan; ``flush_temperatures`` writes the queue to InfluxDB in batches. Writing
to InfluxDB on every push would cap the endpoint at a few hundred requests a second.
"""

import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import requests
from prometheus_client.parser import text_string_to_metric_families

from kubemon import keys
from kubemon.timeseries import Point, get_store, to_line
from kubemon.timeseries.schema import TEMPERATURE

log = logging.getLogger(__name__)

QUEUE_KEY = keys.TEMPERATURE_QUEUE
NODE_EXPORTER_ANNOTATION = "kubemon.io/node-exporter-url"
LATEST_KEY = keys.TEMPERATURE_LATEST
KNOWN_NODES_KEY = keys.KNOWN_NODES
MIN_MILLIDEGREES = -50_000
MAX_MILLIDEGREES = 150_000
# A DNS-1123 subdomain: what Kubernetes accepts as a node name.
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SENSOR = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class TemperatureError(ValueError):
    """A push that must be refused; ``field`` names what was wrong."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def validate(node, value, sensor="cpu"):
    """``(node, millidegrees, sensor)`` or ``TemperatureError``."""
    if not node:
        raise TemperatureError("node", "node is required")
    if len(node) > 253 or not _DNS1123.match(node):
        raise TemperatureError("node", "node must be a valid Kubernetes node name (DNS-1123)")
    if value is None or value == "":
        raise TemperatureError("value", "value is required (integer millidegrees Celsius)")
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d{1,7}", text):
        raise TemperatureError("value", "value must be an integer number of millidegrees Celsius")
    millidegrees = int(text)
    if not MIN_MILLIDEGREES <= millidegrees <= MAX_MILLIDEGREES:
        raise TemperatureError("value", f"value must be between {MIN_MILLIDEGREES} and {MAX_MILLIDEGREES}")
    if not _SENSOR.match(sensor or ""):
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
    """Queue the sample and keep it as the node's latest; returns degrees Celsius."""
    now = time.time() if now is None else now
    celsius = millidegrees / 1000.0
    line = to_line(TEMPERATURE, {"node_name": node, "sensor": sensor, "source": source},
                   {"celsius": celsius}, int(now))
    pipe = redis.pipeline(transaction=False)
    pipe.rpush(QUEUE_KEY, line)
    pipe.hset(LATEST_KEY, f"{node}/{sensor}", orjson.dumps({"celsius": celsius, "time": now}))
    await pipe.execute()
    return celsius


def flush_temperatures(redis, store=None, batch=5000):
    """Write queued temperature lines to InfluxDB; returns how many were handed to the store.

    Lines are removed from the queue only after the store took them (written or spooled).
    """
    store = store or get_store()
    total = 0
    while True:
        lines = [line.decode() for line in redis.lrange(QUEUE_KEY, 0, batch - 1)]
        if not lines:
            return total
        store.write_lines(lines, policy="raw", precision="s")
        redis.ltrim(QUEUE_KEY, len(lines), -1)
        total += len(lines)


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


def node_exporter_points(text, node, timestamp):
    """``node_temperature`` points from node-exporter's hwmon and thermal-zone families."""
    points = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "node_hwmon_temp_celsius":
                sensor = f"{sample.labels.get('chip', '')}/{sample.labels.get('sensor', '')}"
            elif sample.name == "node_thermal_zone_temp":
                sensor = f"thermal_zone/{sample.labels.get('zone', '')}/{sample.labels.get('type', '')}"
            else:
                continue
            points.append(Point(TEMPERATURE, {"node_name": node, "sensor": sensor, "source": "node-exporter"},
                                {"celsius": float(sample.value)}, timestamp))
    return points


def node_exporter_urls(nodes):
    """``{node: url}`` from the ``kubemon.io/node-exporter-url`` node annotation."""
    urls = {}
    for node in nodes:
        metadata = node.get("metadata") or {}
        url = (metadata.get("annotations") or {}).get(NODE_EXPORTER_ANNOTATION)
        if url and metadata.get("name"):
            urls[metadata["name"]] = url
    return urls


def scrape_node_exporters(urls, timestamp, timeout=5.0, workers=16):
    """``(points, errors)``: every node's hwmon and thermal-zone temperatures."""
    def scrape(item):
        node, url = item
        try:
            response = requests.get(url, timeout=timeout)
            response.raise_for_status()
            return node_exporter_points(response.text, node, timestamp)
        except (requests.RequestException, ValueError) as exc:
            return f"node-exporter of {node} ({url}) failed: {exc}"

    points, errors = [], []
    if not urls:
        return points, errors
    with ThreadPoolExecutor(max_workers=min(workers, len(urls))) as pool:
        for result in pool.map(scrape, urls.items()):
            if isinstance(result, str):
                log.warning("%s", result)
                errors.append(result)
            else:
                points.extend(result)
    return points, errors


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
