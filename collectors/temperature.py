"""Node temperatures: the flush of the agents' pushes, and node-exporter scrapes.

The push endpoint (``api/temperature.py``) validates a push and queues it in Redis through
``kubemon.temperatures``; ``flush_temperatures`` writes the queue to InfluxDB in batches.
Writing to InfluxDB on every push would cap the endpoint at a few hundred requests a second.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

import requests
from prometheus_client.parser import text_string_to_metric_families

from kubemon import keys
from kubemon.timeseries import Point, get_store
from kubemon.timeseries.schema import TEMPERATURE

log = logging.getLogger(__name__)

QUEUE_KEY = keys.TEMPERATURE_QUEUE
NODE_EXPORTER_ANNOTATION = "kubemon.io/node-exporter-url"
KNOWN_NODES_KEY = keys.KNOWN_NODES


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
