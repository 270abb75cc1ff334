"""``manage.py statement --tenant SLUG --month 2026-11 [--issue] [--format csv|json|pdf] [--output FILE]``.

Drafts (recomputes) the tenant's statement of the month, or prints the one already issued;
``--issue`` issues the draft. ``--tenant operator`` is the operator's statement (every tenant,
``__unallocated__`` and ``__idle__``). ``--start``/``--end`` (RFC 3339 or YYYY-MM-DD) give any
window instead of a month. The statement goes to standard output unless ``--output`` names a file.
Rendering is ``billing.exports.render(statement, format)``; until that module exists, JSON and
CSV come from ``_fallback`` below.
"""

import csv
import io
import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing.models import Statement, Tenant
from billing.statements import StatementError, draft, month_bounds
from billing.statements import issue as issue_statement
from metrics.window import WindowError, parse_time

FORMATS = ("json", "csv", "pdf")


class Command(BaseCommand):
    help = "Draft, issue or print a tenant's statement of a month (or any window)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, metavar="SLUG", help="a tenant's slug, or 'operator'")
        parser.add_argument("--month", metavar="YYYY-MM")
        parser.add_argument("--start", help="instead of --month: the window's start (inclusive)")
        parser.add_argument("--end", help="and its end (exclusive)")
        parser.add_argument("--issue", action="store_true", help="issue the statement (immutable afterwards)")
        parser.add_argument("--format", choices=FORMATS, default="json")
        parser.add_argument("--output", metavar="FILE", help="write here instead of standard output")

    def handle(self, *args, tenant, month, start, end, issue, format, output, **options):
        scope = self._tenant(tenant)
        begin, finish = self._period(month, start, end)
        statement = Statement.objects.filter(tenant=scope, period_start=begin, period_end=finish,
                                             state=Statement.State.ISSUED, corrections__isnull=True).first()
        try:
            if statement is None:
                statement = draft(scope, begin, finish)
                if issue:
                    statement = issue_statement(statement)
            elif issue:
                raise CommandError(f"statement {statement.number} of this period is already issued; "
                                   "correct it instead (billing.statements.correct)")
        except (StatementError, ValidationError) as exc:
            raise CommandError(str(exc.messages[0] if hasattr(exc, "messages") else exc)) from None
        data = render(statement, format)
        if output:
            with open(output, "wb") as out:
                out.write(data)
            self.stderr.write(f"{statement} ({statement.state}, total {statement.total} {statement.currency}) "
                              f"written to {output}")
        elif format == "pdf":
            self.stdout._out.buffer.write(data)  # bytes, not text: a PDF piped to a file stays whole
        else:
            self.stdout.write(data.decode("utf-8"), ending="")

    def _tenant(self, slug):
        if slug == "operator":
            return None
        found = Tenant.objects.filter(slug=slug).first()
        if found is None:
            raise CommandError(f"no tenant with slug {slug!r}")
        return found

    def _period(self, month, start, end):
        if month and (start or end):
            raise CommandError("give --month or --start/--end, not both")
        try:
            if month:
                return month_bounds(month)
            if not (start and end):
                raise CommandError("give --month YYYY-MM, or --start and --end")
            begin, finish = parse_time(start, "--start"), parse_time(end, "--end")
        except (StatementError, WindowError) as exc:
            raise CommandError(str(exc)) from None
        if begin >= finish:
            raise CommandError("--end must be after --start")
        return begin, finish


def render(statement, fmt):
    """The statement as bytes: ``billing.exports`` when it is there, else the fallback (no PDF)."""
    try:
        from billing import exports
    except ImportError:
        exports = None
    if exports is not None and hasattr(exports, "render"):
        return exports.render(statement, fmt)
    if fmt == "pdf":
        raise CommandError("PDF export needs billing.exports, which is not installed in this version")
    return _fallback(statement, fmt)


COLUMNS = ("statement", "state", "tenant", "period_start", "period_end", "line_tenant", "namespace", "resource",
           "gpu_model", "node_label", "line_start", "line_end", "unit", "quantity", "request_average",
           "usage_average", "efficiency", "rate", "cost", "currency", "price_list")


def _rows(statement):
    for line in statement.lines.select_related("price_list_version"):
        version = line.price_list_version
        yield {"statement": statement.number or f"draft-{statement.pk}", "state": statement.state,
               "tenant": statement.scope, "period_start": statement.period_start.isoformat(),
               "period_end": statement.period_end.isoformat(), "line_tenant": line.tenant,
               "namespace": line.namespace, "resource": line.resource, "gpu_model": line.gpu_model,
               "node_label": line.node_label, "line_start": line.period_start.isoformat(),
               "line_end": line.period_end.isoformat(), "unit": line.unit, "quantity": str(line.quantity),
               "request_average": _text(line.request_average), "usage_average": _text(line.usage_average),
               "efficiency": _text(line.efficiency), "rate": str(line.rate), "cost": str(line.cost),
               "currency": statement.currency, "price_list": f"{version.content['name']} v{version.number}"}


def _text(value):
    return "" if value is None else str(value)


def _fallback(statement, fmt):
    rows = list(_rows(statement))
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")
    doc = {"number": statement.number, "state": statement.state, "tenant": statement.scope,
           "period_start": statement.period_start.isoformat(), "period_end": statement.period_end.isoformat(),
           "currency": statement.currency, "total": str(statement.total), "checksum": statement.checksum,
           "price_lists": statement.price_lists,
           "corrects": statement.corrects.number if statement.corrects_id else None,
           "issued_at": statement.issued_at.isoformat() if statement.issued_at else None, "lines": rows}
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")
