"""Request pages: dashboard, new request, detail with live status, decisions, queue, history (and CSV)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import Capability, key_sets_for, user_is_admin
from accounts.csv_export import csv_streaming_response
from accounts.models import User
from accounts.stepup import stepup_challenge
from accounts.web import client_ip, request_user
from transfers import batch_selectors, recipients, selectors
from transfers.amounts import AmountTextError, amount_parse_text
from transfers.approval_proof import approval_binding, approval_purpose, passkey_required
from transfers.available import Available, available_for
from transfers.filters import AvailableQueryForm, ascii_int
from transfers.forms import (
    REQUEST_FORMS,
    DecisionForm,
    HistoryFilterForm,
    QueueFilterForm,
)
from transfers.list_sorting import REQUEST_SORTS, sort_parse
from transfers.menu import menu_for
from transfers.models import (
    FINAL_STATUSES,
    Status,
    TransferKind,
    TransferRequest,
)
from transfers.refusals import DecisionRefused, RequestRefused
from transfers.request_facts import duplicate_ids, summary_heading
from transfers.services import decisions
from transfers.services import requests as request_services
from transfers.services.request_fields import request_initial_from
from transfers.views.base import guarded

QUEUE_PAGE_SIZE = 50

# --- dashboard and requests ----------------------------------------------------------------------


@require_GET
@guarded
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    return render(
        request,
        "transfers/dashboard.html",
        {"d": selectors.dashboard_for(user=user), "is_admin": user_is_admin(user=user)},
    )


def _known_recipients(*, user: User, form: Any) -> list[tuple[str, str]]:
    """Suggestions for the recipient field: own accounts of the offered key sets and the address book."""
    field = form.fields["key_set"]
    seen: dict[str, str] = {}
    visible = set(
        key_sets_for(user=user, capability=Capability.VIEW).exclude(uid=None).values_list("uid", flat=True)
    )
    # Every offered key set's family in two queries (not two per key set).
    for family, own in recipients.own_uids_many(key_sets=field.queryset.select_related("parent")).values():
        # Only what the service would accept as an own account (active key sets on the same
        # exchange, the family) — and, beyond the family, only key sets this user may see.
        for uid, label in own.items():
            if uid in family or uid in visible:
                seen.setdefault(str(uid), label)
    for entry in recipients.address_book_active():
        seen.setdefault(entry.account, f"address book: {entry.label}")
    return sorted(seen.items())


def _resubmitted(*, user: User, raw: str | None) -> TransferRequest | None:
    """The stale, expired or failed request a "Submit again" starts from (404 when not visible)."""
    pk = ascii_int(raw) if raw else None
    if pk is None:
        return None
    old = selectors.request_get_for(user=user, pk=pk)
    return old if old.status in request_services.RESUBMITTABLE else None


@require_http_methods(["GET", "POST"])
@guarded
def request_new(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not menu_for(user=user).can_request:  # no form for people who cannot submit one
        status = 403 if request.method == "POST" else 200
        return render(request, "transfers/request_not_allowed.html", status=status)
    old = _resubmitted(user=user, raw=request.POST.get("again") or request.GET.get("again"))
    kind = request.POST.get("kind") or request.GET.get("kind") or (old.kind if old else TransferKind.WALLET)
    if kind not in REQUEST_FORMS:
        kind = TransferKind.WALLET
    form_class = REQUEST_FORMS[kind]
    initial = request_initial_from(old) if old is not None and old.kind == kind else None
    form = form_class(request.POST or None, user=user, initial=initial)
    over_balance = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            req = request_services.transfer_request_create(
                requester=user,
                key_set_id=data["key_set"].pk,
                kind=kind,
                asset=data["asset"],
                amount=data["amount"],
                fields=form.service_fields(),
                note=data.get("note") or "",
                ip=client_ip(request),
                balance_override_reason=form.override_reason(),
                resubmit_of=old.pk if old is not None else None,
            )
        except request_services.OverBalance as exc:
            over_balance = True
            form.add_error(None, str(exc))
        except RequestRefused as exc:
            form.add_error(None, str(exc))
        else:
            again = f" (submitted again from #{old.pk})" if old is not None else ""
            messages.success(
                request, f"Transfer request #{req.pk} submitted{again}; approvers have been told."
            )
            return redirect("transfers:request_detail", pk=req.pk)
    context = {
        "form": form,
        "kind": kind,
        "kinds": TransferKind.choices,
        "known": _known_recipients(user=user, form=form) if kind in ("inner", "sub_inner", "family") else [],
        "again": old,
        "over_balance": over_balance or bool(form.is_bound and form.data.get("balance_override")),
    }
    return render(
        request, "transfers/request_new.html", context, status=400 if request.method == "POST" else 200
    )


@require_GET
@guarded
def request_available(request: HttpRequest) -> HttpResponse:
    """htmx: what BingX says can be moved for the form's current choices, and when it said so (a short
    read without retries; the last known answer with its age when the exchange cannot be reached)."""
    user = request_user(request)
    query = AvailableQueryForm(request.GET)
    asset = (request.GET.get("asset") or "").strip().upper()
    context: dict[str, Any] = {"asset": asset}
    key_set = None
    if query.is_valid():
        key_set = (
            key_sets_for(user=user, capability=Capability.REQUEST)
            .filter(pk=query.cleaned_data["key_set"])
            .first()
        )
    if key_set is None:
        context["a"] = Available(problem="Choose a key set you may request on to see what can be moved.")
    else:
        params = {k: request.GET.get(k, "") for k in request.GET}
        a = available_for(key_set=key_set, kind=query.cleaned_data["kind"], fields=params)
        have = a.amount(asset) if asset else None
        context.update(a=a, asset_amount=have, sandbox=key_set.is_sandbox)
        try:
            typed = amount_parse_text(request.GET.get("amount") or "")
        except AmountTextError:
            typed = None
        if typed is not None and have is not None and typed > have:
            context["over"] = typed
    return render(request, "transfers/_available.html", context)


@require_GET
@guarded
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    detail = selectors.request_detail(user=user, pk=pk)
    context = {
        "x": detail,
        "req": detail.req,
        "form": DecisionForm(),
        "final": detail.req.status in FINAL_STATUSES,
        **_stepup_context(user=user, req=detail.req, can_decide=detail.decision.can_decide),
    }
    return render(request, "transfers/request_detail.html", context)


def _stepup_context(*, user: User, req: TransferRequest, can_decide: bool) -> dict[str, Any]:
    """Passkey challenges for approve and reject, each derived from this request (approval_proof)."""
    if not can_decide:
        return {}
    options = {
        f"stepup_{decision}": stepup_challenge(
            user=user,
            purpose=approval_purpose(decision=decision),
            binding=approval_binding(request_id=req.pk, decision=decision, payload_sha256=req.payload_sha256),
        )
        for decision in ("approve", "reject")
    }
    return {**options, "passkey_required": passkey_required(req=req)}


@require_GET
@guarded
def request_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The status area, re-rendered when request_state says a decision was added (the page polls
    request_state, not this). When the status moved on, ask htmx to reload the page."""
    user = request_user(request)
    detail = selectors.request_detail(user=user, pk=pk)
    response = render(
        request,
        "transfers/_status.html",
        {"x": detail, "req": detail.req, "final": detail.req.status in FINAL_STATUSES},
    )
    shown = request.GET.get("shown")
    if shown and shown != detail.req.status:
        response["HX-Refresh"] = "true"
    return response


@require_GET
@guarded
def request_state(request: HttpRequest, pk: int) -> HttpResponse:
    """What the open detail page polls every 500 ms (static/js/live_status.js): only the status
    (with its label and the page heading, shown at once) and the number of decisions (a
    couple of queries, whatever the size of the desk), with the detail page's permission (404 when
    the person may not view the request). `shown` is the token the page was rendered with: when the
    status moved on, htmx reloads the page; when only a decision was added, the status area
    re-renders itself once (HX-Trigger) through request_status."""
    state = selectors.request_state_for(user=request_user(request), pk=pk)
    response = JsonResponse(
        {
            "id": pk,
            "status": state.status,
            "decisions": state.decisions,
            "label": Status(state.status).label,
            "final": state.status in FINAL_STATUSES,
            "heading": summary_heading(status=state.status),
        }
    )
    response["Cache-Control"] = "no-store"
    shown_status, _, _ = (request.GET.get("shown") or "").partition(":")
    if shown_status and shown_status != state.status:
        response["HX-Refresh"] = "true"
    elif request.GET.get("shown") and request.GET["shown"] != state.token:
        response["HX-Trigger"] = "bx-status-moved"
    return response


def _decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    user = request_user(request)
    selectors.request_get_for(user=user, pk=pk)  # 404 for requests the user may not view
    form = DecisionForm(request.POST)
    form.is_valid()  # a missing second factor reaches the service, which refuses it
    action = (
        decisions.transfer_request_approve if decision == "approve" else decisions.transfer_request_reject
    )
    try:
        req = action(
            request_id=pk,
            approver=user,
            stepup=request.POST,
            comment=form.cleaned_data.get("comment") or "",
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except DecisionRefused as exc:
        if exc.code == "no_grant":
            raise PermissionDenied(str(exc)) from None
        messages.error(request, str(exc))
        if exc.code in ("second_factor", "locked", "passkey_required", "reason_required"):
            detail = selectors.request_detail(user=user, pk=pk)
            context = {
                "x": detail,
                "req": detail.req,
                "form": form,
                "final": detail.req.status in FINAL_STATUSES,
                "stepup_error": str(exc),
                **_stepup_context(user=user, req=detail.req, can_decide=detail.decision.can_decide),
            }
            return render(request, "transfers/request_detail.html", context, status=400)
    else:
        verb = "approved" if decision == "approve" else "rejected"
        messages.success(request, f"You {verb} request #{pk}. It is now {req.get_status_display().lower()}.")
    return redirect("transfers:request_detail", pk=pk)


@require_POST
@guarded
def request_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "approve")


@require_POST
@guarded
def request_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "reject")


@require_POST
@guarded
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    selectors.request_get_for(user=user, pk=pk)
    try:
        request_services.transfer_request_cancel(request_id=pk, actor=user, ip=client_ip(request))
    except DecisionRefused as exc:
        if exc.code == "not_requester":
            raise PermissionDenied(str(exc)) from None
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Request #{pk} cancelled.")
    return redirect("transfers:request_detail", pk=pk)


@require_GET
@guarded
def queue(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = QueueFilterForm(request.GET or None, user=user)
    query = request.GET.copy()
    query.pop("page", None)
    if form.is_bound and not form.is_valid():
        page = Paginator(TransferRequest.objects.none(), QUEUE_PAGE_SIZE).get_page(1)
        context = {"form": form, "page": page, "query": query.urlencode()}
        return render(request, "transfers/queue.html", context, status=400)
    d = form.cleaned_data if form.is_bound else {}
    sort = sort_parse(raw=request.GET.get("sort"), allowed=REQUEST_SORTS)
    rows = selectors.queue_for(
        user=user,
        key_set_id=d["key_set"].pk if d.get("key_set") else None,
        kind=d.get("kind") or "",
        asset=d.get("asset") or "",
        include_decided=bool(d.get("include_decided")),
        sort=sort,
    )
    page = Paginator(rows, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    batches = list(batch_selectors.batches_queue_for(user=user)[:QUEUE_PAGE_SIZE])
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "batches": batches,
        "sort": sort,
        "duplicates": duplicate_ids(
            rows=list(page.object_list), visible=selectors.requests_visible_to(user=user)
        ),
    }
    return render(request, "transfers/queue.html", context)


@require_GET
@guarded  # type: ignore[arg-type]  # typed for HttpResponse; the CSV export is a StreamingHttpResponse
def history(request: HttpRequest) -> HttpResponseBase:
    user = request_user(request)
    form = HistoryFilterForm(request.GET or None, user=user)
    as_csv = request.GET.get("format") == "csv"
    query = request.GET.copy()
    query.pop("page", None)
    if form.is_bound and not form.is_valid():
        if as_csv:
            return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")
        page = Paginator(TransferRequest.objects.none(), 50).get_page(1)
        context = {"form": form, "page": page, "query": query.urlencode()}
        return render(request, "transfers/history.html", context, status=400)
    sort = sort_parse(raw=request.GET.get("sort"), allowed=REQUEST_SORTS)
    qs = selectors.history_for(user=user, filters=form.filters(), sort=sort)
    if as_csv:
        return _history_csv(qs)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    page.object_list = selectors.approvals_so_far_fill(rows=list(page.object_list))
    context = {"form": form, "page": page, "query": query.urlencode(), "sort": sort}
    return render(request, "transfers/history.html", context)


def _history_csv(qs: Any) -> StreamingHttpResponse:
    """Streamed over plain values in chunks (selectors.history_csv_rows): flat memory at any size."""
    return csv_streaming_response(
        filename="transfer-history.csv",
        header=selectors.HISTORY_CSV_HEADER,
        rows=selectors.history_csv_rows(qs),
    )
