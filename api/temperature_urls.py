from django.urls import path, re_path

from api import temperature

urlpatterns = [
    # Any token, "/" and control characters included, reaches the view: a wrong one is the JSON
    # 403 "invalid token", not Django's HTML 404 for a path that matches no route.
    re_path(r"^(?P<token>[\s\S]+)/temperature\Z", temperature.push_with_token_in_path, name="temperature-push"),
    path("temperature", temperature.push_with_token_in_header, name="temperature-push-post"),
]
