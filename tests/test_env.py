"""Settings helpers: plain variables, *_FILE secrets, and clear errors for malformed values."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from kubemon.env import env_bool, env_float, env_int, env_list, env_str


def test_a_file_variant_wins_over_the_plain_variable(monkeypatch, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("from-the-file\n")
    monkeypatch.setenv("INFLUXDB_PASSWORD", "from-the-environment")
    monkeypatch.setenv("INFLUXDB_PASSWORD_FILE", str(secret))
    assert env_str("INFLUXDB_PASSWORD") == "from-the-file"


def test_an_unreadable_secret_file_is_named(monkeypatch):
    monkeypatch.setenv("SECRET_KEY_FILE", "/nonexistent/secret")
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE=/nonexistent/secret cannot be read"):
        env_str("SECRET_KEY")


def test_typed_helpers_parse_and_default(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_FLOAT", "2.5")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env_bool("X_BOOL") is True
    assert env_int("X_INT", 0) == 42
    assert env_float("X_FLOAT", 0.0) == 2.5
    assert env_list("X_LIST") == ["a", "b", "c"]
    assert env_int("X_MISSING", 7) == 7


@pytest.mark.parametrize("helper, value, message", [
    (env_bool, "maybe", "is not a boolean"),
    (env_int, "ten", "is not an integer"),
    (env_float, "fast", "is not a number"),
])
def test_malformed_values_name_the_variable(monkeypatch, helper, value, message):
    monkeypatch.setenv("X_BAD", value)
    with pytest.raises(ImproperlyConfigured, match=f"X_BAD='{value}' {message}"):
        helper("X_BAD", 0) if helper is not env_bool else helper("X_BAD")


@pytest.mark.django_db
def test_the_deploy_check_names_an_unreachable_influxdb(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    from kubemon.timeseries import reset_store

    settings.INFLUXDB_URL = "http://127.0.0.1:1"
    settings.INFLUXDB_TIMEOUT = 1
    reset_store()
    try:
        with pytest.raises(SystemCheckError, match="InfluxDB at http://127.0.0.1:1 is unreachable"):
            call_command("check", "--deploy", "--tag", "kubemon")
    finally:
        reset_store()  # the settings fixture restores the URL; the next get_store() rebuilds with it


def test_a_missing_secret_key_is_a_warning_and_a_deploy_error(settings):
    from kubemon.checks import check_secret_key_for_deployment, check_settings

    settings.SECRET_KEY_IS_EPHEMERAL = True
    settings.DEBUG = False
    assert [w.id for w in check_settings()] == ["kubemon.W002"]
    assert [e.id for e in check_secret_key_for_deployment()] == ["kubemon.E004"]
