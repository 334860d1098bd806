"""The audit log page (administrators and viewers)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.audit import audit_verify_chain
from accounts.web import request_user
from transfers import selectors
from transfers.forms import (
    AuditFilterForm,
)
from transfers.views.base import guarded


@require_GET
@guarded
def audit_log(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not selectors.can_read_audit_log(user=user):
        raise PermissionDenied("The audit log is for administrators and viewers.")
    form = AuditFilterForm(request.GET or None)
    d = form.cleaned_data if form.is_valid() else {}
    qs = selectors.audit_events(
        verb=d.get("verb") or "", actor=d.get("actor") or "", object_text=d.get("object") or ""
    )
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    report = audit_verify_chain() if request.GET.get("verify") else None
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "transfers/audit_log.html",
        {"form": form, "page": page, "report": report, "query": query.urlencode()},
    )
