"""Namespace labels to tenancy through Redis: the inventory records them, billing's task assigns them
and publishes the ownership map that the live snapshot reads."""

import pytest
from django.test import override_settings

from billing.models import NamespaceOwnership, Tenant
from billing.services import TENANT_LABEL, ownership_map
from billing.tasks import assign_namespaces
from collectors import cycles
from kubemon.cluster import record_inventory, tenant_namespaces
from kubemon.redis import reset_redis

pytestmark = pytest.mark.django_db


def owners():
    return {o.namespace: (o.tenant.slug, o.source) for o in NamespaceOwnership.objects.select_related("tenant")}


@pytest.fixture
def tenants():
    return {slug: Tenant.objects.create(name=slug, slug=slug) for slug in ("team-a", "physics", "ml-lab")}


def labelled(kube):
    """``{namespace: tenant slug}`` of the simulated cluster's labelled namespaces."""
    return {ns["metadata"]["name"]: ns["metadata"]["labels"][TENANT_LABEL] for ns in kube.list_namespaces()
            if TENANT_LABEL in (ns["metadata"].get("labels") or {})}


@pytest.mark.slow
def test_labelled_namespaces_are_owned_after_an_inventory_cycle_and_the_task(make_simulator, store, redis_db,
                                                                            tenants):
    simulator = make_simulator(seed=7, nodes=3, pods=20)
    kube = simulator.kube()
    assert cycles.run_inventory_cycle(kube=kube, store=store, redis=redis_db).ok
    assert owners() == {}  # the cycle only recorded the labels
    assign_namespaces.apply().get()
    expected = {ns: (slug, "label") for ns, slug in labelled(kube).items() if slug in tenants}
    assert expected and owners() == expected
    published = tenant_namespaces(redis_db)
    assert published == {tenant.id: sorted(ns for ns, (slug, _) in expected.items() if slug == tenant.slug)
                         for tenant in tenants.values() if tenant.namespaces()}


def test_before_any_inventory_the_task_keeps_label_ownerships_and_publishes_the_map(redis_db, tenants):
    tenants["physics"].assign("physics", source=NamespaceOwnership.Source.LABEL)
    assign_namespaces()
    assert owners() == {"physics": ("physics", "label")}
    assert tenant_namespaces(redis_db) == {tenants["physics"].id: ["physics"]}


def test_the_task_follows_label_changes_recorded_by_the_inventory(redis_db, tenants):
    record_inventory(redis_db, {}, {"lab": {TENANT_LABEL: "physics"}, "misc": {}})
    assign_namespaces()
    assert owners() == {"lab": ("physics", "label")}
    record_inventory(redis_db, {}, {"lab": {TENANT_LABEL: "ml-lab"}})
    assign_namespaces()
    assert owners() == {"lab": ("ml-lab", "label")}
    assert tenant_namespaces(redis_db) == {tenants["ml-lab"].id: ["lab"]}


def test_saving_or_deleting_an_ownership_republishes_the_map_once_committed(
        redis_db, tenants, django_capture_on_commit_callbacks):
    team_a, physics = tenants["team-a"], tenants["physics"]
    with django_capture_on_commit_callbacks(execute=True):
        team_a.assign("a-dev")
        team_a.assign("a-prod")
        assert tenant_namespaces(redis_db) == {}  # not before the commit
    assert tenant_namespaces(redis_db) == {team_a.id: ["a-dev", "a-prod"]}
    with django_capture_on_commit_callbacks(execute=True):
        physics.assign("a-prod")
    assert tenant_namespaces(redis_db) == {team_a.id: ["a-dev"], physics.id: ["a-prod"]}
    with django_capture_on_commit_callbacks(execute=True):
        team_a.delete()  # its ownerships go with it
    assert tenant_namespaces(redis_db) == {physics.id: ["a-prod"]} == ownership_map()


def test_an_unreachable_redis_does_not_fail_the_save(tenants, django_capture_on_commit_callbacks):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        reset_redis()
        try:
            with django_capture_on_commit_callbacks(execute=True):
                tenants["team-a"].assign("a-dev")
        finally:
            reset_redis()
    assert owners() == {"a-dev": ("team-a", "explicit")}
