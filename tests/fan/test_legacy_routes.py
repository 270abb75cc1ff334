"""``GET /k8s/fan/status``, ``POST /k8s/fan/on|off|auto``: staff and fan operators only."""

import time

import pytest
from django.contrib.auth.models import Group
from django.test import Client, override_settings

from fan import service
from kubemon.redis import get_redis
from tests.fan.conftest import set_temperatures

pytestmark = pytest.mark.django_db
LEGACY_KEYS = {"isEnabled", "isRunning", "isAutoMode", "minTemperature", "maxTemperature", "message"}


@pytest.fixture
def people(django_user_model):
    staff = django_user_model.objects.create_user("charlie", password="pw", is_staff=True)
    operator = django_user_model.objects.create_user("olga", password="pw")
    operator.groups.add(Group.objects.create(name="fan-operator"))
    viewer = django_user_model.objects.create_user("bob", password="pw")
    clients = {}
    for user in (staff, operator, viewer):
        c = Client(enforce_csrf_checks=False)
        c.force_login(user)
        clients[user.username] = c
    return clients


def test_staff_get_the_legacy_status_with_its_six_keys(fan_host, store, people):
    set_temperatures(get_redis(), west=50.0)
    service.tick(get_redis(), store)
    doc = people["charlie"].get("/k8s/fan/status").json()
    assert LEGACY_KEYS <= set(doc)
    assert doc["isEnabled"] is True and doc["isAutoMode"] is True
    assert doc["maxTemperature"] == 70.0 and doc["minTemperature"] == 63.0
    assert doc["isRunning"] is True and doc["message"] == "FAN ON"  # within the dwell of the host's start
    assert "warning" not in doc


def test_an_operator_switches_the_fan_off_and_back_to_auto(fan_host, store, people):
    set_temperatures(get_redis(), west=50.0)
    response = people["olga"].post("/k8s/fan/off")
    assert response.status_code == 200
    doc = response.json()
    assert doc["isRunning"] is False and doc["isAutoMode"] is False and doc["mode"] == "manual"
    assert doc["override"]["by"] == "olga" and doc["override"]["until"] == pytest.approx(time.time() + 1800, abs=5)
    assert fan_host.pin(15) == 0
    assert people["olga"].post("/k8s/fan/on").json()["isRunning"] is True and fan_host.pin(15) == 1.0
    doc = people["olga"].post("/k8s/fan/auto").json()
    assert doc["isAutoMode"] is True and doc["override"] is None


def test_people_who_are_neither_staff_nor_operators_get_403_and_the_anonymous_401(fan_host, store, people):
    assert people["bob"].get("/k8s/fan/status").status_code == 403
    response = people["bob"].post("/k8s/fan/off")
    assert response.status_code == 403 and "fan operators" in response.json()["message"]
    assert fan_host.pin(15) == 1.0
    assert Client().get("/k8s/fan/status").status_code == 401
    assert Client().post("/k8s/fan/on").status_code == 401


def test_a_post_without_the_csrf_token_is_refused(fan_host, store, django_user_model):
    c = Client(enforce_csrf_checks=True)
    c.force_login(django_user_model.objects.create_user("staffer", password="pw", is_staff=True))
    assert c.post("/k8s/fan/off").status_code == 403
    assert fan_host.pin(15) == 1.0


def test_a_switch_the_host_cannot_take_is_a_502_with_the_reason(fan_host, store, people):
    with override_settings(FAN_SERVER_URL="http://127.0.0.1:9"):
        response = people["charlie"].post("/k8s/fan/off")
        assert response.status_code == 502
        assert "unreachable" in response.json()["message"]
        doc = people["charlie"].get("/k8s/fan/status").json()
    assert doc["isRunning"] is None and "unreachable" in doc["message"]
    assert "auto mode is not running" in doc["warning"]


def test_without_a_fan_host_the_service_is_disabled_as_the_original_said(people):
    with override_settings(FAN_SERVER_URL="", FAN_MAXTEMP=70.0):
        doc = people["charlie"].get("/k8s/fan/status").json()
        assert (doc["isEnabled"], doc["isRunning"], doc["message"]) == (False, False, "Disabled Fan service")
        assert people["charlie"].post("/k8s/fan/on").status_code == 409


def test_the_wrong_method_is_a_405_with_a_json_message(people):
    response = people["charlie"].post("/k8s/fan/status")
    assert response.status_code == 405 and response["Allow"] == "GET"
    assert response.json() == {"code": 405, "message": "method POST not allowed: use GET"}
    response = people["charlie"].get("/k8s/fan/on")
    assert (response.status_code, response["Allow"]) == (405, "POST")
    assert response.json()["message"] == "method GET not allowed: use POST"
