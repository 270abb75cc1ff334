import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def logged_in(client, db):
    user = get_user_model().objects.create_user("dora", "dora@example.org", "dora password")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_it_shows_each_part_and_its_status(logged_in, store):
    response = logged_in.get("/web/status/")
    assert response.status_code == 200
    text = response.content.decode()
    for part in ("database", "redis", "influxdb", "cluster"):
        assert f"<td>{part}</td>" in text
    assert 'class="ok">ok<' in text


@pytest.mark.django_db
def test_it_renders_with_debug_on(logged_in, store, settings):
    settings.DEBUG = True  # template lookups of missing keys are strict then
    assert logged_in.get("/web/status/").status_code == 200


@pytest.mark.django_db
def test_it_sends_an_anonymous_visitor_to_the_login_page(client):
    response = client.get("/web/status/")
    assert response.status_code == 302
    assert response["Location"] == "/web/login/?next=/web/status/"


@pytest.mark.django_db
def test_an_anonymous_script_asking_for_json_gets_a_json_401_not_the_login_page(client):
    response = client.get("/web/status/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Log in first"}


@pytest.mark.django_db
def test_the_api_and_the_health_check_do_not_need_a_portal_login(client):
    assert client.get("/healthz").status_code in (200, 503)
    # The API answers with its own authentication's error, not a redirect to the login page.
    response = client.post("/api/cpu/usage_rate", "{}", content_type="application/json")
    assert response.status_code in (401, 403)
    assert "Location" not in response
