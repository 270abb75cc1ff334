"""Who may read and switch the fan: staff, or members of the ``FAN_OPERATOR_GROUP`` group."""

from django.conf import settings


def may_operate(user):
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_staff or user.groups.filter(name=settings.FAN_OPERATOR_GROUP).exists()
