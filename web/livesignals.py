"""A membership given or taken tells that user's live sockets to ask their access again at once."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.models import Membership

log = logging.getLogger(__name__)


def user_group(user_id):
    """The group of one user's live sockets: told ``access.changed`` (web/consumers.py)."""
    return f"user-{user_id}"


def _tell(user_id):
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "access.changed"})
    except Exception as exc:  # noqa: BLE001  (the sockets ask again before their next send anyway)
        log.warning("could not tell user %s's websockets that their access changed: %s", user_id, exc)


@receiver(post_save, sender=Membership, dispatch_uid="web.live_membership_saved")
@receiver(post_delete, sender=Membership, dispatch_uid="web.live_membership_deleted")
def membership_changed(sender, instance, **kwargs):
    # After the commit: a socket that asks before it would still see the old membership.
    transaction.on_commit(lambda: _tell(instance.user_id))
