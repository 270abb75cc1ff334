"""The node-light agent: a BlinkStick Nano per node showing its pods' worst state (docs/fan.md).

It reads its node's summary from kubemon (``ws/nodelight/<node>/``, falling back to
``GET /k8s/nodelight/<node>``) instead of watching Kubernetes, so it needs no RBAC; no Django, no
kubemon import (it ships with the fan host: ``pip install "./fanhost[lights]"``).
"""
