"""A real fan host on mock pins (tests/fanhost/conftest.py) with the portal's settings pointed at it."""

import contextlib
import time

import orjson
import pytest
from django.test import override_settings

from kubemon import keys
from tests.fanhost.conftest import TOKEN, serve


@contextlib.contextmanager
def running_fan_host():
    server, host = serve(heartbeat_timeout=60)
    with override_settings(FAN_SERVER_URL=host.url, FAN_TOKEN=TOKEN, FAN_MAXTEMP=70.0, FAN_DWELL_SECONDS=60.0,
                           FAN_STALE_SECONDS=60.0, FAN_EXCLUDE_NODES="node-role.kubernetes.io/control-plane",
                           FAN_PROPORTIONAL=False, FAN_OVERRIDE_SECONDS=1800.0, FAN_TICK_SECONDS=5.0):
        yield host
    server.shutdown()
    server.server_close()
    host.controller.pins.close()


@pytest.fixture
def fan_host():
    with running_fan_host() as host:
        yield host


def set_temperatures(redis, now=None, **celsius):
    now = time.time() if now is None else now
    redis.hset(keys.TEMPERATURE_LATEST, mapping={
        f"{node}/cpu": orjson.dumps({"celsius": value, "time": now}) for node, value in celsius.items()})


def set_inventory(redis, **labels):
    redis.set(keys.INVENTORY_NODES, orjson.dumps({node: {"ready": True, "labels": value}
                                                  for node, value in labels.items()}))
