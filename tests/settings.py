"""Settings for the test suite: kubemon's own, with the test services as defaults.

PostgreSQL and Redis are the machine's (127.0.0.1, trust auth); InfluxDB is a throw-away
``influxd`` that tests/conftest.py starts and points ``INFLUXDB_URL`` at.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kubemon")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("SECRET_KEY", "kubemon-test-suite-secret-key-not-for-production")
os.environ.setdefault("INFLUXDB_DATABASE", "kubemon_test")
os.environ.setdefault("INFLUXDB_SPOOL_KEY", "kubemon:test:spool")
os.environ.setdefault("CHANNELS_PREFIX", "kubemon-test")

from kubemon.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing for test users
