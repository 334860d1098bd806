"""Emails about the workflow, sent after the change commits (services call these from on_commit).

Approvers who may decide a request are told when it waits for them; the requester is told when it
is decided; the requester and its approvers are told when an approved transfer could not be executed.
Each email links to the request page (settings.SITE_URL). Failures to send are logged,
never raised: a lost email must not undo or block a decision.

Which person's switch (accounts.PersonPreferences) governs which email is one table,
`PREFERENCE_OF_TEMPLATE`; `_send` drops the addresses of people who turned it off. Who gets what is in
docs/notifications.md.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.access import ADMIN_GROUP
from accounts.formatting import money_text
from accounts.models import PersonPreferences, User
from accounts.preferences import preferences_wanting
from accounts.time_zone import zone_named
from transfers.models import Decision, NotificationSent, Status, TransferBatch, TransferRequest
from transfers.policy import eligible_approvers
from transfers.second_admin import second_admin_pending

log = logging.getLogger(__name__)


def request_url(req: TransferRequest) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("transfers:request_detail", args=[req.pk])


# The preference (accounts.preferences.EMAIL_FIELDS) a recipient may switch each email off with.
PREFERENCE_OF_TEMPLATE = {
    "emails/transfer_waiting.txt": "email_waiting",
    "emails/batch_waiting.txt": "email_waiting",
    "emails/batch_decided.txt": "email_my_requests",
    "emails/batch_ended.txt": "email_my_requests",
    "emails/batch_attention.txt": "email_attention",
    "emails/transfer_reminder.txt": "email_reminders",
    "emails/transfer_decided.txt": "email_my_requests",
    "emails/transfer_failed.txt": "email_my_requests",
    "emails/transfer_stale.txt": "email_my_requests",
    "emails/transfer_ended.txt": "email_my_requests",
    "emails/transfer_attention.txt": "email_attention",
    "emails/second_admin_waiting.txt": "email_second_admin",
}


def _addresses_wanting(*, to: list[str], template: str) -> list[str]:
    """`to` without the addresses whose people all switched this email off (one query)."""
    field = PREFERENCE_OF_TEMPLATE.get(template)
    if field is None or not to:
        return to
    people = list(User.objects.filter(email__in=to))
    wanting = {u.email for u in preferences_wanting(users=people, field=field)}
    known = {u.email for u in people}
    return [a for a in to if a in wanting or a not in known]


def _send(*, subject: str, template: str, context: dict[str, object], to: list[str]) -> int:
    to = _addresses_wanting(to=list(dict.fromkeys(to)), template=template)
    if not to:
        return 0
    # Times in each recipient's own zone (Preferences), rendered once per zone.
    zones = dict(PersonPreferences.objects.filter(user__email__in=to).values_list("user__email", "time_zone"))
    bodies: dict[str, str] = {}
    sent = 0
    for address in to:  # one message each: recipients never see each other's addresses
        zone = zones.get(address) or settings.TIME_ZONE
        if zone not in bodies:
            with timezone.override(zone_named(zone)):
                bodies[zone] = render_to_string(template, context)
        try:
            sent += send_mail(subject, bodies[zone], settings.DEFAULT_FROM_EMAIL, [address])
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
        subject=(
            f"[bingxadmin] Transfer #{req.pk} waits for your approval: "
            f"{money_text(req.amount_text)} {req.asset}"
        ),
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
    """Tell the requester and everyone who approved: the approved transfer did not happen (once)."""
    req = TransferRequest.objects.select_related("key_set", "requested_by").filter(pk=request_id).first()
    if req is None or not _first_time(req=req, what="failed"):
        return 0
    decisions = list(req.approvals.select_related("approver"))
    people = [req.requested_by, *(d.approver for d in decisions if d.decision == Decision.APPROVE)]
    addresses = list(dict.fromkeys(p.email for p in people if p.email))
    return _send(
        subject=(
            f"[bingxadmin] Transfer #{req.pk} failed: {money_text(req.amount_text)} {req.asset} did not move"
        ),
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
            "totals": sorted((asset, money_text(amount)) for asset, amount in totals.items()),
            "url": url,
        },
        to=[users[pk].email for pk in sorted(people or ()) if users[pk].email],
    )


def notify_requester_stale(*, request_id: int, reason: str = "") -> int:
    """Tell the requester their pending request went stale (policy, key set or address book changed)."""
    req = TransferRequest.objects.select_related("key_set", "requested_by").filter(pk=request_id).first()
    if req is None or not req.requested_by.email or not _first_time(req=req, what="stale"):
        return 0  # once: every way into STALE reports it (transition receiver, requests_mark_stale)
    return _send(
        subject=f"[bingxadmin] Transfer #{req.pk} went stale: submit it again if still needed",
        template="emails/transfer_stale.txt",
        context={"req": req, "url": request_url(req), "reason": reason or req.attention_reason},
        to=[req.requested_by.email],
    )


# --- every state change people care about (issue 13): outcomes, attention, reminders, second admins ---


def _first_time(*, req: TransferRequest, what: str) -> bool:
    """True once per request and event: two paths (or two worker processes) reporting the same
    outcome send one email. A row, so every process sees it (transfers.NotificationSent)."""
    try:
        with transaction.atomic():
            NotificationSent.objects.create(key=f"{req.client_id}:{what}"[:200])
    except IntegrityError:
        return False
    return True


def administrators() -> list[User]:
    """Active administrators (the role) and superusers."""
    return list(
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=ADMIN_GROUP))
        .distinct()
        .order_by("pk")
    )


# The outcome emails the requester gets, by the request's new status.
_ENDED_SUBJECT: dict[str, str] = {
    Status.SUCCEEDED: "succeeded: {amount} {asset} moved",
    Status.EXPIRED: "expired: nobody decided in time",
    Status.UNKNOWN: "outcome unknown: we are checking BingX's records",
}


def notify_request_status(*, request_id: int, status: str, batch_id: int | None = None) -> int:
    """The email(s) for a request that just moved to `status` (called on commit of the transition).

    Succeeded, expired, unknown, stale: the requester. Failed: the requester and its approvers.
    Unknown and failed also go to the administrators ("needs attention"). Approved and rejected are
    sent by the decision (notify_requester_decided); stale is sent once whichever path reports it.
    `batch_id`: the leg's batch, when the caller knows it: a leg that succeeded while others are
    still open has nothing to say, which one indexed EXISTS tells (the common case of a big batch).
    """
    if (
        batch_id is not None
        and status == Status.SUCCEEDED
        and TransferRequest.objects.filter(batch_id=batch_id, status__in=_LEG_OPEN).exists()
    ):
        return 0
    req = TransferRequest.objects.select_related("key_set", "requested_by").filter(pk=request_id).first()
    if req is None:
        return 0
    if req.batch_id is not None:
        return _notify_leg_status(req=req, status=status)
    sent = 0
    if status == Status.FAILED:
        sent += notify_execution_failed(request_id=request_id)
    elif status == Status.STALE:  # the reason is the request's attention_reason
        sent += notify_requester_stale(request_id=request_id)
    elif status in _ENDED_SUBJECT:
        what = f"{status}:{req.absent_resends}"  # an UNKNOWN after an absent re-send is news again
        if req.requested_by.email and _first_time(req=req, what=what):
            subject = _ENDED_SUBJECT[status].format(amount=money_text(req.amount_text), asset=req.asset)
            sent += _send(
                subject=f"[bingxadmin] Transfer #{req.pk} {subject}",
                template="emails/transfer_ended.txt",
                context={"req": req, "url": request_url(req), "status": status},
                to=[req.requested_by.email],
            )
    if status in (Status.FAILED, Status.UNKNOWN) and _first_time(req=req, what=f"attention:{status}"):
        sent += _send(
            subject=f"[bingxadmin] Needs attention: transfer #{req.pk} {req.get_status_display().lower()}",
            template="emails/transfer_attention.txt",
            context={"req": req, "url": request_url(req)},
            to=[u.email for u in administrators() if u.email],
        )
    return sent


REMINDER_STATUSES = (Status.PENDING,)


def notify_approvers_reminder(*, request_id: int) -> int:
    """Remind the people who may still decide a pending request that it expires soon."""
    req = TransferRequest.objects.select_related("key_set", "requested_by").filter(pk=request_id).first()
    if req is None or req.status != Status.PENDING:
        return 0
    decided = set(req.approvals.values_list("approver_id", flat=True))
    users = [
        u for u in eligible_approvers(key_set=req.key_set, requester=req.requested_by) if u.pk not in decided
    ]
    return _send(
        subject=f"[bingxadmin] Reminder: transfer #{req.pk} expires soon and waits for your approval",
        template="emails/transfer_reminder.txt",
        context={"req": req, "url": request_url(req)},
        to=[u.email for u in users if u.email],
    )


def reminders_send(*, now: datetime | None = None) -> int:
    """Remind approvers once per request when a pending request (not a batch leg) will expire within
    settings.TRANSFER_REMINDER_BEFORE_SECONDS. Returns how many requests were reminded about."""
    now = now or timezone.now()
    window = timedelta(seconds=settings.TRANSFER_REMINDER_BEFORE_SECONDS)
    due = TransferRequest.objects.filter(
        status=Status.PENDING, batch__isnull=True, expires_at__gt=now, expires_at__lte=now + window
    ).order_by("expires_at")
    reminded = 0
    for req in due[:200]:
        if _first_time(req=req, what="reminder"):
            notify_approvers_reminder(request_id=req.pk)
            reminded += 1
    return reminded


# Audit verbs that put something in front of a second administrator: what it is and where to decide.
SECOND_ADMIN_VERBS: dict[str, tuple[str, str]] = {
    "keyset.create": ("A new key set awaits activation", "accounts:keyset_detail"),
    "people.propose": ("A people change awaits a second administrator", "people:list"),
    "policy.change_propose": ("A policy change awaits a second administrator", "transfers:policy"),
    "recipient.request": ("An address-book entry awaits a second administrator", "transfers:recipients"),
    "transfer_rule.propose": ("A sweep/top-up rule awaits a second administrator", "transfers:rules"),
}


def notify_second_admin(*, verb: str, object_id: str, object_repr: str, actor_id: int | None) -> int:
    """Tell every other administrator that a proposal waits for a second administrator."""
    if verb not in SECOND_ADMIN_VERBS or not second_admin_pending(verb=verb, object_id=object_id):
        return 0  # e.g. a people change that only takes a right away is applied at once
    what, url_name = SECOND_ADMIN_VERBS[verb]
    args = [int(object_id)] if url_name == "accounts:keyset_detail" else []
    url = settings.SITE_URL.rstrip("/") + reverse(url_name, args=args)
    proposer = User.objects.filter(pk=actor_id).first() if actor_id else None
    return _send(
        subject=f"[bingxadmin] {what}: {object_repr}"[:200],
        template="emails/second_admin_waiting.txt",
        context={"what": what, "label": object_repr, "proposer": proposer, "url": url},
        to=[u.email for u in administrators() if u.email and u.pk != actor_id],
    )


# --- batches: one email per batch, never one per leg (a 400-leg batch is one decision) -------------

# A leg in one of these may still change on its own (execution, reconciliation).
_LEG_OPEN = (Status.PENDING, Status.APPROVED, Status.SUBMITTING)


def batch_url(batch: TransferBatch) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("transfers:batch_detail", args=[batch.pk])


def _batch_first_time(*, batch: TransferBatch, what: str) -> bool:
    try:
        with transaction.atomic():
            NotificationSent.objects.create(key=f"batch:{batch.uuid}:{what}"[:200])
    except IntegrityError:
        return False
    return True


def _batch_counts(batch: TransferBatch) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in batch.legs.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def notify_requester_batch_decided(*, batch_id: int) -> int:
    """The requester of a batch: approved (its legs now execute), rejected, expired or stale — once."""
    batch = TransferBatch.objects.select_related("requested_by").filter(pk=batch_id).first()
    if batch is None or not batch.requested_by.email or not _batch_first_time(batch=batch, what=batch.status):
        return 0
    return _send(
        subject=f"[bingxadmin] Batch #{batch.pk} {batch.get_status_display().lower()}",
        template="emails/batch_decided.txt",
        context={"batch": batch, "url": batch_url(batch), "legs": batch.legs.count()},
        to=[batch.requested_by.email],
    )


def _notify_leg_status(*, req: TransferRequest, status: str) -> int:
    """A leg's outcome: administrators are told once per batch that legs need attention; the
    requester and the approvers get one summary when the last leg has ended, not one email per leg."""
    if req.batch_id is None:
        return 0
    batch = TransferBatch.objects.select_related("requested_by").filter(pk=req.batch_id).first()
    if batch is None:
        return 0
    sent = 0
    if status in (Status.FAILED, Status.UNKNOWN) and _batch_first_time(
        batch=batch, what=f"attention:{status}"
    ):
        sent += _send(
            subject=(
                f"[bingxadmin] Needs attention: batch #{batch.pk} has "
                f"{'failed legs' if status == Status.FAILED else 'legs with an unknown outcome'}"
            ),
            template="emails/batch_attention.txt",
            context={"batch": batch, "url": batch_url(batch), "status": status, "first": req},
            to=[u.email for u in administrators() if u.email],
        )
    if status not in (Status.SUCCEEDED, Status.FAILED, Status.UNKNOWN):
        return sent  # stale/expired legs: the batch's own decision email says it
    # One indexed EXISTS per leg outcome; the counts are read once, when the last leg has ended.
    if batch.legs.filter(status__in=_LEG_OPEN).exists() or not _batch_first_time(batch=batch, what="ended"):
        return sent
    counts = _batch_counts(batch)
    approvers = {
        a.approver.email
        for a in req.approvals.select_related("approver")
        if a.decision == Decision.APPROVE and a.approver.email
    }
    failed = counts.get(Status.FAILED, 0)
    unknown = counts.get(Status.UNKNOWN, 0)
    summary = f"{counts.get(Status.SUCCEEDED, 0)} of {sum(counts.values())} legs moved"
    if failed:
        summary += f", {failed} failed"
    if unknown:
        summary += f", {unknown} unknown"
    sent += _send(
        subject=f"[bingxadmin] Batch #{batch.pk} finished: {summary}",
        template="emails/batch_ended.txt",
        context={
            "batch": batch,
            "url": batch_url(batch),
            "counts": counts,
            "summary": summary,
            "failed": failed,
            "unknown": unknown,
        },
        # The approvers hear of it only when something did not move, as for a single request.
        to=[batch.requested_by.email, *(sorted(approvers) if failed or unknown else [])],
    )
    return sent
