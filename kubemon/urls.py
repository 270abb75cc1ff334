from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

from kubemon import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),  # kubemon's own, for Prometheus (docs/operations.md)
    path("admin/", admin.site.urls),
    path("k8s/collect/", include("api.temperature_urls")),
    path("k8s/fan/", include("fan.urls")),  # the legacy fan routes (fan/views.py)
    path("k8s/nodelight/", include("fan.nodelight_urls")),  # the node-light agents' HTTP fallback (docs/fan.md)
    path("api/", include("api.urls")),
    path("api", include("api.alias_urls")),
    path("", include("web.urls")),
]

if settings.DEBUG:
    # The demo runs under uvicorn with DEBUG on; production serves static files from STATIC_ROOT.
    urlpatterns += staticfiles_urlpatterns()
