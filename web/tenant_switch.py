"""``POST /web/tenant/``: the header's tenant switcher (web/access.py keeps the rules)."""

from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from web import access


def _is_well_formed(value):
    return value == access.ALL or (value.isascii() and value.isdigit() and len(value) <= 18)


@require_POST
def switch_tenant(request):
    value = (request.POST.get("tenant") or "").strip()
    if not _is_well_formed(value):
        return JsonResponse({"code": 400, "message": "tenant must be a tenant id or \"all\""}, status=400)
    # Someone else's tenant, one that does not exist, or "all" for a non-staff user: all look alike.
    if not access.select(request.user, request.session, value):
        raise Http404("no such tenant")
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    return redirect(target)
