"""Which controller runs each pod: the ``controller`` and ``controllerKind`` of the allocation API.

The inventory cycle writes each pod's controlling owner reference (``ownerReferences`` with
``controller: true``, else the first one) into the ``kubernetes_pod`` measurement's
``owner_kind`` and ``owner_name`` fields, in raw data only. So:

- a pod's controller is known while its raw ``kubernetes_pod`` points are kept
  (``INFLUXDB_RAW_RETENTION``, 30 days by default); older pods, and pods the inventory never saw
  (it runs every 30 s: a pod that lived less may be missed), have none and are grouped as
  ``__unallocated__``, as OpenCost groups pods without a controller;
- how an owner reference names a controller (a ReplicaSet's Deployment, a CronJob's Job, none
  for a static pod) is ``kubemon.owners.controller_of``, which the controller tier's rollup uses
  too; past the raw retention, ``aggregate=controller`` reads that tier
  (``metrics.controllers``).
"""

from kubemon.owners import controller_of
from kubemon.timeseries import get_store
from kubemon.timeseries.schema import POD, RAW_POLICY, field_identifier, source_identifier, tag_identifier
from metrics.window import to_ns

__all__ = ["controller_of", "pod_index"]


def pod_index(window, selection, store=None):
    """``{(namespace, pod): {"node", "controllerKind", "controller"}}`` of the pods seen in ``window``.

    One statement: each pod's newest inventory point in the window (``ORDER BY time DESC
    LIMIT 1`` per series, which InfluxDB answers from the end of each series without scanning
    the window). A pod without an owner gets empty controller values.
    """
    if selection.empty:
        return {}
    store = store or get_store()
    params = {"b": to_ns(window.begin), "e": to_ns(window.end)}
    where = f"{selection.where(POD, params)} AND time >= $b AND time < $e"
    groups = ", ".join(tag_identifier(POD, tag) for tag in ("namespace", "pod_name", "node_name"))
    statement = (
        f"SELECT {field_identifier(POD, 'owner_kind')}, {field_identifier(POD, 'owner_name')} "  # noqa: S608  (whitelisted identifiers; values are $params)
        f"FROM {source_identifier(POD, RAW_POLICY)} WHERE {where} GROUP BY {groups} ORDER BY time DESC LIMIT 1"
    )
    found = {}
    for series in store.query(statement, params=params, epoch="s"):
        tags = series.get("tags") or {}
        row = dict(zip(series["columns"], series["values"][0], strict=True))
        kind, name = controller_of(row.get("owner_kind") or "", row.get("owner_name") or "")
        key = (tags.get("namespace", ""), tags.get("pod_name", ""))
        latest = row.get("time") or 0
        # A pod that was pending (no node) and then scheduled has two series: keep the newest.
        if key in found and found[key]["_time"] >= latest:
            continue
        found[key] = {"node": tags.get("node_name", ""), "controllerKind": kind, "controller": name, "_time": latest}
    for entry in found.values():
        del entry["_time"]
    return found
