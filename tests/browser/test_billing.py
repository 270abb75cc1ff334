"""The billing pages in Chromium against the real stack: a tenant admin opens alpha's statements,
sees the daily cost chart drawn, downloads the statement as CSV (parsed: the exporter's columns,
alpha's namespaces, the page's total) and as PDF (turned into a PNG by pdftoppm for people to
look at), then drills the cost breakdown down from a namespace's bar to its pods; staff
issue beta's ended draft from its page."""

import csv
import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.browser.conftest import SCREENSHOTS, in_thread
from tests.browser.helpers import coloured_pixels

CPU_BLUE = (0x25, 0x63, 0xEB)  # frontend/src/lib/billingcharts.js RESOURCE_COLOURS.cpu


def issue_alpha_statement():
    """A default price list and alpha's statement over the days the stack collected, issued by charlie."""
    from django.contrib.auth import get_user_model

    from billing.models import PriceList, Tenant
    from billing.statements import draft, issue

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    PriceList.objects.create(name="browser standard", currency="EUR", effective_start=today - timedelta(days=400),
                             cpu_core_hour="2.50", memory_gib_hour="0.75", gpu_hour="1.50",
                             storage_gib_month="0.10", gpu_model_rates={"NVIDIA H100 80GB HBM3": "4.10"})
    alpha = Tenant.objects.get(slug="alpha")
    statement = issue(draft(alpha, today - timedelta(days=2), today + timedelta(days=1)),
                      get_user_model().objects.get(username="charlie"))
    # A draft of beta's whose period has ended (up to the last minute), for staff to issue.
    ended = datetime.now(UTC).replace(second=0, microsecond=0)
    beta = draft(Tenant.objects.get(slug="beta"), today - timedelta(days=1), ended)
    return statement.pk, statement.number, str(statement.total), beta.pk


def delete_statements():
    """Issued statements refuse ``delete()`` (billing.statementmodels): a test database is cleaned in SQL."""
    from django.db import connection

    from billing.models import PriceList, PriceListVersion, Statement, StatementLine

    with connection.cursor() as cursor:
        for model in (StatementLine, Statement, PriceListVersion, PriceList):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608  (model table names)


@pytest.fixture(scope="module")
def alpha_statement(live_stack, django_db_blocker):
    with django_db_blocker.unblock():
        found = in_thread(issue_alpha_statement)
        yield found
        in_thread(delete_statements)


def test_a_tenant_admin_opens_a_statement_and_downloads_it_as_csv_and_pdf(live_stack, alpha_statement, page, shoot,
                                                                          log_in, tmp_path, request):
    from billing.exports import COLUMNS

    pk, number, total, _ = alpha_statement
    log_in("alice", "/web/billing/statements/")
    assert page.url.endswith("/web/billing/statements/")
    assert page.locator("#statements-table tbody tr").count() == 1  # alpha's only
    shoot(page, "statements")
    with page.expect_navigation():
        page.click(f"#statements-table a[href='/web/billing/statements/{pk}/']")
    assert page.locator("#statement-total").inner_text() == f"{total} EUR"
    assert page.locator("#issue-statement").count() == 0  # tenant users do not issue
    page.wait_for_selector("#daily-chart[data-state=drawn] canvas", timeout=20_000)
    assert coloured_pixels(page, "#daily-chart", CPU_BLUE) > 50
    shoot(page, "statement")
    namespaces = set(page.locator("#statement-lines tbody td.mono").all_inner_texts())
    assert namespaces and namespaces <= {"team-a", "physics"}, namespaces

    with page.expect_download() as info:
        page.click("a[data-download=csv]")
    rows = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert rows and tuple(rows[0]) == COLUMNS
    assert {row["statement"] for row in rows} == {number}
    assert {row["namespace"] for row in rows} == namespaces
    assert sum(Decimal(row["cost"]) for row in rows) == Decimal(total)

    with page.expect_download() as info:
        page.click("a[data-download=pdf]")
    pdf = tmp_path / "statement.pdf"
    info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "statement")],
                   check=True, timeout=30)
    png = next(tmp_path.glob("statement-*1.png"))
    assert png.stat().st_size > 5_000  # a page with text and a table, not a blank one
    folder = SCREENSHOTS / "test_billing"
    shutil.copy(png, folder / f"{request.node.name}-statement-pdf.png")


def test_the_cost_breakdown_drills_down_from_a_namespace_bar_to_its_pods(live_stack, alpha_statement, page, shoot,
                                                                         log_in):
    log_in("alice", "/web/billing/costs/?range=1h")
    page.wait_for_selector("#costs-chart[data-state=drawn] canvas")
    keys = page.locator("#costs-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert keys and set(keys) <= {"team-a", "physics"}, keys
    assert coloured_pixels(page, "#costs-chart", CPU_BLUE) > 50
    shoot(page, "costs-namespaces")
    # Click the dearest namespace's bar where the chart drew it.
    x, y = page.evaluate("() => window.kubemonCosts.barCentre(0)")
    box = page.locator("#costs-chart [data-plot] canvas").first.bounding_box()
    with page.expect_navigation():
        page.mouse.click(box["x"] + x, box["y"] + y)
    assert f"namespace={keys[0]}" in page.url
    assert page.locator("#costs-breadcrumbs [aria-current=page]").inner_text() == keys[0]
    assert page.locator("#costs-table tbody tr").count() > 0
    page.wait_for_selector("#costs-chart[data-state=drawn] canvas")
    shoot(page, "costs-pods")
    assert page.goto("/web/billing/costs/?namespace=ml-lab").status == 404


def test_staff_issue_an_ended_draft_from_its_page(live_stack, alpha_statement, page, shoot, log_in):
    beta_draft = alpha_statement[3]
    log_in("charlie", "/web/billing/statements/?tenant=beta")
    assert page.locator("#statements-table tbody tr").count() == 1
    with page.expect_navigation():
        page.click(f"#statements-table a[href='/web/billing/statements/{beta_draft}/']")
    assert page.locator("#statement-title .statement-state").inner_text().lower() == "draft"
    with page.expect_navigation():
        page.click("#issue-statement")  # a POST form with the CSRF token
    assert page.url.endswith(f"/web/billing/statements/{beta_draft}/")
    assert page.locator("#statement-title .statement-state").inner_text().lower() == "issued"
    assert "/beta/1 issued." in page.locator(".messages").inner_text()
    assert "by charlie" in page.locator("#statement-facts").inner_text()
    assert page.locator("#correct-statement").count() == 1
    page.wait_for_selector("#daily-chart[data-state=drawn], #daily-chart[data-state=empty]")
    shoot(page, "issued-by-staff")
