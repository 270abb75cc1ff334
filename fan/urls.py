from django.urls import path

from fan import views

app_name = "fan"
urlpatterns = [
    path("status", views.fan_status, name="status"),
    path("on", views.fan_on, name="on"),
    path("off", views.fan_off, name="off"),
    path("auto", views.fan_auto, name="auto"),
]
