"""Emails about the workflow, sent after the change commits (services call these from on_commit).

Approvers who may decide a request are told when it waits for them; the requester is told when it
is decided; the requester and its approvers are told when an approved transfer could not be executed.
Each email links to the request page (settings.SITE_URL). Failures to send are logged,
never raised: a lost email must not undo or block a decision.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from transfers.models import Decision, TransferRequest
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
