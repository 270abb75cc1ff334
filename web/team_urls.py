"""A tenant admin's pages (issue 11): the tenant's API credentials and members (web/team.py)."""

from django.urls import path

from web import team

urlpatterns = [
    path("web/team/", team.team_index, name="team"),
    path("web/team/<slug:slug>/credentials/", team.credentials, name="team_credentials"),
    path("web/team/<slug:slug>/credentials/<int:pk>/revoke", team.revoke_credential, name="team_credential_revoke"),
    path("web/team/<slug:slug>/members/", team.members, name="team_members"),
    path("web/team/<slug:slug>/members/<int:pk>/role", team.member_role, name="team_member_role"),
    path("web/team/<slug:slug>/members/<int:pk>/remove", team.member_remove, name="team_member_remove"),
]
