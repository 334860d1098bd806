"""Key-set pages: parse input, call a selector or service, render. No rules live here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors
from accounts.access import ensure_admin, user_is_admin
from accounts.balance_refresh import balance_refresh_progress, balance_refresh_start
from accounts.forms import GrantForm, KeySetCreateForm, KeySetEditForm, ReplaceSecretForm
from accounts.key_permissions import PERMISSION_NAMES
from accounts.models import AccountKind, ApiKeySet, PeopleChangeKind
from accounts.services.key_sets import (
    KeySetRefused,
    key_set_activate,
    key_set_create,
    key_set_deactivate,
    key_set_replace_secret,
    key_set_update,
)
from accounts.services.people import PeopleChangeRefused, people_change_propose, people_grant_revoke
from accounts.services.sub_accounts import sub_accounts_discover
from accounts.services.verification import key_set_verify
from accounts.web import client_ip, denied_as_http, request_user
from exchange.problems import ExchangeProblem

View = Callable[..., HttpResponse]


_denied_is_403 = denied_as_http(not_found=ApiKeySet.DoesNotExist, what="key set")
_user = request_user
_ip = client_ip


@require_http_methods(["GET"])
@_denied_is_403
def keyset_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    key_sets = list(selectors.key_set_list_for(user=user))
    rows = [(ks, selectors.key_set_rotation_overdue(key_set=ks)) for ks in key_sets]
    return render(request, "accounts/keyset_list.html", {"rows": rows, "is_admin": user_is_admin(user=user)})


@require_http_methods(["GET"])
@_denied_is_403
def keyset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    key_set = selectors.key_set_get_for(user=user, pk=pk)
    is_admin = user_is_admin(user=user)
    context = {
        "ks": key_set,
        "is_admin": is_admin,
        "overdue": selectors.key_set_rotation_overdue(key_set=key_set),
        "report": key_set.verification or {},
        "balances": selectors.balances_latest(key_set=key_set),
        "tree": selectors.family_tree(user=user, key_set=key_set),
        "grants": list(selectors.grant_list(user=user, key_set=key_set)) if is_admin else [],
        "needs_second_admin": user.pk in {key_set.created_by_id, key_set.secret_changed_by_id},
        "permission_names": PERMISSION_NAMES,
    }
    return render(request, "accounts/keyset_detail.html", context)


@require_http_methods(["GET", "POST"])
@_denied_is_403
def keyset_add(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    ensure_admin(user=user)
    form = KeySetCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            key_set = key_set_create(
                actor=user,
                label=data["label"],
                api_key=data["api_key"],
                secret=data["secret"],
                environment=data["environment"],
                base_url=data["base_url"],
                account_kind=data["account_kind"],
                parent_id=data["parent"].pk if data.get("parent") else None,
                rotate_by=data.get("rotate_by"),
                ip=_ip(request),
            )
        except KeySetRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Key set “{key_set.label}” saved. A second administrator must activate it."
            )
            return redirect("accounts:keyset_detail", pk=key_set.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "accounts/keyset_form.html", {"form": form, "title": "Add a key set"}, status=status
    )


@require_http_methods(["GET", "POST"])
@_denied_is_403
def keyset_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    key_set = selectors.key_set_admin_get(user=user, pk=pk)
    form = KeySetEditForm(request.POST or None, key_set=key_set)
    if request.method == "POST" and form.is_valid():
        try:
            key_set_update(
                actor=user,
                key_set_id=key_set.pk,
                label=form.cleaned_data["label"],
                rotate_by=form.cleaned_data.get("rotate_by"),
                ip=_ip(request),
            )
        except KeySetRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Key set updated.")
            return redirect("accounts:keyset_detail", pk=key_set.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "accounts/keyset_form.html",
        {"form": form, "ks": key_set, "title": f"Edit {key_set.label}"},
        status=status,
    )


@require_http_methods(["GET", "POST"])
@_denied_is_403
def keyset_replace_secret(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    key_set = selectors.key_set_admin_get(user=user, pk=pk)
    form = ReplaceSecretForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key_set_replace_secret(
                actor=user,
                key_set_id=key_set.pk,
                api_key=form.cleaned_data["api_key"],
                secret=form.cleaned_data["secret"],
                rotate_by=form.cleaned_data.get("rotate_by"),
                ip=_ip(request),
            )
        except KeySetRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, "New key and secret saved. The key set awaits activation by a second administrator."
            )
            return redirect("accounts:keyset_detail", pk=key_set.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "accounts/keyset_form.html",
        {"form": form, "ks": key_set, "title": f"Replace the key and secret of {key_set.label}"},
        status=status,
    )


def _state_change(
    request: HttpRequest, pk: int, action: Callable[..., Any], done: str, **extra: Any
) -> HttpResponse:
    user = _user(request)
    key_set = selectors.key_set_get_for(user=user, pk=pk)
    try:
        action(actor=user, key_set_id=key_set.pk, ip=_ip(request), **extra)
    except KeySetRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("accounts:keyset_detail", pk=key_set.pk)


@require_POST
@_denied_is_403
def keyset_activate(request: HttpRequest, pk: int) -> HttpResponse:
    return _state_change(request, pk, key_set_activate, "Key set activated.", stepup=request.POST)


@require_POST
@_denied_is_403
def keyset_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _state_change(
        request,
        pk,
        key_set_deactivate,
        "Key set deactivated; its pending requests are stale.",
        stepup=request.POST,
    )


@require_POST
@_denied_is_403
def keyset_verify(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    key_set = selectors.key_set_get_for(user=user, pk=pk)
    report = key_set_verify(key_set_id=key_set.pk, actor=user, ip=_ip(request), page=True)
    if report["ok"]:
        messages.success(request, f"Verified: BingX UID {report['uid']}.")
        for warning in report.get("warnings", []):
            messages.warning(request, warning)
    else:
        messages.error(request, f"Verification failed. {report['error']}")
    return redirect("accounts:keyset_detail", pk=key_set.pk)


@require_POST
@_denied_is_403
def keyset_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    key_set = selectors.key_set_get_for(user=user, pk=pk)
    try:  # in the background: the page returns at once and shows the progress (htmx poll)
        balance_refresh_start(key_set_id=key_set.pk, actor=user, ip=_ip(request))
    except KeySetRefused as exc:
        messages.error(request, f"Balances not refreshed. {exc}")
    else:
        messages.info(request, "Refreshing balances from the exchange in the background…")
    if request.POST.get("next") == "balances":
        return redirect("accounts:balances")
    return redirect("accounts:keyset_detail", pk=key_set.pk)


@require_POST
@_denied_is_403
def keyset_discover(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    key_set = selectors.key_set_get_for(user=user, pk=pk)
    if key_set.account_kind != AccountKind.MAIN:
        messages.error(request, "Sub-accounts can only be discovered from a main-account key set.")
        return redirect("accounts:keyset_detail", pk=key_set.pk)
    try:
        result = sub_accounts_discover(key_set_id=key_set.pk, actor=user, ip=_ip(request), page=True)
    except (ExchangeProblem, KeySetRefused) as exc:
        messages.error(request, f"Sub-accounts not discovered. {exc}")
    else:
        messages.success(
            request, f"{result.found} sub-account(s) on BingX ({result.added} new, {result.removed} gone)."
        )
    return redirect("accounts:keyset_detail", pk=key_set.pk)


@require_http_methods(["GET", "POST"])
@_denied_is_403
def keyset_grants(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    key_set = selectors.key_set_admin_get(user=user, pk=pk)
    form = GrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        values = {
            "key_set_id": key_set.pk,
            "user_id": data["user"].pk if data.get("user") else None,
            "group": data["group"].name if data.get("group") else "",
            "view": data["can_view"],
            "request": data["can_request"],
            "approve": data["can_approve"],
        }
        try:  # four eyes: adding access waits for a second administrator (accounts.services.people)
            change = people_change_propose(
                actor=user, kind=PeopleChangeKind.GRANT_SET, values=values, ip=_ip(request)
            )
        except PeopleChangeRefused as exc:
            form.add_error(None, str(exc))
        else:
            if change.status == "applied":
                messages.success(request, "Grant narrowed (taking access away applies at once).")
            else:
                messages.success(request, "Grant proposed; a second administrator must approve it (People).")
            return redirect("accounts:keyset_grants", pk=key_set.pk)
    status = 400 if request.method == "POST" else 200
    context = {"ks": key_set, "form": form, "grants": selectors.grant_list(user=user, key_set=key_set)}
    return render(request, "accounts/keyset_grants.html", context, status=status)


@require_POST
@_denied_is_403
def keyset_grant_revoke(request: HttpRequest, pk: int, grant_id: int) -> HttpResponse:
    user = _user(request)
    key_set = selectors.key_set_admin_get(user=user, pk=pk)
    try:  # taking access away applies at once (confirmed with a second factor), an applied people change
        people_grant_revoke(
            actor=user, key_set_id=key_set.pk, grant_id=grant_id, stepup=request.POST, ip=_ip(request)
        )
    except PeopleChangeRefused as exc:
        if exc.code == "unknown_grant":
            raise Http404(str(exc)) from None
        messages.error(request, f"Nothing changed: {exc}")
        return redirect("accounts:keyset_grants", pk=key_set.pk)
    messages.success(request, "Grant revoked.")
    return redirect("accounts:keyset_grants", pk=key_set.pk)


@require_http_methods(["GET"])
@_denied_is_403
def keyset_refresh_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress of a background balance refresh (polled by htmx while it runs)."""
    key_set = selectors.key_set_get_for(user=_user(request), pk=pk)
    progress = balance_refresh_progress(key_set=key_set)
    response = render(request, "accounts/_refresh_progress.html", {"ks": key_set, "refresh": progress})
    if request.headers.get("HX-Request") and progress is not None and not progress.active:
        response["HX-Refresh"] = "true"  # finished: reload to show the new snapshot (or the reason)
    return response


@require_http_methods(["GET"])
@_denied_is_403
def balances(request: HttpRequest) -> HttpResponse:
    overview = selectors.balances_for_user(user=_user(request))
    return render(request, "accounts/balances.html", {"overview": overview})
