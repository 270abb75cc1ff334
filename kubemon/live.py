"""The one helper every task uses to reach the Channels layer (DESIGN §7)."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

CLUSTER_GROUP = "cluster"


def tenant_group(tenant_id):
    return f"tenant-{tenant_id}"


def publish(group, kind, data):
    """Send ``{"type": "live.message", "kind": kind, "data": data}`` to a group; never raises.

    A live view that misses one snapshot catches up at the next cycle, so a channel-layer hiccup
    must not fail the collection that already stored its data.
    """
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(group, {"type": "live.message", "kind": kind, "data": data})
        return True
    except Exception as exc:  # noqa: BLE001
        log.warning("could not publish %s to %s: %s", kind, group, exc)
        return False
