from django.urls import path

from web import (
    accounts,
    accounts_demo,
    billing_urls,
    fan,
    nodes,
    overview,
    shares,
    stats,
    status,
    team_urls,
    tenant_switch,
)

app_name = "web"
urlpatterns = [
    path("", overview.overview, name="overview"),  # the live overview (web/overview.py)
    path("web/status/", status.status, name="status"),
    # --- accounts (web/accounts.py) and the tenant switcher; the legacy paths keep working ---
    path("web/login/", accounts.LoginView.as_view(), name="login"),
    path("web/login/demo/<str:token>/", accounts_demo.demo_login, name="demo_login"),
    path("web/logout/", accounts.logout, name="logout"),
    path("web/authentication/signin", accounts.legacy_signin, name="legacy_signin"),
    path("web/authentication/signout", accounts.legacy_signout, name="legacy_signout"),
    path("web/password/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path("web/password/done/", accounts.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("web/tenant/", tenant_switch.switch_tenant, name="tenant"),
    # --- pages of the other areas are added below (one block per area) ---
    # --- charts (H3): node pages, namespace shares, the legacy stats pages and their data ---
    path("web/nodes/<str:name>/", nodes.node_page, name="node"),
    path("web/data/nodes/<str:name>/series", nodes.node_data, name="node_data"),
    path("web/shares/", shares.shares_page, name="shares"),
    path("web/stats/index", stats.stats_index, name="stats_index"),
    path("web/stats/<path:path>", stats.stats_page, name="stats"),
    # --- the fan panel (F1, web/fan.py; the switches are fan's /k8s/fan/on|off|auto) ---
    path("web/fan/", fan.fan_page, name="fan"),
    path("web/fan/data", fan.fan_data, name="fan_data"),
    # --- billing (web/billing_urls.py) and a tenant admin's credentials and members (web/team_urls.py) ---
    *billing_urls.urlpatterns,
    *team_urls.urlpatterns,
]
