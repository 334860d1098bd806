"""The address book: administrators propose entries, a second administrator decides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import user_is_admin
from accounts.web import client_ip, request_user
from transfers.forms import (
    RecipientForm,
)
from transfers.models import (
    AllowedRecipient,
)
from transfers.recipients import RecipientRefused, address_book_entries
from transfers.services import address_book
from transfers.views.base import guarded

# --- address book --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@guarded
def recipients(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    is_admin = user_is_admin(user=user)
    form = RecipientForm(request.POST or None)
    if request.method == "POST":
        if not is_admin:
            raise PermissionDenied("Only administrators manage the address book.")
        if form.is_valid():
            d = form.cleaned_data
            try:
                entry = address_book.recipient_request(
                    actor=user,
                    label=d["label"],
                    recipient_type=d["recipient_type"],
                    account=d["account"],
                    calling_code=d.get("calling_code") or "",
                    ip=client_ip(request),
                )
            except RecipientRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"“{entry.label}” added; a second administrator must approve it.")
                return redirect("transfers:recipients")
    entries = address_book_entries()
    return render(
        request,
        "transfers/recipients.html",
        {"form": form, "entries": entries, "is_admin": is_admin},
        status=400 if request.method == "POST" else 200,
    )


def _recipient_action(
    request: HttpRequest, pk: int, action: Callable[..., AllowedRecipient], done: str, **extra: Any
) -> HttpResponse:
    user = request_user(request)
    try:
        entry = action(actor=user, recipient_id=pk, ip=client_ip(request), **extra)
    except RecipientRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{entry.label}” {done}.")
    return redirect("transfers:recipients")


@require_POST
@guarded
def recipient_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _recipient_action(request, pk, address_book.recipient_approve, "approved", stepup=request.POST)


@require_POST
@guarded
def recipient_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _recipient_action(request, pk, address_book.recipient_reject, "rejected", stepup=request.POST)


@require_POST
@guarded
def recipient_remove(request: HttpRequest, pk: int) -> HttpResponse:
    return _recipient_action(request, pk, address_book.recipient_remove, "removed", stepup=request.POST)
