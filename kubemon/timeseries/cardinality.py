"""How close the database is to InfluxDB 1.x's cardinality limits, for ``/healthz``.

InfluxDB's ``inmem`` index refuses a point that would create a series past
``max-series-per-database``, or a value of a tag key past ``max-values-per-tag`` within one
measurement, counted over the whole database ("partial write: max-values-per-tag limit
exceeded"). Pod names churn: every Job, CronJob run and rolling update brings new ones, and with
them new values of ``pod_name`` and of ``volume_name`` (each pod's ``kube-api-access-<suffix>``
token volume), so these are what a long-lived cluster reaches first. The ``tsi1`` index kubemon
ships (deploy/influxdb/influxdb.conf) did not refuse anything past either limit in InfluxDB 1.6
(docs/reliability.md, "Cardinality"), but an operator may run ``inmem`` or another release, so
the warning stands at 80 % of each configured limit (``INFLUXDB_MAX_SERIES_PER_DATABASE``,
``INFLUXDB_MAX_VALUES_PER_TAG``; 0 means no limit, as in InfluxDB).
"""

from kubemon.timeseries.schema import HOURLY_POLICY, MEASUREMENTS, RAW_POLICY, allowed_identifier, quote_identifier

WARN_AT = 0.8
# Every tag key of kubemon's schema, each counted per measurement as InfluxDB counts it.
TAG_KEYS = tuple(sorted({tag for measurement in MEASUREMENTS.values() for tag in measurement.tags}))


def count_cardinality(store):
    """``{"series": N, "pod_names": N, "tag_values": {key: {"measurement", "values"}}}``: the series
    of the database and, per tag key, its most values in any one measurement.

    ``SHOW TAG VALUES`` without ``FROM`` reads the default policy (raw, 30 days) only, while the
    hourly rollup keeps a pod's name for 400 days: every tag key is counted in raw data, and
    ``pod_name`` in the hourly rollup too (``"<policy>.<measurement>"``). InfluxDB counts a
    measurement's values over all its policies together; the hourly rollup's count is that union
    for the rolled-up measurements (it holds every pod that raw data does, a few hours later, and
    the pod tier's names are its own). The other tiers add no pod names (the namespace tiers) or
    none the hourly rollup lacks (the pod tier), and the other keys do not churn past raw data's
    own count. Counting the rollup's pod names is the costly part on a large database
    (docs/reliability.md, "Cardinality"): ``/healthz`` keeps the counts for
    ``INFLUXDB_CARDINALITY_SECONDS`` (kubemon/health.py).
    """
    pairs = [(RAW_POLICY, key) for key in TAG_KEYS] + [(HOURLY_POLICY, "pod_name")]
    statements = ["SHOW SERIES CARDINALITY"] + [
        f"SHOW TAG VALUES CARDINALITY FROM {quote_identifier(policy)}./.*/ "
        f"WITH KEY = {allowed_identifier(key, TAG_KEYS)}" for policy, key in pairs]
    try:
        results = store.query_many(statements)
    except Exception as exc:  # noqa: BLE001  (health must answer even if this fails)
        return {"cardinality_error": str(exc)}
    series = sum(s["values"][0][0] for s in results[0] if s.get("values"))
    tag_values = {}
    for (policy, key), found in zip(pairs, results[1:], strict=True):
        for item in found:
            count = item["values"][0][0] if item.get("values") else 0
            if count > tag_values.get(key, {}).get("values", 0):  # the first of equals: raw, then hourly
                tag_values[key] = {"measurement": f"{policy}.{item.get('name', '')}", "values": count}
    return {"series": series, "pod_names": tag_values.get("pod_name", {}).get("values", 0), "tag_values": tag_values}


def judge_cardinality(counts, max_series, max_values_per_tag):
    """``counts`` with the limits and a warning for each one past 80 % (``warnings``)."""
    if "cardinality_error" in counts or "series" not in counts:
        return counts
    info = {**counts, "limits": {"max-series-per-database": max_series, "max-values-per-tag": max_values_per_tag}}
    series, tag_values = counts["series"], counts["tag_values"]
    warnings = []
    if max_series and series >= WARN_AT * max_series:
        warnings.append(f"{series} series: over 80 % of max-series-per-database ({max_series})")
    for key, found in tag_values.items():
        if max_values_per_tag and found["values"] >= WARN_AT * max_values_per_tag:
            warnings.append(f"{found['values']} values of the tag {key} in {found['measurement']}: "
                            f"over 80 % of max-values-per-tag ({max_values_per_tag})")
    if warnings:
        info["warnings"] = warnings
    return info


def cardinality_report(store, max_series, max_values_per_tag):
    """The counts (``count_cardinality``) judged against the limits (``judge_cardinality``)."""
    return judge_cardinality(count_cardinality(store), max_series, max_values_per_tag)
