"""Reads for batch requests: who may see a batch, its detail page (legs, totals, decisions, progress),
the cheap state the open page polls, and the batches waiting in a person's approvals queue."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.access import Capability, key_sets_for, user_can
from accounts.models import ApiKeySet, User
from transfers.batch_csv import legs_to_csv
from transfers.models import Approval, BatchStatus, Decision, Status, TransferBatch, TransferRequest
from transfers.payload import batch_leg_covered, batch_payload_sha256


def batches_visible_to(*, user: User, capability: Capability = Capability.VIEW) -> QuerySet[TransferBatch]:
    """Batches every leg of which is on a key set the user holds `capability` on (one hidden leg hides
    the batch: nobody approves or watches money they may not see)."""
    allowed = key_sets_for(user=user, capability=capability).values("pk")
    hidden = ApiKeySet.objects.exclude(pk__in=allowed).values("pk")
    return TransferBatch.objects.exclude(legs__key_set__in=hidden).select_related("requested_by")


def batch_get_for(*, user: User, pk: int) -> TransferBatch:
    """One batch the user may view; TransferBatch.DoesNotExist otherwise."""
    return batches_visible_to(user=user).get(pk=pk)


# What each leg status counts as on the progress bar.
PROGRESS_GROUPS = {
    "done": (Status.SUCCEEDED,),
    "failed": (Status.FAILED, Status.REJECTED, Status.CANCELLED, Status.EXPIRED, Status.STALE),
    "unknown": (Status.UNKNOWN,),
    "running": (Status.APPROVED, Status.SUBMITTING),
    "waiting": (Status.PENDING,),
}


@dataclass(frozen=True)
class BatchState:
    status: str
    legs: int
    counts: dict[str, int]
    decisions: int

    @property
    def token(self) -> str:
        counts = ":".join(str(self.counts[name]) for name in PROGRESS_GROUPS)
        return f"{self.status}:{counts}:{self.decisions}"

    @property
    def final(self) -> bool:
        return self.status != BatchStatus.PENDING and self.counts["running"] + self.counts["unknown"] == 0


def batch_state_for(*, user: User, pk: int) -> BatchState:
    """Status, leg counts per progress group and decisions: three small queries whatever the batch size."""
    batch = batches_visible_to(user=user).select_related(None).only("status").get(pk=pk)
    per_group = {
        name: Count("pk", filter=Q(status__in=statuses)) for name, statuses in PROGRESS_GROUPS.items()
    }
    counts = TransferRequest.objects.filter(batch_id=pk).aggregate(total=Count("pk"), **per_group)
    first_leg = TransferRequest.objects.filter(batch_id=pk, leg_index=0).values("pk")
    decisions = Approval.objects.filter(request__in=first_leg).count()
    total = counts.pop("total")
    return BatchState(status=batch.status, legs=total, counts=counts, decisions=decisions)


@dataclass(frozen=True)
class BatchDecisionView:
    can_decide: bool
    reason: str
    can_cancel: bool


def batch_decision_view(
    *, user: User, batch: TransferBatch, legs: list[TransferRequest]
) -> BatchDecisionView:
    can_cancel = batch.status == BatchStatus.PENDING and batch.requested_by_id == user.pk
    if batch.status != BatchStatus.PENDING:
        return BatchDecisionView(
            False, f"No decision is open: status “{batch.get_status_display()}”.", can_cancel
        )
    if batch.requested_by_id == user.pk:
        return BatchDecisionView(
            False, "You requested this batch, so someone else must approve it.", can_cancel
        )
    for key_set in {leg.key_set for leg in legs}:
        if not user_can(user=user, key_set=key_set, capability=Capability.APPROVE):
            return BatchDecisionView(
                False, f"You do not have the approve grant on key set “{key_set.label}”.", can_cancel
            )
    if Approval.objects.filter(request__batch=batch, approver=user).exists():
        return BatchDecisionView(False, "You have already decided this batch.", can_cancel)
    lapsed = next((leg for leg in legs if leg.status != Status.PENDING), None)
    if lapsed is not None:
        return BatchDecisionView(
            False,
            f"Leg {lapsed.leg_index} is {lapsed.get_status_display().lower()}; the batch can no longer be "
            "approved. Submit a new one.",
            can_cancel,
        )
    if batch.expires_at <= timezone.now():
        return BatchDecisionView(False, "This batch has expired.", can_cancel)
    return BatchDecisionView(True, "", can_cancel)


@dataclass(frozen=True)
class Total:
    key_set: str
    asset: str
    amount: Decimal
    legs: int


@dataclass
class BatchDetail:
    batch: TransferBatch
    legs: list[TransferRequest]
    hash_ok: bool
    totals: list[Total]
    asset_totals: list[tuple[str, Decimal]]
    decisions: list[Approval]
    state: BatchState
    decision: BatchDecisionView

    @property
    def approvals(self) -> int:
        return sum(1 for d in self.decisions if d.decision == Decision.APPROVE)


def batch_detail(*, user: User, pk: int) -> BatchDetail:
    batch = batch_get_for(user=user, pk=pk)
    legs = list(batch.legs.select_related("key_set").order_by("leg_index"))
    per_key_set: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    per_asset: dict[str, Decimal] = defaultdict(Decimal)
    for leg in legs:
        per_key_set[(leg.key_set.label, leg.asset)].append(leg.amount)
        per_asset[leg.asset] += leg.amount
    hash_ok = (
        isinstance(batch.payload, list)
        and batch_payload_sha256(batch.payload) == batch.payload_sha256
        and len(legs) == len(batch.payload)
        and all(
            batch_leg_covered(
                batch_payload=batch.payload,
                batch_sha256=batch.payload_sha256,
                leg_index=leg.leg_index,
                leg_sha256=leg.payload_sha256,
            )
            for leg in legs
        )
    )
    decisions = (
        list(Approval.objects.filter(request=legs[0]).select_related("approver").order_by("created_at"))
        if legs
        else []
    )
    return BatchDetail(
        batch=batch,
        legs=legs,
        hash_ok=hash_ok,
        totals=[
            Total(key_set=label, asset=asset, amount=sum(amounts, Decimal(0)), legs=len(amounts))
            for (label, asset), amounts in sorted(per_key_set.items())
        ],
        asset_totals=sorted(per_asset.items()),
        decisions=decisions,
        state=batch_state_for(user=user, pk=pk),
        decision=batch_decision_view(user=user, batch=batch, legs=legs),
    )


def batches_queue_for(*, user: User) -> QuerySet[TransferBatch]:
    """Pending batches this user may decide: approve on every leg's key set, not their own, undecided."""
    return (
        batches_visible_to(user=user, capability=Capability.APPROVE)
        .filter(status=BatchStatus.PENDING, expires_at__gt=timezone.now())
        .exclude(requested_by=user)
        .exclude(legs__approvals__approver=user)
        .annotate(leg_count=Count("legs", distinct=True))
        .order_by("expires_at")
    )


def batch_failed_legs_csv(*, user: User, pk: int) -> str:
    """The failed legs of a batch the user may view, as CSV for a new batch (empty when none failed)."""
    batch = batch_get_for(user=user, pk=pk)
    failed = batch.legs.filter(status=Status.FAILED).select_related("key_set").order_by("leg_index")
    rows = [(leg.key_set.label, leg.payload) for leg in failed]
    return legs_to_csv(rows) if rows else ""
