"""The portal's billing pages (issue 11): statements, downloads and the cost breakdown (docs/web.md, "Billing")."""

from django.urls import path

from web import billing, billing_costs

urlpatterns = [
    path("web/billing/statements/", billing.statement_list, name="billing_statements"),
    path("web/billing/statements/current/", billing.current_month, name="billing_current"),
    path("web/billing/statements/current/download.<str:fmt>", billing.current_download,
         name="billing_current_download"),
    path("web/billing/statements/<int:pk>/", billing.statement_detail, name="billing_statement"),
    path("web/billing/statements/<int:pk>/download.<str:fmt>", billing.statement_download, name="billing_download"),
    path("web/billing/statements/<int:pk>/issue", billing.statement_issue, name="billing_issue"),
    path("web/billing/statements/<int:pk>/correct", billing.statement_correct, name="billing_correct"),
    path("web/data/billing/statements/<int:pk>/daily", billing.statement_daily, name="billing_daily"),
    path("web/data/billing/statements/current/daily", billing.current_daily, name="billing_current_daily"),
    path("web/billing/costs/", billing_costs.costs_page, name="billing_costs"),
]
