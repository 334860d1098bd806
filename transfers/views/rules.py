"""Sweep and top-up rules: the list with pending proposals and recent runs, propose / change, decide,
and run now (the balances and legs first, then the batch)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import user_is_admin
from accounts.models import AccountKind, ApiKeySet, KeySetStatus
from accounts.web import client_ip, request_user
from transfers.models import TransferRule, TransferRuleKind, TransferRuleRun, TransferRuleStatus
from transfers.payload import FAMILY_ACCOUNT_TYPES
from transfers.services import rule_runs, transfer_rules
from transfers.services.transfer_rules import RuleRefused
from transfers.views.base import guarded


def _admin(request: HttpRequest) -> None:
    if not user_is_admin(user=request_user(request)):
        raise PermissionDenied("Only administrators manage sweep and top-up rules.")


@require_GET
@guarded
def rules(request: HttpRequest) -> HttpResponse:
    _admin(request)
    return render(
        request,
        "transfers/rules.html",
        {
            "active": TransferRule.objects.filter(status=TransferRuleStatus.ACTIVE).select_related("key_set"),
            "pending": TransferRule.objects.filter(status=TransferRuleStatus.PENDING).select_related(
                "key_set", "proposed_by"
            ),
            "runs": TransferRuleRun.objects.select_related("rule", "batch")[:20],
        },
    )


@require_http_methods(["GET", "POST"])
@guarded
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _admin(request)
    rule = TransferRule.objects.filter(pk=pk).first() if pk else None
    if pk and rule is None:
        raise Http404("No such rule.")
    error = ""
    if request.method == "POST":
        try:
            transfer_rules.transfer_rule_propose(
                actor=request_user(request), values=request.POST, replaces_id=pk, ip=client_ip(request)
            )
        except RuleRefused as exc:
            error = str(exc)
        else:
            messages.success(request, "Proposed; a second administrator must approve it.")
            return redirect("transfers:rules")
    return render(
        request,
        "transfers/rule_form.html",
        {
            "rule": rule,
            "data": request.POST if request.method == "POST" else None,
            "error": error,
            "kinds": TransferRuleKind.choices,
            "wallets": FAMILY_ACCOUNT_TYPES.items(),
            "key_sets": ApiKeySet.objects.filter(status=KeySetStatus.ACTIVE, account_kind=AccountKind.MAIN),
        },
        status=400 if error else 200,
    )


def _decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    call = {
        "approve": transfer_rules.transfer_rule_approve,
        "reject": transfer_rules.transfer_rule_reject,
    }[decision]
    try:
        call(actor=request_user(request), rule_id=pk, stepup=request.POST, ip=client_ip(request))
    except RuleRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rule proposal {decision}d.")
    return redirect("transfers:rules")


@require_POST
@guarded
def rule_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "approve")


@require_POST
@guarded
def rule_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "reject")


@require_POST
@guarded
def rule_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        transfer_rules.transfer_rule_cancel(actor=request_user(request), rule_id=pk, ip=client_ip(request))
    except RuleRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Rule cancelled.")
    return redirect("transfers:rules")


@require_http_methods(["GET", "POST"])
@guarded
def rule_run(request: HttpRequest, pk: int) -> HttpResponse:
    _admin(request)
    rule = TransferRule.objects.select_related("key_set").filter(pk=pk).first()
    if rule is None:
        raise Http404("No such rule.")
    if request.method == "POST":
        try:
            run = rule_runs.transfer_rule_run(
                rule_id=pk,
                actor=request_user(request),
                expected_digest=request.POST.get("digest", ""),
                ip=client_ip(request),
            )
        except RuleRefused as exc:
            messages.error(request, str(exc))
            return redirect("transfers:rule_run", pk=pk)
        messages.info(request, run.outcome)
        if run.batch_id:
            return redirect("transfers:batch_detail", pk=run.batch_id)
        return redirect("transfers:rules")
    try:
        computation = rule_runs.rule_compute(rule=rule)
        error = ""
    except RuleRefused as exc:
        computation, error = None, str(exc)
    return render(request, "transfers/rule_run.html", {"rule": rule, "c": computation, "error": error})
