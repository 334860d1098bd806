"""The approval policy: rules and daily limits, changed only through proposals that a second
administrator approves."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import Capability, key_sets_for, user_is_admin
from accounts.web import client_ip, request_user
from transfers.forms import (
    DailyLimitForm,
    PolicyRuleForm,
)
from transfers.models import (
    PolicyChangeAction,
    PolicyChangeRequest,
)
from transfers.policy import policy_overview, policy_rule_get
from transfers.policy_scope import change_preview
from transfers.refusals import PolicyRefused
from transfers.services import policy_changes
from transfers.views.base import guarded

# --- policy --------------------------------------------------------------------------------------


@require_GET
@guarded
def policy(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    overview = policy_overview(user=user)
    visible = set(key_sets_for(user=user, capability=Capability.VIEW).values_list("pk", flat=True))
    return render(
        request,
        "transfers/policy.html",
        {
            "rules": overview.rules,
            "limits": overview.limits,
            "changes": overview.changes,
            # What approving each pending change would make stale, shown before anyone approves it.
            "change_rows": [
                (c, [r for r in change_preview(c) if r.key_set_id in visible]) for c in overview.changes
            ],
            "recent_changes": overview.recent_changes,
            "state": overview.state,
            "is_admin": user_is_admin(user=user),
        },
    )


PROPOSED = "Proposed; a second administrator must approve it."


def _stale_text(change: PolicyChangeRequest) -> str:
    affected = change_preview(change)
    if not affected:
        return " Approving it makes no pending request stale."
    ids = ", ".join(f"#{r.pk}" for r in affected[:10]) + (" …" if len(affected) > 10 else "")
    return f" Approving it makes {len(affected)} pending request(s) stale: {ids}."


def _proposed(
    request: HttpRequest, warnings: list[str], change: PolicyChangeRequest | None = None
) -> HttpResponse:
    messages.success(request, PROPOSED + (_stale_text(change) if change is not None else ""))
    for warning in warnings:
        messages.warning(request, warning)
    return redirect("transfers:policy")


def _decimal_initial(value: Decimal | None) -> str | None:
    """A stored amount as typed: the column's 18 places ("10000.000000000000000000") would be refused by
    the form's 8-place rule when the administrator saves the rule unchanged."""
    return None if value is None else format(value.normalize(), "f")


@require_http_methods(["GET", "POST"])
@guarded
def policy_rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = request_user(request)
    if not user_is_admin(user=user):
        raise PermissionDenied("Only administrators change the approval policy.")
    rule = policy_rule_get(pk=pk) if pk else None
    if pk and rule is None:
        raise Http404("No such rule.")
    initial = (
        {
            "position": rule.position,
            "name": rule.name,
            "key_set": rule.key_set,
            "kind": rule.kind,
            "asset": rule.asset,
            "min_amount": _decimal_initial(rule.min_amount),
            "required_approvals": rule.required_approvals,
            "passkey_required_above": _decimal_initial(rule.passkey_required_above),
            "is_active": rule.is_active,
        }
        if rule
        else None
    )
    form = PolicyRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            change, warnings = policy_changes.policy_change_propose(
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
                    "passkey_required_above": d.get("passkey_required_above"),
                    "is_active": bool(d.get("is_active")),
                },
                ip=client_ip(request),
            )
        except PolicyRefused as exc:
            form.add_error(None, str(exc))
        else:
            return _proposed(request, warnings, change)
    return render(
        request,
        "transfers/policy_form.html",
        {"form": form, "title": "Propose a rule change" if rule else "Propose a new rule"},
        status=400 if request.method == "POST" else 200,
    )


def _policy_post(request: HttpRequest, call: Callable[..., Any], done: str, **kwargs: Any) -> HttpResponse:
    """A one-click policy action: the service's refusal or `done` as a message, back to the policy page."""
    try:
        call(actor=request_user(request), ip=client_ip(request), **kwargs)
    except PolicyRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("transfers:policy")


def _propose_removal(request: HttpRequest, action: str, pk: int) -> HttpResponse:
    try:
        change, warnings = policy_changes.policy_change_propose(
            actor=request_user(request), action=action, target_id=pk, ip=client_ip(request)
        )
    except PolicyRefused as exc:
        messages.error(request, str(exc))
        return redirect("transfers:policy")
    return _proposed(request, warnings, change)


@require_POST
@guarded
def policy_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _propose_removal(request, PolicyChangeAction.RULE_DELETE, pk)


@require_http_methods(["GET", "POST"])
@guarded
def policy_limit_edit(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not user_is_admin(user=user):
        raise PermissionDenied("Only administrators change the approval policy.")
    form = DailyLimitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            change, warnings = policy_changes.policy_change_propose(
                actor=user,
                action=PolicyChangeAction.LIMIT_SAVE,
                values={"key_set_id": d["key_set"].pk, "asset": d["asset"], "limit": d["limit"]},
                ip=client_ip(request),
            )
        except PolicyRefused as exc:
            form.add_error(None, str(exc))
        else:
            return _proposed(request, warnings, change)
    return render(
        request,
        "transfers/policy_form.html",
        {"form": form, "title": "Propose a daily limit"},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@guarded
def policy_limit_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _propose_removal(request, PolicyChangeAction.LIMIT_DELETE, pk)


def _change_decide(request: HttpRequest, pk: int, action: Callable[..., Any], done: str) -> HttpResponse:
    return _policy_post(request, action, done, change_id=pk)


@require_POST
@guarded
def policy_change_approve(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    try:
        _, change = policy_changes.policy_change_approve(
            actor=user, change_id=pk, stepup=request.POST, ip=client_ip(request)
        )
    except PolicyRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Change applied (policy v{change.version}); {change.stale_requests} pending request(s) it "
            "could affect became stale and their requesters were told; other pending requests keep "
            "their approvals.",
        )
        for warning in change.warnings:
            messages.warning(request, warning)
    return redirect("transfers:policy")


@require_POST
@guarded
def policy_change_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _policy_post(
        request,
        policy_changes.policy_change_reject,
        "Change rejected; the policy is unchanged.",
        change_id=pk,
        stepup=request.POST,
    )


@require_POST
@guarded
def policy_change_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _change_decide(request, pk, policy_changes.policy_change_cancel, "Change cancelled.")
