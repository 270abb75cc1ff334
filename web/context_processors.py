"""What the portal's header needs on every page: the tenants to switch between and the current one."""

from fan.access import may_operate
from web import access


def portal(request):
    user = getattr(request, "user", None)
    if not access.is_active_user(user):
        return {}
    tenants = access.tenants_of(user)
    current = access.selected_tenant(user, request.session, tenants)
    staff = access.is_staff(user)
    return {
        "portal_tenants": tenants,
        "portal_tenant": current,
        "portal_is_staff": staff,
        "portal_sees_all": staff and current is None,
        # The switcher appears when there is something to switch to.
        "portal_can_switch": staff or len(tenants) > 1,
        "portal_all_value": access.ALL,
        "portal_may_operate_fan": may_operate(user),
    }
