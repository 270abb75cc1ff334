"""``/api`` without a slash: the legacy server redirected it, and the POST lost its body; answer here."""

from django.urls import path

from api.views import MetricQueryAliasView

urlpatterns = [path("", MetricQueryAliasView.as_view())]
