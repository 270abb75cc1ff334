"""``GET /api/allocation`` field by field against a small cluster computed by hand.

Two hours from ``h0``, samples every 15 s, each standing for the 15 s before it:

- alpha-dev/web-7d4b9c8f5-x2x7q (Deployment web, node-1): CPU 50m for the first hour, 300m for
  the second, request 100m; working set 1 GiB then 256 MiB, request 512 MiB.
- alpha-prod/trainer-0 (StatefulSet trainer, gpu-1), the first hour only: CPU 1000m under a
  1000m request, working set 1 GiB under 512 MiB, two NVIDIA H100 at 50 % utilisation.
- beta-web/site (no controller, node-1): CPU 200m, request 100m; working set 256 MiB, request
  512 MiB. Tenant beta is billed on usage.
- lab-x/tool (DaemonSet agent, node-1), owned by no tenant: CPU 100m = request; 128 MiB = request.
- node-1: 4 cores, 16 GiB; gpu-1: 8 cores, 32 GiB, 8 GPUs.

Alpha's basis is max(request, usage) per sample: web is charged 0.1 core for the first hour and
0.3 for the second (0.4 core-hours), 1 GiB then 0.5 GiB (1.5 GiB-hours).
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from billing.models import PriceList
from kubemon.cluster import record_inventory
from kubemon.redis import get_redis
from kubemon.timeseries import Point
from kubemon.timeseries.schema import GIB, GPU, INTEGRAL_FIELDS, NODE, POD
from metrics.window import format_time
from tests.support.base import CONTAINER, BaseTestCase, container_fields, epoch, hours_ago, uses_store, write

H100 = "NVIDIA H100 80GB HBM3"
MIB = 2**20
WEB = "web-7d4b9c8f5-x2x7q"


def sample(namespace, pod, t, cpu, working_set, request_cpu, request_memory, node, gpus=0):
    fields = container_fields(cpu, working_set / 0.9, interval=15.0, request_millicores=request_cpu,
                              request_memory=request_memory, gpus=gpus)
    fields["memory_allocated_byte_seconds"] = max(request_memory, fields["memory_working_set_bytes"]) * 15.0
    tags = {"namespace": namespace, "pod_name": pod, "container_name": "main", "node_name": node}
    return Point(CONTAINER, tags, fields, t)


def gpu_sample(gpu, t, namespace, pod):
    fields = {"utilization_percent": 50.0, "memory_used_bytes": 1e9, "power_watts": 300.0,
              "memory_total_bytes": 8e10, "temperature_celsius": 50.0, "interval_seconds": 15.0}
    for name in INTEGRAL_FIELDS[GPU]:
        fields[name + "_integral"] = fields[name] * 15.0
    tags = {"node_name": "gpu-1", "gpu": str(gpu), "uuid": f"GPU-{gpu}", "model_name": H100,
            "namespace": namespace, "pod_name": pod, "container_name": "main"}
    return Point(GPU, tags, fields, t)


def node_point(node, t, millicores, memory, gpus):
    return Point(NODE, {"node_name": node}, {
        "cpu_usage_nanocores": 1e9, "cpu_usage_nanocores_integral": 15e9, "interval_seconds": 15.0,
        "allocatable_millicpu_cores": millicores, "allocatable_memory_bytes": memory,
        "allocatable_gpu": float(gpus)}, t)


def pod_point(namespace, pod, node, t, owner_kind, owner_name):
    return Point(POD, {"namespace": namespace, "pod_name": pod, "node_name": node},
                 {"phase": "Running", "state": "running", "owner_kind": owner_kind, "owner_name": owner_name}, t)


def small_cluster(h0):
    t0 = epoch(h0)
    points = []
    for i in range(1, 481):
        t = t0 + i * 15
        first_hour = i <= 240
        points.append(sample("alpha-dev", WEB, t, 50.0 if first_hour else 300.0, GIB if first_hour else 256 * MIB,
                             100.0, 512 * MIB, "node-1"))
        points.append(sample("beta-web", "site", t, 200.0, 256 * MIB, 100.0, 512 * MIB, "node-1"))
        points.append(sample("lab-x", "tool", t, 100.0, 128 * MIB, 100.0, 128 * MIB, "node-1"))
        if first_hour:
            points.append(sample("alpha-prod", "trainer-0", t, 1000.0, GIB, 1000.0, 512 * MIB, "gpu-1", gpus=2))
            points += [gpu_sample(g, t, "alpha-prod", "trainer-0") for g in (0, 1)]
        # Node samples from h0 on: node capacity counts the whole samples inside the window.
        points.append(node_point("node-1", t - 15, 4000, 16 * GIB, 0))
        points.append(node_point("gpu-1", t - 15, 8000, 32 * GIB, 8))
        if i % 2 == 0:
            points.append(pod_point("alpha-dev", WEB, "node-1", t, "ReplicaSet", "web-7d4b9c8f5"))
            points.append(pod_point("beta-web", "site", "node-1", t, "", ""))
            points.append(pod_point("lab-x", "tool", "node-1", t, "DaemonSet", "agent"))
            if first_hour:
                points.append(pod_point("alpha-prod", "trainer-0", "gpu-1", t, "StatefulSet", "trainer"))
    write(points)


class AllocationCase(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.h0 = hours_ago(5)
        self.h2 = self.h0 + timedelta(hours=2)
        small_cluster(self.h0)

    def window(self):
        return f"{format_time(self.h0)},{format_time(self.h2)}"

    def get(self, who="global", **params):
        params.setdefault("window", self.window())
        headers = self.headers(who) if who else {}
        return self.client.get("/api/allocation", params, **headers)

    def sets(self, who="global", **params):
        response = self.get(who, **params)
        self.assertEqual(response.status_code, 200, response.content[:300])
        body = response.json()
        self.assertEqual(body["code"], 200)
        return body["data"]


@uses_store
class AllocationFieldTests(AllocationCase):
    def test_a_namespace_row_has_every_opencost_field_computed_by_hand(self):
        [data] = self.sets(aggregate="namespace")
        web = data["alpha-dev"]
        approx = pytest.approx
        self.assertEqual(web["name"], "alpha-dev")
        self.assertEqual(web["properties"], {"cluster": "cluster-one", "namespace": "alpha-dev", "tenant": "alpha"})
        self.assertEqual(web["window"], {"start": format_time(self.h0), "end": format_time(self.h2)})
        self.assertEqual((web["start"], web["end"]), (format_time(self.h0), format_time(self.h2)))
        self.assertEqual(web["minutes"], 120.0)
        self.assertEqual(web["cpuCoreHours"], approx(0.4, abs=1e-5))
        self.assertEqual(web["cpuCores"], approx(0.2, abs=1e-5))
        self.assertEqual(web["cpuCoreRequestAverage"], approx(0.1, abs=1e-5))
        self.assertEqual(web["cpuCoreUsageAverage"], approx(0.175, abs=1e-5))
        self.assertEqual(web["cpuEfficiency"], approx(1.75, abs=1e-5))
        self.assertEqual(web["ramByteHours"], approx(1.5 * GIB, rel=1e-9))
        self.assertEqual(web["ramBytes"], approx(0.75 * GIB, rel=1e-9))
        self.assertEqual(web["ramByteRequestAverage"], approx(0.5 * GIB, rel=1e-9))
        self.assertEqual(web["ramByteUsageAverage"], approx(0.625 * GIB, rel=1e-9))
        self.assertEqual(web["ramEfficiency"], approx(1.25, abs=1e-5))
        self.assertEqual((web["gpuHours"], web["gpuCount"], web["gpuCost"]), (0.0, 0.0, 0.0))
        # Root filesystems: 1 MB used for 2 hours.
        self.assertEqual(web["pvByteHours"], approx(2e6, rel=1e-6))

    def test_gpu_hours_are_requested_gpus_times_time_and_utilisation_is_their_efficiency(self):
        [data] = self.sets(aggregate="namespace")
        trainer = data["alpha-prod"]
        self.assertEqual(trainer["gpuHours"], pytest.approx(2.0, abs=1e-5))
        self.assertEqual(trainer["gpuCount"], pytest.approx(1.0, abs=1e-5))  # 2 GPUs for half the window
        self.assertEqual(trainer["gpuEfficiency"], pytest.approx(0.5, abs=1e-5))
        self.assertEqual(trainer["cpuCoreHours"], pytest.approx(1.0, abs=1e-5))
        self.assertEqual(trainer["ramByteHours"], pytest.approx(1.0 * GIB, rel=1e-9))  # max(512 MiB, 1 GiB) x 1 h

    def test_each_tenant_is_charged_on_its_own_basis(self):
        [data] = self.sets(aggregate="namespace")
        site = data["beta-web"]  # beta: usage
        self.assertEqual(site["cpuCoreHours"], pytest.approx(0.4, abs=1e-5))
        self.assertEqual(site["ramByteHours"], pytest.approx(0.5 * GIB, rel=1e-9))
        self.assertEqual(site["cpuEfficiency"], pytest.approx(2.0, abs=1e-5))

    def test_aggregate_by_tenant_sums_namespaces_and_the_unowned_are_unallocated(self):
        [data] = self.sets(aggregate="tenant")
        self.assertEqual(set(data), {"alpha", "beta", "__unallocated__"})
        self.assertEqual(data["alpha"]["cpuCoreHours"], pytest.approx(1.4, abs=1e-5))
        self.assertEqual(data["alpha"]["properties"], {"cluster": "cluster-one", "tenant": "alpha"})
        self.assertEqual(data["__unallocated__"]["cpuCoreHours"], pytest.approx(0.2, abs=1e-5))
        self.assertEqual(data["__unallocated__"]["properties"]["namespace"], "lab-x")

    def test_controllers_and_kinds_come_from_the_owner_references(self):
        [data] = self.sets(aggregate="controller")
        self.assertEqual(set(data), {"deployment:web", "statefulset:trainer", "daemonset:agent", "__unallocated__"})
        self.assertEqual(data["deployment:web"]["properties"]["controllerKind"], "deployment")
        # Rows are per controller (the controller tier has no pods): the pod without one is beta-web's.
        self.assertEqual(data["__unallocated__"]["properties"], {"cluster": "cluster-one", "namespace": "beta-web",
                                                                 "tenant": "beta"})
        [kinds] = self.sets(aggregate="namespace,controllerKind")
        self.assertEqual(set(kinds), {"alpha-dev/deployment", "alpha-prod/statefulset", "lab-x/daemonset",
                                      "beta-web/__unallocated__"})

    def test_aggregate_by_pod_and_node_names_rows_as_opencost_does(self):
        [pods] = self.sets(aggregate="namespace,pod")
        self.assertEqual(set(pods), {f"alpha-dev/{WEB}", "alpha-prod/trainer-0", "beta-web/site", "lab-x/tool"})
        self.assertEqual(pods[f"alpha-dev/{WEB}"]["properties"]["node"], "node-1")
        [nodes] = self.sets(aggregate="node")
        self.assertEqual(set(nodes), {"node-1", "gpu-1"})
        # node-1: web 0.4 (max) + site 0.4 (usage) + tool 0.2 (max).
        self.assertEqual(nodes["node-1"]["cpuCoreHours"], pytest.approx(1.0, abs=1e-5))
        [default] = self.sets()
        self.assertIn(f"cluster-one/node-1/alpha-dev/{WEB}", default)

    def test_steps_give_one_set_per_hour_that_add_up_to_the_window(self):
        data = self.sets(aggregate="namespace", step="1h")
        self.assertEqual(len(data), 2)
        first, second = (d["alpha-dev"] for d in data)
        self.assertEqual(first["window"]["end"], format_time(self.h0 + timedelta(hours=1)))
        self.assertEqual(first["cpuCoreHours"], pytest.approx(0.1, abs=1e-5))
        self.assertEqual(second["cpuCoreHours"], pytest.approx(0.3, abs=1e-5))
        self.assertNotIn("alpha-prod", data[1])  # the trainer ran in the first hour only
        self.assertEqual(len(self.sets(aggregate="namespace", step="1h", accumulate="true")), 1)

    def test_idle_is_capacity_less_what_was_charged(self):
        [data] = self.sets(aggregate="namespace", includeIdle="true")
        idle = data["__idle__"]
        # 12 cores x 2 h less 0.4 + 1.0 + 0.4 + 0.2 core-hours charged.
        self.assertEqual(idle["cpuCoreHours"], pytest.approx(24 - 2.0, abs=1e-4))
        # 48 GiB x 2 h less 1.5 + 1 + 0.5 + 0.25 GiB-hours.
        self.assertEqual(idle["ramByteHours"], pytest.approx((96 - 3.25) * GIB, rel=1e-6))
        self.assertEqual(idle["gpuHours"], pytest.approx(16 - 2.0, abs=1e-4))
        self.assertEqual(idle["properties"], {"cluster": "cluster-one"})
        self.assertNotIn("__idle__", self.sets(aggregate="namespace")[0])

    def test_a_tenant_sees_only_its_namespaces_and_no_idle_row(self):
        [data] = self.sets("alpha", aggregate="namespace", includeIdle="true")
        self.assertEqual(set(data), {"alpha-dev", "alpha-prod"})
        [nodes] = self.sets("beta", aggregate="node")
        self.assertEqual(set(nodes), {"node-1"})
        self.assertEqual(nodes["node-1"]["cpuCoreHours"], pytest.approx(0.4, abs=1e-5))

    def test_a_foreign_namespace_filter_is_a_404_like_a_missing_one(self):
        foreign = self.get("alpha", filterNamespaces="beta-web")
        missing = self.get("alpha", filterNamespaces="nowhere")
        self.assertEqual((foreign.status_code, missing.status_code), (404, 404))
        [data] = self.sets("alpha", aggregate="namespace", filterNamespaces="alpha-dev")
        self.assertEqual(set(data), {"alpha-dev"})

    def test_opencosts_compute_route_gives_the_same_sets(self):
        params = {"window": self.window(), "aggregate": "namespace"}
        compute = self.client.get("/api/allocation/compute", params, **self.headers("global"))
        self.assertEqual(compute.json(), self.client.get("/api/allocation", params, **self.headers("global")).json())

    def test_a_web_session_uses_its_memberships(self):
        self.client.force_login(self.bob)
        response = self.client.get("/api/allocation", {"window": self.window(), "aggregate": "namespace"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(set(response.json()["data"][0]), {"beta-web"})


@uses_store
class AllocationErrorTests(AllocationCase):
    def test_every_bad_parameter_is_a_400_with_the_envelope(self):
        for params in ({"window": "forever"}, {"aggregate": "label:app"}, {"step": "0h"}, {"accumulate": "maybe"},
                       {"includeIdle": "perhaps"}, {"shareIdle": "2"}, {"filterNamespaces": "Not_A_Namespace"},
                       {"window": ""}):
            response = self.get(**params)
            self.assertEqual(response.status_code, 400, params)
            body = response.json()
            self.assertEqual(body["code"], 400)
            self.assertTrue(body["message"], params)

    def test_anonymous_and_wrong_credentials_are_refused(self):
        self.assertEqual(self.get(None).status_code, 401)
        response = self.client.get("/api/allocation", {"window": "1d"}, HTTP_X_USERNAME="alpha-api",
                                   HTTP_X_PASSWORD="wrong")
        self.assertEqual(response.status_code, 401)

    def test_post_is_the_wrong_method(self):
        response = self.client.post("/api/allocation", {}, **self.headers("global"))
        self.assertEqual(response.status_code, 405)


def D(text):
    return Decimal(text)


@uses_store
class AllocationCostTests(AllocationCase):
    """Costs from the price lists in force: the default list, and alpha's own from h0 + 1 h."""

    def setUp(self):
        super().setUp()
        self.default = PriceList.objects.create(
            name="standard", currency="EUR", effective_start=self.h0 - timedelta(days=400),
            cpu_core_hour="0.031", memory_gib_hour="0.004", gpu_hour="1.50", storage_gib_month="0.10",
            gpu_model_rates={H100: "4.10"})
        self.alpha_list = PriceList.objects.create(
            name="alpha negotiated", currency="EUR", tenant=self.alpha, effective_start=self.h0 + timedelta(hours=1),
            cpu_core_hour="0.05", memory_gib_hour="0.01", gpu_hour="2.00")

    def test_costs_are_quantities_times_the_rates_in_force_split_at_the_price_change(self):
        [data] = self.sets(aggregate="namespace")
        web, trainer, site = data["alpha-dev"], data["alpha-prod"], data["beta-web"]
        # web: 0.1 core-h at the default 0.031, then 0.3 at alpha's 0.05; 1 GiB-h at 0.004, then 0.5 at 0.01.
        cpu = D("0.1") * D("0.031") + D("0.3") * D("0.05")
        ram = D("1") * D("0.004") + D("0.5") * D("0.01")
        pv = D(1e6) / D(GIB) / D(730) * D("0.10")  # 1 MB of root filesystem, the first hour at the default rate
        self.assertEqual(web["cpuCost"], pytest.approx(float(cpu), abs=1e-5))
        self.assertEqual(web["ramCost"], pytest.approx(float(ram), abs=1e-5))
        self.assertEqual(web["pvCost"], pytest.approx(float(pv), abs=1e-5))
        self.assertEqual(web["totalCost"], pytest.approx(float(cpu + ram + pv), abs=1e-5))
        # totalEfficiency: CPU and RAM efficiencies weighted by their costs.
        self.assertEqual(web["totalEfficiency"], pytest.approx(float((D("1.75") * cpu + D("1.25") * ram) / (cpu + ram)),
                                                              abs=1e-5))
        # The trainer ran in the first hour only, at the default list: its H100s at their model's rate.
        self.assertEqual(trainer["gpuCost"], pytest.approx(2 * 4.10, abs=1e-5))
        self.assertEqual(trainer["cpuCost"], pytest.approx(0.031, abs=1e-5))
        # beta has no list of its own: the default all along, on its usage basis.
        self.assertEqual(site["cpuCost"], pytest.approx(0.4 * 0.031, abs=1e-5))
        self.assertEqual(site["ramCost"], pytest.approx(0.5 * 0.004, abs=1e-5))

    def test_idle_is_priced_at_the_default_list_and_shared_by_cost_weight(self):
        [plain] = self.sets(aggregate="namespace", includeIdle="true")
        idle = plain["__idle__"]
        self.assertEqual(idle["cpuCost"], pytest.approx(22 * 0.031, abs=1e-4))
        self.assertEqual(idle["ramCost"], pytest.approx(92.75 * 0.004, abs=1e-4))
        self.assertEqual(idle["gpuCost"], pytest.approx(14 * 1.50, abs=1e-4))
        [shared] = self.sets(aggregate="namespace", shareIdle="true")
        self.assertNotIn("__idle__", shared)
        total_cpu = sum(row["cpuCost"] for name, row in plain.items() if name != "__idle__")
        web = plain["alpha-dev"]
        self.assertEqual(shared["alpha-dev"]["cpuCost"],
                         pytest.approx(web["cpuCost"] + idle["cpuCost"] * web["cpuCost"] / total_cpu, abs=1e-4))
        # Nothing is lost or made up: the rows with idle shared cost what the rows and idle cost.
        self.assertEqual(sum(r["totalCost"] for r in shared.values()),
                         pytest.approx(sum(r["totalCost"] for r in plain.values()), abs=1e-3))

    def test_a_tenant_sharing_idle_takes_its_share_of_the_whole_cluster(self):
        [everyone] = self.sets(aggregate="namespace", shareIdle="true")
        [alpha] = self.sets("alpha", aggregate="namespace", shareIdle="true")
        self.assertEqual(set(alpha), {"alpha-dev", "alpha-prod"})
        for name in alpha:
            self.assertEqual(alpha[name]["totalCost"], pytest.approx(everyone[name]["totalCost"], abs=1e-5))

    def test_a_node_label_rule_prices_the_pods_on_those_nodes(self):
        record_inventory(get_redis(), {"gpu-1": {"labels": {"pool": "gpu"}}, "node-1": {"labels": {}}}, {})
        self.default.node_label_rates = [{"label": "pool", "value": "gpu", "cpu_core_hour": "0.20"}]
        self.default.save()
        [data] = self.sets(aggregate="namespace")
        self.assertEqual(data["alpha-prod"]["cpuCost"], pytest.approx(1.0 * 0.20, abs=1e-5))
        self.assertEqual(data["beta-web"]["cpuCost"], pytest.approx(0.4 * 0.031, abs=1e-5))
