"""Retention: pod detail 90 days by default, the namespace and controller tiers years, and a
changed setting ALTERs the existing policies (the workers' start and ``manage.py setupinfluxdb``)."""

import pytest
from django.core.management import call_command
from django.test import override_settings

HOURS = {"30d": "720h0m0s", "90d": "2160h0m0s", "400d": "9600h0m0s", "1825d": "43800h0m0s",
         "3650d": "87600h0m0s"}


@pytest.mark.django_db
def test_it_keeps_pod_detail_90_days_and_the_tiers_five_years_by_default(store):
    from django.conf import settings

    store.ensure_database(settings.INFLUXDB_RAW_RETENTION, settings.INFLUXDB_HOURLY_RETENTION,
                          settings.INFLUXDB_NAMESPACE_RETENTION, settings.INFLUXDB_CONTROLLER_RETENTION)
    policies = store.retention_policies()
    assert {name: policies[name] for name in ("hourly", "pod_daily")} == {"hourly": HOURS["90d"],
                                                                          "pod_daily": HOURS["90d"]}
    for name in ("namespace_hourly", "namespace_daily", "node_daily", "controller_hourly", "controller_daily"):
        assert policies[name] == HOURS["1825d"], name


@pytest.mark.django_db
def test_a_changed_setting_alters_every_existing_policy(store):
    store.ensure_database("30d", "400d", "1825d", "1825d")
    assert store.retention_policies()["hourly"] == HOURS["400d"]
    # An installation upgraded from the 400-day default: the next start shortens the pod detail.
    store.ensure_database("30d", "90d", "1825d", "3650d")
    policies = store.retention_policies()
    assert (policies["hourly"], policies["pod_daily"]) == (HOURS["90d"], HOURS["90d"])
    assert (policies["namespace_hourly"], policies["namespace_daily"]) == (HOURS["1825d"], HOURS["1825d"])
    assert (policies["controller_hourly"], policies["controller_daily"]) == (HOURS["3650d"], HOURS["3650d"])
    assert policies["raw"] == HOURS["30d"]


@pytest.mark.django_db
def test_a_tier_kept_less_than_a_year_gets_shards_as_long_as_itself(store):
    # InfluxDB refuses a shard duration longer than the policy's: the daily tiers' yearly shards shrink.
    store.ensure_database("30d", "90d", "200d", "100d")
    policies = store.retention_policies()
    assert policies["namespace_daily"] == "4800h0m0s"
    assert policies["controller_daily"] == "2400h0m0s"


@pytest.mark.django_db
def test_setupinfluxdb_applies_the_settings_to_an_existing_database(store, capsys):
    store.ensure_database("30d", "400d")
    with override_settings(INFLUXDB_HOURLY_RETENTION="120d", INFLUXDB_CONTROLLER_RETENTION="3650d"):
        call_command("setupinfluxdb")
    policies = store.retention_policies()
    assert policies["hourly"] == "2880h0m0s"
    assert policies["controller_daily"] == HOURS["3650d"]
    assert "controller_hourly 87600h0m0s" in capsys.readouterr().out
