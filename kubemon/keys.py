"""Every Redis key kubemon uses, in one place.

Collectors, the read side, billing and the web all meet in Redis; a key spelt in two modules is
a contract kept by hope. Keys are plain strings (or prefixes ending in ``:``); the module that
owns each key's content is named beside it.
"""

PREFIX = "kubemon:"

# --- collection (collectors/) ---
LOCK = PREFIX + "lock:"  # + cycle name: the lock that keeps a cycle from overlapping itself
CYCLE_REPORT = PREFIX + "cycle:"  # + cycle name: the last run's report (JSON)
SELF_METRICS = PREFIX + "selfmetrics"  # hash: the cycles' counters for /metrics (kubemon/selfmetrics.py)
USAGE_SHARDS = PREFIX + "usage-shards"  # the sharded usage cycle dispatched last: id, shard count, time (JSON)
USAGE_SHARDS_DONE = PREFIX + "usage-shards:done:"  # + cycle id: hash, shard "<i>of<n>" -> its report and usage
GPU_SHARDS = PREFIX + "gpu-shards"  # the sharded GPU cycle dispatched last, as USAGE_SHARDS
GPU_SHARDS_DONE = PREFIX + "gpu-shards:done:"  # + cycle id: hash, shard "<i>of<n>" -> its report and GPUs
SAMPLING_STATE = PREFIX + "sampling:"  # + cycle name: previous sample of every series (JSON)
SAMPLING_IN_DOUBT = PREFIX + "sampling-in-doubt:"  # + cycle name: set while a cycle writes before saving its state
SOURCE_TIME = PREFIX + "source-time"  # [latest kubelet sample time, wall time it was seen]
CLUSTER_HEALTH = PREFIX + "cluster:health"  # {"status": "OK"|"KO"|"unknown", "detail", "time"}
KNOWN_NODES = PREFIX + "nodes"  # set of node names (the temperature push checks against it)
INVENTORY_NODES = PREFIX + "inventory:nodes"  # {node: {ready, roles, allocatable...}} (JSON)
NAMESPACE_LABELS = PREFIX + "inventory:namespaces"  # {namespace: {label: value}} (JSON)
SNAPSHOT = PREFIX + "snapshot"  # the cluster's last live view (JSON, kubemon/liveview.py; collectors/snapshot.py)
LIVE_STATE = PREFIX + "live:state"  # {seq, next_id, owned}: the live publisher's memory (collectors/snapshot.py)
LIVE_MESSAGE = PREFIX + "live:message:"  # + group: b"<seq>\n" + that group's last delta as browsers get it
GPU_LATEST = PREFIX + "gpu:latest"  # the gpu cycle's last values per GPU (JSON list, collectors/gpulatest.py)
TEMPERATURE_QUEUE = PREFIX + "temperature:queue"  # pushed readings waiting for the flush (list)
TEMPERATURE_LATEST = PREFIX + "temperature:latest"  # {node: hottest °C} (hash)

# --- tenancy (billing/) ---
TENANT_NAMESPACES = PREFIX + "tenancy:namespaces"  # {tenant id: [namespace, ...]} (JSON)

# --- the store (kubemon/timeseries/) ---
SPOOL = PREFIX + "spool"  # batches waiting for InfluxDB (list); INFLUXDB_SPOOL_KEY overrides it
INFLUXDB_CARDINALITY = PREFIX + "influxdb:cardinality"  # /healthz's last series and tag-value counts (JSON, expires)
DEAD_LETTERS = PREFIX + "dead-letters"  # lines InfluxDB refused for good, with its message (list)
ROLLUP_LATE_HOURS = PREFIX + "rollup:late-hours"  # hours written after their rollup (sorted set)
ROLLUP_DAY_GENERATION = PREFIX + "rollup:generation:"  # + YYYY-MM-DD: bumped when the day's rollup changes
ROLLUP_LAST_AUDIT = PREFIX + "rollup:last-audit"  # wall time of the last raw-vs-rollup comparison
OPEN_HOUR = PREFIX + "open-hour:"  # + hour epoch: running sums of an hour not yet settled (JSON)
OPEN_HOUR_LAYOUTS = PREFIX + "open-hour-layouts:"  # + hour epoch: set of the shard counts that summed it
NAMESPACE_TIER_SINCE = PREFIX + "tiers:namespace-since"  # epoch s: the namespace tier is whole from this hour on
EDGE_HEADS_SINCE = PREFIX + "rollup:heads-since"  # epoch s: rollup points carry their samples' heads from this hour on
NAMESPACE_TIER_FILLED = PREFIX + "tiers:namespace-filled"  # the "since" at which no older hourly rollup was left
POD_TIER_SPAN = PREFIX + "tiers:pod-days"  # "since until" epoch s: the pod tier holds the final days in [since, until)
POD_TIER_FILLED = PREFIX + "tiers:pod-filled"  # the "since" at which no older hourly rollup was left
CONTROLLER_TIER_SINCE = PREFIX + "tiers:controller-since"  # epoch s: the controller tier is whole from this hour on
CONTROLLER_TIER_FILLED = PREFIX + "tiers:controller-filled"  # the "since" at which no older hourly rollup was left
NODE_TIER_SINCE = PREFIX + "tiers:node-since"  # epoch s: the node tier is whole from this hour's UTC day on
NODE_TIER_FILLED = PREFIX + "tiers:node-filled"  # the "since" at which no older hourly rollup was left

# --- the read side (metrics/) and the API (api/) ---
DAY_CACHE = PREFIX + "api:day:"  # + digest: one finished day's aggregates
AUTH_FAILURES = PREFIX + "authfail:"  # + scope: failed-authentication counters

# --- the fan (fan/) ---
FAN_STATE = PREFIX + "fan:state"  # the fan's mode, override, last switch, recent temperatures and host health (JSON)
FAN_LOCK = PREFIX + "fan:lock"  # the lock that keeps two fan ticks from deciding at once

# --- the portal (web/) ---
WEB_LOGIN_FAILURES = PREFIX + "web:loginfail:"  # + "ua:"/"a:" + digest: failed portal logins in the window
WEB_DEMO_LOGIN = PREFIX + "web:demo-login:"  # + token id: SHA-256 of a one-time demo login token and its user (JSON)
