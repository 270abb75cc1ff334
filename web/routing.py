"""Websocket routes; the live-view consumers arrive with the web issue."""

websocket_urlpatterns = []
