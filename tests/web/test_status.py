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
