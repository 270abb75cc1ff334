from django.shortcuts import render

from kubemon.health import dependency_report


def home(request):
    """The landing page: what kubemon is and whether its parts are up."""
    ok, report = dependency_report()
    return render(request, "web/home.html", {"ok": ok, "report": report})
