"""Websocket routes (kubemon/asgi.py wraps them in the origin check and the session/auth middleware)."""

from django.urls import path

from fan.nodelight_consumer import NodeLightConsumer
from web.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveConsumer.as_asgi()),
    path("ws/nodelight/<str:node>/", NodeLightConsumer.as_asgi()),  # the node-light agents (fan/, docs/fan.md)
]
