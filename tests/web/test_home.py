import pytest


@pytest.mark.django_db
def test_it_shows_each_part_and_its_status(client, store):
    response = client.get("/")
    assert response.status_code == 200
    text = response.content.decode()
    for part in ("database", "redis", "influxdb", "cluster"):
        assert f"<td>{part}</td>" in text
    assert 'class="ok">ok<' in text


@pytest.mark.django_db
def test_it_renders_with_debug_on(client, store, settings):
    settings.DEBUG = True  # template lookups of missing keys are strict then
    assert client.get("/").status_code == 200
