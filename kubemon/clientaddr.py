"""The client's address as kubemon counts it: shared by the API's and the portal's login throttles."""

import ipaddress

from django.conf import settings


def client_address(request):
    """The caller's address; ``X-Forwarded-For`` is trusted only as far as ``API_NUM_PROXIES`` says.

    With N proxies in front, each appends the address it saw, so the N-th hop from the right is
    the one the outermost proxy saw; anything further left was written by the client.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.API_NUM_PROXIES
    if proxies > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote


def address_scope(address):
    """What one client's failures are counted under: the address, or an IPv6 address's /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (a proxy's header, "unknown"): counted as it is
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
