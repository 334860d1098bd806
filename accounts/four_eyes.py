"""Four eyes (maker-checker) for every change one administrator proposes and another decides:
key sets, address-book entries, policy changes.

Each flow keeps its own model, verbs and refusal type; the rules are here once: the decider is an
administrator, the proposal exists and is still pending (locked for the decision), the decider is not
whoever proposed it, and a decision is one save plus one audit event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.db import models
from django.utils import timezone

from accounts.access import ensure_admin
from accounts.audit import audit_record
from accounts.models import User
from accounts.stepup import StepUpRefused, stepup_binding, stepup_verify

P = TypeVar("P", bound=models.Model)


def second_person_ensure(
    *, decider: User, makers: Iterable[int | None], refused: type[Exception], message: str
) -> None:
    """Refuse (with `message`) when the decider is one of the people who made the proposal."""
    if decider.pk in {m for m in makers if m is not None}:
        raise refused(message)


def decision_stepup(
    *,
    decider: User,
    subject: str,
    object_id: int,
    decision: str,
    purpose: str,
    stepup: Mapping[str, str],
    refuse: Callable[[str], Exception],
    ip: str | None,
) -> str:
    """The decider's second factor, before the decision's transaction (a failure stays recorded); a
    passkey signs a challenge derived from this proposal and this decision. Returns the method."""
    binding = stepup_binding(subject=subject, object_id=object_id, decision=decision)
    try:
        return stepup_verify(user=decider, data=stepup, purpose=purpose, binding=binding, ip=ip).method
    except StepUpRefused as exc:
        raise refuse(f"{exc} Nothing was changed.") from None


def proposal_lock_pending(
    *,
    queryset: models.QuerySet[P],
    pk: int,
    decider: User,
    pending: str,
    what: str,
    refused: type[Exception],
    status_text: Callable[[P], str] | None = None,
) -> P:
    """The pending proposal `pk`, locked for the decision; refuses a non-admin, a missing one and a
    decided one ("This {what} is not waiting for a decision (…)")."""
    ensure_admin(user=decider)
    proposal = queryset.select_for_update().filter(pk=pk).first()
    if proposal is None:
        raise refused(f"No such {what}.")
    if proposal.status != pending:  # type: ignore[attr-defined]
        shown = status_text(proposal) if status_text else proposal.get_status_display()  # type: ignore[attr-defined]
        raise refused(f"This {what} is not waiting for a decision ({shown}).")
    return proposal


def proposal_decide(
    *,
    proposal: P,
    status: str,
    decider: User,
    verb: str,
    state: Callable[[P], dict[str, Any]],
    ip: str | None,
    extra: dict[str, Any] | None = None,
) -> P:
    """Record a decision on a proposal: status, who and when, one audit event (before/after `state`)."""
    before = state(proposal)
    proposal.status = status  # type: ignore[attr-defined]
    proposal.decided_by = decider  # type: ignore[attr-defined]
    proposal.decided_at = timezone.now()  # type: ignore[attr-defined]
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=decider,
        verb=verb,
        obj=proposal,
        before=before,
        after={**state(proposal), **(extra or {})},
        ip=ip,
    )
    return proposal


__all__ = ["decision_stepup", "proposal_decide", "proposal_lock_pending", "second_person_ensure"]
