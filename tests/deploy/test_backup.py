"""Backup and restore as docs/install.md tells them, tried for real: ``influxd backup -portable``
of a database that the collectors keep writing to, restored into a fresh influxd; ``pg_dump`` of
the database with tenants, users and their namespaces, restored into a fresh database. The
restored copies hold the same points and rows."""

import subprocess
import threading
import time
from datetime import UTC, datetime

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import override_settings

from billing.models import Membership, NamespaceOwnership, Tenant
from collectors import cycles
from collectors.kube import KubeClient
from deploy.local.influxdb_server import InfluxServer
from simcluster import options_from_namespace, start

pytestmark = pytest.mark.slow
START = datetime.fromtimestamp(int(time.time()) - 3 * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
RESTORED_DB = "kubemon_d1_restored"


def _query(url, database, q):
    answer = requests.get(url + "/query", params={"db": database, "q": q}, timeout=30).json()
    return answer["results"][0].get("series") or []


def _point_counts(url, database, until_ns):
    """Points per retention policy and measurement up to ``until_ns``, by the count of one field."""
    counts = {}
    policies = [row[0] for s in _query(url, database, "SHOW RETENTION POLICIES") for row in s["values"]]
    for policy in policies:
        for series in _query(url, database, f'SHOW FIELD KEYS FROM "{policy}"./.*/'):
            field = series["values"][0][0]
            rows = _query(url, database, f'SELECT count("{field}") FROM "{policy}"."{series["name"]}" '
                                         f"WHERE time <= {until_ns}")
            counts[(policy, series["name"])] = rows[0]["values"][0][1] if rows else 0
    return counts


def _newest_ns(url, database):
    rows = _query(url, database, 'SELECT last("interval_seconds") FROM "raw"."kubernetes_pod_container"')
    return int(datetime.fromisoformat(rows[0]["values"][0][0].replace("Z", "+00:00")).timestamp() * 1e9)


class Demo(threading.Thread):
    """The collectors running against the simulator while the backup is taken."""

    def __init__(self, sim, kube, store, redis):
        super().__init__(daemon=True)
        self.sim, self.kube, self.store, self.redis = sim, kube, store, redis
        self.stop = threading.Event()
        self.cycles = 0

    def step(self):
        with self.sim.sim.lock:
            self.sim.sim.control({"action": "advance", "seconds": 15})
        if self.cycles % 2 == 0:
            assert cycles.run_inventory_cycle(kube=self.kube, store=self.store, redis=self.redis).ok
        assert cycles.run_usage_cycle(kube=self.kube, store=self.store, redis=self.redis).ok
        self.cycles += 1

    def run(self):
        while not self.stop.is_set():
            self.step()


def _tables(url):
    names = subprocess.run(["psql", url, "-At", "-c",
                            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"],
                           capture_output=True, text=True, check=True, timeout=60).stdout.split()
    counts = {}
    for name in names:
        counts[name] = int(subprocess.run(["psql", url, "-At", "-c", f'SELECT count(*) FROM "{name}"'],
                                          capture_output=True, text=True, check=True, timeout=60).stdout)
    return counts


def _database_url(name):
    db = django_settings.DATABASES["default"]
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


@pytest.mark.django_db(transaction=True)
def test_a_backup_taken_while_the_demo_runs_restores_the_same_points_and_rows(tmp_path, redis_db):
    if django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL")
    from kubemon.timeseries import get_store, reset_store

    source, target = InfluxServer().start(), InfluxServer().start()
    sim = start(options_from_namespace({"seed": 9, "nodes": 4, "pods": 40, "manual_clock": True, "quiet": True,
                                        "start": START}))
    demo = None
    try:
        with override_settings(INFLUXDB_URL=source.url, INFLUXDB_DATABASE="kubemon"):
            reset_store()
            store = get_store()
            store.ensure_database()
            kube = KubeClient.from_config(_kubeconfig(tmp_path, sim.url))
            demo = Demo(sim, kube, store, redis_db)
            for _ in range(12):
                demo.step()
            # PostgreSQL: what an operator has set up
            tenant = Tenant.objects.create(name="Alpha lab", slug="alpha")
            for i in range(3):
                user = User.objects.create_user(f"user{i}", password="a password")
                Membership.objects.create(user=user, tenant=tenant, role="viewer")
            NamespaceOwnership.objects.create(tenant=tenant, namespace="alpha-dev")

            # Points up to a minute before the newest sample are final: later cycles write later
            # samples, and the inventory's slots (floored to 30 s) never reach back that far.
            until = _newest_ns(source.url, "kubemon") - 60 * 10**9
            demo.start()  # the collectors keep writing while both backups are taken
            backup = tmp_path / "influxdb-backup"
            subprocess.run(["influxd", "backup", "-portable", "-database", "kubemon",
                            "-host", f"127.0.0.1:{source.rpc_port}", str(backup)],
                           check=True, capture_output=True, timeout=300)
            dump = tmp_path / "kubemon.dump"
            source_db = _database_url(django_settings.DATABASES["default"]["NAME"])
            subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), source_db], check=True,
                           capture_output=True, timeout=300)
            before = demo.cycles
            while demo.cycles < before + 2:
                time.sleep(0.2)
            demo.stop.set()
            demo.join(60)
            rows = _tables(source_db)  # nothing writes to PostgreSQL here: the dump's moment
            points = _point_counts(source.url, "kubemon", until)
    finally:
        if demo is not None:
            demo.stop.set()
        sim.stop()
        reset_store()

    try:
        subprocess.run(["influxd", "restore", "-portable", "-db", "kubemon",
                        "-host", f"127.0.0.1:{target.rpc_port}", str(backup)], check=True, capture_output=True,
                       timeout=300)
        # the restored shards open in the background: wait for them (bounded)
        deadline = time.monotonic() + 60
        restored_points = _point_counts(target.url, "kubemon", until)
        while restored_points != points and time.monotonic() < deadline:
            time.sleep(1)
            restored_points = _point_counts(target.url, "kubemon", until)
        newest_restored = _newest_ns(target.url, "kubemon")
    finally:
        source.cleanup()
        target.cleanup()
    assert points[("raw", "kubernetes_pod_container")] > 250 and points[("raw", "kubernetes_pod")] > 100
    assert restored_points == points
    assert newest_restored >= until

    admin = _database_url("postgres")
    subprocess.run(["psql", admin, "-q", "-c", f"DROP DATABASE IF EXISTS {RESTORED_DB}"], check=True,
                   capture_output=True, timeout=60)
    subprocess.run(["psql", admin, "-q", "-c", f"CREATE DATABASE {RESTORED_DB}"], check=True, capture_output=True,
                   timeout=60)
    try:
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", _database_url(RESTORED_DB),
                        str(dump)], check=True, capture_output=True, timeout=300)
        restored_rows = _tables(_database_url(RESTORED_DB))
    finally:
        subprocess.run(["psql", admin, "-q", "-c", f"DROP DATABASE IF EXISTS {RESTORED_DB} WITH (FORCE)"],
                       check=False, capture_output=True, timeout=60)
    assert rows["billing_tenant"] == 1 and rows["auth_user"] == 3 and rows["billing_membership"] == 3
    assert rows["django_migrations"] > 10
    assert restored_rows == rows


def _kubeconfig(tmp_path, url):
    from simcluster import kubeconfig

    path = tmp_path / "kubeconfig"
    kubeconfig.write(str(path), url)
    return str(path)

