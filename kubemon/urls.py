from django.contrib import admin
from django.urls import include, path

from kubemon import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("k8s/collect/", include("api.temperature_urls")),
    path("", include("web.urls")),
]
