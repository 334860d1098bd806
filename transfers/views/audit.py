"""The audit log page and its exports: each person sees the events they may (accounts.audit_access)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.audit_access import (
    audit_events_filter,
    audit_events_visible,
    audit_reads_everything,
    audit_verbs_known,
)
from accounts.audit_export import (
    EXPORT_FORMATS,
    audit_export_record,
    audit_export_response,
    audit_export_snapshot,
)
from accounts.audit_verify import audit_chain_status, audit_verify_request
from accounts.web import client_ip, request_user
from transfers.forms import AuditFilterForm
from transfers.views.base import guarded


def _form(request: HttpRequest, *, verbs: list[str]) -> AuditFilterForm:
    data = request.GET.copy()
    for name in ("page", "verify", "format"):
        data.pop(name, None)
    return AuditFilterForm(data, verbs=verbs)


@require_GET
@guarded
def audit_log(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    visible = audit_events_visible(user=user)
    form = _form(request, verbs=audit_verbs_known(events=visible))
    valid = form.is_valid()
    events = audit_events_filter(events=visible, filters=form.filters()) if valid else visible.none()
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    verify_requested = bool(request.GET.get("verify"))
    if verify_requested:
        audit_verify_request(full=True)  # a background task; the page shows its result when done
    query = request.GET.copy()
    for name in ("page", "verify"):
        query.pop(name, None)
    context = {
        "form": form,
        "page": page,
        "chain": audit_chain_status(),
        "verify_requested": verify_requested,
        "query": query.urlencode(),
        "everything": audit_reads_everything(user=user),
    }
    return render(request, "transfers/audit_log.html", context, status=200 if valid else 400)


@require_GET
@guarded  # type: ignore[arg-type]  # typed for HttpResponse; a streamed export is a StreamingHttpResponse
def audit_export(request: HttpRequest) -> HttpResponseBase:
    """`?format=csv|jsonl` plus the page's filters; the export is recorded as an audit event first."""
    user = request_user(request)
    fmt = request.GET.get("format", "")
    if fmt not in EXPORT_FORMATS:
        return _bad_request("Choose an export format: csv or jsonl.")
    visible = audit_events_visible(user=user)
    form = _form(request, verbs=audit_verbs_known(events=visible))
    if not form.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
        )
        return _bad_request(f"The filters are not valid, nothing was exported. {problems}")
    filters = form.filters()
    events, count = audit_export_snapshot(events=audit_events_filter(events=visible, filters=filters))
    everything = audit_reads_everything(user=user)
    audit_export_record(
        actor=user, fmt=fmt, filters=filters, count=count, everything=everything, ip=client_ip(request)
    )
    return audit_export_response(events=events, fmt=fmt)  # streamed, read in chunks


def _bad_request(message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=400, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response
