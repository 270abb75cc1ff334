"""``manage.py statement``: a tenant's statement on standard output or in a file, clear errors otherwise."""

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

from django.core.management import CommandError, call_command

from billing.models import PriceList, Statement
from tests.metrics.test_allocation import SmallCluster
from tests.support.base import BaseTestCase, uses_store


@uses_store
class StatementCommandTests(SmallCluster, BaseTestCase):
    def setUp(self):
        super().setUp()
        PriceList.objects.create(name="standard", currency="EUR", effective_start=self.h0 - timedelta(days=40),
                                 cpu_core_hour="2.50", memory_gib_hour="0.75", gpu_hour="1.50",
                                 gpu_model_rates={"NVIDIA H100 80GB HBM3": "4.10"})
        self.window = ["--start", self.h0.isoformat(), "--end", (self.h0 + timedelta(hours=2)).isoformat()]

    def run_command(self, *args):
        out = io.StringIO()
        call_command("statement", *args, stdout=out, stderr=io.StringIO())
        return out.getvalue()

    def test_it_prints_the_draft_as_json_and_csv_with_plain_decimals(self):
        doc = json.loads(self.run_command("--tenant", "alpha", *self.window))
        self.assertEqual((doc["state"], doc["currency"], doc["total"]), ("draft", "EUR", "18.29"))
        rows = list(csv.DictReader(io.StringIO(self.run_command("--tenant", "alpha", *self.window, "--format", "csv"))))
        cpu = next(r for r in rows if r["namespace"] == "alpha-dev" and r["resource"] == "cpu")
        self.assertEqual((cpu["quantity"], cpu["rate"], cpu["cost"], cpu["unit"]), ("0.400000", "2.500000", "1.00",
                                                                                     "core-hours"))
        self.assertEqual(sum(Decimal(r["cost"]) for r in rows), Decimal("18.29"))
        self.assertEqual(Statement.objects.filter(state="draft").count(), 1)  # recomputed in place

    def test_issue_writes_the_file_and_a_second_issue_is_refused(self):
        path = self.enterContext(__import__("tempfile").TemporaryDirectory()) + "/statement.json"
        self.run_command("--tenant", "alpha", *self.window, "--issue", "--output", path)
        with open(path) as handle:
            doc = json.load(handle)
        self.assertEqual(doc["state"], "issued")
        self.assertTrue(doc["number"].endswith("/alpha/1"))
        with self.assertRaisesMessage(CommandError, "already issued"):
            self.run_command("--tenant", "alpha", *self.window, "--issue")
        self.assertEqual(json.loads(self.run_command("--tenant", "alpha", *self.window))["number"], doc["number"])

    def test_bad_arguments_are_clear_errors(self):
        for args, message in ((["--tenant", "nobody", "--month", "2026-11"], "no tenant"),
                              (["--tenant", "alpha", "--month", "2026-13"], "not a month"),
                              (["--tenant", "alpha", "--month", "1999-01"], "no price list in force"),
                              (["--tenant", "alpha"], "give --month"),
                              (["--tenant", "alpha", "--start", "2026-11-02", "--end", "2026-11-01"], "after")):
            with self.subTest(args=args), self.assertRaisesMessage(CommandError, message):
                self.run_command(*args)
