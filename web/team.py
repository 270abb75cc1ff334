"""A tenant admin's pages (issue 11): the tenant's API credentials and its members (docs/web.md, Team).

Who may do what (the decisions are the models': ``Tenant.is_administered_by``,
``Tenant.create_credential``, ``ApiCredential.revoke``, ``Tenant.add_member``,
``Membership.change_role``, ``Membership.remove``):

- staff and the tenant's admins see the pages and change things (POST forms with the CSRF token);
- the tenant's viewers see the same pages read-only, and a POST from them is 403;
- anyone else gets 404 for the tenant, as for a tenant that does not exist, and a credential or
  membership of another tenant under this tenant's URL is 404 too.

A new credential's secret is in the answer to the POST that created it and nowhere else: kubemon
keeps only its SHA-256 digest, the answer is ``Cache-Control: no-store``, and no GET shows it.
"""

import logging
import secrets

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.models import ApiCredential, Membership, Tenant
from web import access

log = logging.getLogger(__name__)

# The tenant whose team page this session showed last: tells a tenant switch in the header (which
# comes back to the same URL) from a visit of another tenant's page (see ``_follow_header``).
LAST_SHOWN = "kubemon_team_tenant"


# The create forms this session has already used (``CredentialForm.once``), the last few: the
# answer with the secret is a POST's, and reloading it must not make a second credential.
USED_FORMS = "kubemon_team_used_forms"
USED_FORMS_KEPT = 20


class CredentialForm(forms.Form):
    label = forms.CharField(label="Name", max_length=100, help_text="What it is for, e.g. “CI pipeline”.")
    once = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["once"] = secrets.token_urlsafe(16)


class AddMemberForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150, help_text="An existing kubemon user.")
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices, initial=Membership.Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


def _tenant(request, slug):
    """The tenant of the URL if ``request.user`` may see it (staff, or a member), else 404."""
    tenant = Tenant.objects.filter(slug=slug).first()
    user = request.user
    if tenant is None or not access.is_active_user(user):
        raise Http404("no such tenant")
    if not access.is_staff(user) and not tenant.memberships.filter(user=user).exists():
        raise Http404("no such tenant")  # someone else's tenant looks like one that does not exist
    return tenant


def _admin_tenant(request, slug):
    """The tenant of the URL for a change: 404 as ``_tenant``, then 403 unless staff or its admin."""
    tenant = _tenant(request, slug)
    if not tenant.is_administered_by(request.user):
        raise PermissionDenied("only the tenant's admins and staff may change this")
    return tenant


def _follow_header(request, tenant, url_name):
    """Keep the page and the header's tenant switcher on the same tenant; a redirect, or None.

    The switcher posts and comes back to the page's own URL, which names the old tenant: when the
    selection changed while this tenant's page was the last one shown, the user switched, and
    goes to the new tenant's page (or to the chooser, for staff who chose "All tenants").
    Otherwise the page is shown and its tenant becomes the selection.
    """
    session = request.session
    selected = access.selected_tenant(request.user, session)
    if session.get(LAST_SHOWN) == tenant.pk and (selected is None or selected.pk != tenant.pk):
        session.pop(LAST_SHOWN, None)
        if selected is None:
            return redirect("web:team")
        return redirect(url_name, slug=selected.slug)
    access.select(request.user, session, str(tenant.pk))
    session[LAST_SHOWN] = tenant.pk
    return None


def _page(request, tenant, template, context, status=200):
    admins = tenant.memberships.filter(role=Membership.Role.ADMIN).select_related("user").order_by("user__username")
    context = {"tenant": tenant, "may_change": tenant.is_administered_by(request.user),
               "admins": [membership.user for membership in admins], **context}
    response = render(request, template, context, status=status)
    # Pages with credentials on them are nobody's cache's business, the one with a secret least of all.
    patch_cache_control(response, no_store=True, private=True)
    return response


@require_GET
def team_index(request):
    """``/web/team/``: the selected tenant's team page; staff looking at every tenant choose one."""
    user = request.user
    tenant = access.selected_tenant(user, request.session)
    if tenant is not None:
        page = "web:team_credentials" if tenant.is_administered_by(user) else "web:team_members"
        return redirect(page, slug=tenant.slug)
    if not access.is_staff(user):
        raise Http404("you belong to no tenant")
    return render(request, "web/team/index.html", {"tenants": access.tenants_of(user)})


def _credentials_page(request, tenant, form, status=200, created=None, secret=None, error=None):
    # Active ones first (newest first), then the revoked ones, last revoked first.
    credentials = (tenant.credentials.select_related("created_by")
                   .order_by(F("revoked_at").desc(nulls_first=True), "-created", "username"))
    return _page(request, tenant, "web/team/credentials.html", {
        "credentials": list(credentials), "form": form, "created": created, "secret": secret, "error": error,
        "api_example": request.build_absolute_uri("/api/allocation?window=today&aggregate=namespace"),
    }, status=status)


@require_http_methods(["GET", "POST"])
def credentials(request, slug):
    """``/web/team/<slug>/credentials/``: the list; a POST (admins, staff) creates one and shows its secret."""
    if request.method == "GET":
        tenant = _tenant(request, slug)
        return _follow_header(request, tenant, "web:team_credentials") or _credentials_page(
            request, tenant, CredentialForm())
    tenant = _admin_tenant(request, slug)
    form = CredentialForm(request.POST)
    if not form.is_valid():
        return _credentials_page(request, tenant, form, status=400)
    once = form.cleaned_data["once"]
    used = request.session.get(USED_FORMS, [])
    if once and once in used:
        return _credentials_page(request, tenant, CredentialForm(), status=409, error=(
            "This form has already created its credential (a reload?), and its secret was shown once. "
            "If it was not copied, revoke that credential and create another."))
    try:
        credential, secret = tenant.create_credential(form.cleaned_data["label"], created_by=request.user)
    except ValidationError as exc:
        form.add_error(None, exc)
        return _credentials_page(request, tenant, form, status=400)
    if once:
        request.session[USED_FORMS] = [*used, once][-USED_FORMS_KEPT:]
    log.info("%s created API credential %s for tenant %s", request.user, credential.username, tenant.slug)
    # Rendered here rather than after a redirect: a redirect would have to keep the secret
    # somewhere (session, message cookie) until the next GET.
    return _credentials_page(request, tenant, CredentialForm(), created=credential, secret=secret)


@require_POST
def revoke_credential(request, slug, pk):
    """``POST /web/team/<slug>/credentials/<pk>/revoke``: the API refuses the credential from now on."""
    tenant = _admin_tenant(request, slug)
    credential = get_object_or_404(ApiCredential, pk=pk, tenant=tenant)
    if credential.is_active:
        credential.revoke()
        log.info("%s revoked API credential %s of tenant %s", request.user, credential.username, tenant.slug)
        messages.success(request, f"Revoked {credential.username}: the API refuses it from now on.")
    else:
        messages.info(request, f"{credential.username} was already revoked.")
    return redirect("web:team_credentials", slug=tenant.slug)


def _members_page(request, tenant, form, status=200, error=None):
    memberships = list(tenant.memberships.select_related("user").order_by("user__username"))
    admins = [m.pk for m in memberships if m.role == Membership.Role.ADMIN]
    return _page(request, tenant, "web/team/members.html", {
        "memberships": memberships, "form": form, "roles": Membership.Role.choices, "error": error,
        # The page offers no demotion or removal of the last admin (the model refuses them anyway).
        "last_admin": admins[0] if len(admins) == 1 else None,
    }, status=status)


@require_http_methods(["GET", "POST"])
def members(request, slug):
    """``/web/team/<slug>/members/``: who belongs to the tenant; a POST (admins, staff) adds someone."""
    if request.method == "GET":
        tenant = _tenant(request, slug)
        return _follow_header(request, tenant, "web:team_members") or _members_page(request, tenant, AddMemberForm())
    tenant = _admin_tenant(request, slug)
    form = AddMemberForm(request.POST)
    if not form.is_valid():
        return _members_page(request, tenant, form, status=400)
    try:
        membership = tenant.add_member(form.cleaned_data["username"], form.cleaned_data["role"])
    except ValidationError as exc:
        form.add_error("username", exc)
        return _members_page(request, tenant, form, status=400)
    log.info("%s added %s to tenant %s as %s", request.user, membership.user, tenant.slug, membership.role)
    messages.success(request, f"Added {membership.user} as {membership.role}.")
    return redirect("web:team_members", slug=tenant.slug)


def _after_member_change(request, tenant):
    """Back to the members page, or to the overview when the user just left the tenant."""
    if access.is_staff(request.user) or tenant.memberships.filter(user=request.user).exists():
        return redirect("web:team_members", slug=tenant.slug)
    return redirect(reverse("web:overview"))


@require_POST
def member_role(request, slug, pk):
    """``POST /web/team/<slug>/members/<pk>/role`` (field ``role``): the last admin stays admin."""
    tenant = _admin_tenant(request, slug)
    membership = get_object_or_404(Membership.objects.select_related("user", "tenant"), pk=pk, tenant=tenant)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _members_page(request, tenant, AddMemberForm(), status=400, error="Choose viewer or admin.")
    try:
        membership.change_role(form.cleaned_data["role"])
    except ValidationError as exc:
        return _members_page(request, tenant, AddMemberForm(), status=400, error=" ".join(exc.messages))
    log.info("%s made %s %s of tenant %s", request.user, membership.user, membership.role, tenant.slug)
    messages.success(request, f"{membership.user} is now {membership.role}.")
    return _after_member_change(request, tenant)


@require_POST
def member_remove(request, slug, pk):
    """``POST /web/team/<slug>/members/<pk>/remove``: the last admin cannot be removed."""
    tenant = _admin_tenant(request, slug)
    membership = get_object_or_404(Membership.objects.select_related("user", "tenant"), pk=pk, tenant=tenant)
    try:
        membership.remove()
    except ValidationError as exc:
        return _members_page(request, tenant, AddMemberForm(), status=400, error=" ".join(exc.messages))
    log.info("%s removed %s from tenant %s", request.user, membership.user, tenant.slug)
    messages.success(request, f"Removed {membership.user} from {tenant.name}.")
    return _after_member_change(request, tenant)
