"""Schemathesis fuzzes every operation of the OpenAPI schema: no input may produce a 500."""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from billing.models import ApiCredential, Tenant
from metrics.catalogue import METRICS
from tests.support.base import container_series, hours_ago, write

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """Django's test client keeps the database connection across requests; a bare WSGI call would close it."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def credentials(store):
    """A tenant credential over some data, so that fuzzed queries reach InfluxDB."""
    tenant = Tenant.objects.create(name="Fuzz", slug="fuzz")
    tenant.assign("default")
    tenant.assign("fuzz-ns")
    _, secret = ApiCredential.generate("fuzzer", tenant=tenant)
    write(container_series("default", "p-1", "app", hours_ago(1), 40, cpu=10.0))
    return {"X-USERNAME": "fuzzer", "X-PASSWORD": secret}


# Every operation of the schema, fuzzed: 65 s with a tenant's credentials and 30 s without on the
# shared 2-core machine, so both runs are for `make test-slow`. The operation that once took
# minutes was the allocation API: `accumulate=month` had no cap on its sets, and one request over
# the centuries InfluxDB stores read 4,192 sets (268 s); api/opencost.py now refuses more than
# 1000 sets before reading. The hostile-string suite is tests/fuzz (docs/reliability.md, "Fuzzing").
@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case, credentials):
    response = case.call(headers=credentials)
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500 or response.status_code == 503, response.text[:200]


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error_without_credentials(case, redis_db):
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
DATES = st.sampled_from(["2017-12-01", "2017-12-01 08:00:00", "2030-01-01T00:00:00Z", "1970-01-01", "2262-04-10",
                         hours_ago(2).isoformat(), hours_ago(0).isoformat(), "2017-12-01T00:00:00.5+05:30"])
FIELDS = {
    "namespace": st.sampled_from(["default", "fuzz-ns", "other-ns", "kube-system"]),
    "agg": st.sampled_from([None, "", "pod-by-namespace", "all-namespace", "all-pod"]),
    "limit": st.integers(-3, 10**12) | st.integers(0, 500).map(str),
    "timeBeginInterval": DATES,
    "timeEndInterval": DATES,
    "excludeNamespaces": st.lists(st.sampled_from(["default", "kube-system", "fuzz-ns"]), max_size=3),
}
BODIES = st.fixed_dictionaries({}, optional={name: good | ANY_JSON for name, good in FIELDS.items()})


@pytest.mark.django_db
@given(metric=st.sampled_from(sorted(METRICS)), body=BODIES)
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_catalogue_metrics_with_mixed_good_and_bad_fields_never_fail(credentials, metric, body):
    client = APIClient()
    headers = {"HTTP_X_USERNAME": credentials["X-USERNAME"], "HTTP_X_PASSWORD": credentials["X-PASSWORD"]}
    response = client.generic("POST", f"/api/{metric}", json.dumps(body), content_type="application/json", **headers)
    assert response.status_code in (200, 400, 403, 404), (response.status_code, response.content[:300])
    payload = response.json()
    if isinstance(payload, list):
        assert all(row.get("namespace_name") in ("default", "fuzz-ns", None) for row in payload)
    else:
        assert payload["code"] == response.status_code
