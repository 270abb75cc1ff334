from billing.models import NamespaceOwnership
from billing.services import TENANT_LABEL, sync_namespace_labels
from tests.support.base import BaseTestCase


def owners():
    return {o.namespace: (o.tenant.slug, o.source) for o in NamespaceOwnership.objects.select_related("tenant")}


class SyncNamespaceLabelsTests(BaseTestCase):
    def test_it_gives_a_labelled_namespace_to_its_tenant(self):
        sync_namespace_labels({"alpha-batch": {TENANT_LABEL: "alpha"}, "misc": {"team": "x"}})
        self.assertEqual(owners()["alpha-batch"], ("alpha", "label"))
        self.assertNotIn("misc", owners())

    def test_it_moves_a_label_ownership_when_the_label_changes(self):
        sync_namespace_labels({"shared": {TENANT_LABEL: "alpha"}})
        sync_namespace_labels({"shared": {TENANT_LABEL: "beta"}})
        self.assertEqual(owners()["shared"], ("beta", "label"))

    def test_it_removes_the_ownership_when_the_label_or_the_namespace_goes(self):
        sync_namespace_labels({"a1": {TENANT_LABEL: "alpha"}, "a2": {TENANT_LABEL: "alpha"}})
        sync_namespace_labels({"a1": {}})
        self.assertNotIn("a1", owners())
        self.assertNotIn("a2", owners())

    def test_it_never_overrides_an_explicit_ownership(self):
        sync_namespace_labels({"alpha-dev": {TENANT_LABEL: "beta"}, "beta-web": {}})
        self.assertEqual(owners()["alpha-dev"], ("alpha", "explicit"))
        self.assertEqual(owners()["beta-web"], ("beta", "explicit"))

    def test_it_ignores_unknown_slugs_and_invalid_names(self):
        sync_namespace_labels({"orphan": {TENANT_LABEL: "no-such-tenant"}, "Bad_Name": {TENANT_LABEL: "alpha"}})
        self.assertNotIn("orphan", owners())
        self.assertNotIn("Bad_Name", owners())

    def test_a_label_pointing_to_a_deleted_tenant_is_dropped(self):
        sync_namespace_labels({"gone": {TENANT_LABEL: "beta"}})
        sync_namespace_labels({"gone": {TENANT_LABEL: "beta-old"}})
        self.assertNotIn("gone", owners())
