"""Logging in and out of the portal, changing one's password, and the legacy account paths.

Django's auth does the work (sessions, CSRF, the hashers); this module adds the failed-login
throttle (web/accounts_throttle.py) and the legacy endpoints: the old portal's form posted
``username`` and ``password`` to ``/web/authentication/signin`` and logged out with a POST to
``/web/authentication/signout``.

An unknown username costs the same as a wrong password: Django's ModelBackend runs the hasher on
the given password when no user has the name (tests/web/test_accounts.py checks it does), and the
throttle counts every name, existing or not.
"""

from datetime import timedelta

from django import forms
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordChangeForm as DjangoPasswordChangeForm
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from kubemon.clientaddr import client_address
from web.accounts_throttle import LoginThrottle


class LoginForm(AuthenticationForm):
    """Django's login form behind the failed-login throttle; its fields are ``username`` and ``password``."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password do not match an account. Both are case-sensitive.",
        "throttled": "Too many failed logins from your address. Try again in %(seconds)s s (after %(time)s).",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.retry_after = 0
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request is not None else "unknown"
        throttle = LoginThrottle()
        verdict = throttle.check(username, address)
        if not verdict.allowed:
            self.retry_after = verdict.retry_after
            until = timezone.localtime(timezone.now() + timedelta(seconds=verdict.retry_after))
            raise ValidationError(
                self.error_messages["throttled"], code="throttled",
                params={"seconds": verdict.retry_after, "time": until.strftime("%H:%M:%S")},
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.failed(username, address)
            raise
        throttle.succeeded(username, address)
        return cleaned


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "web/accounts/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


@login_not_required
@require_http_methods(["GET", "HEAD", "POST"])
def legacy_signin(request):
    """``POST /web/authentication/signin``: the legacy form's target; a GET goes to the login page."""
    if request.method == "POST":
        return LoginView.as_view()(request)
    return redirect(reverse("web:login"))


def _safe_next(request, default):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return default


@login_not_required
@require_http_methods(["GET", "HEAD", "POST"])
def logout(request):
    """POST logs out (and closes the session's websockets); GET asks first, as logging out changes state."""
    if request.method == "POST":
        was_logged_in = request.user.is_authenticated
        auth.logout(request)
        if was_logged_in:
            messages.info(request, "You are logged out.")
        return redirect(_safe_next(request, reverse("web:login")))
    if not request.user.is_authenticated:
        return redirect(reverse("web:login"))
    return render(request, "web/accounts/logout.html")


@login_not_required
@require_http_methods(["POST"])
def legacy_signout(request):
    """``POST /web/authentication/signout``, as the legacy portal's logout form posted."""
    return logout(request)


class PasswordChangeForm(DjangoPasswordChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].widget.attrs.update({"autocomplete": "current-password"})
        for name in ("new_password1", "new_password2"):
            self.fields[name].widget = forms.PasswordInput(attrs={"autocomplete": "new-password"})


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view: it checks the old password and the validators and keeps the session logged in."""

    form_class = PasswordChangeForm
    template_name = "web/accounts/password_change.html"
    success_url = reverse_lazy("web:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "web/accounts/password_change_done.html"
