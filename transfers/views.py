"""Workflow pages: parse input, call a selector or service, render. The rules live in the services."""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import Capability, key_sets_for, user_is_admin
from accounts.audit import audit_verify_chain
from accounts.models import User
from accounts.web import client_ip, denied_as_http, request_user
from transfers import recipients as recipient_services
from transfers import selectors, services
from transfers.forms import (
    REQUEST_FORMS,
    AuditFilterForm,
    DailyLimitForm,
    DecisionForm,
    HistoryFilterForm,
    PolicyRuleForm,
    QueueFilterForm,
    RecipientForm,
)
from transfers.models import (
    FINAL_STATUSES,
    AllowedRecipient,
    DailyLimit,
    PolicyChangeAction,
    PolicyChangeRequest,
    PolicyChangeStatus,
    PolicyRule,
    RecipientStatus,
    TransferKind,
    TransferRequest,
)
from transfers.policy import policy_state

View = Callable[..., HttpResponse]


_guarded = denied_as_http(not_found=TransferRequest.DoesNotExist, what="transfer request")
_user = request_user
_ip = client_ip


# --- dashboard and requests ----------------------------------------------------------------------


@require_GET
@_guarded
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "transfers/dashboard.html",
        {"d": selectors.dashboard_for(user=user), "is_admin": user_is_admin(user=user)},
    )


def _known_recipients(*, user: User, form: Any) -> list[tuple[str, str]]:
    """Suggestions for the recipient field: own accounts of the offered key sets and the address book."""
    field = form.fields["key_set"]
    seen: dict[str, str] = {}
    for ks in field.queryset:
        for uid, label in recipient_services.family_uids(key_set=ks).items():
            seen.setdefault(str(uid), label)
    for ks in key_sets_for(user=user, capability=Capability.VIEW).exclude(uid=None):
        seen.setdefault(str(ks.uid), f"key set {ks.label}")  # only key sets this user may see
    for entry in AllowedRecipient.objects.filter(status=RecipientStatus.ACTIVE):
        seen.setdefault(entry.account, f"address book: {entry.label}")
    return sorted(seen.items())


@require_http_methods(["GET", "POST"])
@_guarded
def request_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    kind = request.POST.get("kind") or request.GET.get("kind") or TransferKind.WALLET
    if kind not in REQUEST_FORMS:
        kind = TransferKind.WALLET
    form_class = REQUEST_FORMS[kind]
    form = form_class(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            req = services.transfer_request_create(
                requester=user,
                key_set_id=data["key_set"].pk,
                kind=kind,
                asset=data["asset"],
                amount=data["amount"],
                fields=form.service_fields(),
                note=data.get("note") or "",
                ip=_ip(request),
            )
        except services.RequestRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Transfer request #{req.pk} submitted; approvers have been told.")
            return redirect("transfers:request_detail", pk=req.pk)
    context = {
        "form": form,
        "kind": kind,
        "kinds": TransferKind.choices,
        "known": _known_recipients(user=user, form=form) if kind in ("inner", "sub_inner", "family") else [],
    }
    return render(
        request, "transfers/request_new.html", context, status=400 if request.method == "POST" else 200
    )


@require_GET
@_guarded
def request_available(request: HttpRequest) -> HttpResponse:
    """htmx: what BingX says can be moved for the form's current choices (errors shown as a message)."""
    user = _user(request)
    kind = request.GET.get("kind") or ""
    key_set_id = request.GET.get("key_set") or ""
    if kind not in REQUEST_FORMS or not key_set_id.isdigit():
        result = selectors.Transferable(problem="Choose a key set to see what can be moved.")
    else:
        params = {k: request.GET.get(k, "") for k in request.GET}
        result = selectors.transferable_for(user=user, key_set_id=int(key_set_id), kind=kind, params=params)
    return render(request, "transfers/_available.html", {"t": result})


@require_GET
@_guarded
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    detail = selectors.request_detail(user=user, pk=pk)
    return render(
        request,
        "transfers/request_detail.html",
        {
            "x": detail,
            "req": detail.req,
            "form": DecisionForm(),
            "final": detail.req.status in FINAL_STATUSES,
        },
    )


@require_GET
@_guarded
def request_status(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx polling target: the status area. When the status moved on, ask htmx to reload the page."""
    user = _user(request)
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


def _decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    user = _user(request)
    selectors.request_get_for(user=user, pk=pk)  # 404 for requests the user may not view
    form = DecisionForm(request.POST)
    form.is_valid()  # a missing password reaches the service, which refuses it
    action = services.transfer_request_approve if decision == "approve" else services.transfer_request_reject
    try:
        req = action(
            request_id=pk,
            approver=user,
            password=form.cleaned_data.get("password") or request.POST.get("password") or None,
            comment=form.cleaned_data.get("comment") or "",
            ip=_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except services.DecisionRefused as exc:
        if exc.code == "no_grant":
            raise PermissionDenied(str(exc)) from None
        messages.error(request, str(exc))
        if exc.code == "password":
            detail = selectors.request_detail(user=user, pk=pk)
            form.add_error("password", str(exc))
            context = {
                "x": detail,
                "req": detail.req,
                "form": form,
                "final": detail.req.status in FINAL_STATUSES,
            }
            return render(request, "transfers/request_detail.html", context, status=400)
    else:
        verb = "approved" if decision == "approve" else "rejected"
        messages.success(request, f"You {verb} request #{pk}. It is now {req.get_status_display().lower()}.")
    return redirect("transfers:request_detail", pk=pk)


@require_POST
@_guarded
def request_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "approve")


@require_POST
@_guarded
def request_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "reject")


@require_POST
@_guarded
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    selectors.request_get_for(user=user, pk=pk)
    try:
        services.transfer_request_cancel(request_id=pk, actor=user, ip=_ip(request))
    except services.DecisionRefused as exc:
        if exc.code == "not_requester":
            raise PermissionDenied(str(exc)) from None
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Request #{pk} cancelled.")
    return redirect("transfers:request_detail", pk=pk)


@require_GET
@_guarded
def queue(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = QueueFilterForm(request.GET or None, user=user)
    d = form.cleaned_data if form.is_valid() else {}
    rows = selectors.queue_for(
        user=user,
        key_set_id=d["key_set"].pk if d.get("key_set") else None,
        kind=d.get("kind") or "",
        asset=d.get("asset") or "",
        include_decided=bool(d.get("include_decided")),
    )
    return render(request, "transfers/queue.html", {"form": form, "rows": rows})


@require_GET
@_guarded
def history(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = HistoryFilterForm(request.GET or None, user=user)
    qs = selectors.history_for(user=user, filters=form.filters())
    if request.GET.get("format") == "csv":
        return _history_csv(qs)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "transfers/history.html", {"form": form, "page": page, "query": query.urlencode()})


def _csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell starting with one of these is shown as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _history_csv(qs: Any) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="transfer-history.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "id",
            "created_at",
            "status",
            "kind",
            "key_set",
            "asset",
            "amount",
            "source",
            "destination",
            "requested_by",
            "required_approvals",
            "decided_at",
            "completed_at",
            "exchange_id",
            "client_id",
            "payload_sha256",
            "note",
        ]
    )
    for req in qs.iterator(chunk_size=500):
        writer.writerow(
            [
                _csv_cell(v)
                for v in (
                    req.pk,
                    req.created_at.isoformat(),
                    req.status,
                    req.kind,
                    req.key_set.label,
                    req.asset,
                    req.amount_text,
                    selectors.source_text(req),
                    selectors.destination_text(req),
                    req.requested_by.get_username(),
                    req.required_approvals,
                    req.decided_at.isoformat() if req.decided_at else "",
                    req.completed_at.isoformat() if req.completed_at else "",
                    req.exchange_id,
                    req.client_id,
                    req.payload_sha256,
                    req.note,
                )
            ]
        )
    return response


@require_GET
@_guarded
def audit_log(request: HttpRequest) -> HttpResponse:
    user = _user(request)
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


# --- address book --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@_guarded
def recipients(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    is_admin = user_is_admin(user=user)
    form = RecipientForm(request.POST or None)
    if request.method == "POST":
        if not is_admin:
            raise PermissionDenied("Only administrators manage the address book.")
        if form.is_valid():
            d = form.cleaned_data
            try:
                entry = recipient_services.recipient_request(
                    actor=user,
                    label=d["label"],
                    recipient_type=d["recipient_type"],
                    account=d["account"],
                    calling_code=d.get("calling_code") or "",
                    ip=_ip(request),
                )
            except recipient_services.RecipientRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"“{entry.label}” added; a second administrator must approve it.")
                return redirect("transfers:recipients")
    entries = AllowedRecipient.objects.select_related("requested_by", "decided_by").order_by(
        "status", "label"
    )
    return render(
        request,
        "transfers/recipients.html",
        {"form": form, "entries": entries, "is_admin": is_admin},
        status=400 if request.method == "POST" else 200,
    )


def _recipient_action(
    request: HttpRequest, pk: int, action: Callable[..., AllowedRecipient], done: str
) -> HttpResponse:
    user = _user(request)
    try:
        entry = action(actor=user, recipient_id=pk, ip=_ip(request))
    except recipient_services.RecipientRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{entry.label}” {done}.")
    return redirect("transfers:recipients")


@require_POST
@_guarded
def recipient_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _recipient_action(request, pk, recipient_services.recipient_approve, "approved")


@require_POST
@_guarded
def recipient_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _recipient_action(request, pk, recipient_services.recipient_reject, "rejected")


@require_POST
@_guarded
def recipient_remove(request: HttpRequest, pk: int) -> HttpResponse:
    return _recipient_action(request, pk, recipient_services.recipient_remove, "removed")


# --- policy --------------------------------------------------------------------------------------


@require_GET
@_guarded
def policy(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "transfers/policy.html",
        {
            "rules": PolicyRule.objects.select_related("key_set").order_by("position", "id"),
            "limits": DailyLimit.objects.select_related("key_set").order_by("key_set__label", "asset"),
            "changes": PolicyChangeRequest.objects.filter(status=PolicyChangeStatus.PENDING)
            .select_related("proposed_by")
            .order_by("created_at", "id"),
            "recent_changes": PolicyChangeRequest.objects.exclude(status=PolicyChangeStatus.PENDING)
            .select_related("proposed_by", "decided_by")
            .order_by("-decided_at", "-id")[:10],
            "state": policy_state(),
            "is_admin": user_is_admin(user=user),
        },
    )


PROPOSED = "Proposed; a second administrator must approve it."


def _proposed(request: HttpRequest, warnings: list[str]) -> HttpResponse:
    messages.success(request, PROPOSED)
    for warning in warnings:
        messages.warning(request, warning)
    return redirect("transfers:policy")


@require_http_methods(["GET", "POST"])
@_guarded
def policy_rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = _user(request)
    if not user_is_admin(user=user):
        raise PermissionDenied("Only administrators change the approval policy.")
    rule = PolicyRule.objects.filter(pk=pk).first() if pk else None
    if pk and rule is None:
        raise Http404("No such rule.")
    initial = (
        {
            "position": rule.position,
            "name": rule.name,
            "key_set": rule.key_set,
            "kind": rule.kind,
            "asset": rule.asset,
            "min_amount": rule.min_amount,
            "required_approvals": rule.required_approvals,
            "is_active": rule.is_active,
        }
        if rule
        else None
    )
    form = PolicyRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            _, warnings = services.policy_change_propose(
                actor=user,
                action=PolicyChangeAction.RULE_UPDATE if pk else PolicyChangeAction.RULE_CREATE,
                target_id=pk,
                values={
                    "name": d["name"],
                    "position": d["position"],
                    "key_set_id": d["key_set"].pk if d.get("key_set") else None,
                    "kind": d.get("kind") or "",
                    "asset": d.get("asset") or "",
                    "min_amount": d.get("min_amount"),
                    "required_approvals": d["required_approvals"],
                    "is_active": bool(d.get("is_active")),
                },
                ip=_ip(request),
            )
        except services.PolicyRefused as exc:
            form.add_error(None, str(exc))
        else:
            return _proposed(request, warnings)
    return render(
        request,
        "transfers/policy_form.html",
        {"form": form, "title": "Propose a rule change" if rule else "Propose a new rule"},
        status=400 if request.method == "POST" else 200,
    )


def _propose_removal(request: HttpRequest, action: str, pk: int) -> HttpResponse:
    user = _user(request)
    try:
        services.policy_change_propose(actor=user, action=action, target_id=pk, ip=_ip(request))
    except services.PolicyRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, PROPOSED)
    return redirect("transfers:policy")


@require_POST
@_guarded
def policy_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _propose_removal(request, PolicyChangeAction.RULE_DELETE, pk)


@require_http_methods(["GET", "POST"])
@_guarded
def policy_limit_edit(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user_is_admin(user=user):
        raise PermissionDenied("Only administrators change the approval policy.")
    form = DailyLimitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            _, warnings = services.policy_change_propose(
                actor=user,
                action=PolicyChangeAction.LIMIT_SAVE,
                values={"key_set_id": d["key_set"].pk, "asset": d["asset"], "limit": d["limit"]},
                ip=_ip(request),
            )
        except services.PolicyRefused as exc:
            form.add_error(None, str(exc))
        else:
            return _proposed(request, warnings)
    return render(
        request,
        "transfers/policy_form.html",
        {"form": form, "title": "Propose a daily limit"},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@_guarded
def policy_limit_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _propose_removal(request, PolicyChangeAction.LIMIT_DELETE, pk)


def _change_decide(request: HttpRequest, pk: int, action: Callable[..., Any], done: str) -> HttpResponse:
    user = _user(request)
    try:
        action(actor=user, change_id=pk, ip=_ip(request))
    except services.PolicyRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("transfers:policy")


@require_POST
@_guarded
def policy_change_approve(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    try:
        _, change = services.policy_change_approve(actor=user, change_id=pk, ip=_ip(request))
    except services.PolicyRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Change applied (policy v{change.version}); {change.stale_requests} pending request(s) "
            "became stale.",
        )
        for warning in change.warnings:
            messages.warning(request, warning)
    return redirect("transfers:policy")


@require_POST
@_guarded
def policy_change_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_decide(
        request, pk, services.policy_change_reject, "Change rejected; the policy is unchanged."
    )


@require_POST
@_guarded
def policy_change_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_decide(request, pk, services.policy_change_cancel, "Change cancelled.")
