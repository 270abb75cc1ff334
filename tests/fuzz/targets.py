"""Every field of every HTTP endpoint, as the fuzz suite sends a hostile value through it, and what
each answer must satisfy.

A ``Target`` is one field of one endpoint: it builds a request around one value, with tenant
alpha's header credentials (``alpha-api``) or alice's web session (alpha's admin, CSRF checked),
as ``tests.support.base`` sets them up; the fan routes with charlie's (staff) session. Beta owns
``beta-web`` with a pod and a statement whose names (``BETA_MARKERS``) appear in no hostile
string: if one ever shows in an answer to alpha, a foreign row leaked.

``check`` is the rule for every answer: never a 5xx (a 502 is kubemon's answer when InfluxDB
refuses its statement, i.e. an InfluxQL syntax error; api.base), every 4xx a JSON object with a
``message``, every row alpha's. ``influx_client_errors`` reads InfluxDB's own count of the
requests it refused (``SHOW STATS`` ``httpd`` ``clientError``, a 400 for a statement it cannot
parse), which must not move during a run.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

from django.test import Client, override_settings
from django.utils import timezone

from billing.models import PriceList, Statement, StatementLine
from kubemon.redis import get_redis
from kubemon.temperatures import KNOWN_NODES_KEY
from kubemon.timeseries import get_store
from tests.support.base import container_series, hours_ago, write

ALPHA_NAMESPACES = {"alpha-dev", "alpha-prod"}
BETA_MARKERS = ("bpod-zq81", "B-SECRET-0099", "beta-web")
PUSH_TOKEN = "fuzz-push-token-6c1e"
CSRF = "fuzzcsrftoken0123456789abcdefghi"  # 32 characters of Django's alphabet: an unmasked token
METRICS = ("cpu/usage_rate", "memory/usage", "cpu/request", "network/rx_rate")
AGGS = (None, "pod-by-namespace", "all-namespace", "all-pod")
# One answer that costs more than this much of the test process's CPU is a denial of service; the
# wall-clock limit is loose because the shared machine stalls everything for 40 s at times.
SLOW_CPU_SECONDS = 5.0
SLOW_WALL_SECONDS = 120.0


class FuzzFailure(AssertionError):
    pass


def set_up_data(test):
    """Samples for alpha and beta, a statement each, a known node; ``test`` is a BaseTestCase."""
    start = hours_ago(3)
    write(container_series("alpha-dev", "apod-1", "app", start, 40, cpu=10.0)
          + container_series("beta-web", BETA_MARKERS[0], "app", start, 40, cpu=20.0))
    version = PriceList.objects.create(name="fuzz", currency="EUR", effective_start=start - timedelta(days=400),
                                       cpu_core_hour="0.031").current_version
    statements = {}
    for tenant, namespace, number in ((test.alpha, "alpha-dev", "A-FUZZ-0001"), (test.beta, "beta-web",
                                                                                  BETA_MARKERS[1])):
        statement = Statement.objects.create(tenant=tenant, period_start=start - timedelta(days=30), period_end=start,
                                             currency="EUR", basis="max", idle="keep", checksum="ab" * 32,
                                             price_lists="fuzz v1", total=Decimal("1.00"))
        StatementLine.objects.create(statement=statement, position=1, tenant=tenant.slug, namespace=namespace,
                                     resource="cpu", period_start=statement.period_start, period_end=start,
                                     unit="core-hours", quantity=Decimal("1"), rate=Decimal("1"), cost=Decimal("1.00"),
                                     price_list_version=version)
        statement.state, statement.number, statement.issued_at = Statement.State.ISSUED, number, timezone.now()
        statement.save()
        statements[tenant.slug] = statement
    get_redis().sadd(KNOWN_NODES_KEY, "node-1")
    return start, statements


@dataclass
class Harness:
    """The clients and the data the targets need."""

    test: object  # the BaseTestCase
    start: object
    statements: dict
    session: Client = None
    staff: Client = None

    def __post_init__(self):
        self.session = _session_client(self.test.alice)
        self.staff = _session_client(self.test.charlie)

    def headers(self, via_session):
        return {"HTTP_X_CSRFTOKEN": CSRF} if via_session else self.test.headers("alpha")

    def client(self, via_session):
        return self.session if via_session else self.test.client


def _session_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.cookies["csrftoken"] = CSRF
    return client


@dataclass(frozen=True)
class Target:
    endpoint: str
    field: str
    send: Callable  # (harness, value, n, via_session) -> response
    rows: Callable = None  # (payload) -> namespaces (or tenant slugs) of the rows of a 200
    json_values: bool = False  # the field is in a JSON body: JSON values of any type can be sent


# --- the metric API: POST /api/<metric> ---

def _metric_body(harness, n, field, value):
    body = {"namespace": "alpha-dev", "timeBeginInterval": harness.start.isoformat()}
    if AGGS[n % 4]:
        body["agg"] = AGGS[n % 4]
    body[field] = [value] if field == "excludeNamespaces" and isinstance(value, str) else value
    return body


def _post_metric(harness, metric, raw, via_session):
    return harness.client(via_session).generic("POST", "/api/" + metric, raw, content_type="application/json",
                                               **harness.headers(via_session))


def _metric_field(field):
    def send(harness, value, n, via_session):
        return _post_metric(harness, METRICS[n % len(METRICS)], json.dumps(_metric_body(harness, n, field, value)),
                            via_session)
    return Target("metric API", field, send, _metric_rows, json_values=True)


def _metric_rows(payload):
    if isinstance(payload, list):
        return [row.get("namespace_name") for row in payload]
    return []


def _metric_path(harness, value, n, via_session):
    return _post_metric(harness, quote(value, safe="/%"), "{}", via_session)


def _metric_raw_body(harness, value, n, via_session):
    return _post_metric(harness, METRICS[n % len(METRICS)], value.encode("utf-8", "surrogatepass"), via_session)


# --- the allocation API: GET /api/allocation ---

ALLOCATION_FIELDS = ("window", "aggregate", "step", "accumulate", "includeIdle", "idle", "shareIdle",
                     "filterNamespaces")


def _allocation_field(field):
    def send(harness, value, n, via_session):
        params = {"window": ("7d", "today", "3h", "lastweek")[n % 4], "aggregate": "namespace", field: value}
        return harness.client(via_session).get("/api/allocation", params, **harness.headers(via_session))
    return Target("allocation API", field, send, _allocation_rows)


def _allocation_rows(payload):
    names = []
    for allocation_set in payload.get("data") or []:
        for row in allocation_set.values():
            names.append(row.get("properties", {}).get("namespace"))
    return names


# --- statements: GET /api/statements and /api/statements/<id> ---

def _statement_list_field(field):
    def send(harness, value, n, via_session):
        return harness.client(via_session).get("/api/statements", {field: value}, **harness.headers(via_session))
    return Target("statements", field, send, _statement_tenants)


def _statement_tenants(payload):
    data = payload.get("data")
    if isinstance(data, list):
        return [{"alpha": "alpha-dev"}.get(s.get("tenant"), s.get("tenant")) for s in data]
    return [{"alpha": "alpha-dev"}.get(data.get("tenant"), data.get("tenant"))] if isinstance(data, dict) else []


def _statement_ref(harness, value, n, via_session):
    return harness.client(via_session).get("/api/statements/" + quote(value, safe=""), **harness.headers(via_session))


def _statement_format(harness, value, n, via_session):
    ref = harness.statements["alpha" if n % 3 else "beta"].pk
    return harness.client(via_session).get(f"/api/statements/{ref}", {"format": value}, **harness.headers(via_session))


def _statement_accept(harness, value, n, via_session):
    ref = harness.statements["alpha" if n % 3 else "beta"].pk
    return harness.client(via_session).get(f"/api/statements/{ref}", HTTP_ACCEPT=value, **harness.headers(via_session))


# --- the temperature push: /k8s/collect/... (the agents' token, no tenant) ---

def _push(method, field):
    """GET with the token in the path, or POST with it in ``X-Kubemon-Token``; ``field`` gets the value."""
    def send(harness, value, n, via_session):
        fields = {"node": "node-1", "value": "45000", "sensor": "cpu", "token": PUSH_TOKEN}
        fields["token" if field == "X-Kubemon-Token" else field] = value
        token = fields.pop("token")
        with override_settings(TEMPERATURE_PUSH_TOKEN=PUSH_TOKEN):
            if method == "GET":
                return Client().get(f"/k8s/collect/{quote(token, safe='') or '%20'}/temperature", fields)
            return Client().post("/k8s/collect/temperature", fields, HTTP_X_KUBEMON_TOKEN=token)
    return Target(f"temperature push ({method})", field, send)


# --- the fan routes: /k8s/fan/* (staff session, CSRF token in X-CSRFToken) ---

def _fan(route):
    def send(harness, value, n, via_session):
        if route == "status":
            return harness.staff.get("/k8s/fan/status", {"x": value, value[:200]: "1"})
        return harness.staff.generic("POST", f"/k8s/fan/{route}?x={quote(value[:2000], safe='')}",
                                     value.encode("utf-8", "surrogatepass"), content_type="application/json",
                                     HTTP_X_CSRFTOKEN=CSRF)
    return Target("fan routes", route + " (query and body)", send)


# --- the web session cookie: any page or API route reads it (Django unquotes "\\000" to a NUL) ---

def cookie_quoted(value):
    """``value`` as a quoted cookie value with octal escapes, which Django's cookie parser unquotes."""
    return '"' + "".join(f"\\{ord(c):03o}" if c in '"\\;,' or ord(c) < 32 or ord(c) == 127 else c
                         for c in value[:2000]) + '"'


def _session_cookie(harness, value, n, via_session):
    cookie = cookie_quoted(value) if n % 2 else value[:2000].replace(";", "")
    # (a WSGI server hands the header's bytes over decoded as latin-1)
    header = f"sessionid={cookie}".encode("utf-8", "surrogatepass").decode("latin-1")
    return Client().get("/api/statements", HTTP_COOKIE=header)


TARGETS = (
    [_metric_field(f) for f in ("namespace", "limit", "agg", "timeBeginInterval", "timeEndInterval",
                                "excludeNamespaces", "unknownField")]
    + [Target("metric API", "metric path", _metric_path), Target("metric API", "raw body", _metric_raw_body)]
    + [_allocation_field(f) for f in ALLOCATION_FIELDS]
    + [_statement_list_field(f) for f in ("tenant", "state", "month")]
    + [Target("statements", "id in the path", _statement_ref, _statement_tenants),
       Target("statements", "format", _statement_format, _statement_tenants),
       Target("statements", "Accept header", _statement_accept, _statement_tenants)]
    + [_push("GET", f) for f in ("token", "node", "value", "sensor")]
    + [_push("POST", f) for f in ("X-Kubemon-Token", "node", "value", "sensor")]
    + [_fan(route) for route in ("status", "on", "off", "auto")]
    + [Target("web session", "sessionid cookie", _session_cookie)]
)


def _as_text(value):
    return value if isinstance(value, str) else json.dumps(value)


def check(target, value, response, elapsed):
    """Raise ``FuzzFailure`` when the answer breaks a rule; the message says which and for what."""
    label = f"{target.endpoint} / {target.field} <- {_as_text(value)[:80]!r}"
    status = response.status_code
    if status >= 500:
        raise FuzzFailure(f"{label}: {status} {response.content[:300]!r}")
    wall, cpu = elapsed
    if cpu > SLOW_CPU_SECONDS or wall > SLOW_WALL_SECONDS:
        raise FuzzFailure(f"{label}: took {wall:.1f} s ({cpu:.1f} s of CPU)")
    content_type = response.get("Content-Type", "")
    payload = None
    if content_type.startswith("application/json"):
        payload = json.loads(response.content)
    if 400 <= status < 500:
        if not isinstance(payload, dict) or not isinstance(payload.get("message"), str) or not payload["message"]:
            raise FuzzFailure(f"{label}: {status} without a JSON message: {response.content[:200]!r}")
    sent = _as_text(value)
    for marker in BETA_MARKERS:
        if marker not in sent and marker.encode() in response.content:
            raise FuzzFailure(f"{label}: beta's {marker!r} in the answer: {response.content[:300]!r}")
    if status == 200 and target.rows is not None and payload is not None:
        foreign = {name for name in target.rows(payload) if name is not None} - ALPHA_NAMESPACES
        if foreign:
            raise FuzzFailure(f"{label}: rows of {sorted(foreign)} in alpha's answer")


def influx_client_errors():
    """InfluxDB's own count of the HTTP requests it answered 4xx/5xx (``SHOW STATS`` ``httpd``)."""
    totals = {"clientError": 0, "serverError": 0}
    for series in get_store().client.query("SHOW STATS FOR 'httpd'", database=""):
        for name, value in zip(series["columns"], series["values"][0], strict=True):
            if name in totals:
                totals[name] += value
    return totals


@dataclass
class Tally:
    """What a run sent: the distinct strings, the requests per target, the statuses, the slowest answer."""

    strings: int = 0
    requests: int = 0
    by_target: dict = None
    statuses: dict = None
    slowest: tuple = (0.0, "")  # (CPU seconds, what)

    def __post_init__(self):
        self.by_target, self.statuses = {}, {}

    def add(self, target, value, response, elapsed):
        key = f"{target.endpoint} / {target.field}"
        self.by_target[key] = self.by_target.get(key, 0) + 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        self.requests += 1
        if elapsed[1] > self.slowest[0]:
            self.slowest = (elapsed[1], f"{key} <- {_as_text(value)[:60]!r}")

    def summary(self):
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (f"{self.strings} hostile strings, {self.requests} HTTP requests over {len(self.by_target)} fields "
                f"(statuses {statuses}); costliest {self.slowest[0]:.2f} s of CPU ({self.slowest[1]})")


def fire(harness, tally, target, value, n):
    """Send one value through one target (alternating header credentials and the web session) and check it."""
    began, began_cpu = time.monotonic(), time.process_time()
    response = target.send(harness, value, n, bool(n % 2))
    elapsed = (time.monotonic() - began, time.process_time() - began_cpu)
    tally.add(target, value, response, elapsed)
    check(target, value, response, elapsed)


def run(harness, strings, every_field, fields_per_string, json_values=()):
    """The first ``every_field`` strings through every target, the others through ``fields_per_string``
    targets each (rotating, so each target gets its share); then every JSON value of the wrong type
    through every JSON-body field."""
    tally = Tally(strings=len(strings))
    for i, value in enumerate(strings):
        count = len(TARGETS) if i < every_field else fields_per_string
        for k in range(count):
            fire(harness, tally, TARGETS[(i * fields_per_string + k) % len(TARGETS)], value, i + k)
    for i, value in enumerate(json_values):
        for target in TARGETS:
            if target.json_values:
                fire(harness, tally, target, value, i)
    return tally
