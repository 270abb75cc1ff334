"""The shared test base: two tenants, their people and credentials, and helpers that write metrics.

alice administers tenant ``alpha`` (namespaces alpha-dev and alpha-prod), bob views tenant
``beta`` (beta-web), charlie is staff. Each tenant has an API credential and there is one global
read-only credential; their plain secrets are kept on the class for the tests to send.

Metric helpers write points exactly as the collectors do (``kubemon.timeseries.schema``): one
raw point per container and sample with the per-sample integrals, and hourly rollup points in
the layout of the schema's comment.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import TestCase
from rest_framework.test import APIClient

from billing.models import ApiCredential, Membership, Tenant
from kubemon.timeseries import Point, get_store
from kubemon.timeseries.schema import INTEGRAL_FIELDS, SUMMED_FIELDS

CONTAINER = "kubernetes_pod_container"


def hours_ago(hours, now=None):
    """A whole hour ``hours`` before now (UTC), so windows line up with the rollup."""
    now = now or datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)


def epoch(moment):
    return int(moment.timestamp())


def container_fields(cpu_millicores, memory_bytes, interval=15.0, request_millicores=100.0,
                     request_memory=64 * 2**20, limit_millicores=500.0, limit_memory=256 * 2**20,
                     rss_bytes=None, gpus=0, page_faults=0):
    """The fields of one container sample as the usage collector writes them."""
    rss = memory_bytes * 0.75 if rss_bytes is None else rss_bytes
    fields = {
        "cpu_usage_nanocores": cpu_millicores * 1e6,
        "cpu_core_seconds": cpu_millicores / 1000.0 * interval,
        "memory_usage_bytes": float(memory_bytes),
        "memory_working_set_bytes": memory_bytes * 0.9,
        "memory_rss_bytes": float(rss),
        "memory_page_faults": page_faults,
        "memory_major_page_faults": page_faults // 10,
        "rootfs_used_bytes": 1e6,
        "rootfs_capacity_bytes": 1e9,
        "rootfs_available_bytes": 9.99e8,
        "logs_used_bytes": 1e5,
        "interval_seconds": float(interval),
        "resource_requests_millicpu_units": float(request_millicores),
        "resource_requests_memory_bytes": float(request_memory),
        "resource_limits_millicpu_units": float(limit_millicores),
        "resource_limits_memory_bytes": float(limit_memory),
        "resource_requests_gpu": float(gpus),
        "restarts_total": 0,
    }
    for name in INTEGRAL_FIELDS[CONTAINER]:
        fields[name + "_integral"] = fields[name] * interval
    fields["cpu_allocated_core_seconds"] = max(request_millicores, cpu_millicores) / 1000.0 * interval
    fields["memory_allocated_byte_seconds"] = max(request_memory, memory_bytes) * interval
    return fields


def container_series(namespace, pod, container, start, count, interval=15, cpu=100.0, memory=2**27,
                     node="node-1", **extra):
    """``count`` samples from ``start`` (datetime), every ``interval`` seconds.

    ``cpu`` and ``memory`` may be numbers or functions of the sample index.
    """
    points = []
    for i in range(count):
        cpu_i = cpu(i) if callable(cpu) else cpu
        memory_i = memory(i) if callable(memory) else memory
        tags = {"namespace": namespace, "pod_name": pod, "container_name": container, "node_name": node}
        fields = container_fields(cpu_i, memory_i, interval=interval, page_faults=100 * i, **extra)
        points.append(Point(CONTAINER, tags, fields, epoch(start) + i * interval))
    return points


def hourly_container_point(namespace, pod, container, hour, samples, interval, cpu, memory, node="node-1"):
    """One hourly rollup point of a container whose samples all had the same values."""
    raw = container_fields(cpu, memory, interval=interval)
    fields = {}
    for name in INTEGRAL_FIELDS[CONTAINER]:
        fields[name + "_integral"] = raw[name + "_integral"] * samples
        fields[name + "_sum"] = raw[name] * samples
        fields[name + "_max"] = raw[name]
        fields[name + "_samples"] = samples
    for name in SUMMED_FIELDS[CONTAINER]:
        if name in raw:  # (the coverage fields are written only for gaps)
            fields[name] = raw[name] * samples
    fields["interval_seconds"] = float(interval * samples)
    tags = {"namespace": namespace, "pod_name": pod, "container_name": container, "node_name": node}
    return Point(CONTAINER, tags, fields, epoch(hour))


def network_series(namespace, pod, start, count, interval=15, rx_per_second=1000.0, node="node-1", reset_at=None):
    """Cumulative network counters growing at a steady rate; optionally reset to zero at sample ``reset_at``."""
    points = []
    base = 0
    for i in range(count):
        if reset_at is not None and i == reset_at:
            base = -i
        ticks = i + base
        fields = {
            "rx_bytes": int(rx_per_second * interval * ticks),
            "tx_bytes": int(rx_per_second * interval * ticks / 2),
            "rx_errors": ticks,
            "tx_errors": 0,
            "interval_seconds": float(interval),
        }
        points.append(Point("kubernetes_pod_network", {"namespace": namespace, "pod_name": pod, "node_name": node},
                            fields, epoch(start) + i * interval))
    return points


def write(points, policy="raw"):
    report = get_store().write(points, policy=policy, precision="s")
    assert report.written == len(points), report
    return report


class BaseTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        User = get_user_model()
        cls.alpha = Tenant.objects.create(name="Alpha lab", slug="alpha")
        cls.beta = Tenant.objects.create(name="Beta team", slug="beta", allocation_basis=Tenant.Basis.USAGE)
        cls.alpha.assign("alpha-dev")
        cls.alpha.assign("alpha-prod")
        cls.beta.assign("beta-web")

        cls.alice = User.objects.create_user("alice", "alice@example.org", "alice password")
        cls.bob = User.objects.create_user("bob", "bob@example.org", "bob password")
        cls.charlie = User.objects.create_user("charlie", "charlie@example.org", "charlie password", is_staff=True)
        Membership.objects.create(user=cls.alice, tenant=cls.alpha, role=Membership.Role.ADMIN)
        Membership.objects.create(user=cls.bob, tenant=cls.beta, role=Membership.Role.VIEWER)

        cls.alpha_credential, cls.alpha_secret = ApiCredential.generate("alpha-api", tenant=cls.alpha)
        cls.beta_credential, cls.beta_secret = ApiCredential.generate("beta-api", tenant=cls.beta)
        cls.global_credential, cls.global_secret = ApiCredential.generate("billing-system")

    def setUp(self):
        self.client = APIClient()

    def headers(self, who="alpha"):
        username, secret = {
            "alpha": ("alpha-api", self.alpha_secret),
            "beta": ("beta-api", self.beta_secret),
            "global": ("billing-system", self.global_secret),
        }[who]
        return {"HTTP_X_USERNAME": username, "HTTP_X_PASSWORD": secret}

    def post_metric(self, metric, body=None, who="alpha", raw_body=None, **extra):
        """POST like the legacy clients do: a JSON text body (``curl -d``)."""
        import json

        data = raw_body if raw_body is not None else json.dumps(body or {})
        headers = self.headers(who) if who else {}
        headers.update(extra)
        return self.client.generic("POST", f"/api/{metric}", data, content_type="application/json", **headers)


def assert_same_aggregates(test, fast, slow, label):
    """Two answers of ``metrics.engine.aggregate`` agree: the same groups, samples, and sums,
    integrals, maxima and means to 1e-9 (the order of float additions differs)."""
    import pytest

    test.assertEqual(set(fast), set(slow), label)
    test.assertTrue(fast, label)
    for key, a in fast.items():
        b = slow[key]
        test.assertEqual(a.samples, b.samples, (label, key))
        for attr in ("sum", "integral", "max", "mean"):
            x, y = getattr(a, attr), getattr(b, attr)
            test.assertEqual(x, y if x is None or y is None else pytest.approx(y, rel=1e-9), (label, key, attr))


def uses_store(cls):
    """Give a TestCase a fresh InfluxDB database and an empty Redis for each test."""
    return pytest.mark.usefixtures("store")(cls)


def uses_redis(cls):
    return pytest.mark.usefixtures("redis_db")(cls)
