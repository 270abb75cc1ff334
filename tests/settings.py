"""Settings for the test suite: kubemon's own, with the test services as defaults.

PostgreSQL and Redis are the machine's (127.0.0.1, trust auth); InfluxDB is a throw-away
``influxd`` that tests/conftest.py starts and points ``INFLUXDB_URL`` at.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kubemon")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# Under pytest-xdist (`make test` runs two workers) each worker has a Redis database of its own,
# counted down from the configured one; the subprocesses a worker starts inherit the variable and
# must not move it again.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER.startswith("gw") and not os.environ.get("KUBEMON_TEST_WORKER_REDIS"):
    _base, _db = os.environ["REDIS_URL"].rsplit("/", 1)
    os.environ["REDIS_URL"] = f"{_base}/{int(_db) - 4 * int(_WORKER[2:])}"
    os.environ["KUBEMON_TEST_WORKER_REDIS"] = os.environ["REDIS_URL"]
os.environ.setdefault("SECRET_KEY", "kubemon-test-suite-secret-key-not-for-production")
# Nothing listens on the discard port: a test must ask for the `influxdb` fixture to reach InfluxDB
# (a subprocess the tests start, such as a Celery worker, is given the URL in this variable).
os.environ["INFLUXDB_URL"] = os.environ.get("KUBEMON_TEST_INFLUXDB_URL", "http://127.0.0.1:9")
os.environ.setdefault("INFLUXDB_DATABASE", "kubemon_test")
os.environ.setdefault("INFLUXDB_SPOOL_KEY", "kubemon:test:spool")
os.environ.setdefault("CHANNELS_PREFIX", "kubemon-test")
# The end-to-end suites read kubelet summaries through the simulator's node proxy, as they always
# have; tests/deploy/test_kubelet_direct.py reads each simulated kubelet directly (the default).
os.environ.setdefault("KUBELET_ACCESS", "proxy")

from kubemon.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing for test users
