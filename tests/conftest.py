"""Shared fixtures. Services are opt-in: a test that needs InfluxDB asks for ``influxdb`` (or
``store``, which uses it), so the pure parser tests run in seconds without starting influxd.

Until a test asks for it, ``INFLUXDB_URL`` points at a closed port (tests/settings.py): a test
that reaches InfluxDB without saying so fails at once instead of passing by luck.
"""

import pytest
from django.test import override_settings

from deploy.local.influxdb_server import InfluxServer
from tests.support.simulator import make_simulator  # noqa: F401  (a fixture for every suite)
from tests.support.workers import proxy  # noqa: F401  (the worker-kill tests' InfluxDB proxy)


@pytest.fixture(scope="session")
def influxdb_server():
    server = InfluxServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def influxdb(influxdb_server):
    """The suite's throw-away InfluxDB, started on first use and shared by every test after it."""
    from kubemon.timeseries import reset_store

    with override_settings(INFLUXDB_URL=influxdb_server.url):
        reset_store()
        yield influxdb_server
    reset_store()


@pytest.fixture
def influxdb_down():
    """InfluxDB out of reach for this test, whatever ran before it: once a test has asked for
    ``influxdb``, its URL stays in the settings for the rest of the session (and of the worker)."""
    from kubemon.timeseries import reset_store

    with override_settings(INFLUXDB_URL="http://127.0.0.1:9", INFLUXDB_TIMEOUT=2):
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
def store(influxdb, redis_db):
    """The configured store on a freshly created database."""
    from kubemon.timeseries import get_store, reset_store

    reset_store()
    store = get_store()
    store.drop_database()
    store.ensure_database()
    yield store
    reset_store()


@pytest.fixture
def private_influxdb():
    """An InfluxDB of the test's own, which the test may stop and start."""
    server = InfluxServer().start()
    yield server
    server.cleanup()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``make test`` pytest-xdist runs two workers with ``--dist loadgroup``: a module's
    tests stay on one worker, so its module-scoped fixtures (a simulated day, a started Celery
    worker) are built once, and every browser test shares one worker and its package-scoped stack."""
    for item in items:
        path = item.path.relative_to(config.rootpath).as_posix()
        item.add_marker(pytest.mark.xdist_group("browser" if path.startswith("tests/browser/") else path))
