"""Emails about the workflow, sent after the change commits (services call these from on_commit).

Approvers who may decide a request are told when it waits for them; the requester is told when it
is decided; the requester and its approvers are told when an approved transfer could not be executed.
Each email links to the request page (settings.SITE_URL). Failures to send are logged,
never raised: a lost email must not undo or block a decision.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import User
from transfers.models import Decision, TransferBatch, TransferRequest
from transfers.policy import eligible_approvers

log = logging.getLogger(__name__)


def request_url(req: TransferRequest) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("transfers:request_detail", args=[req.pk])


def _send(*, subject: str, template: str, context: dict[str, object], to: list[str]) -> int:
    if not to:
        return 0
    body = render_to_string(template, context)
    sent = 0
    for address in to:  # one message each: recipients never see each other's addresses
        try:
            sent += send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except Exception:
            log.exception("could not send %r to %s", subject, address)
    return sent


def notify_approvers_waiting(*, request_id: int) -> int:
    """Tell every person who may decide the request that it waits for them."""
    req = TransferRequest.objects.select_related("key_set", "requested_by").filter(pk=request_id).first()
    if req is None:
        return 0
    decided = set(req.approvals.values_list("approver_id", flat=True))
    users = [
        u for u in eligible_approvers(key_set=req.key_set, requester=req.requested_by) if u.pk not in decided
    ]
    return _send(
        subject=f"[bingxadmin] Transfer #{req.pk} waits for your approval: {req.amount_text} {req.asset}",
        template="emails/transfer_waiting.txt",
        context={"req": req, "url": request_url(req)},
        to=[u.email for u in users if u.email],
    )


def notify_requester_decided(*, request_id: int) -> int:
    """Tell the requester how their request was decided."""
    req = TransferRequest.objects.select_related("key_set", "requested_by").filter(pk=request_id).first()
    if req is None or not req.requested_by.email:
        return 0
    decisions = list(req.approvals.select_related("approver"))
    return _send(
        subject=f"[bingxadmin] Transfer #{req.pk} {req.get_status_display().lower()}",
        template="emails/transfer_decided.txt",
        context={"req": req, "url": request_url(req), "decisions": decisions},
        to=[req.requested_by.email],
    )


def notify_execution_failed(*, request_id: int) -> int:
    """Tell the requester and everyone who approved: the approved transfer did not happen."""
    req = TransferRequest.objects.select_related("key_set", "requested_by").filter(pk=request_id).first()
    if req is None:
        return 0
    decisions = list(req.approvals.select_related("approver"))
    people = [req.requested_by, *(d.approver for d in decisions if d.decision == Decision.APPROVE)]
    addresses = list(dict.fromkeys(p.email for p in people if p.email))
    return _send(
        subject=f"[bingxadmin] Transfer #{req.pk} failed: {req.amount_text} {req.asset} did not move",
        template="emails/transfer_failed.txt",
        context={"req": req, "url": request_url(req), "decisions": decisions},
        to=addresses,
    )


def notify_approvers_batch_waiting(*, batch_id: int) -> int:
    """Tell every person who may decide the batch (approve on every leg's key set) that it waits."""
    batch = TransferBatch.objects.select_related("requested_by").filter(pk=batch_id).first()
    if batch is None:
        return 0
    legs = list(batch.legs.select_related("key_set"))
    people: set[int] | None = None
    users: dict[int, User] = {}
    for key_set in {leg.key_set for leg in legs}:
        these = {u.pk: u for u in eligible_approvers(key_set=key_set, requester=batch.requested_by)}
        users.update(these)
        people = set(these) if people is None else people & set(these)
    totals: dict[str, Decimal] = {}
    for leg in legs:
        totals[leg.asset] = totals.get(leg.asset, Decimal(0)) + leg.amount
    url = settings.SITE_URL.rstrip("/") + reverse("transfers:batch_detail", args=[batch.pk])
    return _send(
        subject=f"[bingxadmin] Batch #{batch.pk} ({len(legs)} legs) waits for your approval",
        template="emails/batch_waiting.txt",
        context={
            "batch": batch,
            "legs": len(legs),
            "totals": sorted((asset, format(amount.normalize(), "f")) for asset, amount in totals.items()),
            "url": url,
        },
        to=[users[pk].email for pk in sorted(people or ()) if users[pk].email],
    )
