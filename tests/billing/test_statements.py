"""Statements against hand-computed figures: bases, price periods, GPU models, idle, corrections, immutability.

The cluster of tests/metrics/test_allocation.py over [h0, h0 + 2 h), plus a namespace nobody
owns. Rates: 2.50 a core-hour, 0.75 a GiB-hour, 1.50 a GPU-hour by default and 4.10 for an H100.
Alpha (basis max(request, usage)) owns alpha-dev and alpha-prod; beta (basis usage) beta-web.
"""

from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing.models import ImmutableStatement, PriceList, Statement, StatementLine
from billing.statements import IDLE, UNALLOCATED, Context, StatementError, correct, draft, issue, month_bounds
from billing.tasks import draft_last_month
from collectors.rollup import rollup_window
from tests.metrics.test_allocation import SmallCluster, sample
from tests.support.base import BaseTestCase, epoch, uses_store, write

MIB = 2**20
GIB = 2**30
D = Decimal


def money(value):
    return D(value).quantize(D("0.01"), rounding=ROUND_HALF_EVEN)


@uses_store
class StatementTests(SmallCluster, BaseTestCase):
    def setUp(self):
        super().setUp()
        t0 = epoch(self.h0)
        write([sample("orphan", "stray", t0 + i * 15, 200.0, 128 * MIB) for i in range(1, 241)])
        self.start, self.end = self.h0, self.h0 + timedelta(hours=2)
        self.prices = PriceList.objects.create(
            name="standard", currency="EUR", effective_start=self.h0 - timedelta(days=3), cpu_core_hour="2.50",
            memory_gib_hour="0.75", gpu_hour="1.50", gpu_model_rates={"NVIDIA H100 80GB HBM3": "4.10"})

    def lines(self, statement, **filters):
        return {(x.namespace, x.resource, x.gpu_model): x for x in statement.lines.filter(**filters)}

    def test_max_request_usage_lines_match_the_hand_computed_quantities_and_costs(self):
        statement = draft(self.alpha, self.start, self.end)
        lines = self.lines(statement)
        self.assertEqual(set(lines), {("alpha-dev", "cpu", ""), ("alpha-dev", "memory", ""),
                                      ("alpha-dev", "storage", ""), ("alpha-prod", "cpu", ""),
                                      ("alpha-prod", "memory", ""), ("alpha-prod", "storage", ""),
                                      ("alpha-prod", "gpu", "NVIDIA H100 80GB HBM3")})
        cpu = lines[("alpha-dev", "cpu", "")]
        # max per sample: 1 h at the 0.1-core request, then 1 h at 0.3 cores used.
        self.assertEqual((cpu.quantity, cpu.unit, cpu.rate, cpu.cost), (D("0.4"), "core-hours", D("2.5"), D("1.00")))
        self.assertEqual((cpu.request_average, cpu.usage_average, cpu.efficiency), (D("0.1"), D("0.175"), D("1.75")))
        memory = lines[("alpha-dev", "memory", "")]
        self.assertEqual((memory.quantity, memory.cost), (D("1.5"), D("1.12")))  # 1.125 rounds half-even
        gpu = lines[("alpha-prod", "gpu", "NVIDIA H100 80GB HBM3")]
        self.assertEqual((gpu.quantity, gpu.rate, gpu.cost), (D("3"), D("4.1"), D("12.30")))
        self.assertEqual(lines[("alpha-prod", "cpu", "")].cost, D("2.75"))  # 1 core-h + 0.1 core-h at the request
        self.assertEqual(statement.total, sum((x.cost for x in lines.values()), D(0)))
        self.assertEqual(statement.total, D("1.00") + D("1.12") + D("2.75") + D("1.12") + D("12.30"))
        self.assertEqual((statement.currency, statement.basis, statement.state), ("EUR", "max", "draft"))
        self.assertEqual(statement.price_lists, "standard v1")

    def test_a_usage_tenant_pays_for_use_and_an_unnamed_gpu_at_the_default_rate(self):
        lines = self.lines(draft(self.beta, self.start, self.end))
        self.assertEqual(lines[("beta-web", "cpu", "")].quantity, D("0.01"))  # 10m used for an hour
        gpu = lines[("beta-web", "gpu", "unknown")]
        self.assertEqual((gpu.quantity, gpu.rate, gpu.cost), (D("1"), D("1.5"), D("1.50")))

    def test_a_price_change_mid_period_splits_the_lines_at_the_change(self):
        change = self.h0 + timedelta(hours=1)
        self.prices.effective_end = change
        self.prices.save()
        PriceList.objects.create(name="raised", currency="EUR", effective_start=change, cpu_core_hour="3.00",
                                 memory_gib_hour="0.75", gpu_hour="1.50")
        statement = draft(self.alpha, self.start, self.end)
        cpu = [(x.period_start, x.period_end, x.quantity, x.rate, x.cost)
               for x in statement.lines.filter(namespace="alpha-dev", resource="cpu")]
        self.assertEqual(cpu, [(self.start, change, D("0.1"), D("2.5"), D("0.25")),
                               (change, self.end, D("0.3"), D("3"), D("0.90"))])
        gpu = statement.lines.get(resource="gpu")  # the GPUs were held in the first hour only
        self.assertEqual((gpu.period_end, gpu.rate), (change, D("4.1")))
        self.assertEqual(statement.price_lists, "standard v2, raised v1")

    def test_without_a_price_list_in_force_there_is_no_statement(self):
        with self.assertRaisesMessage(StatementError, "no price list in force"):
            draft(self.alpha, self.start - timedelta(days=5), self.end)
        self.assertFalse(Statement.objects.exists())

    def test_the_operator_keeps_idle_per_pool_and_sees_unowned_namespaces_as_unallocated(self):
        statement = draft(None, self.start, self.end, idle="keep")
        unallocated = self.lines(statement, namespace=UNALLOCATED)
        self.assertEqual(unallocated[(UNALLOCATED, "cpu", "")].quantity, D("0.2"))  # orphan: 0.2 core for 1 h
        idle = self.lines(statement, namespace=IDLE)
        # node-1: 4 cores × 2 h − 0.4 (alpha-dev) − 0.2 (orphan); gpu-1: 8 × 2 − 1.1 (alpha-prod).
        self.assertEqual(idle[(IDLE, "cpu", "")].quantity, D("22.3"))
        self.assertEqual(idle[(IDLE, "cpu", "")].node_label, "pool=cluster")
        self.assertEqual(idle[(IDLE, "memory", "")].quantity, D("60.5"))  # 2 × 32 GiB-h − 1.5 − 0.5 − 1.5
        self.assertEqual(idle[(IDLE, "gpu", "")].quantity, D("13"))  # 8 GPUs × 2 h − 3 held
        self.assertEqual(idle[(IDLE, "gpu", "")].cost, money(D(13) * D("1.5")))
        tenants = {x.tenant for x in statement.lines.all()}
        self.assertEqual(tenants, {"alpha", "beta", UNALLOCATED, ""})
        self.assertFalse(draft(self.alpha, self.start, self.end, idle="keep").lines.filter(namespace=IDLE).exists())

    def test_idle_is_what_is_left_after_each_tenant_was_charged_under_its_own_basis(self):
        # Beta (basis usage) runs a batch pod on node-1 for the first hour: 0.1 core used of a 0.5-core
        # request, 64 MiB of 512 MiB. Beta pays for 0.1 core-hours, so node-1's idle shrinks by 0.1,
        # not by the 0.5 that max(request, usage) would have charged.
        t0 = epoch(self.h0)
        write([sample("beta-web", "batch", t0 + i * 15, 100.0, 64 * MIB, request_cpu=500.0) for i in range(1, 241)])
        statement = draft(None, self.start, self.end, idle="keep")
        self.assertEqual(statement.lines.get(tenant="beta", resource="cpu").quantity, D("0.11"))
        idle = self.lines(statement, namespace=IDLE)
        self.assertEqual(idle[(IDLE, "cpu", "")].quantity, D("22.2"))
        self.assertEqual(idle[(IDLE, "memory", "")].quantity, D("60.4375"))  # 60.5 − 64 MiB for an hour

    def test_shared_idle_goes_to_tenants_by_the_weight_of_their_allocated_cost(self):
        statement = draft(self.alpha, self.start, self.end, idle="share")
        idle = self.lines(statement, namespace=IDLE)
        # CPU cost weights: alpha 1.5 core-h (max), beta 0.01 (usage); the unowned orphan is the operator's.
        expected = (D("22.3") * D("1.5") / D("1.51")).quantize(D("0.000001"), rounding=ROUND_HALF_EVEN)
        self.assertEqual(idle[(IDLE, "cpu", "")].quantity, expected)
        self.assertEqual(idle[(IDLE, "cpu", "")].cost, money(expected * D("2.5")))
        # GPU: alpha's 3 H100-hours at 4.10 against beta's one unknown at 1.50.
        weight = D("12.3") / D("13.8")
        self.assertEqual(idle[(IDLE, "gpu", "")].quantity,
                         (D(13) * weight).quantize(D("0.000001"), rounding=ROUND_HALF_EVEN))
        self.assertFalse(draft(None, self.start, self.end, idle="share").lines.filter(namespace=IDLE).exists())

    def test_issuing_freezes_the_statement_and_every_way_of_changing_it_is_refused(self):
        statement = issue(draft(self.alpha, self.start, self.end), self.alice)
        self.assertEqual((statement.state, statement.issued_by, len(statement.checksum)), ("issued", self.alice, 64))
        self.assertTrue(statement.number.endswith("/alpha/1"))
        line = statement.lines.first()
        frozen = (statement.total, list(statement.lines.values_list("cost", flat=True)))
        statement.total = D("0.01")
        for attempt in (statement.save, statement.delete, line.delete,
                        lambda: Statement.objects.filter(pk=statement.pk).update(total=0),
                        lambda: Statement.objects.filter(pk=statement.pk).delete(),
                        lambda: StatementLine.objects.filter(statement=statement).update(cost=0),
                        lambda: StatementLine.objects.filter(statement=statement).delete(),
                        lambda: StatementLine.objects.bulk_create([StatementLine(
                            statement=statement, position=99, namespace="x", resource="cpu", unit="core-hours",
                            period_start=self.start, period_end=self.end, quantity=1, rate=1, cost=1,
                            price_list_version=line.price_list_version)]),
                        lambda: issue(statement), lambda: draft(self.alpha, self.start, self.end) and issue(statement)):
            with self.subTest(attempt=attempt), self.assertRaises(ImmutableStatement):
                attempt()
        line.cost = D("0")
        with self.assertRaises(ImmutableStatement):
            line.save()
        fresh = Statement.objects.get(pk=statement.pk)
        self.assertEqual((fresh.total, list(fresh.lines.values_list("cost", flat=True))), frozen)
        with self.assertRaisesMessage(ValidationError, "priced statements"):  # nor is its price list deleted
            self.prices.delete()

    def test_a_correction_is_a_new_statement_that_references_the_one_it_corrects(self):
        original = issue(draft(self.alpha, self.start, self.end))
        # Late data: another hour of alpha-dev's web pod that the issued statement did not see.
        write([sample("alpha-dev", "late", epoch(self.h0) + i * 15, 1000.0, GIB, request_cpu=1000.0)
               for i in range(1, 241)])
        correction = correct(original)
        self.assertEqual((correction.corrects, correction.state), (original, "draft"))
        before, after = self.lines(original), self.lines(correction)
        self.assertEqual(after[("alpha-dev", "cpu", "")].quantity - before[("alpha-dev", "cpu", "")].quantity, D(1))
        self.assertEqual(after[("alpha-dev", "memory", "")].quantity, D("2.5"))  # 1.5 + 1 GiB-h
        self.assertEqual(correction.total - original.total, D("2.50") + (D("1.88") - D("1.12")))
        correction = issue(correction)
        self.assertTrue(correction.number.endswith("/alpha/2"))
        self.assertNotEqual(correction.checksum, original.checksum)
        self.assertEqual(Statement.objects.get(pk=original.pk).total, original.total)
        with self.assertRaises(StatementError):
            correct(draft(self.alpha, self.start, self.end))

    def test_raw_data_and_the_rollup_give_the_same_statement(self):
        rollup_window(self.start, self.end)
        raw = draft(self.alpha, self.start, self.end, ctx=Context(use_rollup=False), idle="share")
        raw_lines = list(raw.lines.values_list("namespace", "resource", "gpu_model", "quantity", "cost"))
        raw_checksum = raw.checksum
        rolled = draft(self.alpha, self.start, self.end, ctx=Context(use_rollup=True), idle="share")
        self.assertEqual(list(rolled.lines.values_list("namespace", "resource", "gpu_model", "quantity", "cost")),
                         raw_lines)
        self.assertEqual(rolled.checksum, raw_checksum)
        self.assertEqual(rolled.pk, raw.pk)  # the same draft, recomputed

    def test_the_beat_task_drafts_then_issues_once_and_a_rerun_changes_nothing(self):
        month = f"{self.h0:%Y-%m}"
        start, end = month_bounds(month)
        self.prices.effective_start = start - timedelta(days=1)
        self.prices.save()
        first = draft_last_month(tenant_ids=[self.alpha.pk, self.beta.pk], month=month, issue=True)
        self.assertEqual(len(first["issued"]), 2, first)
        again = draft_last_month(tenant_ids=[self.alpha.pk, self.beta.pk], month=month, issue=True)
        self.assertEqual((again["drafted"], sorted(again["skipped"])), ([], sorted([self.alpha.pk, self.beta.pk])))
        self.assertEqual(Statement.objects.filter(period_start=start, period_end=end).count(), 2)

    def test_an_issued_statement_has_a_number_at_the_database_too(self):
        statement = draft(self.alpha, self.start, self.end)
        with transaction.atomic(), self.assertRaises(IntegrityError):
            Statement.objects.filter(pk=statement.pk).update(state="issued")
