"""Batch pages: submit (CSV pasted or uploaded), detail with live per-leg progress, decisions, cancel."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import Capability, key_sets_for
from accounts.stepup import stepup_challenge
from accounts.web import client_ip, denied_as_http, request_user
from transfers import batch_selectors
from transfers.approval_proof import approval_purpose, batch_approval_binding
from transfers.batch_csv import CSV_HEADER, legs_from_csv
from transfers.forms import BatchForm, DecisionForm
from transfers.models import TransferBatch
from transfers.refusals import DecisionRefused
from transfers.services import batch_decisions, batches
from transfers.services.batch_decisions import batch_passkey_required

guarded = denied_as_http(not_found=TransferBatch.DoesNotExist, what="batch")


@require_http_methods(["GET", "POST"])
@guarded
def batch_new(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    initial = {}
    retry = request.GET.get("retry", "")
    if request.method == "GET" and retry.isdigit():  # "retry failed legs": a new batch, pre-filled
        initial = {"csv_text": batch_selectors.batch_failed_legs_csv(user=user, pk=int(retry))}
        initial["note"] = f"Retry of the failed legs of batch #{retry}"
    form = BatchForm(request.POST or None, request.FILES or None, initial=initial)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        legs, shape = legs_from_csv(form.cleaned_data["csv_text"])
        if shape:
            errors = [str(e) for e in shape]
        else:
            try:
                batch = batches.transfer_batch_create(
                    requester=user, legs=legs, note=form.cleaned_data.get("note") or "", ip=client_ip(request)
                )
            except batches.BatchRefused as exc:
                errors = [str(e) for e in exc.errors]
            else:
                messages.success(request, f"Batch #{batch.pk} with {len(legs)} legs submitted for approval.")
                return redirect("transfers:batch_detail", pk=batch.pk)
    labels = sorted(key_sets_for(user=user, capability=Capability.REQUEST).values_list("label", flat=True))
    context = {
        "form": form,
        "errors": errors,
        "header": ",".join(CSV_HEADER),
        "key_set_labels_json": json.dumps(labels),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "transfers/batch_new.html", context, status=status)


def _stepup_context(*, user: Any, detail: batch_selectors.BatchDetail) -> dict[str, Any]:
    if not detail.decision.can_decide:
        return {}
    batch = detail.batch
    options = {
        f"stepup_{decision}": stepup_challenge(
            user=user,
            purpose=approval_purpose(decision=decision),
            binding=batch_approval_binding(
                batch_id=batch.pk, decision=decision, payload_sha256=batch.payload_sha256
            ),
        )
        for decision in ("approve", "reject")
    }
    return {**options, "passkey_required": batch_passkey_required(detail.legs)}


def _detail_context(*, user: Any, pk: int, form: DecisionForm | None = None) -> dict[str, Any]:
    detail = batch_selectors.batch_detail(user=user, pk=pk)
    return {
        "x": detail,
        "batch": detail.batch,
        "form": form or DecisionForm(),
        **_stepup_context(user=user, detail=detail),
    }


@require_GET
@guarded
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "transfers/batch_detail.html", _detail_context(user=request_user(request), pk=pk))


@require_GET
@guarded
def batch_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The per-leg progress area, re-rendered when batch_state says something moved."""
    detail = batch_selectors.batch_detail(user=request_user(request), pk=pk)
    return render(request, "transfers/_batch_progress.html", {"x": detail, "batch": detail.batch})


@require_GET
@guarded
def batch_state(request: HttpRequest, pk: int) -> HttpResponse:
    """What the open batch page polls every 3 s: the status and leg counts (three queries). The batch's
    own status moving on reloads the page; a leg moving re-renders the progress area (HX-Trigger)."""
    state = batch_selectors.batch_state_for(user=request_user(request), pk=pk)
    response = JsonResponse({"id": pk, "status": state.status, "legs": state.legs, **state.counts})
    response["Cache-Control"] = "no-store"
    shown = request.GET.get("shown") or ""
    if shown and shown.partition(":")[0] != state.status:
        response["HX-Refresh"] = "true"
    elif shown and shown != state.token:
        response["HX-Trigger"] = "bx-batch-moved"
    return response


def _decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    user = request_user(request)
    batch_selectors.batch_get_for(user=user, pk=pk)  # 404 for batches the user may not view
    form = DecisionForm(request.POST)
    form.is_valid()
    action = (
        batch_decisions.transfer_batch_approve
        if decision == "approve"
        else batch_decisions.transfer_batch_reject
    )
    try:
        batch = action(
            batch_id=pk,
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
        if exc.code in ("second_factor", "locked", "passkey_required"):
            context = {**_detail_context(user=user, pk=pk, form=form), "stepup_error": str(exc)}
            return render(request, "transfers/batch_detail.html", context, status=400)
    else:
        verb = "approved" if decision == "approve" else "rejected"
        messages.success(request, f"You {verb} batch #{pk}. It is now {batch.get_status_display().lower()}.")
    return redirect("transfers:batch_detail", pk=pk)


@require_POST
@guarded
def batch_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "approve")


@require_POST
@guarded
def batch_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, "reject")


@require_POST
@guarded
def batch_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    batch_selectors.batch_get_for(user=user, pk=pk)
    try:
        batches.transfer_batch_cancel(batch_id=pk, actor=user, ip=client_ip(request))
    except DecisionRefused as exc:
        if exc.code == "not_requester":
            raise PermissionDenied(str(exc)) from None
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Batch #{pk} cancelled.")
    return redirect("transfers:batch_detail", pk=pk)
