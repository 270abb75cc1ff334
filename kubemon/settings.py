"""kubemon settings: the only module that reads the environment (see docs/configuration.md)."""

from datetime import timedelta
from pathlib import Path

import dj_database_url

from kubemon import keys
from kubemon.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
# Without a configured key the process uses a random one, so that operator commands work on a
# fresh checkout; the system checks warn (and fail `check --deploy`), because sessions and
# signed links then die with the process.
SECRET_KEY_IS_EPHEMERAL = not SECRET_KEY
if SECRET_KEY_IS_EPHEMERAL:
    import secrets

    SECRET_KEY = secrets.token_urlsafe(50)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if not DEBUG else ["*"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: no CDN
    "channels",
    "kubemon",
    "billing",
    "collectors",
    "api",
    "web",
    "simcluster.apps.SimclusterConfig",  # only for `manage.py simcluster`; nothing imports the package
    "fan",
]

MIDDLEWARE = [
    "kubemon.requestmetrics.RequestMetricsMiddleware",  # first: times every request (/metrics)
    "django.middleware.security.SecurityMiddleware",
    # A session cookie that cannot be a key (a NUL: a 500 from PostgreSQL) is no session (kubemon/sessionkey.py).
    "kubemon.sessionkey.drop_implausible_session_cookie",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The portal's pages need a login (web's URL namespace only; the API has its own auth) and
    # every response gets the Content-Security-Policy (docs/web.md, "Layout and security headers").
    "web.middleware.PortalLoginRequiredMiddleware",
    "web.middleware.SecurityHeadersMiddleware",
]
# The container image serves its collected static files itself (WhiteNoise, right after the
# security middleware); `make demo` (DEBUG) serves them from the apps' folders instead.
WEB_SERVE_STATIC = env_bool("WEB_SERVE_STATIC", False)
if WEB_SERVE_STATIC:
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "kubemon.urls"
WSGI_APPLICATION = "kubemon.wsgi.application"
ASGI_APPLICATION = "kubemon.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.portal",  # the tenant switcher's choices and selection
            ],
        },
    },
]

# SQLite is the embedded default (make demo); PostgreSQL in CI and production.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'kubemon.sqlite3'}"), conn_max_age=60
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
LOGIN_URL = "/web/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/web/login/"

# --- The portal (web/): cookies, security headers, failed-login throttle (docs/web.md) ---
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600)
# Secure cookies need HTTPS: on unless DEBUG (the demo serves plain HTTP on loopback).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_HTTPONLY = True  # the pages send the token from the form field, never read the cookie
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# No inline scripts or styles anywhere: page data travels in json_script tags and data- attributes.
WEB_CONTENT_SECURITY_POLICY = env_str(
    "WEB_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
)
WEB_PERMISSIONS_POLICY = env_str("WEB_PERMISSIONS_POLICY", "camera=(), microphone=(), geolocation=(), usb=()")
# Failed portal logins per (username, address) and per address within the window (0: no limit);
# the address is the peer's or the one API_NUM_PROXIES trusted proxies report.
WEB_LOGIN_FAILURES_PER_PAIR = env_int("WEB_LOGIN_FAILURES_PER_PAIR", 5)
WEB_LOGIN_FAILURES_PER_ADDRESS = env_int("WEB_LOGIN_FAILURES_PER_ADDRESS", 30)
WEB_LOGIN_FAILURE_WINDOW_SECONDS = env_int("WEB_LOGIN_FAILURE_WINDOW_SECONDS", 300)
# One-time login links for the demo (`manage.py demologin`); never on in production.
WEB_DEMO_LOGIN = env_bool("WEB_DEMO_LOGIN", False)
WEB_DEMO_LOGIN_TTL_SECONDS = env_int("WEB_DEMO_LOGIN_TTL_SECONDS", 600)
# Namespaces the shares page's sunbursts leave out (the system's own; docs/web.md, "Namespace shares").
WEB_SHARES_EXCLUDED_NAMESPACES = env_list("WEB_SHARES_EXCLUDED_NAMESPACES", ["kube-system"])

# --- Redis: Celery broker, Channels layer, locks, the spool and live caches ---
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 times out reads after 5 s by default, exactly channels-redis's 5 s blocking pop on an
        # idle channel: every quiet socket then failed its receive. A longer read timeout lets the pop end first.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                   "prefix": env_str("CHANNELS_PREFIX", "kubemon")},
    }
}

# --- InfluxDB (v1 HTTP API) ---
INFLUXDB_URL = env_str("INFLUXDB_URL", "http://127.0.0.1:8086")
INFLUXDB_DATABASE = env_str("INFLUXDB_DATABASE", "kubemon")
INFLUXDB_USERNAME = env_str("INFLUXDB_USERNAME", "")
INFLUXDB_PASSWORD = env_str("INFLUXDB_PASSWORD", "")
INFLUXDB_TOKEN = env_str("INFLUXDB_TOKEN", "")
INFLUXDB_TIMEOUT = env_float("INFLUXDB_TIMEOUT", 10.0)
INFLUXDB_VERIFY_TLS = env_bool("INFLUXDB_VERIFY_TLS", True)
# gzip costs more than it saves on loopback (docs/benchmarks.md): on for remote servers only.
INFLUXDB_GZIP = env_bool("INFLUXDB_GZIP", False)
INFLUXDB_BATCH_LINES = env_int("INFLUXDB_BATCH_LINES", 5000)
# Create the database and its retention policies at worker start and on a write that finds
# them missing, as Telegraf does (its skip_database_creation is this set to false).
INFLUXDB_CREATE_DATABASE = env_bool("INFLUXDB_CREATE_DATABASE", True)
INFLUXDB_RAW_RETENTION = env_str("INFLUXDB_RAW_RETENTION", "30d")
# Pod detail (the hourly rollup and the pod tier) for 90 days; namespaces and controllers for years
# (their tiers: docs/architecture.md, "Tiers"). ``manage.py setupinfluxdb`` and the workers' start
# ALTER an existing policy to a changed setting.
INFLUXDB_HOURLY_RETENTION = env_str("INFLUXDB_HOURLY_RETENTION", "90d")
INFLUXDB_NAMESPACE_RETENTION = env_str("INFLUXDB_NAMESPACE_RETENTION", "1825d")
INFLUXDB_CONTROLLER_RETENTION = env_str("INFLUXDB_CONTROLLER_RETENTION", "1825d")
# The server's cardinality limits (deploy/influxdb/influxdb.conf states InfluxDB's defaults):
# /healthz warns at 80 % of each. Set them as the server has them; 0 = no limit.
INFLUXDB_MAX_SERIES_PER_DATABASE = env_int("INFLUXDB_MAX_SERIES_PER_DATABASE", 1_000_000)
INFLUXDB_MAX_VALUES_PER_TAG = env_int("INFLUXDB_MAX_VALUES_PER_TAG", 100_000)
# How long /healthz keeps those counts (counting a year of churn is costly; 0 = on every call).
INFLUXDB_CARDINALITY_SECONDS = env_int("INFLUXDB_CARDINALITY_SECONDS", 3600)
if INFLUXDB_MAX_SERIES_PER_DATABASE < 0 or INFLUXDB_MAX_VALUES_PER_TAG < 0:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("INFLUXDB_MAX_SERIES_PER_DATABASE and INFLUXDB_MAX_VALUES_PER_TAG are counts "
                               "(0 = no limit), not negative")
# Where writes go while InfluxDB is unreachable: "redis" (a Redis list) or a directory path.
INFLUXDB_SPOOL = env_str("INFLUXDB_SPOOL", "redis")
INFLUXDB_SPOOL_KEY = env_str("INFLUXDB_SPOOL_KEY", keys.SPOOL)

# --- Kubernetes ---
KUBECONFIG = env_str("KUBECONFIG", "")
KUBERNETES_IN_CLUSTER = env_bool("KUBERNETES_IN_CLUSTER", False)
KUBERNETES_TIMEOUT = env_float("KUBERNETES_TIMEOUT", 10.0)
# Keep pods current with a watch instead of listing them every cycle (collectors/podwatch.py).
KUBERNETES_POD_WATCH = env_bool("KUBERNETES_POD_WATCH", True)
# Kubelet summaries: read from each kubelet ("direct", needs only nodes/stats) or through the API
# server's node proxy ("proxy", needs nodes/proxy, which also allows exec): collectors/kubelet.py.
KUBELET_ACCESS = env_str("KUBELET_ACCESS", "direct")
KUBELET_PREFERRED_ADDRESS_TYPES = env_list(
    "KUBELET_PREFERRED_ADDRESS_TYPES", ["InternalIP", "InternalDNS", "Hostname", "ExternalIP", "ExternalDNS"])
KUBELET_CA_FILE = env_str("KUBELET_CA_FILE", "")  # empty: the API server's CA
KUBELET_INSECURE_TLS = env_bool("KUBELET_INSECURE_TLS", False)
GPU_EXPORTER_URLS = env_list("GPU_EXPORTER_URLS", [])

# --- Collection schedule (seconds); each entry overridable from the environment ---
COLLECT_SCHEDULE = {
    "usage": env_float("COLLECT_USAGE_SECONDS", 15.0),
    "inventory": env_float("COLLECT_INVENTORY_SECONDS", 30.0),
    "gpu": env_float("COLLECT_GPU_SECONDS", 15.0),
    "rollup": env_float("COLLECT_ROLLUP_SECONDS", 300.0),
    "temperature": env_float("COLLECT_TEMPERATURE_SECONDS", 5.0),
    "spool": env_float("COLLECT_SPOOL_SECONDS", 30.0),
}
# A sample stands for the time since the previous one of its series up to this many seconds (of
# the collector's clock; scaled on a source clock that runs faster): a slow cycle, a missed beat or
# a worker restart is charged from the sample after it, and reported as a gap; the time beyond is
# not charged but reported as unobserved (docs/api.md, "Coverage").
COLLECT_GAP_LIMIT_SECONDS = env_float("COLLECT_GAP_LIMIT_SECONDS", 300.0)
# The usage and GPU cycles' shards, one Celery task each (collectors/shards.py, docs/operations.md): 1
# is one task; 0 is one shard per COLLECT_USAGE_NODES_PER_SHARD nodes (GPU exporters), rounded up to
# a power of two.
COLLECT_USAGE_SHARDS = env_int("COLLECT_USAGE_SHARDS", 0)
COLLECT_USAGE_NODES_PER_SHARD = env_int("COLLECT_USAGE_NODES_PER_SHARD", 250)
COLLECT_TASKS = {
    "usage": "collectors.tasks.collect_usage",
    "inventory": "collectors.tasks.collect_inventory",
    "gpu": "collectors.tasks.collect_gpu",
    "rollup": "collectors.tasks.rollup_hourly",
    "temperature": "collectors.tasks.flush_temperatures",
    "spool": "collectors.tasks.replay_spool",
}
# Tasks of other apps that act on what the inventory cycle records in Redis (kubemon/cluster.py):
# billing gives labelled namespaces to their tenants. Beat runs them as often as the inventory;
# `manage.py collect --once` runs them, by name, right after its inventory cycle.
INVENTORY_FOLLOW_UP_TASKS = {"assign-namespaces": "billing.tasks.assign_namespaces"}


def _every(task, seconds):
    # `expires` just under the interval: a task that waited a whole period in the queue is stale.
    return {"task": task, "schedule": timedelta(seconds=seconds), "options": {"expires": max(seconds * 0.9, 1.0)}}


CELERY_BEAT_SCHEDULE = {
    f"collect-{name}": _every(COLLECT_TASKS[name], seconds) for name, seconds in COLLECT_SCHEDULE.items() if seconds > 0
}
if COLLECT_SCHEDULE["inventory"] > 0:
    CELERY_BEAT_SCHEDULE.update(
        {name: _every(task, COLLECT_SCHEDULE["inventory"]) for name, task in INVENTORY_FOLLOW_UP_TASKS.items()}
    )
# How often the rollup task compares raw data with the rollup, hour by hour, to find hours that
# other writers (Telegraf, backfills) filled after their rollup (0: never), and over how many days.
ROLLUP_AUDIT_SECONDS = env_int("ROLLUP_AUDIT_SECONDS", 3600)
ROLLUP_AUDIT_DAYS = env_int("ROLLUP_AUDIT_DAYS", 2)
# The day cache of month-long queries is warmed once a day, after the previous day's rollup became
# final (3 h after midnight UTC, docs/api.md); "HH:MM" in UTC, empty to switch it off.
WARM_QUERY_CACHE_AT = env_str("WARM_QUERY_CACHE_AT", "03:40")
if WARM_QUERY_CACHE_AT:
    from celery.schedules import crontab
    from django.core.exceptions import ImproperlyConfigured

    try:
        _warm_hour, _warm_minute = (int(part) for part in WARM_QUERY_CACHE_AT.split(":"))
        _warm_schedule = crontab(hour=_warm_hour, minute=_warm_minute)
    except ValueError:
        raise ImproperlyConfigured(f"WARM_QUERY_CACHE_AT={WARM_QUERY_CACHE_AT!r} is not a time such as 03:40")
    CELERY_BEAT_SCHEDULE["warm-query-cache"] = {
        "task": "api.tasks.warm_query_cache",
        "schedule": _warm_schedule,
        "options": {"expires": 3600},
    }
# --- billing (docs/billing.md) ---
# Idle capacity (allocatable no namespace was charged for): "keep" shows it as __idle__ in the
# operator's statement; "share" gives each tenant a share by the weight of its allocated cost.
BILLING_IDLE = env_str("BILLING_IDLE", "keep")
if BILLING_IDLE not in ("keep", "share"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"BILLING_IDLE={BILLING_IDLE!r} must be keep or share")
# The node label that names a node's pool, for idle per pool (nodes without it: "cluster").
BILLING_NODE_POOL_LABEL = env_str("BILLING_NODE_POOL_LABEL", "kubemon.io/node-pool")
# Last month's statements are drafted on the 1st at this time (UTC, "HH:MM", after the rollup's
# last day became final; empty: never), and issued too when BILLING_AUTO_ISSUE is on.
BILLING_DRAFT_AT = env_str("BILLING_DRAFT_AT", "04:10")
BILLING_AUTO_ISSUE = env_bool("BILLING_AUTO_ISSUE", False)
if BILLING_DRAFT_AT:
    from celery.schedules import crontab
    from django.core.exceptions import ImproperlyConfigured

    try:
        _draft_hour, _draft_minute = (int(part) for part in BILLING_DRAFT_AT.split(":"))
        _draft_schedule = crontab(day_of_month=1, hour=_draft_hour, minute=_draft_minute)
    except ValueError:
        raise ImproperlyConfigured(f"BILLING_DRAFT_AT={BILLING_DRAFT_AT!r} is not a time such as 04:10")
    CELERY_BEAT_SCHEDULE["draft-statements"] = {
        "task": "billing.tasks.draft_last_month",
        "schedule": _draft_schedule,
        "options": {"expires": 6 * 3600},
    }
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task taken by a worker that died (acks late) goes back to the queue after this long on the
# Redis broker; the cycles are idempotent, so a redelivered one only writes a later sample.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- API ---
API_USERNAME = env_str("API_USERNAME", "")
API_PASSWORD = env_str("API_PASSWORD", "")
TEMPERATURE_PUSH_TOKEN = env_str("TEMPERATURE_PUSH_TOKEN", "")
# `GET /metrics` (kubemon's own, docs/operations.md): scrapes send `Authorization: Bearer <token>`;
# unset, the page is open under DEBUG only. PROMETHEUS_MULTIPROC_DIR (prometheus_client reads it at
# import too) is a directory shared by the web server's worker processes, so one scrape sums them all.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", "")

# The cluster's name in the allocation API's rows (properties.cluster, aggregate=cluster); OpenCost's default.
CLUSTER_NAME = env_str("CLUSTER_NAME", "cluster-one")
# Raw rows per request at most; larger limits are capped, not refused (docs/api.md).
API_MAX_LIMIT = env_int("API_MAX_LIMIT", 10000)
# The legacy API answered a wrong method with 400 "Bad request"; kubemon says 405 unless this is on.
API_LEGACY_METHOD_400 = env_bool("API_LEGACY_METHOD_400", False)
API_AUTH_FAILURES_PER_MINUTE = env_int("API_AUTH_FAILURES_PER_MINUTE", 10)
# How many reverse proxies append to X-Forwarded-For in front of kubemon (0: use the peer address).
API_NUM_PROXIES = env_int("API_NUM_PROXIES", 0)
API_DEFAULT_EXCLUDED_NAMESPACES = env_list("API_DEFAULT_EXCLUDED_NAMESPACES", ["kube-system"])
# An hour is read from the hourly rollup once it ended this long ago (the rollup runs every 5 min).
API_ROLLUP_SETTLE_SECONDS = env_int("API_ROLLUP_SETTLE_SECONDS", 600)
# The hours not settled yet are answered from the usage cycle's running sums where they are whole
# (kubemon/openhour.py); switch off when another writer (Telegraf) writes into kubemon's database.
API_OPEN_HOUR_SUMS = env_bool("API_OPEN_HOUR_SUMS", True)
# Finished days' aggregates are kept in Redis this long (0: off); see metrics/daycache.py.
API_DAY_CACHE_SECONDS = env_int("API_DAY_CACHE_SECONDS", 86400)
# Statements of one query sent as parallel requests (InfluxDB runs each on its own core); 1: one request.
API_QUERY_PARALLELISM = env_int("API_QUERY_PARALLELISM", 4)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.HeaderCredentialAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "api.base.envelope_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "kubemon API",
    "DESCRIPTION": "Accounting and live monitoring of Kubernetes clusters.",
    "VERSION": "0.1.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- The fan (fan/, docs/fan.md): the portal's side of the fan host on the Raspberry Pi ---
FAN_SERVER_URL = env_str("FAN_SERVER_URL", "").rstrip("/")  # the fan host; empty: no fan ("Disabled Fan service")
FAN_TOKEN = env_str("FAN_TOKEN", "")  # the host's bearer token (FAN_TOKEN_FILE for a mounted secret)
FAN_MAXTEMP = env_float("FAN_MAXTEMP", None)  # °C: auto mode on at this, off at FAN_OFF_RATIO of it; unset: no auto
FAN_OFF_RATIO = env_float("FAN_OFF_RATIO", 0.9)
FAN_DWELL_SECONDS = env_float("FAN_DWELL_SECONDS", 120.0)  # no second switch sooner than this (against flapping)
FAN_STALE_SECONDS = env_float("FAN_STALE_SECONDS", 60.0)  # an older temperature counts as hot (fail-safe)
FAN_EXCLUDE_NODES = env_str("FAN_EXCLUDE_NODES", "node-role.kubernetes.io/control-plane")  # a label selector
FAN_PROPORTIONAL = env_bool("FAN_PROPORTIONAL", False)  # speed from FAN_MIN_SPEED at the off threshold to 1 at max
FAN_MIN_SPEED = env_float("FAN_MIN_SPEED", 0.3)
FAN_OVERRIDE_SECONDS = env_float("FAN_OVERRIDE_SECONDS", 1800.0)  # a manual on/off lasts this long, then auto
FAN_TICK_SECONDS = env_float("FAN_TICK_SECONDS", 5.0)  # the beat task's period (also the host's heartbeat)
FAN_INEFFICIENT_SECONDS = env_float("FAN_INEFFICIENT_SECONDS", 180.0)  # running this long while the hottest...
FAN_INEFFICIENT_RISE = env_float("FAN_INEFFICIENT_RISE", 1.0)  # ...still rose this many °C: an alert
FAN_TIMEOUT = env_float("FAN_TIMEOUT", 2.0)  # seconds per request to the fan host
FAN_OPERATOR_GROUP = env_str("FAN_OPERATOR_GROUP", "fan-operator")  # besides staff, who may read and switch the fan
FAN_NAME = env_str("FAN_NAME", "tower")  # the `fan` tag of the InfluxDB history
# The node-light agents' bearer token (NODELIGHT_TOKEN_FILE for a mounted secret); empty: node lights off.
NODELIGHT_TOKEN = env_str("NODELIGHT_TOKEN", "")
if FAN_SERVER_URL and FAN_TICK_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["fan-tick"] = _every("fan.tasks.fan_tick", FAN_TICK_SECONDS)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
