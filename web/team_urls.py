"""A tenant admin's pages (issue 11): the tenant's API credentials and members."""

urlpatterns = []
