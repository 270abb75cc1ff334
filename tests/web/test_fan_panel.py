"""The fan panel page and its data: staff and fan operators only, no inline script, bands and temperatures."""

import re
import time

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from fan import history, service
from kubemon.redis import get_redis
from kubemon.timeseries import Point
from tests.fan.conftest import running_fan_host, set_temperatures

pytestmark = pytest.mark.django_db


@pytest.fixture
def fan_host():
    with running_fan_host() as host:
        yield host


@pytest.fixture
def staff(django_user_model):
    c = Client()
    c.force_login(django_user_model.objects.create_user("charlie", password="pw", is_staff=True))
    return c


def test_staff_see_the_panel_with_the_switch_and_thresholds_and_no_inline_script(fan_host, store, staff):
    set_temperatures(get_redis(), west=50.0)
    service.tick(get_redis(), store)
    response = staff.get("/web/fan/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-fan-action="on"' in html and 'data-fan-action="off"' in html
    assert "70.0 °C" in html and "63.0 °C" in html
    assert 'src="/static/web/fan.js"' in html
    scripts = re.findall(r"<script([^>]*)>", html)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts), scripts
    assert " on" + "click=" not in html


def test_people_who_may_not_operate_the_fan_get_404(fan_host, django_user_model):
    c = Client()
    c.force_login(django_user_model.objects.create_user("bob", password="pw"))
    assert c.get("/web/fan/").status_code == 404
    assert c.get("/web/fan/data").status_code == 404
    assert 'href="/web/fan/"' not in c.get("/web/status/").content.decode()
    operator = django_user_model.objects.create_user("olga", password="pw")
    operator.groups.add(Group.objects.create(name="fan-operator"))
    c.force_login(operator)
    assert c.get("/web/fan/").status_code == 200
    assert 'href="/web/fan/"' in c.get("/web/status/").content.decode()  # the header links the panel


def test_the_data_has_the_on_periods_as_bands_and_each_nodes_temperatures(fan_host, store, staff):
    now = time.time()
    history.record(store, True, 1.0, "auto", "west at 71 °C ≥ 70 °C", now - 1200)
    history.record(store, False, 0.0, "auto", "all nodes ≤ 63 °C", now - 600)
    store.write([Point("node_temperature", {"node_name": node, "sensor": "cpu", "source": "push"},
                       {"celsius": 60.0 + i}, int(now - 900 + 15 * i)) for i in range(20) for node in ("west", "east")])
    doc = staff.get("/web/fan/data?range=1h").json()
    assert [[round(a), round(b)] for a, b in doc["bands"]] == [[round(now - 1200), round(now - 600)]]
    assert sorted(doc["temperatures"]["nodes"]) == ["east", "west"]
    values = [v for v in doc["temperatures"]["nodes"]["west"] if v is not None]
    assert min(values) >= 60.0 and max(values) <= 79.0 and len(values) >= 5
    assert doc["status"]["maxTemperature"] == 70.0
    assert [c["running"] for c in doc["changes"]] == [True, False]
    assert staff.get("/web/fan/data?range=2y").status_code == 400


def test_the_panel_says_who_switched_the_fan_by_hand_once_not_twice(fan_host, store, staff):
    set_temperatures(get_redis(), west=50.0)
    service.tick(get_redis(), store)
    service.set_manual(get_redis(), store, True, "charlie")
    html = staff.get("/web/fan/").content.decode()
    head = html[html.index('class="panel fan-head"'):html.index('aria-labelledby="temps-title"')]
    text = re.sub(r"<[^>]+>", " ", head).lower()
    assert text.count("on by charlie") == 1, text  # the reason line and the override line said it both
    until = time.strftime("%H:%M UTC", time.gmtime(service.load_state(get_redis())["override"]["until"]))
    assert until in head  # when auto mode takes over again, in UTC as the rule says it
