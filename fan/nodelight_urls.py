from django.urls import path

from fan import nodelight

app_name = "nodelight"
urlpatterns = [path("<str:node>", nodelight.node_light, name="node")]
