"""``allow_methods``: Django's ``require_http_methods`` with a JSON answer.

Agents and scripts read kubemon's errors as ``{"code", "message"}`` (DESIGN §5); Django's own
decorator answers a wrong method with an empty ``text/html`` 405.
"""

import inspect
from functools import wraps

from django.http import JsonResponse


def _not_allowed(request, methods):
    allowed = ", ".join(methods)
    response = JsonResponse({"code": 405, "message": f"method {request.method} not allowed: use {allowed}"},
                            status=405)
    response["Allow"] = allowed
    return response


def allow_methods(*methods):
    """Decorate a view (sync or async) to answer other methods with a JSON 405 and ``Allow``."""

    def decorator(view):
        if inspect.iscoroutinefunction(view):
            @wraps(view)
            async def async_inner(request, *args, **kwargs):
                if request.method not in methods:
                    return _not_allowed(request, methods)
                return await view(request, *args, **kwargs)

            return async_inner

        @wraps(view)
        def inner(request, *args, **kwargs):
            if request.method not in methods:
                return _not_allowed(request, methods)
            return view(request, *args, **kwargs)

        return inner

    return decorator


require_GET = allow_methods("GET")
require_POST = allow_methods("POST")
