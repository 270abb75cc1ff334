"""The portal's billing pages (issue 11): statements, downloads and the cost breakdown."""

urlpatterns = []
