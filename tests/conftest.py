"""Shared fixtures: a real InfluxDB for the whole session, a clean Redis database, helpers."""

import sys
from pathlib import Path

import pytest
from django.test import override_settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "deploy" / "local"))

from influxdb_server import InfluxServer  # noqa: E402

from tests.support.simulator import make_simulator  # noqa: E402,F401  (a fixture for every suite)


@pytest.fixture(scope="session")
def influxdb_server():
    server = InfluxServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session", autouse=True)
def _influxdb_settings(influxdb_server):
    from kubemon.timeseries import reset_store

    with override_settings(INFLUXDB_URL=influxdb_server.url):
        reset_store()
        yield
    reset_store()


@pytest.fixture
def redis_db():
    """The test Redis database (15), emptied before and after each test that uses it."""
    from kubemon.redis import get_redis

    client = get_redis()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def store(redis_db):
    """The configured store on a freshly created database."""
    from kubemon.timeseries import get_store, reset_store

    reset_store()
    store = get_store()
    store.client.drop_database()
    store.ensure_database()
    yield store
    reset_store()


@pytest.fixture
def private_influxdb():
    """An InfluxDB of the test's own, which the test may stop and start."""
    server = InfluxServer().start()
    yield server
    server.cleanup()
