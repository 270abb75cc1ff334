"""Keep the published ownership map current: every saved or deleted ``NamespaceOwnership`` republishes it.

The map is published once the change is committed (a rolled-back change publishes nothing), and
a failure to reach Redis is logged, never raised to whoever saved the row: ``assign_namespaces``
republishes the whole map at every run anyway. Inside ``publishing_deferred()`` (a sync that
touches many rows and publishes once at its end) the rows do not publish one by one.
"""

import contextlib
import logging
import threading

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.models import NamespaceOwnership
from billing.services import publish_ownership

log = logging.getLogger(__name__)

_deferred = threading.local()


@contextlib.contextmanager
def publishing_deferred():
    """Do not publish per row inside this block; the caller publishes once when it is done."""
    depth = getattr(_deferred, "depth", 0)
    _deferred.depth = depth + 1
    try:
        yield
    finally:
        _deferred.depth = depth


def _publish_quietly():
    try:
        publish_ownership()
    except Exception as exc:  # noqa: BLE001  (the row is saved; the next assign_namespaces run republishes)
        log.warning("could not publish the namespace ownership map: %s", exc)


@receiver(post_save, sender=NamespaceOwnership, dispatch_uid="billing-publish-ownership-on-save")
@receiver(post_delete, sender=NamespaceOwnership, dispatch_uid="billing-publish-ownership-on-delete")
def ownership_changed(sender, using=None, **kwargs):
    if getattr(_deferred, "depth", 0):
        return
    transaction.on_commit(_publish_quietly, using=using)
