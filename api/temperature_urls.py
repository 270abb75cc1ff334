from django.urls import path

from api import temperature

urlpatterns = [
    path("<str:token>/temperature", temperature.push_with_token_in_path, name="temperature-push"),
    path("temperature", temperature.push_with_token_in_header, name="temperature-push-post"),
]
