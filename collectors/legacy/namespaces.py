"""The namespaces met in the history, and their tenant assignment.

Ownership is billing's (``billing.NamespaceOwnership``), and collectors may not import billing
(DESIGN §1), so the import assigns through billing's own command, ``manage.py assignnamespace``,
called by name: the same checks (an unknown tenant, a namespace another tenant owns explicitly
is not moved) and the same signals as an operator's call. Two sources of assignments:

- ``--assign-by-label KEY``: Heapster tagged every row with its pod's labels (``labels``,
  ``key:value,...``); a namespace whose pods carried ``KEY`` with one value is given to the tenant
  with that slug (a namespace whose pods disagree is left out, and said so);
- ``--mapping FILE``: one ``namespace tenant-slug`` per line (``#`` comments; ``=`` or ``,`` work
  as separators too), or a JSON object ``{"namespace": "slug"}``. The file wins over labels.

Without either, the command lists the namespaces and the ``assignnamespace`` calls to make.
"""

import io
import json

from django.core.management import CommandError, call_command

from collectors.legacy.reader import LegacyImportError


def read_mapping(path):
    try:
        text = open(path).read()  # noqa: SIM115  (a small file, read once)
    except OSError as exc:
        raise LegacyImportError(f"cannot read the mapping file {path}: {exc}") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise LegacyImportError(f"the mapping file {path} is not valid JSON: {exc}") from None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise LegacyImportError(f"the mapping file {path} must map namespace names to tenant slugs")
        return data
    mapping = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace("=", " ").replace(",", " ").split()
        if len(parts) != 2:
            raise LegacyImportError(f"{path}:{number}: expected 'namespace tenant-slug', got {line!r}")
        mapping[parts[0]] = parts[1]
    return mapping


def plan(namespaces, mapping=None, by_label=False):
    """``[(namespace, slug or None, why)]`` for every namespace met, sorted by name."""
    out = []
    for namespace in sorted(namespaces):
        values = namespaces[namespace]
        if mapping and namespace in mapping:
            out.append((namespace, mapping[namespace], "mapping file"))
        elif by_label and len(values) == 1:
            out.append((namespace, next(iter(values)), "pod label"))
        elif by_label and len(values) > 1:
            out.append((namespace, None, f"pods disagree: {', '.join(sorted(values))}"))
        else:
            out.append((namespace, None, "no tenant given"))
    return out


def assign(planned, dry_run=False):
    """Run ``assignnamespace`` for each planned pair; ``[(namespace, slug, outcome)]``."""
    results = []
    for namespace, slug, why in planned:
        if slug is None:
            results.append((namespace, None, why))
            continue
        if dry_run:
            results.append((namespace, slug, f"would be assigned ({why})"))
            continue
        try:
            call_command("assignnamespace", namespace, tenant=slug, stdout=io.StringIO())
        except CommandError as exc:
            results.append((namespace, slug, f"not assigned: {exc}"))
            continue
        results.append((namespace, slug, f"assigned ({why})"))
    return results
