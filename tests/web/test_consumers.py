"""The live websocket (web/consumers.py) on the real Redis channel layer, through kubemon.asgi's stack.

Every test publishes views the way the usage cycle does (collectors.snapshot.publish_usage) and
reads what a browser's socket receives: the origin check, the session login, the scope of the
user's tenant, and access asked again before each send.
"""

import asyncio

import orjson
import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator  # (channels.testing itself needs daphne)
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client

from billing.models import Membership
from collectors import snapshot
from collectors.podspec import ContainerSpec, PodInfo
from collectors.usage import UsageResult
from kubemon.asgi import application
from kubemon.cluster import publish_tenant_namespaces, record_inventory
from kubemon.liveview import N, P
from tests.support.base import BaseTestCase

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


class People:
    """alice (alpha: alpha-dev, alpha-prod), bob (beta: beta-web), charlie (staff), as in the shared base."""


@pytest.fixture
def people(redis_db):
    BaseTestCase.setUpTestData.__func__(People)
    snapshot._last.update(seq=None, view=None)
    return People


@pytest_asyncio.fixture(autouse=True)
async def close_thread_connections():
    """The consumer's database calls run in asgiref's one shared thread, whose connection outlives
    the test (CONN_MAX_AGE): close it, or the test database cannot be dropped at the end."""
    yield
    await database_sync_to_async(connections.close_all)()


def _pod(ns, name, node, state="running", status="Running"):
    return PodInfo(ns, name, "uid-" + name, node, "Running", state, status, "", "", "",
                   {"c": ContainerSpec(requests_millicpu=100, requests_memory=2**27)}, ready_containers=1,
                   status=status, created=1000)


def _cluster():
    pods = {("alpha-dev", "api-1"): _pod("alpha-dev", "api-1", "node-1"),
            ("alpha-prod", "db-0"): _pod("alpha-prod", "db-0", "node-2"),
            ("beta-web", "web-1"): _pod("beta-web", "web-1", "node-1"),
            ("kube-system", "etcd-cp-1"): _pod("kube-system", "etcd-cp-1", "cp-1")}
    usage = UsageResult()
    usage.pod_usage = {key: {"cpu_nanocores": 5e7, "memory_bytes": 2**26} for key in pods}
    usage.node_usage = {"node-1": {"cpu_nanocores": 2e9, "memory_bytes": 2**33}}
    nodes = {name: {"ready": True, "roles": ["worker"], "allocatable_millicpu": 4000, "allocatable_memory": 2**34}
             for name in ("cp-1", "node-1", "node-2")}
    return pods, usage, nodes


def _publish(redis, pods, usage, nodes, stamp, owned=None):
    record_inventory(redis, nodes, {})
    publish_tenant_namespaces(redis, owned or {1: []})
    return snapshot.publish_usage(redis, pods, usage, stamp)


async def publish(redis, pods, usage, nodes, stamp, people):
    owned = {people.alpha.pk: ["alpha-dev", "alpha-prod"], people.beta.pk: ["beta-web"]}
    return await sync_to_async(_publish)(redis, pods, usage, nodes, stamp, owned)


def _session_cookie(user):
    client = Client()
    client.force_login(user)
    return client, client.cookies["sessionid"].value


async def connect(user=None, origin="http://localhost", path="/ws/live/"):
    headers = [(b"host", b"localhost"), (b"origin", origin.encode())]
    client = None
    if user is not None:
        client, key = await database_sync_to_async(_session_cookie)(user)
        headers.append((b"cookie", f"sessionid={key}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code, client


async def receive(communicator, timeout=5):
    return orjson.loads(await communicator.receive_from(timeout=timeout))


async def closed_with(communicator, timeout=5):
    output = await communicator.receive_output(timeout=timeout)
    assert output["type"] == "websocket.close", output
    return output.get("code")


def names(rows):
    return sorted(row[P["name"]] for row in rows)


async def test_it_refuses_an_anonymous_socket(people):
    communicator, connected, code, _ = await connect(None)
    assert not connected and code == 4401
    await communicator.disconnect()


async def test_it_refuses_a_socket_from_another_origin_and_accepts_the_same_user_from_its_own(people, redis_db):
    communicator, connected, _, _ = await connect(people.charlie, origin="http://evil.example")
    assert not connected
    await communicator.disconnect()
    communicator, connected, _, _ = await connect(people.charlie)
    assert connected
    await communicator.disconnect()


async def test_staff_get_every_pod_and_node_with_their_usage(people, redis_db):
    pods, usage, nodes = _cluster()
    await publish(redis_db, pods, usage, nodes, 1000, people)
    communicator, connected, _, _ = await connect(people.charlie)
    assert connected
    view = await receive(communicator)
    assert view["type"] == "snapshot" and view["scope"] == "cluster"
    assert names(view["pods"]) == ["api-1", "db-0", "etcd-cp-1", "web-1"]
    node_1 = next(row for row in view["nodes"] if row[N["name"]] == "node-1")
    assert node_1[N["cpu_percent"]] == 50.0 and node_1[N["pods"]] == 2
    await communicator.disconnect()


async def test_a_tenant_socket_never_receives_another_tenants_pods_nor_other_nodes_pod_lists(people, redis_db):
    pods, usage, nodes = _cluster()
    first = await publish(redis_db, pods, usage, nodes, 1000, people)
    communicator, connected, _, _ = await connect(people.bob)
    assert connected
    view = await receive(communicator)
    assert view["type"] == "snapshot" and view["scope"] == "tenant" and view["seq"] == first["seq"]
    assert names(view["pods"]) == ["web-1"]
    # only the node bob's pod runs on, with bob's own pod count and none of its usage
    assert [row[N["name"]] for row in view["nodes"]] == ["node-1"]
    assert view["nodes"][0][N["pods"]] == 1 and view["nodes"][0][N["cpu_percent"]] is None
    assert view["totals"]["cpu"]["usage"] == 50  # web-1's own 50 m, not the cluster's 200 m

    # a cycle where both tenants change: bob's delta holds beta-web's changes only
    pods[("alpha-dev", "api-2")] = _pod("alpha-dev", "api-2", "node-1", "pending", "ContainerCreating")
    pods[("beta-web", "web-2")] = _pod("beta-web", "web-2", "node-2", "pending", "ContainerCreating")
    pods[("alpha-prod", "db-0")] = _pod("alpha-prod", "db-0", "node-2", "failed", "CrashLoopBackOff")
    usage.pod_usage[("alpha-dev", "api-1")]["cpu_nanocores"] = 9e8
    usage.pod_usage[("beta-web", "web-1")]["cpu_nanocores"] = 8e8
    second = await publish(redis_db, pods, usage, nodes, 1015, people)
    delta = await receive(communicator)
    assert (delta["type"], delta["seq"], delta["base"]) == ("delta", second["seq"], first["seq"])
    assert names(delta["added"]) == ["web-2"] and delta["changed"] == [] and delta["removed"] == []
    web_1 = next(row[P["id"]] for row in second["pods"] if row[P["name"]] == "web-1")
    assert delta["usage"][::6] == [web_1] and delta["usage"][1] == 800
    assert sorted(row[N["name"]] for row in delta["nodes"]) == ["node-1", "node-2"]
    assert all(row[N["cpu_percent"]] is None for row in delta["nodes"])
    assert "api" not in orjson.dumps(delta).decode() and "alpha" not in orjson.dumps(delta).decode()
    await communicator.disconnect()


async def test_a_page_that_has_the_latest_view_gets_no_snapshot_on_connect_but_the_next_delta(people, redis_db):
    pods, usage, nodes = _cluster()
    first = await publish(redis_db, pods, usage, nodes, 1000, people)
    communicator, connected, _, _ = await connect(people.alice, path=f"/ws/live/?seq={first['seq']}")
    assert connected
    assert await communicator.receive_nothing(timeout=0.5)
    usage.pod_usage[("alpha-dev", "api-1")]["cpu_nanocores"] = 3e8
    await publish(redis_db, pods, usage, nodes, 1015, people)
    delta = await receive(communicator)
    assert delta["type"] == "delta" and delta["base"] == first["seq"] and delta["usage"][1] == 300
    await communicator.disconnect()


async def test_a_socket_that_missed_a_cycle_gets_the_latest_snapshot_not_the_old_deltas(people, redis_db):
    pods, usage, nodes = _cluster()
    first = await publish(redis_db, pods, usage, nodes, 1000, people)
    communicator, connected, _, _ = await connect(people.alice, path=f"/ws/live/?seq={first['seq'] - 5}")
    assert connected
    view = await receive(communicator)
    assert view["type"] == "snapshot" and view["seq"] == first["seq"]
    assert names(view["pods"]) == ["api-1", "db-0"]
    # A page that asks for a resync gets the snapshot again, but at most one a second.
    await communicator.send_to(text_data='{"type": "resync"}')
    assert await communicator.receive_nothing(timeout=0.4)
    again = await receive(communicator, timeout=2)
    assert again["type"] == "snapshot" and again["seq"] == first["seq"]
    await communicator.disconnect()


async def test_a_membership_revoked_mid_connection_stops_the_messages_and_closes_the_socket(people, redis_db):
    pods, usage, nodes = _cluster()
    await publish(redis_db, pods, usage, nodes, 1000, people)
    communicator, connected, _, _ = await connect(people.bob)
    assert connected
    await receive(communicator)
    await database_sync_to_async(Membership.objects.filter(user=people.bob).delete)()
    assert await closed_with(communicator) == 4403
    await communicator.disconnect()


async def test_access_is_asked_again_before_each_send_even_without_a_signal(people, redis_db):
    pods, usage, nodes = _cluster()
    await publish(redis_db, pods, usage, nodes, 1000, people)
    communicator, connected, _, _ = await connect(people.bob)
    assert connected
    await receive(communicator)
    # A queryset update sends no signal: only the check before the next send can notice.
    await database_sync_to_async(get_user_model().objects.filter(pk=people.bob.pk).update)(is_active=False)
    await asyncio.sleep(1.1)  # past the second for which a checked scope is trusted
    await publish(redis_db, pods, usage, nodes, 1015, people)
    assert await closed_with(communicator) == 4401
    await communicator.disconnect()


async def test_logging_out_in_another_client_closes_the_socket(people, redis_db):
    communicator, connected, _, client = await connect(people.alice)
    assert connected
    await receive(communicator)  # the empty view before any cycle: blanks, not errors
    response = await database_sync_to_async(client.post)("/web/logout/")
    assert response.status_code in (200, 302)
    assert await closed_with(communicator) == 4401
    await communicator.disconnect()


async def test_the_sockets_woken_by_one_cycle_are_checked_together_and_each_loses_only_its_own_access(
        people, redis_db, monkeypatch):
    from django.contrib.sessions.models import Session

    from web import consumers

    batches = []
    checked = consumers._current_scopes

    async def counting(keys):
        batches.append(sorted(keys))
        return await checked(keys)

    monkeypatch.setattr(consumers, "_current_scopes", counting)
    pods, usage, nodes = _cluster()
    await publish(redis_db, pods, usage, nodes, 1000, people)
    sockets = {}
    for label, user in (("alice", people.alice), ("bob", people.bob), ("charlie", people.charlie),
                        ("charlie-2", people.charlie)):
        communicator, connected, _, client = await connect(user)
        assert connected, label
        await receive(communicator)
        sockets[label] = (communicator, client.cookies["sessionid"].value)
    # No signal for either: a queryset delete of a session row and a queryset update of a user.
    await database_sync_to_async(Session.objects.filter(pk=sockets["charlie-2"][1]).delete)()
    await database_sync_to_async(get_user_model().objects.filter(pk=people.bob.pk).update)(is_active=False)
    await asyncio.sleep(1.1)  # past the second for which a checked scope is trusted
    await publish(redis_db, pods, usage, nodes, 1015, people)
    alice, charlie = await receive(sockets["alice"][0]), await receive(sockets["charlie"][0])
    assert (alice["type"], alice["scope"]) == ("delta", "tenant")
    assert (charlie["type"], charlie["scope"]) == ("delta", "cluster")
    assert await closed_with(sockets["bob"][0]) == 4401
    assert await closed_with(sockets["charlie-2"][0]) == 4401
    # One group's notice wakes its sockets together: the cluster group's two sessions, one check.
    assert sorted([sockets["charlie"][1], sockets["charlie-2"][1]]) in batches, batches
    for communicator, _ in sockets.values():
        await communicator.disconnect()
