"""The InfluxDB client against real servers: credentials refused, gzip writes, clear errors."""

import time

import pytest
import requests

from kubemon.timeseries import TimeseriesAuthError, TimeseriesQueryError, TimeseriesUnavailable
from kubemon.timeseries.client import InfluxClient
from tests.conftest import InfluxServer

T0 = int(time.time()) - 600


@pytest.fixture(scope="module")
def influxdb_with_auth():
    server = InfluxServer(auth=True).start()
    # With no user yet, InfluxDB 1.x lets the first admin be created without credentials.
    requests.post(server.url + "/query", data={"q": "CREATE USER admin WITH PASSWORD 'right-password' "
                                                     "WITH ALL PRIVILEGES"}, timeout=5).raise_for_status()
    yield server
    server.cleanup()


def test_wrong_credentials_raise_an_auth_error_with_the_servers_text(influxdb_with_auth):
    client = InfluxClient(influxdb_with_auth.url, "authdb", username="admin", password="wrong")
    with pytest.raises(TimeseriesAuthError, match="refused the credentials: authorization failed"):
        client.ensure_database()
    with pytest.raises(TimeseriesAuthError):
        client.write_body(f"m v=1 {T0}")


def test_missing_credentials_are_refused_too(influxdb_with_auth):
    with pytest.raises(TimeseriesAuthError, match="unable to parse authentication credentials|authorization"):
        InfluxClient(influxdb_with_auth.url, "authdb").query("SHOW DATABASES", database="")


def test_user_and_password_are_sent_as_basic_auth(influxdb_with_auth):
    client = InfluxClient(influxdb_with_auth.url, "authdb", username="admin", password="right-password")
    client.ensure_database()
    client.write_body(f"m v=1 {T0}")
    assert client.query('SELECT "v" FROM "m"', epoch="s")[0]["values"] == [[T0, 1]]


def test_gzip_writes_are_read_back(store):
    gzip_client = InfluxClient(store.url, store.database, gzip_writes=True)
    gzip_client.write_body("\n".join(f"gz,n=n{i} v={i}i {T0 + i}" for i in range(500)))
    assert store.query('SELECT count("v") FROM "gz"')[0]["values"][0][1] == 500


def test_an_unreachable_server_is_named():
    with pytest.raises(TimeseriesUnavailable, match="InfluxDB at http://127.0.0.1:1 is unreachable"):
        InfluxClient("http://127.0.0.1:1", "x", timeout=1).ping()


def test_a_write_to_a_missing_database_says_so(store):
    client = InfluxClient(store.url, "no_such_database")
    with pytest.raises(Exception, match="has no database 'no_such_database'"):
        client.write_body(f"m v=1 {T0}")


def test_a_query_error_carries_the_servers_message(store):
    with pytest.raises(TimeseriesQueryError, match="database not found"):
        InfluxClient(store.url, "no_such_database").query('SELECT * FROM "m"')
