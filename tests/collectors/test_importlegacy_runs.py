"""``manage.py importlegacy`` on bad input (a clear message and a non-zero exit, nothing half-done
left unrecorded), as a dry run, and assigning the namespaces it met to tenants."""

import json
import tempfile
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import NamespaceOwnership
from deploy.local.influxdb_server import InfluxServer
from kubemon.timeseries import get_store
from tests.support.base import BaseTestCase, uses_store
from tests.support.heapster import Pod, line, pod_lines, write_lines

# A generated month written to a second InfluxDB and imported, several times: `make test-slow`.
pytestmark = pytest.mark.slow

START = (datetime.now(UTC) - timedelta(days=5)).replace(hour=0, minute=0, second=0, microsecond=0)
HOUR = timedelta(hours=1)


def a_day_of(pods_by_namespace):
    """Pods alive for three hours from START, labelled ``tenant:<value>``."""
    pods = []
    for namespace, tenants in pods_by_namespace.items():
        for i, tenant in enumerate(tenants):
            labels = {"tenant": tenant} if tenant else {"app": "x"}
            pods.append(Pod(namespace, f"pod-{i}", "node-1", [(START, START + 3 * HOUR)], labels=labels))
    return [text for pod in pods for text in pod_lines(pod)]


@pytest.fixture(scope="module")
def legacy():
    server = InfluxServer().start()
    write_lines(server.url, "k8s", a_day_of({"alpha-ml": ["alpha"], "beta-batch": ["beta", "beta"],
                                             "gamma-lab": ["gamma"], "shared": ["alpha", "beta"], "plain": [None]}))
    # A row Heapster would never write at the container level: no pod_name, at 01:30.
    bad = START + HOUR + timedelta(minutes=30)
    write_lines(server.url, "k8s_bad", [text for text in a_day_of({"alpha-ml": ["alpha"]})
                                        if text.startswith("cpu/usage_rate,")])
    write_lines(server.url, "k8s_bad", [line("cpu/usage_rate", {"type": "pod_container", "namespace_name": "alpha-ml",
                                                                "container_name": "app", "nodename": "node-1"},
                                             5, bad.timestamp())])
    yield server
    server.cleanup()


def run(*args, url=None, database="k8s", checkpoint=None):
    out = StringIO()
    checkpoint = checkpoint or Path(tempfile.mkdtemp(prefix="importlegacy-")) / "checkpoint.json"
    base = ["--url", url, "--database", database, "--quiet", "--checkpoint", str(checkpoint)]
    call_command("importlegacy", *base, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def with_legacy(request, legacy):
    request.cls.legacy = legacy


@uses_store
@pytest.mark.usefixtures("with_legacy")
class BadInputTests(BaseTestCase):
    def assert_refused(self, text, *args, **kwargs):
        kwargs.setdefault("url", self.legacy.url)
        with self.assertRaises(CommandError) as caught:
            run(*args, **kwargs)
        self.assertIn(text, str(caught.exception))
        self.assertEqual(caught.exception.returncode, 1)
        return str(caught.exception)

    def test_an_unreachable_server_is_named_in_the_error(self):
        self.assert_refused("cannot reach the legacy InfluxDB at http://127.0.0.1:9", url="http://127.0.0.1:9")

    def test_a_wrong_database_is_refused_with_the_databases_there_are(self):
        message = self.assert_refused("has no database 'heapster'", database="heapster")
        self.assertIn("(it has: k8s, k8s_bad)", message)

    def test_an_unknown_measurement_is_refused_with_the_known_ones(self):
        message = self.assert_refused("unknown legacy measurement(s) 'cpu/usage_rat'", "--measurement", "cpu/usage_rat")
        self.assertIn("cpu/usage_rate", message)
        self.assert_refused("the legacy database has no measurement 'memory/rss'", "--measurement", "memory/rss")

    def test_a_malformed_row_stops_the_import_before_its_hours_are_written(self):
        checkpoint = Path(tempfile.mkdtemp()) / "checkpoint.json"
        message = self.assert_refused("malformed row in 'cpu/usage_rate'", database="k8s_bad", checkpoint=checkpoint)
        self.assertIn("no pod_name tag", message)
        self.assertIn("running the same command again writes them again", message)
        # The first hour was whole and is recorded; nothing of the hours with the bad row was written.
        job = json.loads(checkpoint.read_text())["jobs"]["cpu/usage_rate"]
        self.assertEqual(job["done_until"], int((START + HOUR).timestamp()))
        counts = get_store().query('SELECT count("cpu_usage_nanocores") FROM "raw"."kubernetes_pod_container"')
        self.assertEqual(counts[0]["values"][0][1], 60)  # 00:00 to 00:59
        # Skipping it is a choice, and counted.
        out = run("--skip-malformed", url=self.legacy.url, database="k8s_bad", checkpoint=checkpoint)
        self.assertIn("cpu/usage_rate: 181 rows read, wrote 180 raw and 0 hourly points, 1 malformed rows skipped", out)

    def test_a_checkpoint_of_another_window_is_not_mixed_in(self):
        checkpoint = Path(tempfile.mkdtemp()) / "checkpoint.json"
        run("--measurement", "uptime", url=self.legacy.url, checkpoint=checkpoint)
        self.assert_refused("belongs to another import", "--since", START.strftime("%Y-%m-%d"),
                            checkpoint=checkpoint)

    def test_a_dry_run_reads_everything_and_writes_nothing(self):
        store = get_store()
        store.drop_database()
        out = run("--dry-run", url=self.legacy.url)
        self.assertIn("cpu/usage_rate: 1,260 rows read, would write 1,260 raw and 0 hourly points", out)
        self.assertIn("alpha-ml: -: no tenant given", out)
        databases = [row[0] for s in store.query("SHOW DATABASES") for row in s.get("values") or []]
        self.assertNotIn(store.database, databases)


@uses_store
@pytest.mark.usefixtures("with_legacy")
class TenantAssignmentTests(BaseTestCase):
    def owners(self):
        return dict(NamespaceOwnership.objects.values_list("namespace", "tenant__slug"))

    def test_namespaces_go_to_the_tenant_their_pods_label_names(self):
        out = run("--assign-by-label", "tenant", url=self.legacy.url)
        owners = self.owners()
        self.assertEqual(owners["alpha-ml"], "alpha")
        self.assertEqual(owners["beta-batch"], "beta")
        self.assertNotIn("gamma-lab", owners)
        self.assertNotIn("shared", owners)
        self.assertIn("gamma-lab: gamma: not assigned: no tenant with slug 'gamma'", out)
        self.assertIn("shared: -: pods disagree: alpha, beta", out)
        self.assertIn("assign the others with: manage.py assignnamespace", out)

    def test_a_mapping_file_assigns_and_wins_over_labels(self):
        mapping = Path(tempfile.mkdtemp()) / "tenants.txt"
        mapping.write_text("# namespace tenant\nplain beta\nshared=alpha\n")
        run("--assign-by-label", "tenant", "--mapping", str(mapping), url=self.legacy.url)
        owners = self.owners()
        self.assertEqual((owners["plain"], owners["shared"], owners["alpha-ml"]), ("beta", "alpha", "alpha"))

    def test_a_namespace_another_tenant_owns_stays_with_it(self):
        self.beta.assign("alpha-ml")
        out = run("--assign-by-label", "tenant", url=self.legacy.url)
        self.assertEqual(self.owners()["alpha-ml"], "beta")
        self.assertIn("alpha-ml: alpha: not assigned: already owned by another tenant", out)
