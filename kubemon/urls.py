from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

from api.views import MetricQueryAliasView
from kubemon import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("k8s/collect/", include("api.temperature_urls")),
    path("api/", include("api.urls")),
    # Without the slash the legacy server redirected, and the POST lost its body: answer here.
    path("api", MetricQueryAliasView.as_view()),
    path("", include("web.urls")),
]

if settings.DEBUG:
    # The demo runs under uvicorn with DEBUG on; production serves static files from STATIC_ROOT.
    urlpatterns += staticfiles_urlpatterns()
