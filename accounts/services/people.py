"""People changes under four eyes: creating a user, adding or removing a role, granting or revoking
access to a key set, deactivating or reactivating someone, resetting another person's password or
second factor.

`people_change_propose` stores a pending change after checking it; a *different* administrator's
`people_change_approve` checks it again and applies it in the same transaction; `people_change_reject`
and `people_change_cancel` (the proposer) end it. A change that only takes a right away (revoke or narrow
a grant, remove a role, deactivate) takes effect at once and is recorded as applied (fail safe).
The rules (accounts.four_eyes, and here): the decider is an administrator, is not the proposer, is not
the person the change is about (nor in the group it is about), and was not themselves added to the desk
on the proposer's proposal; every decision is confirmed with the decider's second factor (step-up).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.access import ensure_admin
from accounts.audit import audit_record
from accounts.four_eyes import decision_stepup, proposal_decide, proposal_lock_pending, second_person_ensure
from accounts.models import PeopleChange, PeopleChangeKind, PeopleChangeStatus, User
from accounts.services.people_apply import (
    PeopleChangeRefused,
    change_apply,
    change_clean,
    stored_values,
)

Status = PeopleChangeStatus
PURPOSE_APPROVE = "people.approve"
PURPOSE_REJECT = "people.reject"


def _state(record: PeopleChange) -> dict[str, Any]:
    return {
        "kind": record.kind,
        "status": record.status,
        "target_user": record.target_user_id,
        "change": record.change,
        "before": record.before,
        "proposed_by": record.proposed_by_id,
    }


def _pending_twin(*, kind: str, target: User | None, change: dict[str, Any]) -> PeopleChange | None:
    """A pending change about the same thing (same user to create, same grant, same role…)."""
    pending = PeopleChange.objects.filter(kind=kind, status=Status.PENDING)
    if kind == PeopleChangeKind.USER_CREATE:
        return pending.filter(change__username__iexact=change["username"]).first()
    pending = pending.filter(target_user=target)
    if kind == PeopleChangeKind.GRANT_SET:
        pending = pending.filter(change__key_set_id=change["key_set_id"])
        if target is None:
            pending = pending.filter(change__group=change["group"])
    if "role" in change:
        pending = pending.filter(change__role=change["role"])
    return pending.first()


@transaction.atomic
def people_change_propose(
    *, actor: User, kind: str, values: Mapping[str, Any], ip: str | None = None
) -> PeopleChange:
    """Check and store a change; a removal is applied at once, anything else waits for a second
    administrator. `values`: user_id, username, email, first_name, last_name, role, key_set_id, group,
    view/request/approve, grant_id — as the kind needs. PeopleChangeRefused: nothing was stored."""
    ensure_admin(user=actor)
    clean = change_clean(kind=kind, values=dict(values), actor=actor)
    now = timezone.now()
    if clean.at_once:
        record = PeopleChange.objects.create(
            kind=clean.kind,
            target_user=clean.target,
            change=clean.change,
            before=clean.before,
            proposed_by=actor,
            status=Status.APPLIED,
            decided_by=actor,
            decided_at=now,
            note="Took effect at once: taking a right away needs no second administrator.",
        )
        _, facts = change_apply(clean=clean, actor=actor, ip=ip)
        audit_record(actor=actor, verb="people.remove", obj=record, after={**_state(record), **facts}, ip=ip)
        return record
    twin = _pending_twin(kind=clean.kind, target=clean.target, change=clean.change)
    if twin is not None:
        raise PeopleChangeRefused(
            f"A change like this is already waiting for a second administrator (#{twin.pk}).", code="pending"
        )
    record = PeopleChange.objects.create(
        kind=clean.kind, target_user=clean.target, change=clean.change, before=clean.before, proposed_by=actor
    )
    audit_record(actor=actor, verb="people.propose", obj=record, after=_state(record), ip=ip)
    return record


def _lock_pending(*, change_id: int, actor: User) -> PeopleChange:
    return proposal_lock_pending(
        queryset=PeopleChange.objects.all(),
        pk=change_id,
        decider=actor,
        pending=Status.PENDING,
        what="people change",
        refused=PeopleChangeRefused,
        status_text=lambda record: record.get_status_display().lower(),
    )


def _ensure_may_decide(*, record: PeopleChange, actor: User) -> None:
    second_person_ensure(
        decider=actor,
        makers=[record.proposed_by_id],
        refused=PeopleChangeRefused,
        message="A second administrator must decide a people change you proposed yourself.",
    )
    if record.target_user_id == actor.pk:
        raise PeopleChangeRefused(
            "Nobody decides a change to their own account: another administrator must.", code="self"
        )
    group = record.change.get("group") if record.target_user_id is None else None
    if group and actor.groups.filter(name=group).exists():
        raise PeopleChangeRefused(
            f"You are in the group {group}: another administrator must decide a change to its access.",
            code="self",
        )
    sponsor = (
        PeopleChange.objects.filter(
            kind=PeopleChangeKind.USER_CREATE, status=Status.APPLIED, target_user=actor
        )
        .values_list("proposed_by_id", flat=True)
        .first()
    )
    if sponsor is not None and sponsor == record.proposed_by_id:
        raise PeopleChangeRefused(
            "Your own account was created on this administrator's proposal: someone else must decide "
            "their people changes.",
            code="sponsor",
        )


def _decidable(*, change_id: int, actor: User, proposer_message: str | None = None) -> None:
    """Refuse before the second factor is asked for, so a refused decision never spends a code."""
    with transaction.atomic():
        record = _lock_pending(change_id=change_id, actor=actor)
        if proposer_message and record.proposed_by_id == actor.pk:
            raise PeopleChangeRefused(proposer_message, code="own_proposal")
        _ensure_may_decide(record=record, actor=actor)


def _stepup(
    *, actor: User, data: Mapping[str, str], purpose: str, change_id: int, decision: str, ip: str | None
) -> str:
    """The decider's second factor (outside any transaction: failures are counted and audited); a
    passkey signs a challenge derived from this change and this decision."""
    return decision_stepup(
        decider=actor,
        subject="people-change",
        object_id=change_id,
        decision=decision,
        purpose=purpose,
        stepup=data,
        refuse=lambda message: PeopleChangeRefused(message, code="stepup"),
        ip=ip,
    )


PURPOSE_GRANT_REVOKE = "grant.revoke"


def people_grant_revoke(
    *, actor: User, key_set_id: int, grant_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> PeopleChange:
    """Take a grant away at once (a removal needs no second administrator), confirmed with the
    administrator's second factor. Refusals that need no code come first (nothing is spent)."""
    ensure_admin(user=actor)
    values = {"grant_id": grant_id, "key_set_id": key_set_id}
    change_clean(kind=PeopleChangeKind.GRANT_REVOKE, values=dict(values), actor=actor)
    decision_stepup(
        decider=actor,
        subject="grant",
        object_id=grant_id,
        decision="revoke",
        purpose=PURPOSE_GRANT_REVOKE,
        stepup=stepup,
        refuse=lambda message: PeopleChangeRefused(message, code="stepup"),
        ip=ip,
    )
    return people_change_propose(actor=actor, kind=PeopleChangeKind.GRANT_REVOKE, values=values, ip=ip)


def people_change_approve(
    *, actor: User, change_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> PeopleChange:
    """A second administrator applies a pending change, confirmed with their second factor.

    If it can no longer be applied (the user was created meanwhile, the key set is gone…) the
    proposal is marked REJECTED with the reason, committed, and PeopleChangeRefused is raised.
    """
    _decidable(change_id=change_id, actor=actor)
    method = _stepup(
        actor=actor, data=stepup, purpose=PURPOSE_APPROVE, change_id=change_id, decision="approve", ip=ip
    )
    refusal: str | None = None
    with transaction.atomic():
        record = _lock_pending(change_id=change_id, actor=actor)
        _ensure_may_decide(record=record, actor=actor)
        before = _state(record)
        facts: dict[str, Any] = {}
        try:
            with transaction.atomic():
                values = stored_values(kind=record.kind, change=record.change, target=record.target_user)
                clean = change_clean(kind=record.kind, values=values, actor=record.proposed_by)
                target, facts = change_apply(clean=clean, actor=actor, ip=ip)
        except PeopleChangeRefused as exc:
            refusal = str(exc)
            record.status = Status.REJECTED
            record.note = f"Could not be applied: {refusal}"[:300]
            verb = "people.fail"
        else:
            record.status = Status.APPLIED
            record.target_user = target
            verb = "people.approve"
        record.decided_by = actor
        record.decided_at = timezone.now()
        record.save(update_fields=["status", "note", "target_user", "decided_by", "decided_at"])
        after = {**_state(record), **facts, "note": record.note, "stepup": method}
        audit_record(actor=actor, verb=verb, obj=record, before=before, after=after, ip=ip)
    if refusal is not None:
        raise PeopleChangeRefused(
            f"{refusal} The proposal was marked rejected; nothing changed.", code="stale"
        )
    return record


def people_change_reject(
    *, actor: User, change_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> PeopleChange:
    """A second administrator turns a pending change down (second factor confirmed); nothing changes."""
    own = "A second administrator must decide a change you proposed; cancel it instead."
    _decidable(change_id=change_id, actor=actor, proposer_message=own)
    method = _stepup(
        actor=actor, data=stepup, purpose=PURPOSE_REJECT, change_id=change_id, decision="reject", ip=ip
    )
    with transaction.atomic():
        record = _lock_pending(change_id=change_id, actor=actor)
        _ensure_may_decide(record=record, actor=actor)
        return proposal_decide(
            proposal=record,
            status=Status.REJECTED,
            decider=actor,
            verb="people.reject",
            state=_state,
            ip=ip,
            extra={"stepup": method},
        )


@transaction.atomic
def people_change_cancel(*, actor: User, change_id: int, ip: str | None = None) -> PeopleChange:
    """The proposer withdraws their own change while it is pending."""
    record = _lock_pending(change_id=change_id, actor=actor)
    if record.proposed_by_id != actor.pk:
        raise PeopleChangeRefused(
            "Only the administrator who proposed a change can cancel it (reject it instead).",
            code="not_yours",
        )
    return proposal_decide(
        proposal=record, status=Status.CANCELLED, decider=actor, verb="people.cancel", state=_state, ip=ip
    )


__all__ = [
    "PURPOSE_APPROVE",
    "PURPOSE_REJECT",
    "PeopleChangeRefused",
    "people_change_approve",
    "people_change_cancel",
    "people_change_propose",
    "people_change_reject",
]
