"""Statements for a billing system: JSON, CSV and PDF (``render(statement, fmt) -> bytes``).

The API (``GET /api/statements/<id>?format=``), the portal's downloads and ``manage.py statement``
all call ``render``; ``content_type(fmt)`` and ``filename(statement, fmt)`` go with it.

- **CSV**: one row per line of the statement, i.e. per tenant × namespace × resource (× GPU model,
  × node-label rule, × price period), with the columns of ``COLUMNS`` (stable: docs/api.md lists
  them). Times are UTC in ``YYYY-MM-DD HH:MM:SS`` (ISO 8601 with a space, which spreadsheets read
  as a date and time), period ends are exclusive; numbers use a dot, no thousands separator and
  never an exponent; money has 2 decimals, quantities and rates 6. No total row: every row has
  the same types (the total is the sum of ``cost``; JSON and PDF state it).
- **JSON**: the statement (number, state, scope, period, currency, total, checksum, price list
  versions, correction links, who issued it and when) with its lines; decimals are strings, so
  money stays exact whatever the reader's number type.
- **PDF** (ReportLab): a header (tenant, period, statement number or DRAFT, state, currency,
  basis, price list versions, checksum), the lines, the total, and page numbers.
"""

import csv
import io
import json
from datetime import UTC
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FORMATS = ("json", "csv", "pdf")
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}

COLUMNS = ("statement", "state", "tenant", "period_start", "period_end", "line_tenant", "namespace", "resource",
           "gpu_model", "node_label", "line_start", "line_end", "unit", "quantity", "request_average",
           "usage_average", "efficiency", "rate", "cost", "currency", "price_list")


class ExportError(ValueError):
    pass


def content_type(fmt):
    return CONTENT_TYPES[_check(fmt)]


def filename(statement, fmt):
    """``statement-2026-11-alpha-1.pdf``, ``draft-<scope>-<id>`` for a draft, ``draft-<scope>-<month>`` for
    one computed and not stored (``billing.statements.preview``): safe in a header and a file name."""
    if statement.number:
        stem = statement.number.replace("/", "-")
    else:
        stem = f"draft-{statement.scope}-{statement.pk if statement.pk else f'{statement.period_start:%Y-%m}'}"
    return f"statement-{stem}.{_check(fmt)}"


def _check(fmt):
    if fmt not in FORMATS:
        raise ExportError(f"{fmt!r} is not an export format ({', '.join(FORMATS)})")
    return fmt


def render(statement, fmt):
    """The statement in ``fmt`` (json, csv or pdf) as bytes."""
    return {"json": render_json, "csv": render_csv, "pdf": render_pdf}[_check(fmt)](statement)


# --- values ---


def when(moment):
    """UTC ``YYYY-MM-DD HH:MM:SS``: ISO 8601, read as a date and time by spreadsheets."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def number(value):
    """A decimal as plain text: a dot, no grouping, no exponent (``0E-6`` would be read as text)."""
    if value is None:
        return ""
    return format(Decimal(value), "f")


def reference(statement):
    return statement.number or (f"draft-{statement.pk}" if statement.pk else "draft")


def version_name(version):
    return f"{version.content.get('name')} v{version.number}"


def _lines(statement):
    if statement.pk is None:  # computed and not stored (billing.statements.preview): its lines are in memory
        return list(getattr(statement, "preview_lines", ()))
    return list(statement.lines.select_related("price_list_version").order_by("position"))


def line_rows(statement):
    """One dict per line with the ``COLUMNS`` keys, as the CSV writes them."""
    head = {"statement": reference(statement), "state": statement.state, "tenant": statement.scope,
            "period_start": when(statement.period_start), "period_end": when(statement.period_end),
            "currency": statement.currency}
    for line in _lines(statement):
        yield {**head, "line_tenant": line.tenant, "namespace": line.namespace, "resource": line.resource,
               "gpu_model": line.gpu_model, "node_label": line.node_label, "line_start": when(line.period_start),
               "line_end": when(line.period_end), "unit": line.unit, "quantity": number(line.quantity),
               "request_average": number(line.request_average), "usage_average": number(line.usage_average),
               "efficiency": number(line.efficiency), "rate": number(line.rate), "cost": number(line.cost),
               "price_list": version_name(line.price_list_version)}


# --- CSV ---


def render_csv(statement):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(line_rows(statement))
    return out.getvalue().encode("utf-8")


# --- JSON ---


def document(statement):
    """The statement as JSON-safe data (the API's JSON answer)."""
    corrections = list(statement.corrections.values_list("pk", flat=True)) if statement.pk else []
    return {
        "id": statement.pk,
        "number": statement.number,
        "state": statement.state,
        "tenant": statement.scope,
        "tenant_name": statement.tenant.name if statement.tenant_id else "operator",
        "period_start": statement.period_start.isoformat(),
        "period_end": statement.period_end.isoformat(),
        "currency": statement.currency,
        "basis": statement.basis,
        "idle": statement.idle,
        "total": number(statement.total),
        "checksum": statement.checksum,
        "price_lists": statement.price_lists,
        "corrects": statement.corrects_id,
        "corrects_number": statement.corrects.number if statement.corrects_id else None,
        "corrected_by": corrections,
        "computed_at": statement.computed_at.isoformat() if statement.computed_at else None,
        "issued_at": statement.issued_at.isoformat() if statement.issued_at else None,
        "issued_by": statement.issued_by.get_username() if statement.issued_by_id else None,
        "lines": [
            {"position": line.position, "tenant": line.tenant, "namespace": line.namespace,
             "resource": line.resource, "gpu_model": line.gpu_model, "node_label": line.node_label,
             "period_start": line.period_start.isoformat(), "period_end": line.period_end.isoformat(),
             "unit": line.unit, "quantity": number(line.quantity),
             "request_average": number(line.request_average) or None,
             "usage_average": number(line.usage_average) or None, "efficiency": number(line.efficiency) or None,
             "rate": number(line.rate), "cost": number(line.cost),
             "price_list_version": version_name(line.price_list_version)}
            for line in _lines(statement)
        ],
    }


def render_json(statement):
    return (json.dumps(document(statement), indent=2) + "\n").encode("utf-8")


# --- PDF ---

_HEADERS = ("Tenant", "Namespace", "Resource", "Period (UTC)", "Quantity", "Unit", "Avg request", "Avg usage",
            "Efficiency", "Rate", "Cost")


def _resource_label(line):
    label = line.resource
    if line.gpu_model:
        label += f" · {line.gpu_model}"
    if line.node_label:
        label += f" · {line.node_label}"
    return label


def _period_label(line):
    """Two lines, start and (excluded) end; the time only when the period does not start a day."""
    start, end = line.period_start.astimezone(UTC), line.period_end.astimezone(UTC)
    if start.time() == end.time() == start.min.time():
        return f"{start:%Y-%m-%d}<br/>to {end:%Y-%m-%d}"
    return f"{start:%Y-%m-%d %H:%M}<br/>to {end:%Y-%m-%d %H:%M}"


def _percent(value):
    return "" if value is None else f"{Decimal(value) * 100:.1f} %"


def _header(statement, styles):
    title = f"Statement {statement.number}" if statement.number else "Statement DRAFT (not issued)"
    tenant = f"{statement.tenant.name} ({statement.scope})" if statement.tenant_id else "Operator (all tenants)"
    facts = [
        ("Tenant", tenant),
        ("Period", f"{when(statement.period_start)} to {when(statement.period_end)} UTC (end excluded)"),
        ("State", statement.state + (f", issued {when(statement.issued_at)} UTC" if statement.issued_at else "")
         + (f" by {statement.issued_by.get_username()}" if statement.issued_by_id else "")),
        ("Currency", statement.currency),
        ("Allocation basis", statement.basis or "-"),
        ("Idle capacity", statement.idle or "-"),
        ("Price list versions", statement.price_lists or "-"),
        ("Inputs checksum", statement.checksum or "-"),
    ]
    if statement.corrects_id:
        facts.append(("Corrects", statement.corrects.number or f"statement {statement.corrects_id}"))
    table = Table([[Paragraph(f"<b>{k}</b>", styles["BodyText"]), Paragraph(_escape(v), styles["BodyText"])]
                   for k, v in facts], colWidths=[45 * mm, 210 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                               ("TOPPADDING", (0, 0), (-1, -1), 1)]))
    return [Paragraph(_escape(title), styles["Title"]), table, Spacer(1, 6 * mm)]


def _escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lines_table(statement, lines, styles):
    small = styles["BodyText"].clone("small", fontSize=8, leading=9.5)
    rows = [list(_HEADERS)]
    for line in lines:
        rows.append([Paragraph(_escape(line.tenant or statement.scope), small),
                     Paragraph(_escape(line.namespace), small), Paragraph(_escape(_resource_label(line)), small),
                     Paragraph(_period_label(line), small), number(line.quantity),
                     line.unit, number(line.request_average), number(line.usage_average), _percent(line.efficiency),
                     number(line.rate), number(line.cost)])
    rows.append(["", "", "", "", "", "", "", "", "", "Total", f"{number(statement.total)} {statement.currency}"])
    table = LongTable(rows, repeatRows=1, colWidths=[26 * mm, 34 * mm, 44 * mm, 30 * mm, 22 * mm, 19 * mm,
                                                     20 * mm, 20 * mm, 17 * mm, 17 * mm, 22 * mm])
    table.setStyle(TableStyle([
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf2")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
        ("ALIGN", (5, 0), (5, -1), "LEFT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#f6f7f9")]),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
    ]))
    return table


def _page_footer(statement):
    text = f"{reference(statement)} · {statement.scope} · {when(statement.period_start)[:10]}"

    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(12 * mm, 8 * mm, f"kubemon statement {text}")
        canvas.drawRightString(doc.pagesize[0] - 12 * mm, 8 * mm, f"page {doc.page}")
        canvas.restoreState()

    return draw


def render_pdf(statement):
    buffer = io.BytesIO()
    # invariant: the same statement gives the same bytes (no creation time or random id in the file).
    title = f"Statement {reference(statement)} ({statement.scope})"
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm, title=title, author="kubemon",
                            subject="Resource usage statement", invariant=1)
    styles = getSampleStyleSheet()
    lines = _lines(statement)
    story = _header(statement, styles)
    if lines:
        story.append(_lines_table(statement, lines, styles))
    else:
        story.append(Paragraph("No usage in this period.", styles["BodyText"]))
    footer = _page_footer(statement)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
