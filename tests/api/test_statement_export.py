"""``GET /api/statements`` and ``/api/statements/<id>``: scoped lists, JSON, CSV and PDF (billing/exports.py).

Two kinds of statements: real ones (``billing.statements``) over the hand-computed cluster of
test_allocation_api.py, priced by a default list, alpha's issued by alice; and statements made
by hand in the database (no InfluxDB, so the scoping and format tests stay fast), whose lines
carry the awkward values: zeros, no request, a node-label rule, a long GPU model name, many lines.
"""

import csv
import io
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from billing import exports
from billing.models import PriceList, Statement, StatementLine
from billing.statements import draft, issue
from tests.api.test_allocation_api import H100, AllocationCase
from tests.support.base import BaseTestCase

WHEN_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")


class StatementCase(AllocationCase):
    def setUp(self):
        super().setUp()
        PriceList.objects.create(name="standard", currency="EUR", effective_start=self.h0 - timedelta(days=40),
                                 cpu_core_hour="0.031", memory_gib_hour="0.004", gpu_hour="1.50",
                                 storage_gib_month="0.10", gpu_model_rates={H100: "4.10"})
        self.issued = issue(draft(self.alpha, self.h0, self.h2), user=self.alice)
        self.beta_draft = draft(self.beta, self.h0, self.h2)
        self.operator = draft(None, self.h0, self.h2)

    def fetch(self, ref, who="alpha", accept=None, **params):
        headers = self.headers(who) if who else {}
        if accept:
            headers["HTTP_ACCEPT"] = accept
        return self.client.get(f"/api/statements/{ref}", params, **headers)


@pytest.mark.usefixtures("store")
class RealStatementExportTests(StatementCase):
    def test_json_has_the_lines_and_a_total_that_is_their_sum(self):
        response = self.fetch(self.issued.pk)
        self.assertEqual(response.status_code, 200)
        doc = response.json()["data"]
        self.assertEqual((doc["number"], doc["state"], doc["tenant"]), (self.issued.number, "issued", "alpha"))
        self.assertEqual(doc["issued_by"], "alice")
        self.assertEqual(len(doc["checksum"]), 64)
        self.assertIn("standard v1", doc["price_lists"])
        self.assertTrue(doc["lines"])
        self.assertEqual(sum(Decimal(line["cost"]) for line in doc["lines"]), Decimal(doc["total"]))
        gpu = [line for line in doc["lines"] if line["resource"] == "gpu"]
        self.assertEqual([(g["namespace"], g["gpu_model"], g["rate"]) for g in gpu],
                         [("alpha-prod", H100, "4.100000")])
        self.assertEqual(Decimal(gpu[0]["quantity"]), Decimal("2.000000"))
        self.assertEqual(Decimal(gpu[0]["cost"]), Decimal("8.20"))

    def test_csv_has_one_typed_row_per_line_with_the_documented_columns(self):
        response = self.fetch(self.issued.pk, format="csv")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertEqual(response["Content-Disposition"],
                         f'attachment; filename="statement-{self.issued.number.replace("/", "-")}.csv"')
        reader = csv.DictReader(io.StringIO(response.content.decode("utf-8")))
        self.assertEqual(tuple(reader.fieldnames), exports.COLUMNS)
        rows = list(reader)
        self.assertEqual(len(rows), self.issued.lines.count())
        for row in rows:
            for column in ("period_start", "period_end", "line_start", "line_end"):
                self.assertRegex(row[column], WHEN_RE)
            for column in ("quantity", "rate", "cost"):
                self.assertRegex(row[column], NUMBER_RE)
            for column in ("request_average", "usage_average", "efficiency"):
                self.assertRegex(row[column], r"^(|-?\d+\.\d+)$")
            self.assertEqual((row["statement"], row["tenant"], row["currency"]), (self.issued.number, "alpha", "EUR"))
            self.assertEqual(len(row["cost"].split(".")[1]), 2)
        self.assertEqual(rows[0]["period_start"], self.h0.strftime("%Y-%m-%d %H:%M:%S"))
        self.assertEqual(sum(Decimal(r["cost"]) for r in rows), self.issued.total)
        cpu = next(r for r in rows if r["namespace"] == "alpha-dev" and r["resource"] == "cpu")
        # web on max(request, usage): 0.1 core-h, then 0.3 (hand-computed in test_allocation_api.py).
        self.assertEqual((cpu["quantity"], cpu["unit"], cpu["rate"]), ("0.400000", "core-hours", "0.031000"))
        self.assertEqual(cpu["cost"], "0.01")  # 0.0124 rounded half-even to the cent

    def test_the_pdf_has_the_header_the_lines_and_the_total(self):
        response = self.fetch(self.issued.pk, format="pdf")
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertTrue(response.content.startswith(b"%PDF-"))
        self.assertEqual(exports.render(self.issued, "pdf"), response.content)  # the same bytes each time
        if shutil.which("pdftotext") is None:
            pytest.skip("pdftotext (poppler-utils) is not installed")
        with tempfile.TemporaryDirectory() as folder:
            pdf = Path(folder) / "statement.pdf"
            pdf.write_bytes(response.content)
            text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                                  check=True).stdout
            subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(pdf.with_suffix(""))],
                           check=True)
            png = next(Path(folder).glob("statement*.png"))
            self.assertGreater(png.stat().st_size, 5000)
        for expected in (f"Statement {self.issued.number}", "Alpha lab (alpha)", "standard v1", "alpha-dev",
                         "alpha-prod", "NVIDIA H100", f"{self.issued.total} EUR", self.issued.checksum[:20],
                         self.h0.strftime("%Y-%m-%d %H:%M:%S")):
            self.assertIn(expected, text)

    def test_the_allocation_api_and_the_statement_agree_line_by_line(self):
        [data] = self.sets(aggregate="namespace")
        fields = {"cpu": ("cpuCoreHours", "cpuCost", 1), "memory": ("ramByteHours", "ramCost", 2**30),
                  "gpu": ("gpuHours", "gpuCost", 1)}
        checked = 0
        for line in self.issued.lines.exclude(resource="storage"):
            quantity, money, scale = fields[line.resource]
            row = data[line.namespace]
            self.assertEqual(Decimal(repr(row[quantity] / scale)).quantize(Decimal("0.000001")), line.quantity)
            # The API reports quantity x rate unrounded; the statement rounds each line to the cent.
            self.assertLessEqual(abs(Decimal(repr(row[money])) - line.cost), Decimal("0.005"), line)
            checked += 1
        self.assertEqual(checked, 5)

    def test_a_draft_says_so_and_an_operator_statement_shows_idle_and_unallocated(self):
        response = self.fetch(self.operator.pk, who="global", format="csv")
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
        self.assertEqual({r["statement"] for r in rows}, {f"draft-{self.operator.pk}"})
        namespaces = {r["namespace"] for r in rows}
        self.assertIn("__unallocated__", {r["line_tenant"] for r in rows} | namespaces)
        self.assertIn("__idle__", namespaces)
        self.assertIn(b"DRAFT", subprocess.run(["pdftotext", "-", "-"], input=exports.render(self.operator, "pdf"),
                                               capture_output=True, check=True).stdout)


NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)


def hand_made(tenant, lines, issued_by=None, number=None, start=NOV, end=DEC):
    """A statement written straight into the database: ``lines`` are (namespace, resource, quantity,
    rate, cost[, extra fields]) tuples."""
    version = PriceList.objects.get(name="hand").current_version
    statement = Statement.objects.create(tenant=tenant, period_start=start, period_end=end, currency="EUR",
                                         basis="max", idle="keep", checksum="ab" * 32, price_lists="hand v1",
                                         total=sum((Decimal(x[4]) for x in lines), Decimal("0.00")))
    StatementLine.objects.bulk_create([
        StatementLine(statement=statement, position=n, tenant=tenant.slug if tenant else "", namespace=x[0],
                      resource=x[1], period_start=start, period_end=end, unit=exports_unit(x[1]),
                      quantity=Decimal(x[2]), rate=Decimal(x[3]), cost=Decimal(x[4]), price_list_version=version,
                      **(x[5] if len(x) > 5 else {}))
        for n, x in enumerate(lines, 1)])
    if number:
        statement.state, statement.number = Statement.State.ISSUED, number
        statement.issued_at, statement.issued_by = timezone.now(), issued_by
        statement.save()
    return statement


def exports_unit(resource):
    return {"cpu": "core-hours", "memory": "GiB-hours", "gpu": "GPU-hours", "storage": "GiB-months"}[resource]


class HandMadeStatementTests(BaseTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        PriceList.objects.create(name="hand", currency="EUR", effective_start=NOV - timedelta(days=400),
                                 cpu_core_hour="0.031")
        cls.issued = hand_made(cls.alpha, [
            ("alpha-dev", "cpu", "1234.5", "0.031", "38.27",
             {"request_average": Decimal("1.5"), "usage_average": Decimal("0.75"), "efficiency": Decimal("0.5")}),
            ("alpha-dev", "memory", "0", "0.004", "0.00"),
            ("alpha-prod", "gpu", "720", "4.1", "2952.00", {"gpu_model": H100, "node_label": "pool=gpu"}),
        ], issued_by=cls.alice, number="2026-11/alpha/1")
        cls.beta_draft = hand_made(cls.beta, [("beta-web", "cpu", "10", "0.031", "0.31")])
        cls.operator = hand_made(None, [("__idle__", "cpu", "100", "0.031", "3.10")])
        cls.correction = hand_made(cls.alpha, [("alpha-dev", "cpu", "1000", "0.031", "31.00")])
        cls.correction.corrects = cls.issued
        cls.correction.save()

    def fetch(self, ref, who="alpha", accept=None, **params):
        headers = self.headers(who) if who else {}
        if accept:
            headers["HTTP_ACCEPT"] = accept
        return self.client.get(f"/api/statements/{ref}", params, **headers)

    def ids(self, who, **params):
        response = self.client.get("/api/statements", params, **self.headers(who))
        self.assertEqual(response.status_code, 200, response.content[:200])
        return {row["id"] for row in response.json()["data"]}

    def test_each_credential_lists_what_its_scope_may_see(self):
        self.assertEqual(self.ids("alpha"), {self.issued.pk, self.correction.pk})
        self.assertEqual(self.ids("beta"), {self.beta_draft.pk})
        self.assertEqual(self.ids("global"), {self.issued.pk, self.beta_draft.pk, self.operator.pk, self.correction.pk})
        self.client.force_login(self.bob)
        self.assertEqual({r["id"] for r in self.client.get("/api/statements").json()["data"]}, {self.beta_draft.pk})

    def test_filters_by_tenant_state_and_month(self):
        self.assertEqual(self.ids("global", state="issued"), {self.issued.pk})
        self.assertEqual(self.ids("global", tenant="operator"), {self.operator.pk})
        self.assertEqual(self.ids("global", tenant="beta"), {self.beta_draft.pk})
        self.assertEqual(self.ids("alpha", tenant="beta"), set())
        self.assertEqual(self.ids("global", month="2026-11"), {self.issued.pk, self.beta_draft.pk, self.operator.pk,
                                                                 self.correction.pk})
        self.assertEqual(self.ids("global", month="2026-10"), set())
        for params in ({"state": "paid"}, {"month": "November"}):
            response = self.client.get("/api/statements", params, **self.headers("global"))
            self.assertEqual(response.status_code, 400, params)
            self.assertEqual(response.json()["code"], 400)

    def test_a_summary_says_what_a_billing_system_files(self):
        response = self.client.get("/api/statements", {"state": "issued"}, **self.headers("alpha"))
        [row] = response.json()["data"]
        self.assertEqual(row["number"], self.issued.number)
        self.assertEqual((row["state"], row["tenant"], row["currency"]), ("issued", "alpha", "EUR"))
        self.assertEqual(Decimal(row["total"]), self.issued.total)
        self.assertEqual(row["url"], f"/api/statements/{self.issued.pk}")


    def test_the_accept_header_chooses_the_format_when_no_format_is_given(self):
        self.assertTrue(self.fetch(self.issued.pk, accept="text/csv").content.startswith(b"statement,state,"))
        self.assertTrue(self.fetch(self.issued.pk, accept="application/pdf").content.startswith(b"%PDF-"))
        self.assertEqual(self.fetch(self.issued.pk, accept="*/*").json()["code"], 200)
        # ?format= wins over Accept.
        self.assertEqual(self.fetch(self.issued.pk, accept="text/csv", format="json").json()["code"], 200)

    def test_csv_values_open_in_a_spreadsheet_with_their_types(self):
        text = self.fetch(self.issued.pk, format="csv").content.decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual([r["quantity"] for r in rows], ["1234.500000", "0.000000", "720.000000"])
        self.assertEqual([r["cost"] for r in rows], ["38.27", "0.00", "2952.00"])  # no thousands separator
        self.assertEqual((rows[0]["request_average"], rows[0]["efficiency"]), ("1.500000", "0.500000"))
        self.assertEqual((rows[1]["request_average"], rows[1]["efficiency"]), ("", ""))  # none: an empty cell
        self.assertEqual((rows[2]["gpu_model"], rows[2]["node_label"]), (H100, "pool=gpu"))
        self.assertEqual((rows[0]["period_start"], rows[0]["period_end"]),
                         ("2026-11-01 00:00:00", "2026-12-01 00:00:00"))
        self.assertEqual(rows[0]["price_list"], "hand v1")
        self.assertNotIn("E-", text)
        self.assertTrue(text.endswith("\r\n"))

    def test_a_correction_points_at_what_it_corrects_and_back(self):
        doc = self.fetch(self.correction.pk).json()["data"]
        self.assertEqual((doc["corrects"], doc["corrects_number"], doc["state"]), (self.issued.pk, "2026-11/alpha/1",
                                                                                  "draft"))
        self.assertEqual(self.fetch(self.issued.pk).json()["data"]["corrected_by"], [self.correction.pk])

    def test_a_long_statement_runs_over_several_pdf_pages_with_the_total_at_the_end(self):
        lines = [(f"ns-{n:03d}", "cpu", "1", "0.031", "0.03") for n in range(120)]
        long = hand_made(self.alpha, lines, number="2026-11/alpha/2")
        pdf = self.fetch(long.pk, format="pdf").content
        pages = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
        self.assertGreaterEqual(int(re.search(r"Pages:\s+(\d+)", pages).group(1)), 3)
        last = subprocess.run(["pdftotext", "-f", "3", "-l", "99", "-", "-"], input=pdf, capture_output=True,
                              check=True).stdout.decode()
        self.assertIn("3.60 EUR", last)
        self.assertIn("Namespace", last)  # the column headers repeat on every page

    def test_another_tenants_statement_is_a_404_like_a_missing_one(self):
        for ref in (self.beta_draft.pk, self.operator.pk, 999999, "abc", "1/2", "١"):
            response = self.fetch(ref)
            self.assertEqual(response.status_code, 404, ref)
            self.assertEqual(response.json()["code"], 404)
        self.assertEqual(self.fetch(self.beta_draft.pk, who="beta").status_code, 200)
        self.assertEqual(self.fetch(self.operator.pk, who="global").status_code, 200)

    def test_a_bad_format_is_a_400_and_anonymous_callers_are_refused(self):
        response = self.fetch(self.issued.pk, format="xlsx")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["message"], "format: 'xlsx' is not one of json, csv, pdf")
        self.assertEqual(self.fetch(self.issued.pk, who=None).status_code, 401)
        self.assertEqual(self.client.get("/api/statements").status_code, 401)

    def test_the_api_refuses_to_alter_or_delete_a_statement(self):
        before = exports.render(self.issued, "json")
        for method in ("put", "patch", "delete", "post"):
            response = getattr(self.client, method)(f"/api/statements/{self.issued.pk}", {"total": "0"},
                                                    format="json", **self.headers("global"))
            self.assertEqual(response.status_code, 405, method)
        self.assertEqual(self.client.delete("/api/statements", **self.headers("global")).status_code, 405)
        self.assertEqual(exports.render(Statement.objects.get(pk=self.issued.pk), "json"), before)
