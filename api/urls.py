from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import allocation, statements, views


class AnyPathConverter:
    """Like ``path`` but also matches control characters, so every metric path gets a JSON answer."""

    regex = r"[\s\S]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(AnyPathConverter, "anypath")

app_name = "api"
urlpatterns = [
    path("metrics", views.MetricCatalogueView.as_view(), name="metric-catalogue"),
    # OpenCost's routes (its /allocation/compute takes the same parameters).
    path("allocation", allocation.AllocationView.as_view(), name="allocation"),
    path("allocation/compute", allocation.AllocationComputeView.as_view()),
    path("statements", statements.StatementListView.as_view(), name="statements"),
    path("statements/<anypath:ref>", statements.StatementDetailView.as_view(), name="statement"),
    path("metrics/", views.MetricCatalogueAliasView.as_view()),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from a URL, not inline: the CSP forbids inline scripts.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # The legacy API answered every path under /api/ itself; a metric name may contain "/".
    path("", views.MetricQueryAliasView.as_view(), name="metric-root"),
    path("<anypath:metric>", views.MetricQueryView.as_view(), name="metric-query"),
]
