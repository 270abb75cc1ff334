"""Websocket routes (kubemon/asgi.py wraps them in the origin check and the session/auth middleware)."""

from django.urls import path

from web.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
]
