"""Logging out closes the session's websockets: a ``session.ended`` message to its group."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from web.access import session_group

log = logging.getLogger(__name__)


@receiver(user_logged_out, dispatch_uid="web.session_ended")
def tell_the_session_websockets(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if not key:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(session_group(key), {"type": "session.ended"})
    except Exception as exc:  # noqa: BLE001  (logging out must work with the channel layer down)
        log.warning("could not tell the websockets of a logged-out session: %s", exc)
