"""Browser tests against the real stack: one stack for the folder (see tests/browser/stack.py).

``live_stack`` starts the simulated cluster, collects it for a simulated quarter of an hour with
the real collectors into the suite's InfluxDB and this run's Redis database, commits two tenants
and their people to the test database, and serves ``kubemon.asgi.application`` with uvicorn.
``chromium`` is Debian's chromium driven by Playwright; ``page`` is a fresh browser context (no
cookies) whose uncaught errors and Content-Security-Policy refusals fail the test, and ``shoot``
saves a screenshot under the test's ``tmp_path`` and under ``bench/results/screenshots/``.

Why the ORM calls run in a thread: once Playwright's sync API has started, the main thread looks
like an asyncio context to Django (its event loop runs in a greenlet of the same thread), and
Django refuses synchronous ORM calls there. A worker thread has no running loop.
"""

import contextlib
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field

import pytest

from tests.browser.stack import (
    ROOT,
    AsgiServer,
    Collector,
    Simulator,
    database_url,
    free_port,
    launch_chromium,
    server_env,
)

SCREENSHOTS = ROOT / "bench" / "results" / "screenshots"
SCENARIO = {"seed": 7, "nodes": 5, "pods": 60, "namespaces": 6, "gpu_nodes": 1, "jetson_nodes": 1}
WARM_UP_SECONDS = 10 * 60  # simulated history before the tests
# The production cadence: the charts' 1 h view has 15 s buckets, and a sparser history leaves
# every other bucket empty, which uPlot draws as isolated, invisible points.
WARM_UP_STEP = 15
# The simulator's first namespaces (simcluster/scenario.py NAMESPACE_POOL) for a scenario of 6:
# team-a, physics, ml-lab, team-b, astro, genomics.
TENANTS = {
    "alpha": {"name": "Alpha lab", "namespaces": ["team-a", "physics"]},
    "beta": {"name": "Beta team", "namespaces": ["ml-lab"]},
}


@dataclass
class Person:
    username: str
    password: str
    tenant: str | None = None


PEOPLE = {
    "alice": Person("alice", "alice browser password", "alpha"),
    "bob": Person("bob", "bob browser password", "beta"),
    "charlie": Person("charlie", "charlie browser password"),
}


@dataclass
class LiveStack:
    url: str
    simulator: Simulator
    collector: Collector
    server: AsgiServer
    people: dict
    tenants: dict
    api_credentials: dict = field(default_factory=dict)  # tenant slug -> (username, secret)

    def cycle(self, seconds=15):
        return self.collector.cycle(seconds)


def in_thread(function, *args):
    """Run ``function`` in a fresh thread (see the module docstring) and return its result."""
    from django.db import connections

    result, error = [], []

    def body():
        try:
            result.append(function(*args))
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller)
            error.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def create_people():
    from django.contrib.auth import get_user_model

    from billing.models import ApiCredential, Membership, Tenant

    User = get_user_model()
    tenants, credentials = {}, {}
    for slug, spec in TENANTS.items():
        tenant = Tenant.objects.create(name=spec["name"], slug=slug)
        for namespace in spec["namespaces"]:
            tenant.assign(namespace)
        tenants[slug] = tenant.pk
        credential, secret = ApiCredential.generate(f"{slug}-browser-api", tenant=tenant)
        credentials[slug] = (credential.username, secret)
    for person in PEOPLE.values():
        user = User.objects.create_user(person.username, f"{person.username}@example.org", person.password,
                                        is_staff=person.tenant is None)
        if person.tenant:
            role = Membership.Role.ADMIN if person.username == "alice" else Membership.Role.VIEWER
            Membership.objects.create(user=user, tenant_id=tenants[person.tenant], role=role)
    return tenants, credentials


def delete_people():
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    from billing.models import Tenant

    Session.objects.all().delete()
    Tenant.objects.filter(slug__in=list(TENANTS)).delete()
    get_user_model().objects.filter(username__in=list(PEOPLE)).delete()


def pytest_collection_modifyitems(items):
    """A browser test needs pytest-django's test database (the server uses it), which pytest-django
    creates only when a collected test is marked ``django_db``; the test's own transaction is
    unused (the people are committed by ``live_stack``)."""
    for item in items:
        if "live_stack" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.django_db)


@pytest.fixture(scope="package")
def live_stack(tmp_path_factory, django_db_setup, django_db_blocker, influxdb):
    from django.conf import settings
    from django.db import connection

    from kubemon.redis import get_redis
    from kubemon.timeseries import get_store, reset_store

    workdir = tmp_path_factory.mktemp("stack")
    redis = get_redis()
    redis.flushdb()
    reset_store()
    store = get_store()
    store.drop_database()
    store.ensure_database()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with django_db_blocker.unblock(), contextlib.ExitStack() as cleanup:
        cleanup.callback(reset_store)
        cleanup.callback(redis.flushdb)
        cleanup.callback(in_thread, delete_people)
        tenants, credentials = in_thread(create_people)
        # The simulated clock ends its warm-up ten minutes before now, leaving the tests room to
        # advance it (the failing-pod test may take six minutes) without passing the wall clock.
        start = int(time.time()) - WARM_UP_SECONDS - 600
        simulator = Simulator(workdir / "sim", start, push_to=url, **SCENARIO)
        cleanup.callback(simulator.stop)
        env = server_env(
            settings_module="tests.settings", database=database_url(connection.settings_dict),
            redis_url=settings.REDIS_URL, influxdb_url=influxdb.url, influxdb_database=settings.INFLUXDB_DATABASE,
            channels_prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            kubeconfig=simulator.kubeconfig, secret_key=settings.SECRET_KEY,
            # As `make demo` runs it: DEBUG serves the static files (kubemon/urls.py); the hosts are
            # still only loopback, so the websocket's origin check is the production one.
            debug=True, extra={"ALLOWED_HOSTS": "127.0.0.1,localhost"},
        )
        server = AsgiServer(env, workdir / "asgi.log", port=port)
        cleanup.callback(server.stop)
        server.start()  # before the warm-up, so that the temperature agents' pushes land
        collector = Collector(simulator, store, redis)
        for _ in range(WARM_UP_SECONDS // WARM_UP_STEP):
            collector.cycle(WARM_UP_STEP)
        yield LiveStack(url, simulator, collector, server, PEOPLE, tenants, credentials)


@pytest.fixture(scope="package")
def chromium(live_stack):
    """Debian's chromium, started after the stack (whose set-up uses the ORM, see above).

    Each test's ``django_db`` transaction is entered on the main thread after Playwright has
    started, where Django sees a running event loop; the ORM is not used from that thread while
    the browser runs, so the async-safety check is lifted for this folder only (Django's
    documented switch), and restored afterwards. In that state Django keeps the thread's
    connection per context, not per thread: it is closed here, or the test database could not
    be dropped at the end of the run.
    """
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            yield browser
            browser.close()
            connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


CSP_REFUSAL = re.compile(r"Refused to (execute|load|apply|evaluate)", re.I)


@pytest.fixture
def page(chromium, live_stack):
    """A page in a fresh context: no cookies. Uncaught script errors and CSP refusals fail the test."""
    context = chromium.new_context(base_url=live_stack.url, viewport={"width": 1366, "height": 900},
                                   accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if msg.type == "error" and CSP_REFUSAL.search(msg.text) else None)
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture
def shoot(request, tmp_path):
    """``shoot(page, "overview")`` saves ``<tmp_path>/overview.png`` and a copy under
    bench/results/screenshots/<module>/<test>-overview.png (gitignored) for people to look at."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    folder = SCREENSHOTS / module
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page, name, full_page=True):
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        shutil.copy(path, folder / f"{request.node.name}-{name}.png")
        return path

    return shoot


def login(page, person, next_path=None):
    """Log ``person`` in through the login form (fields ``username`` and ``password``)."""
    page.goto("/web/login/" + (f"?next={next_path}" if next_path else ""))
    page.fill("input[name=username]", person.username)
    page.fill("input[name=password]", person.password)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")


@pytest.fixture
def log_in(page, live_stack):
    """``log_in("alice")`` logs that person in on ``page`` and returns the page."""

    def log_in(username, next_path=None):
        login(page, live_stack.people[username], next_path)
        return page

    return log_in
