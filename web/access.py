"""Which tenant a portal user is looking at, and the AccessScope that follows from it.

Every page and websocket of the portal asks ``scope_for(user, session)`` (or ``request_scope``)
before it reads or sends anything, the same ``billing.access.AccessScope`` the API uses. A user in
several tenants looks at one at a time, chosen with the header's switcher (session key
``kubemon_tenant``); staff look at everything ("all", the default) or at one tenant's share.

The selection is re-validated on every call, so a membership revoked while a session or a
websocket is open stops giving access at the next call (a consumer calls it before each send).
"""

from billing.access import AccessScope
from billing.models import Tenant

SESSION_KEY = "kubemon_tenant"
ALL = "all"


def is_staff(user):
    # The same rule as AccessScope.for_user: superusers count as staff.
    return bool(user.is_staff or user.is_superuser)


def is_active_user(user):
    return user is not None and user.is_authenticated and user.is_active


def tenants_of(user):
    """The tenants ``user`` may select, by name: all of them for staff, else their memberships'."""
    if not is_active_user(user):
        return []
    tenants = Tenant.objects.order_by("name", "slug")
    if not is_staff(user):
        tenants = tenants.filter(memberships__user=user)
    return list(tenants)


def _session_value(session):
    try:
        return session.get(SESSION_KEY) if session is not None else None
    except Exception:  # noqa: BLE001  (a broken or expired session store reads as no selection)
        return None


def selected_tenant(user, session, tenants=None):
    """The tenant ``user`` is looking at, or None: staff looking at everything, or no tenant at all."""
    if not is_active_user(user):
        return None
    tenants = tenants_of(user) if tenants is None else tenants
    value = _session_value(session)
    if is_staff(user) and value in (None, ALL):
        return None
    for tenant in tenants:
        if tenant.pk == value:
            return tenant
    # A stale selection (membership revoked, tenant deleted) falls back to the default.
    if is_staff(user):
        return None
    return tenants[0] if tenants else None


def scope_for(user, session):
    """The AccessScope of ``user`` with the tenant selected in ``session`` (pure and sync).

    Works with a request's ``user``/``session`` and with a Channels consumer's ``scope["user"]``
    and ``scope["session"]`` (call it through ``database_sync_to_async`` there).
    """
    if not is_active_user(user):
        return AccessScope.nothing()
    tenant = selected_tenant(user, session)
    if tenant is None:
        return AccessScope.all_namespaces() if is_staff(user) else AccessScope.nothing()
    return AccessScope.for_tenants([tenant.pk])


def request_scope(request):
    """``scope_for`` of a request, computed once per request."""
    scope = getattr(request, "_kubemon_scope", None)
    if scope is None:
        scope = scope_for(request.user, request.session)
        request._kubemon_scope = scope
    return scope


def select(user, session, value):
    """Store ``value`` (a tenant id as text, or "all" for staff) as the selection; False if not allowed."""
    if not is_active_user(user):
        return False
    if value == ALL:
        if not is_staff(user):
            return False
        session[SESSION_KEY] = ALL
        return True
    try:
        tenant_id = int(value)
    except (TypeError, ValueError):
        return False
    if not any(tenant.pk == tenant_id for tenant in tenants_of(user)):
        return False
    session[SESSION_KEY] = tenant_id
    return True


def session_group(session_key):
    """The channel-layer group of one browser session's websockets: told ``session.ended`` on logout.

    A consumer joins it on connect (``scope["session"].session_key``) and closes on that message
    (web/accounts_signals.py sends it). Hashed: a group name must be short ASCII, and the session
    key is a credential that has no business in Redis key names.
    """
    import hashlib

    return "session-" + hashlib.sha256((session_key or "").encode()).hexdigest()[:40]
