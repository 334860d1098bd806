"""The reconciliation page: parse the filters, call the selector or service, render. No rules here."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.access import AccessDenied
from accounts.web import request_user
from transfers.filters import ReconciliationFilterForm, SyncForm
from transfers.models import RecordSource
from transfers.records.reconciliation import FilterRefused, reconciliation_get
from transfers.records.review import ReviewRefused, record_acknowledge, record_link
from transfers.records.sync import SyncRefused, records_sync_request

_user = request_user


def _filter_refused(form: forms.Form) -> FilterRefused:
    field = next(iter(form.errors), "")
    what = {"key_set": "The key set filter must be a key set id.", "source": "Unknown record source."}
    return FilterRefused(what.get(field, "Unknown filter."))


@require_GET
def reconciliation(request: HttpRequest) -> HttpResponse:
    form = ReconciliationFilterForm(request.GET)
    try:
        if not form.is_valid():
            raise _filter_refused(form)
        key_set_id = form.cleaned_data["key_set"]
        source = form.cleaned_data["source"] or None
        data = reconciliation_get(user=_user(request), key_set_id=key_set_id, source=source)
    except FilterRefused as exc:
        return render(request, "transfers/reconciliation.html", {"error": str(exc)}, status=400)
    except AccessDenied as exc:
        raise PermissionDenied(str(exc)) from None
    context = {
        "data": data,
        "sources": RecordSource.choices,
        "chosen_key_set": key_set_id,
        "chosen_source": source or "",
    }
    return render(request, "transfers/reconciliation.html", context)


@require_POST
def reconciliation_sync(request: HttpRequest) -> HttpResponse:
    form = SyncForm(request.POST)
    key_set_id = None
    try:
        if not form.is_valid():
            raise _filter_refused(form)
        key_set_id = form.cleaned_data["key_set"]
        chosen = records_sync_request(
            user=_user(request), key_set_id=key_set_id, ip=request.META.get("REMOTE_ADDR") or None
        )
    except FilterRefused as exc:
        messages.error(request, str(exc))
        return redirect("transfers:reconciliation")
    except AccessDenied as exc:
        raise PermissionDenied(str(exc)) from None
    except SyncRefused as exc:
        messages.error(request, str(exc))
    else:
        names = ", ".join(ks.label for ks in chosen)
        messages.success(request, f"Records sync queued for {names}. Reload in a moment to see new records.")
    url = reverse("transfers:reconciliation")
    return redirect(f"{url}?key_set={key_set_id}" if key_set_id else url)


class _AcknowledgeForm(forms.Form):
    note = forms.CharField(max_length=300, required=False)


class _LinkForm(forms.Form):
    request = forms.IntegerField(min_value=1, max_value=2**63 - 1)


def _back(request: HttpRequest) -> HttpResponse:
    key_set = request.POST.get("key_set") or ""
    url = reverse("transfers:reconciliation")
    return redirect(f"{url}?key_set={key_set}" if key_set.isdigit() else url)


@require_POST
def record_acknowledge_view(request: HttpRequest, pk: int) -> HttpResponse:
    form = _AcknowledgeForm(request.POST)
    form.is_valid()
    try:
        record = record_acknowledge(
            actor=_user(request),
            record_id=pk,
            note=form.cleaned_data.get("note") or "",
            ip=request.META.get("REMOTE_ADDR") or None,
        )
    except ReviewRefused as exc:
        messages.error(request, f"Nothing changed: {exc}")
    else:
        messages.success(request, f"Record {record.exchange_id} acknowledged.")
    return _back(request)


@require_POST
def record_link_view(request: HttpRequest, pk: int) -> HttpResponse:
    form = _LinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing changed: enter the number of the request this record belongs to.")
        return _back(request)
    try:
        record = record_link(
            actor=_user(request),
            record_id=pk,
            request_id=form.cleaned_data["request"],
            ip=request.META.get("REMOTE_ADDR") or None,
        )
    except ReviewRefused as exc:
        messages.error(request, f"Nothing changed: {exc}")
    else:
        messages.success(
            request, f"Record {record.exchange_id} linked to request #{record.matched_request_id}."
        )
    return _back(request)
