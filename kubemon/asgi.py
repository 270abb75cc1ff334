"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubemon.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddleware  # noqa: E402  (needs the apps loaded first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402

from kubemon.requestmetrics import CountWebsockets  # noqa: E402
from kubemon.sessionkey import DropImplausibleSessionCookie  # noqa: E402
from web.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # CountWebsockets: the connections open now, for /metrics (kubemon/requestmetrics.py)
        "websocket": CountWebsockets(
            AllowedHostsOriginValidator(
                # Channels' AuthMiddlewareStack, with a session cookie that cannot be a key dropped
                # before the session is looked up (kubemon/sessionkey.py)
                CookieMiddleware(DropImplausibleSessionCookie(SessionMiddleware(AuthMiddleware(
                    URLRouter(websocket_urlpatterns))))))),
    }
)
