"""The billing pages: statements (list, current month, detail, downloads, daily costs, issue and
correct) and the cost breakdown, for alice (alpha's admin), bob (beta's viewer) and charlie (staff).

The data are the hand-computed cluster of tests/metrics/test_allocation.py over [h0, h0 + 2 h),
priced by one default list (tests/billing/test_statements.py's rates), so the pages' figures are
compared with the statements billing computes and with the hand-computed ones (docs/billing.md's
worked example: alpha's total is 18.29).
"""

import csv
import io
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client, TransactionTestCase, override_settings

from billing import exports
from billing.models import PriceList, Statement, StatementLine
from billing.statements import draft, issue, month_bounds
from tests.api.test_statement_export import NOV, hand_made
from tests.metrics.test_allocation import SmallCluster, sample
from tests.support.base import BaseTestCase, epoch, uses_store, write
from tests.web.test_csp import inline_code

D = Decimal
MIB = 2**20
H100 = "NVIDIA H100 80GB HBM3"


def total_shown(text):
    """The total a statement page shows ("18.29 EUR")."""
    return re.search(r'<dd id="statement-total">([^<]*)</dd>', text).group(1)


class PagesCase(BaseTestCase):
    def setUp(self):
        super().setUp()
        self.client = Client()

    def as_user(self, user):
        self.client.force_login(user)
        return self.client

    def text(self, response):
        self.assertEqual(response.status_code, 200, response.content[:500])
        return response.content.decode()


class HandMadeStatementsCase(PagesCase):
    """Statements written straight into the database (no InfluxDB: scoping and downloads stay fast)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        PriceList.objects.create(name="hand", currency="EUR", effective_start=NOV - timedelta(days=400),
                                 cpu_core_hour="2.50")
        cls.alpha_issued = hand_made(cls.alpha, [
            ("alpha-dev", "cpu", "0.4", "2.5", "1.00",
             {"request_average": D("0.1"), "usage_average": D("0.175"), "efficiency": D("1.75")}),
            ("alpha-dev", "memory", "1.5", "0.75", "1.12"),
            ("alpha-prod", "gpu", "3", "4.1", "12.30", {"gpu_model": H100}),
        ], issued_by=cls.alice, number="2026-11/alpha/1")
        cls.beta_draft = hand_made(cls.beta, [("beta-web", "cpu", "10", "2.5", "25.00")])
        cls.operator = hand_made(None, [("__idle__", "cpu", "100", "2.5", "250.00", {"node_label": "pool=cluster"}),
                                        ("__unallocated__", "cpu", "1", "2.5", "2.50"),
                                        ("beta-web", "cpu", "10", "2.5", "25.00")])


@uses_store
class ClusterCase(SmallCluster, PagesCase):
    """The hand-computed cluster, priced by the worked example's default list."""

    def setUp(self):
        super().setUp()
        t0 = epoch(self.h0)
        write([sample("orphan", "stray", t0 + i * 15, 200.0, 128 * MIB) for i in range(1, 241)])
        self.start, self.end = self.h0, self.h0 + timedelta(hours=2)
        PriceList.objects.create(name="standard", currency="EUR", effective_start=self.h0 - timedelta(days=40),
                                 cpu_core_hour="2.50", memory_gib_hour="0.75", gpu_hour="1.50",
                                 gpu_model_rates={H100: "4.10"})


class StatementPagesTests(HandMadeStatementsCase):
    def test_an_anonymous_visitor_is_sent_to_log_in(self):
        for path in ("/web/billing/statements/", f"/web/billing/statements/{self.alpha_issued.pk}/",
                     "/web/billing/statements/current/", "/web/billing/costs/"):
            response = self.client.get(path)
            self.assertEqual(response.status_code, 302, path)
            self.assertTrue(response["Location"].startswith("/web/login/?next="), path)
        self.assertEqual(self.client.get(f"/web/data/billing/statements/{self.alpha_issued.pk}/daily").status_code,
                         401)
        self.assertEqual(self.client.post(f"/web/billing/statements/{self.beta_draft.pk}/issue").status_code, 302)
        self.assertEqual(Statement.objects.get(pk=self.beta_draft.pk).state, "draft")

    def test_each_person_lists_only_the_statements_of_their_scope(self):
        rows = {}
        for user in (self.alice, self.bob, self.charlie):
            text = self.text(self.as_user(user).get("/web/billing/statements/"))
            rows[user.username] = {pk for pk in (self.alpha_issued.pk, self.beta_draft.pk, self.operator.pk)
                                   if f'data-statement="{pk}"' in text}
        self.assertEqual(rows["alice"], {self.alpha_issued.pk})
        self.assertEqual(rows["bob"], {self.beta_draft.pk})
        self.assertEqual(rows["charlie"], {self.alpha_issued.pk, self.beta_draft.pk, self.operator.pk})
        text = self.text(self.as_user(self.alice).get("/web/billing/statements/"))
        self.assertIn("2026-11/alpha/1", text)
        self.assertIn('<td class="num">14.42</td>', text)
        self.assertNotIn("beta-web", text)
        # Staff narrow the list to one tenant or the operator.
        text = self.text(self.as_user(self.charlie).get("/web/billing/statements/?tenant=operator"))
        self.assertIn(f'data-statement="{self.operator.pk}"', text)
        self.assertNotIn(f'data-statement="{self.alpha_issued.pk}"', text)
        text = self.text(self.client.get("/web/billing/statements/?tenant=beta"))
        self.assertEqual(text.count("data-statement="), 1)
        self.assertIn(f'data-statement="{self.beta_draft.pk}"', text)

    def test_a_foreign_statement_is_not_found_in_any_form(self):
        beta = self.beta_draft.pk
        client = self.as_user(self.alice)
        for path in (f"/web/billing/statements/{beta}/", f"/web/billing/statements/{self.operator.pk}/",
                     f"/web/billing/statements/{beta}/download.csv", f"/web/billing/statements/{beta}/download.pdf",
                     f"/web/billing/statements/{beta}/download.json", f"/web/data/billing/statements/{beta}/daily",
                     "/web/billing/statements/999999/", "/web/billing/statements/?tenant=beta",
                     "/web/billing/statements/current/?tenant=beta", "/web/billing/costs/?tenant=beta",
                     "/web/billing/costs/?namespace=beta-web", "/web/billing/costs/?namespace=orphan",
                     "/web/billing/costs/?tenant=nobody"):
            self.assertEqual(client.get(path).status_code, 404, path)
        self.assertEqual(client.post(f"/web/billing/statements/{beta}/issue").status_code, 404)
        self.assertEqual(self.as_user(self.bob).get(f"/web/billing/statements/{self.alpha_issued.pk}/").status_code,
                         404)
        self.assertEqual(self.as_user(self.charlie).get("/web/billing/costs/?tenant=nobody").status_code, 404)
        self.assertEqual(self.client.get("/web/billing/statements/?tenant=nobody").status_code, 404)

    def test_a_user_in_no_tenant_has_no_billing_pages(self):
        from django.contrib.auth import get_user_model

        dave = get_user_model().objects.create_user("dave", "dave@example.org", "dave password")
        client = self.as_user(dave)
        for path in ("/web/billing/statements/", "/web/billing/statements/current/", "/web/billing/costs/",
                     f"/web/billing/statements/{self.alpha_issued.pk}/"):
            self.assertEqual(client.get(path).status_code, 404, path)

    def test_the_detail_shows_the_lines_totals_and_what_the_statement_was_made_from(self):
        text = self.text(self.as_user(self.alice).get(f"/web/billing/statements/{self.alpha_issued.pk}/"))
        for expected in ("2026-11/alpha/1", "ab" * 32, "hand v1", "by alice", "Alpha lab (alpha)",
                         "2026-11-01 00:00 – 2026-12-01 00:00", "alpha-dev", "alpha-prod", H100, "14.42 EUR",
                         "core-hours", "GiB-hours", "GPU-hours",
                         "175 %",  # alpha-dev's CPU efficiency: 0.175 used / 0.1 requested
                         '<td class="num">0.4</td>', '<td class="num">0.175</td>', '<td class="num">12.30</td>',
                         '<td class="num" id="lines-total">14.42</td>'):
            self.assertIn(expected, text)
        for fmt in ("json", "csv", "pdf"):
            self.assertIn(f'href="/web/billing/statements/{self.alpha_issued.pk}/download.{fmt}"', text)
        self.assertNotIn('id="issue-statement"', text)  # a tenant admin neither issues nor corrects
        self.assertNotIn('id="correct-statement"', text)
        self.assertEqual(inline_code(text).problems, [])
        # Staff see the correction button on an issued statement, the issue button on an ended draft.
        text = self.text(self.as_user(self.charlie).get(f"/web/billing/statements/{self.alpha_issued.pk}/"))
        self.assertIn('id="correct-statement"', text)
        self.assertNotIn('id="issue-statement"', text)
        text = self.text(self.client.get(f"/web/billing/statements/{self.beta_draft.pk}/"))
        self.assertIn('id="issue-statement"', text)

    def test_the_operator_statement_shows_each_lines_tenant_unallocated_and_idle(self):
        text = self.text(self.as_user(self.charlie).get(f"/web/billing/statements/{self.operator.pk}/"))
        for expected in ("Operator (all tenants)", "__unallocated__", "__idle__", "pool=cluster",
                         "<th scope=\"col\">Tenant</th>", "277.50 EUR"):
            self.assertIn(expected, text)

    def test_tenant_users_cannot_issue_or_correct(self):
        for user, own in ((self.alice, self.alpha_issued), (self.bob, self.beta_draft)):
            client = self.as_user(user)
            with self.assertLogs("web.billing", "WARNING"):
                self.assertEqual(client.post(f"/web/billing/statements/{own.pk}/issue").status_code, 403)
            self.assertEqual(client.post(f"/web/billing/statements/{own.pk}/correct").status_code, 403)
        self.assertEqual(Statement.objects.get(pk=self.beta_draft.pk).state, "draft")
        self.assertFalse(Statement.objects.filter(corrects=self.alpha_issued).exists())
        self.assertEqual(self.as_user(self.charlie).get(f"/web/billing/statements/{self.beta_draft.pk}/issue")
                         .status_code, 405)

    def test_staff_actions_need_the_csrf_token(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.charlie)
        self.assertEqual(client.post(f"/web/billing/statements/{self.alpha_issued.pk}/correct").status_code, 403)
        self.assertFalse(Statement.objects.filter(corrects=self.alpha_issued).exists())
        token = client.get(f"/web/billing/statements/{self.beta_draft.pk}/").context["csrf_token"]
        # With the token the view answers: a draft is not corrected (it is recomputed), said on its page.
        response = client.post(f"/web/billing/statements/{self.beta_draft.pk}/correct",
                               {"csrfmiddlewaretoken": token}, follow=True)
        self.assertIn("Only an issued statement is corrected", self.text(response))

    def test_downloads_are_the_exporters_csv_json_and_pdf(self):
        client = self.as_user(self.alice)
        base = f"/web/billing/statements/{self.alpha_issued.pk}/download"
        response = client.get(base + ".csv")
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertEqual(response["Content-Disposition"], 'attachment; filename="statement-2026-11-alpha-1.csv"')
        self.assertEqual(response.content, exports.render(self.alpha_issued, "csv"))
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        self.assertEqual(tuple(rows[0]), exports.COLUMNS)
        self.assertEqual([(r["namespace"], r["resource"], r["gpu_model"], r["cost"]) for r in rows],
                         [("alpha-dev", "cpu", "", "1.00"), ("alpha-dev", "memory", "", "1.12"),
                          ("alpha-prod", "gpu", H100, "12.30")])
        response = client.get(base + ".json")
        self.assertEqual(response["Content-Type"], "application/json")
        body = json.loads(response.content)
        self.assertEqual((body["number"], body["total"], body["issued_by"], len(body["lines"])),
                         ("2026-11/alpha/1", "14.42", "alice", 3))
        response = client.get(base + ".pdf")
        self.assertEqual(response["Content-Type"], "application/pdf")
        self.assertTrue(response.content.startswith(b"%PDF-"))
        self.assertEqual(response.content, exports.render(self.alpha_issued, "pdf"))
        self.assertEqual(client.get(base + ".xls").status_code, 404)
        # A draft's downloads say it is one.
        rows = list(csv.DictReader(io.StringIO(self.as_user(self.bob).get(
            f"/web/billing/statements/{self.beta_draft.pk}/download.csv").content.decode())))
        self.assertEqual({(r["state"], r["statement"]) for r in rows}, {("draft", f"draft-{self.beta_draft.pk}")})


@pytest.mark.usefixtures("influxdb_down")
class MetricStoreDownTests(HandMadeStatementsCase):
    """InfluxDB does not answer here."""

    def test_the_pages_that_compute_say_the_store_did_not_answer_and_the_stored_ones_still_work(self):
        client = self.as_user(self.alice)
        response = client.get("/web/billing/statements/current/")
        self.assertEqual(response.status_code, 503)
        self.assertIn("the metric store (InfluxDB) did not answer", response.content.decode())
        response = client.get("/web/billing/costs/")
        self.assertEqual(response.status_code, 503)
        self.assertIn("the metric store (InfluxDB) did not answer", response.content.decode())
        response = client.get(f"/web/data/billing/statements/{self.alpha_issued.pk}/daily")
        self.assertEqual(response.status_code, 503)
        self.assertIn("did not answer", response.json()["message"])
        # A stored statement and its downloads need no samples.
        self.text(client.get(f"/web/billing/statements/{self.alpha_issued.pk}/"))
        self.assertEqual(client.get(f"/web/billing/statements/{self.alpha_issued.pk}/download.pdf").status_code, 200)
        response = self.as_user(self.charlie).post(f"/web/billing/statements/{self.beta_draft.pk}/issue",
                                                   follow=True)
        self.assertIn("Not done: the metric store (InfluxDB) did not answer", self.text(response))
        self.assertEqual(Statement.objects.get(pk=self.beta_draft.pk).state, "draft")


class WithoutPriceListTests(PagesCase):
    def test_the_current_month_and_the_costs_say_that_no_price_list_is_in_force(self):
        response = self.as_user(self.bob).get("/web/billing/statements/current/")
        self.assertEqual(response.status_code, 409)
        self.assertIn("no price list in force for beta", response.content.decode())
        self.assertFalse(Statement.objects.exists())
        response = self.client.get("/web/billing/costs/")
        self.assertIn("no price list in force for beta", self.text(response))

    def test_a_bad_range_is_shown_with_the_default_window(self):
        response = self.as_user(self.alice).get("/web/billing/costs/?range=2y")
        self.assertEqual(response.status_code, 400)
        self.assertIn("range: must be one of", response.content.decode())
        response = self.client.get("/web/billing/costs/?start=2026-11-02&end=2026-11-01")
        self.assertEqual(response.status_code, 400)
        self.assertIn("start: must be before end", response.content.decode())


class ClusterPagesTests(ClusterCase):
    def statement_rows(self):
        """Every statement and line as stored, to compare before and after a page view."""
        return (list(Statement.objects.order_by("id").values()),
                list(StatementLine.objects.order_by("id").values()))

    def test_a_viewers_look_at_the_current_month_stores_nothing_and_shows_the_drafts_numbers(self):
        start, end = month_bounds(f"{datetime.now(UTC):%Y-%m}")
        # A draft of the month stored earlier (manage.py statement) is not refreshed by a GET either.
        stored = draft(self.beta, start, end)
        write([sample("beta-web", "late", epoch(datetime.now(UTC)) - 60 + i * 15, 4000.0, 64 * MIB)
               for i in range(4)])
        before = self.statement_rows()
        client = self.as_user(self.bob)  # beta's viewer
        text = self.text(client.get("/web/billing/statements/current/"))
        self.assertIn('id="current-note"', text)
        self.assertEqual(self.statement_rows(), before)
        # Nor do its chart's data and its downloads.
        body = client.get("/web/data/billing/statements/current/daily").json()
        csv_rows = list(csv.DictReader(io.StringIO(client.get(
            "/web/billing/statements/current/download.csv").content.decode())))
        self.assertEqual(client.get("/web/billing/statements/current/download.pdf").status_code, 200)
        self.assertEqual(self.statement_rows(), before)
        # The numbers are those of the draft billing stores (refreshed here, after the views).
        expected = draft(self.beta, start, end)
        self.assertNotEqual(expected.total, stored.total)  # (the late sample is in it)
        self.assertIn(f'<dd id="statement-total">{expected.total} EUR</dd>', text)
        self.assertIn(f'<code id="statement-checksum">{expected.checksum}</code>', text)
        for line in expected.lines.all():
            self.assertIn(f'<td class="num">{line.cost}</td>', text)
        self.assertEqual([(r["namespace"], r["resource"], r["cost"]) for r in csv_rows],
                         [(x.namespace, x.resource, exports.number(x.cost)) for x in expected.lines.all()])
        self.assertEqual({r["state"] for r in csv_rows}, {"draft"})
        if len(body["days"]) == 1:
            self.assertEqual(sum(D(v) for v in body["totals"]), expected.total)

    def test_the_current_month_is_recomputed_on_each_view_and_staff_do_not_issue_it(self):
        start, end = month_bounds(f"{datetime.now(UTC):%Y-%m}")
        client = self.as_user(self.alice)
        text = self.text(client.get("/web/billing/statements/current/"))
        self.assertFalse(Statement.objects.exists())
        if start <= self.start:  # (not when the test's two hours began last month)
            self.assertIn('<dd id="statement-total">18.29 EUR</dd>', text)  # docs/billing.md's worked example
        # A sample that comes later is in the next view.
        write([sample("alpha-dev", "late", epoch(datetime.now(UTC)) - 60 + i * 15, 4000.0, 64 * MIB)
               for i in range(4)])
        again = self.text(client.get("/web/billing/statements/current/"))
        self.assertNotEqual(total_shown(again), total_shown(text))
        # Staff see no issue button on a month that has not ended.
        text = self.text(self.as_user(self.charlie).get("/web/billing/statements/current/?tenant=alpha"))
        self.assertNotIn('id="issue-statement"', text)
        self.assertNotIn("/issue", text)
        self.assertFalse(Statement.objects.exists())
        # Issued early anyway (manage.py statement --issue): the current month is that statement.
        issued = issue(draft(self.alpha, start, end), self.charlie)
        response = self.as_user(self.alice).get("/web/billing/statements/current/")
        self.assertRedirects(response, f"/web/billing/statements/{issued.pk}/")
        self.assertRedirects(self.client.get("/web/billing/statements/current/download.csv"),
                             f"/web/billing/statements/{issued.pk}/download.csv", fetch_redirect_response=False)
        self.assertEqual(Statement.objects.filter(tenant=self.alpha, period_start=start).count(), 1)

    def test_staff_issue_a_draft_and_draft_a_correction_from_the_page(self):
        beta_draft = draft(self.beta, self.start, self.end)
        client = self.as_user(self.charlie)
        with self.assertLogs("web.billing", "INFO") as logs:
            response = client.post(f"/web/billing/statements/{beta_draft.pk}/issue", follow=True)
        issued = Statement.objects.get(pk=beta_draft.pk)
        self.assertEqual((issued.state, issued.issued_by, issued.number),
                         ("issued", self.charlie, f"{self.start:%Y-%m-%d}/beta/1"))
        self.assertIn(f"Statement {issued.number} issued. (statement {issued.pk}, by charlie)", logs.output[0])
        text = self.text(response)
        self.assertIn(f"Statement {issued.number} issued.", text)
        self.assertIn('id="correct-statement"', text)
        self.assertIn("by charlie", text)
        # Issuing twice is refused (the statement is immutable) and changes nothing.
        client.post(f"/web/billing/statements/{issued.pk}/issue")
        self.assertEqual(Statement.objects.get(pk=issued.pk).issued_at, issued.issued_at)

        response = client.post(f"/web/billing/statements/{issued.pk}/correct")
        correction = Statement.objects.get(corrects=issued)
        self.assertRedirects(response, f"/web/billing/statements/{correction.pk}/")
        self.assertEqual((correction.state, correction.tenant, correction.total), ("draft", self.beta, issued.total))
        text = self.text(client.get(f"/web/billing/statements/{correction.pk}/"))
        self.assertIn(f'href="/web/billing/statements/{issued.pk}/"', text)  # "Corrects"
        client.post(f"/web/billing/statements/{correction.pk}/issue")
        self.assertEqual(Statement.objects.get(pk=correction.pk).number, f"{self.start:%Y-%m-%d}/beta/2")

    def test_the_daily_costs_add_up_to_the_statement(self):
        statement = issue(draft(self.alpha, self.start, self.end), self.alice)
        body = self.as_user(self.alice).get(f"/web/data/billing/statements/{statement.pk}/daily").json()
        self.assertEqual(body["days"][0], f"{self.start:%Y-%m-%d}")
        self.assertEqual([s["name"] for s in body["series"]], ["cpu", "memory", "gpu", "storage"])
        total = sum(D(v) for v in body["totals"])
        # One day: exactly the statement; two (the hours straddle midnight): each day's lines rounded.
        allowed = D("0.00") if len(body["days"]) == 1 else D("0.01") * statement.lines.count()
        self.assertLessEqual(abs(total - D("18.29")), allowed)
        self.assertEqual(sum(D(v) for v in body["series"][2]["values"]), D("12.30"))  # 3 H100-hours
        # A later price change does not reprice the issued statement's days: they keep its rates.
        prices = PriceList.objects.get(name="standard")
        prices.cpu_core_hour, prices.gpu_model_rates = D("9.00"), {H100: "1.00"}
        prices.save()
        again = self.client.get(f"/web/data/billing/statements/{statement.pk}/daily").json()
        self.assertEqual(again["totals"], body["totals"])
        self.assertEqual(sum(D(v) for v in again["series"][2]["values"]), D("12.30"))
        # (A draft priced now does use them: 1.5 core-hours at 9.00, 3 H100-hours at 1.00.)
        self.assertEqual(draft(self.alpha, self.start, self.end).total, D("13.50") + D("2.24") + D("3.00"))

    def range_query(self):
        return f"start={self.start:%Y-%m-%dT%H:%M:%S}&end={self.end:%Y-%m-%dT%H:%M:%S}"

    def rows(self, text):
        """``(level, {key: (total, href)})`` from the page data the chart draws."""
        marker = '<script id="billing-costs" type="application/json">'
        start = text.index(marker) + len(marker)
        data = json.loads(text[start:text.index("</script>", start)])
        return data["level"], {row["key"]: (D(repr(row["total"])), row["href"]) for row in data["rows"]}

    def test_a_tenant_sees_its_namespaces_priced_as_its_statement_then_a_namespaces_pods(self):
        client = self.as_user(self.alice)
        text = self.text(client.get(f"/web/billing/costs/?{self.range_query()}"))
        level, rows = self.rows(text)
        self.assertEqual(level, "namespace")
        self.assertEqual({k: v[0] for k, v in rows.items()},
                         {"alpha-dev": D("1.00") + D("1.12"), "alpha-prod": D("2.75") + D("1.12") + D("12.30")})
        self.assertIn("total 18.29 EUR", text)
        self.assertNotIn("beta-web", text)
        self.assertNotIn("orphan", text)
        self.assertIn("namespace=alpha-prod", rows["alpha-prod"][1])
        self.assertEqual(inline_code(text).problems, [])

        level, rows = self.rows(self.text(client.get("/web/billing/costs/" + rows["alpha-prod"][1])))
        self.assertEqual(level, "pod")
        # trainer: 1 core-h at 2.50, 1 GiB-h at 0.75, 2 H100-h at 4.10; shy: its 0.1-core and 0.5 GiB
        # requests for an hour (0.375 rounds half-even to 0.38), 1 GPU-h on its node's H100.
        self.assertEqual({k: v[0] for k, v in rows.items()},
                         {"trainer": D("2.50") + D("0.75") + D("8.20"), "shy": D("0.25") + D("0.38") + D("4.10")})
        self.assertEqual({v[1] for v in rows.values()}, {None})  # the last level

    def test_staff_start_at_the_tenants_and_the_operators_rows(self):
        text = self.text(self.as_user(self.charlie).get(f"/web/billing/costs/?{self.range_query()}"))
        level, rows = self.rows(text)
        self.assertEqual(level, "tenant")
        self.assertEqual(set(rows), {"alpha", "beta", "__unallocated__", "__idle__"})
        self.assertEqual(rows["alpha"][0], D("18.29"))
        self.assertEqual(rows["beta"][0], draft(self.beta, self.start, self.end).total)
        # orphan (nobody's): 0.2 core used over a 0.1 request for 1 h, its 0.5 GiB request for 1 h.
        self.assertEqual(rows["__unallocated__"][0], D("0.50") + D("0.38"))
        self.assertIsNone(rows["__idle__"][1])
        self.assertIn("tenant=beta", rows["beta"][1])
        level, rows = self.rows(self.text(self.client.get("/web/billing/costs/" + rows["beta"][1])))
        self.assertEqual((level, set(rows)), ("namespace", {"beta-web"}))

    def test_shared_idle_is_in_the_tenants_rows_and_not_the_operators_as_well(self):
        with override_settings(BILLING_IDLE="share"):
            page = f"/web/billing/costs/?{self.range_query()}"
            _, rows = self.rows(self.text(self.as_user(self.charlie).get(page)))
            self.assertEqual(set(rows), {"alpha", "beta", "__unallocated__"})
            self.assertEqual(rows["alpha"][0], draft(self.alpha, self.start, self.end).total)
            self.assertGreater(rows["alpha"][0], D("18.29"))  # its share of the idle capacity
            _, rows = self.rows(self.text(self.client.get(page + "&tenant=alpha")))
            self.assertIn("__idle__", rows)
            self.assertIsNone(rows["__idle__"][1])  # not a namespace to open


@uses_store
class CurrentMonthRaceTests(TransactionTestCase):
    def test_two_views_of_the_month_at_once_both_answer_and_store_nothing(self):
        from django.contrib.auth import get_user_model
        from django.db import connections

        from billing.models import Membership, Tenant

        tenant = Tenant.objects.create(name="Gamma", slug="gamma")
        tenant.assign("gamma-ns")
        user = get_user_model().objects.create_user("gina", "gina@example.org", "gina password")
        Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.VIEWER)
        PriceList.objects.create(name="standard", currency="EUR", effective_start=NOV - timedelta(days=400),
                                 cpu_core_hour="2.50")
        write([sample("gamma-ns", "web", epoch(datetime.now(UTC)) - 60 + i * 15, 100.0, 64 * MIB)
               for i in range(4)])
        answers, together = [], threading.Barrier(2)

        def view():
            client = Client()
            client.force_login(user)
            together.wait()
            try:
                answers.append(client.get("/web/billing/statements/current/").status_code)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=view) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(answers, [200, 200])
        self.assertFalse(Statement.objects.exists())
