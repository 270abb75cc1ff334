"""Allocation quantities (metrics/allocation.py) against a small cluster computed by hand.

Two hours of 15 s samples from ``h0``: a web pod whose CPU is 50m for the first hour and 300m
for the second under a 100m request, and whose working set is 1 GiB then 256 MiB under a
512 MiB request; a GPU trainer holding two H100s for the first hour at 50 % utilisation; a pod
holding one GPU on the same node that no exporter names; one on a node with no GPU samples at all.
"""

from datetime import timedelta

import pytest

from collectors.rollup import rollup_window
from kubemon.timeseries import Point
from kubemon.timeseries.schema import GIB, GPU, INTEGRAL_FIELDS, NODE
from metrics.allocation import UNKNOWN_MODEL, AllocationError, allocate, node_capacity, tenant_allocations
from metrics.selection import Selection
from metrics.window import Window
from tests.support.base import CONTAINER, BaseTestCase, container_fields, epoch, hours_ago, uses_store, write

H100 = "NVIDIA H100 80GB HBM3"
MIB = 2**20


def sample(namespace, pod, t, cpu, working_set, request_cpu=100.0, request_memory=512 * MIB, gpus=0,
           node="node-1", interval=15.0):
    """One container sample as the usage collector writes it (max(request, usage) per sample)."""
    fields = container_fields(cpu, working_set / 0.9, interval=interval, request_millicores=request_cpu,
                              request_memory=request_memory, gpus=gpus)
    fields["cpu_allocated_core_seconds"] = max(request_cpu, cpu) / 1000.0 * interval
    fields["memory_allocated_byte_seconds"] = max(request_memory, fields["memory_working_set_bytes"]) * interval
    tags = {"namespace": namespace, "pod_name": pod, "container_name": "main", "node_name": node}
    return Point(CONTAINER, tags, fields, t)


def gpu_sample(node, gpu, t, utilization, namespace="", pod="", model=H100, interval=15.0):
    fields = {"utilization_percent": float(utilization), "memory_used_bytes": 1e9, "power_watts": 300.0,
              "memory_total_bytes": 8e10, "temperature_celsius": 50.0, "interval_seconds": interval}
    for name in INTEGRAL_FIELDS[GPU]:
        fields[name + "_integral"] = fields[name] * interval
    tags = {"node_name": node, "gpu": str(gpu), "uuid": f"GPU-{node}-{gpu}", "model_name": model,
            "namespace": namespace, "pod_name": pod, "container_name": "main" if pod else ""}
    return Point(GPU, tags, fields, t)


def node_points(node, h0, count, millicores=4000, memory=16 * GIB, gpus=0):
    points = []
    for i in range(count):
        t = epoch(h0) + i * 15
        points.append(Point(NODE, {"node_name": node}, {"cpu_usage_nanocores": 1e9, "interval_seconds": 15.0,
                                                        "cpu_usage_nanocores_integral": 15e9}, t))
        if i % 2 == 0:
            points.append(Point(NODE, {"node_name": node}, {"allocatable_millicpu_cores": millicores,
                                                            "allocatable_memory_bytes": memory,
                                                            "allocatable_gpu": float(gpus)}, t))
    return points


class SmallCluster:
    """The data of the module docstring (tests/billing/test_statements.py prices it)."""

    def setUp(self):
        super().setUp()
        self.h0 = hours_ago(5)
        t0 = epoch(self.h0)
        points = []
        for i in range(1, 481):  # samples stand for (t - 15 s, t]: exactly [h0, h0 + 2 h)
            t = t0 + i * 15
            first_hour = i <= 240
            points.append(sample("alpha-dev", "web", t, 50.0 if first_hour else 300.0,
                                 GIB if first_hour else 256 * MIB))
            if first_hour:
                points.append(sample("alpha-prod", "trainer", t, 1000.0, GIB, request_cpu=1000.0, gpus=2,
                                     node="gpu-1"))
                points.append(sample("alpha-prod", "shy", t, 10.0, 64 * MIB, gpus=1, node="gpu-1"))
                points.append(sample("beta-web", "lonely", t, 10.0, 64 * MIB, gpus=1, node="node-2"))
                write([gpu_sample("gpu-1", g, t, 50.0, "alpha-prod", "trainer") for g in (0, 1)])
        write(points)
        write(node_points("node-1", self.h0, 480) + node_points("gpu-1", self.h0, 480, millicores=8000, gpus=8))
        self.window = Window(self.h0, self.h0 + timedelta(hours=2))


@uses_store
class AllocationTests(SmallCluster, BaseTestCase):

    def test_each_basis_gives_the_hand_computed_core_hours_and_gib_hours(self):
        web = allocate(self.window)[("alpha-dev",)]
        # usage: 1 h at 0.05 core + 1 h at 0.3 core; request: 2 h at 0.1; max per sample: 0.1 then 0.3.
        self.assertAlmostEqual(web.cpu_core_hours("usage"), 0.35, places=9)
        self.assertAlmostEqual(web.cpu_core_hours("request"), 0.2, places=9)
        self.assertAlmostEqual(web.cpu_core_hours("max"), 0.4, places=9)
        # Working set 1 GiB then 0.25 GiB, request 0.5 GiB: max per sample is 1 then 0.5.
        self.assertAlmostEqual(web.memory_gib_hours("usage"), 1.25, places=9)
        self.assertAlmostEqual(web.memory_gib_hours("request"), 1.0, places=9)
        self.assertAlmostEqual(web.memory_gib_hours("max"), 1.5, places=9)
        self.assertAlmostEqual(web.memory_byte_hours("max"), 1.5 * GIB, delta=1e-3)
        self.assertAlmostEqual(web.cpu_efficiency, 0.35 / 0.2, places=9)
        self.assertAlmostEqual(web.ram_efficiency, 1.25, places=9)
        self.assertAlmostEqual(web.cpu_core_request_average, 0.1, places=9)
        self.assertAlmostEqual(web.cpu_core_usage_average, 0.175, places=9)
        # Container-seconds count whole samples (no edge shares): the sample at h0 + 2 h is outside.
        self.assertAlmostEqual(web.container_seconds, 7185.0, places=6)
        self.assertEqual(web.minutes, 120.0)
        self.assertEqual(web.gpu_hours(), 0.0)
        self.assertIsNone(web.gpu_efficiency)

    def test_a_window_boundary_splits_the_sample_that_straddles_it(self):
        # The sample at h0 + 1 h + 15 s stands for (h0 + 1 h, h0 + 1 h + 15 s]; the window takes 10 s of it.
        window = Window(self.h0 + timedelta(hours=1, seconds=5), self.h0 + timedelta(hours=2))
        web = allocate(window)[("alpha-dev",)]
        self.assertAlmostEqual(web.cpu_usage_core_seconds, 0.3 * 3595, places=6)
        self.assertAlmostEqual(web.cpu_max_core_seconds, 0.3 * 3595, places=6)
        self.assertAlmostEqual(web.memory_request_byte_seconds, 512 * MIB * 3595, delta=1.0)
        before = allocate(Window(self.h0, self.h0 + timedelta(hours=1, seconds=5)))[("alpha-dev",)]
        self.assertAlmostEqual(before.cpu_max_core_seconds + web.cpu_max_core_seconds, 0.1 * 3600 + 0.3 * 3600,
                               places=6)

    def test_gpu_hours_go_to_the_pods_model_then_the_nodes_then_unknown(self):
        result = allocate(self.window, "pod")
        trainer = result[("alpha-prod", "trainer")]
        self.assertEqual(trainer.gpu_request_seconds.keys(), {H100})
        self.assertAlmostEqual(trainer.gpu_hours(H100), 2.0, places=9)
        self.assertAlmostEqual(trainer.gpu_used_hours(), 1.0, places=9)
        self.assertAlmostEqual(trainer.gpu_efficiency, 0.5, places=9)
        self.assertAlmostEqual(trainer.gpu_count, 1.0, places=9)  # 2 GPUs for half the window
        shy = result[("alpha-prod", "shy")]  # no GPU sample names it: its node's GPUs are H100s
        self.assertAlmostEqual(shy.gpu_hours(H100), 1.0, places=9)
        self.assertIsNone(shy.gpu_efficiency)
        lonely = result[("beta-web", "lonely")]
        self.assertEqual(lonely.gpu_request_seconds.keys(), {UNKNOWN_MODEL})
        self.assertAlmostEqual(lonely.gpu_hours(), 1.0, places=9)
        per_namespace = allocate(self.window)
        self.assertAlmostEqual(per_namespace[("alpha-prod",)].gpu_hours(H100), 3.0, places=9)

    def test_groupings_by_node_and_namespace_and_node(self):
        by_node = allocate(self.window, "node")
        self.assertAlmostEqual(by_node[("gpu-1",)].cpu_core_hours("max"), 1.0 + 0.1, places=9)
        self.assertAlmostEqual(by_node[("gpu-1",)].gpu_hours(), 3.0, places=9)
        self.assertAlmostEqual(by_node[("node-1",)].cpu_core_hours("usage"), 0.35, places=9)
        both = allocate(self.window, "namespace_node")
        self.assertAlmostEqual(both[("beta-web", "node-2")].gpu_hours(), 1.0, places=9)

    def test_a_selection_reads_only_its_namespaces(self):
        result = allocate(self.window, selection=Selection(namespaces=("beta-web",)))
        self.assertEqual(set(result), {("beta-web",)})
        self.assertEqual(allocate(self.window, selection=Selection(namespaces=())), {})

    def test_namespaces_sum_into_their_tenants_and_the_unowned_into_unallocated(self):
        per_namespace = allocate(self.window)
        tenants = tenant_allocations(per_namespace, {"alpha-dev": "alpha", "alpha-prod": "alpha"})
        self.assertEqual(set(tenants), {"alpha", "__unallocated__"})
        self.assertAlmostEqual(tenants["alpha"].cpu_core_hours("max"), 0.4 + 1.0 + 0.1, places=9)
        self.assertAlmostEqual(tenants["__unallocated__"].gpu_hours(), 1.0, places=9)

    def test_node_capacity_is_allocatable_times_the_observed_time(self):
        capacity = node_capacity(self.window)
        self.assertAlmostEqual(capacity["node-1"].seconds, 7200.0, places=6)
        self.assertAlmostEqual(capacity["node-1"].cpu_core_seconds, 4 * 7200.0, places=6)
        self.assertAlmostEqual(capacity["node-1"].memory_byte_seconds, 16 * GIB * 7200.0, delta=1.0)
        self.assertAlmostEqual(capacity["gpu-1"].gpu_seconds, 8 * 7200.0, places=6)

    def test_the_rollup_gives_the_raw_numbers(self):
        rollup_window(self.h0, self.h0 + timedelta(hours=2))
        for grouping in ("namespace", "pod", "node"):
            raw = allocate(self.window, grouping, use_rollup=False)
            rolled = allocate(self.window, grouping)
            self.assertEqual(set(raw), set(rolled), grouping)
            for key, a in raw.items():
                b = rolled[key]
                for name in ("cpu_usage_core_seconds", "cpu_request_core_seconds", "cpu_max_core_seconds",
                             "memory_usage_byte_seconds", "memory_max_byte_seconds", "storage_byte_seconds"):
                    self.assertEqual(getattr(a, name), pytest.approx(getattr(b, name), rel=1e-9), (grouping, key))
                self.assertEqual(a.gpu_request_seconds.keys(), b.gpu_request_seconds.keys())
        raw, rolled = node_capacity(self.window, use_rollup=False), node_capacity(self.window)
        self.assertEqual(rolled["gpu-1"].cpu_core_seconds, pytest.approx(raw["gpu-1"].cpu_core_seconds, rel=1e-9))
        self.assertEqual(rolled["gpu-1"].gpu_seconds, pytest.approx(8 * 7200.0, rel=1e-9))

    def test_an_unknown_basis_or_grouping_is_refused(self):
        with self.assertRaises(AllocationError):
            allocate(self.window, "cluster")
        with self.assertRaises(AllocationError):
            allocate(self.window)[("alpha-dev",)].cpu_core_hours("median")
