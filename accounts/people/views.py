"""People pages: list people, propose changes, decide pending ones (second factor). No rules live here:
every check is in accounts.services.people, so a forged POST gets the same answer as the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import audit_record
from accounts.models import PeopleChange, PeopleChangeKind, User
from accounts.people import selectors
from accounts.people.forms import PersonCreateForm
from accounts.services.people import (
    PeopleChangeRefused,
    people_change_approve,
    people_change_cancel,
    people_change_propose,
    people_change_reject,
)
from accounts.web import client_ip, denied_as_http, request_user

_guarded = denied_as_http(not_found=User.DoesNotExist, what="person")
# What a proposal form may send; the service checks every value.
PROPOSAL_FIELDS = ("role", "key_set_id", "group", "grant_id", "view", "request", "approve")


def _done(record: PeopleChange) -> str:
    if record.status == "applied":
        return (
            f"{record.get_kind_display()} for {record.subject}: done (taking a right away applies at once)."
        )
    return (
        f"{record.get_kind_display()} for {record.subject} proposed; a second administrator must approve it."
    )


@require_http_methods(["GET"])
@_guarded
def people_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    context = {
        "rows": selectors.people_list(user=user),
        "pending": selectors.people_changes_pending(user=user),
        "recent": selectors.people_changes_recent(user=user),
    }
    return render(request, "accounts/people_list.html", context)


@require_http_methods(["GET", "POST"])
@_guarded
def person_new(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    selectors.people_list(user=user)  # administrators only, like the service
    form = PersonCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            record = people_change_propose(
                actor=user, kind=PeopleChangeKind.USER_CREATE, values=form.cleaned_data, ip=client_ip(request)
            )
        except PeopleChangeRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _done(record))
            return redirect("people:list")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/people_form.html", {"form": form}, status=status)


@require_http_methods(["GET"])
@_guarded
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    person = selectors.person_get(user=user, pk=pk)
    context = {
        "person": person,
        "roles": sorted(g.name for g in person.groups.all()),
        "all_roles": selectors.role_names(),
        "grants": selectors.person_grants(person=person),
        "key_sets": selectors.key_sets_all(),
        "pending": selectors.people_changes_pending(user=user, person=person),
        "recent": selectors.people_changes_recent(user=user, person=person, limit=10),
    }
    return render(request, "accounts/people_detail.html", context)


@require_POST
@_guarded
def person_propose(request: HttpRequest, pk: int) -> HttpResponse:
    """One form per change on the person page: `kind` plus the fields that kind needs."""
    user = request_user(request)
    values: dict[str, Any] = {k: request.POST.get(k) for k in PROPOSAL_FIELDS if k in request.POST}
    values["user_id"] = pk
    try:
        record = people_change_propose(
            actor=user, kind=request.POST.get("kind", ""), values=values, ip=client_ip(request)
        )
    except PeopleChangeRefused as exc:
        messages.error(request, f"Nothing changed: {exc}")
    else:
        messages.success(request, _done(record))
    return redirect("people:detail", pk=pk)


def _decide(request: HttpRequest, pk: int, action: Callable[..., PeopleChange], done: str) -> HttpResponse:
    user = request_user(request)
    kwargs: dict[str, Any] = {"actor": user, "change_id": pk, "ip": client_ip(request)}
    if action is not people_change_cancel:
        kwargs["stepup"] = request.POST
    try:
        record = action(**kwargs)
    except PeopleChangeRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{record.get_kind_display()} for {record.subject}: {done}.")
    back = request.POST.get("next", "")
    if back.startswith("/people/") and "//" not in back:
        return redirect(back)
    return redirect("people:list")


@require_POST
@_guarded
def change_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, people_change_approve, "approved and applied")


@require_POST
@_guarded
def change_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, people_change_reject, "rejected")


@require_POST
@_guarded
def change_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, people_change_cancel, "cancelled")


@method_decorator(login_not_required, name="dispatch")
class PasswordSetView(auth_views.PasswordResetConfirmView):
    """The one-time link emailed to a new person or after an approved password reset."""

    template_name = "accounts/people_password_set.html"
    success_url = reverse_lazy("login")
    reset_url_token = "set-password"

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit_record(actor=form.user, verb="people.password_set", obj=form.user, ip=client_ip(self.request))
        messages.success(self.request, "Password set. Sign in, then set up your second factor.")
        return response
