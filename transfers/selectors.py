"""Reads for the workflow pages, always scoped to the key sets the user may view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.access import Capability, key_sets_for, user_can
from accounts.csv_export import TextCell
from accounts.models import ApiKeySet, AuditEvent, BalanceSnapshot, User
from exchange.clients import client_for
from exchange.problems import exchange_problem
from transfers.failures import failure_text
from transfers.filters import ascii_int
from transfers.kinds import KIND_NEEDS, key_set_usable_for, wallet_label
from transfers.list_sorting import REQUEST_SORTS, Sort, sort_apply
from transfers.models import (
    Approval,
    Decision,
    Status,
    TransferKind,
    TransferRequest,
)
from transfers.payload import (
    FAMILY_ACCOUNT_TYPES,
    FAMILY_MEMBER_TYPES,
    RECIPIENT_TYPES,
    WALLET_TYPE_TO_WALLET,
    WALLET_TYPES,
    payload_verify,
)
from transfers.policy import daily_usage, eligible_approvers
from transfers.policy_scope import request_policy_holds
from transfers.request_facts import RequestFacts, request_facts

# How many approvals a request has so far (the lists' column).
# A correlated subquery, not a JOIN + GROUP BY: PostgreSQL then counts approvals only for the rows a
# page shows (after ORDER BY … LIMIT), and a paginator's COUNT needs no grouping at all. With the
# JOIN, the history page aggregated all 10 000 requests for its 50 rows (70 ms of its 200 ms).
_APPROVALS_SO_FAR = Coalesce(
    Subquery(
        Approval.objects.filter(request=OuterRef("pk"), decision=Decision.APPROVE)
        .order_by()
        .values("request")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    ),
    0,
)


def requests_visible_to(*, user: User) -> QuerySet[TransferRequest]:
    return TransferRequest.objects.filter(
        key_set__in=key_sets_for(user=user, capability=Capability.VIEW)
    ).select_related("key_set", "requested_by")


def request_get_for(*, user: User, pk: int) -> TransferRequest:
    """One request the user may view; TransferRequest.DoesNotExist otherwise (a guessed id looks absent)."""
    return requests_visible_to(user=user).get(pk=pk)


@dataclass(frozen=True)
class RequestState:
    """What the open detail page polls for: the status and how many decisions it has (one query)."""

    status: str
    decisions: int

    @property
    def token(self) -> str:
        return f"{self.status}:{self.decisions}"


def request_state_for(*, user: User, pk: int) -> RequestState:
    """The status of one request the user may view (the detail page's rule); DoesNotExist otherwise."""
    decisions = Approval.objects.filter(request=OuterRef("pk")).order_by().values("request")
    status, count = (
        TransferRequest.objects.filter(pk=pk, key_set__in=key_sets_for(user=user, capability=Capability.VIEW))
        .annotate(decisions=Subquery(decisions.annotate(n=Count("pk")).values("n")))
        .values_list("status", "decisions")
        .get()
    )
    return RequestState(status=status, decisions=count or 0)


def key_sets_requestable(*, user: User, kind: str) -> QuerySet[ApiKeySet]:
    """Active key sets the user may request on, with the BingX permission and account kind the kind needs."""
    needs = KIND_NEEDS[kind]
    candidates = key_sets_for(user=user, capability=Capability.REQUEST).filter(
        status="active", account_kind__in=needs.account_kinds
    )
    ok = [ks.pk for ks in candidates if key_set_usable_for(key_set=ks, kind=kind) is None]
    return ApiKeySet.objects.filter(pk__in=ok).order_by("label")


def queue_for(
    *,
    user: User,
    key_set_id: int | None = None,
    kind: str = "",
    asset: str = "",
    include_decided: bool = False,
    sort: Sort | None = None,
) -> QuerySet[TransferRequest]:
    """Pending requests this user may decide (never their own), each with `approvals_so_far`;
    soonest expiry first unless `sort` names another whitelisted column."""
    qs = (
        TransferRequest.objects.filter(
            status=Status.PENDING,
            key_set__in=key_sets_for(user=user, capability=Capability.APPROVE),
            expires_at__gt=timezone.now(),
        )
        .exclude(requested_by=user)
        .filter(batch__isnull=True)  # a batch's legs are decided with the batch (batches_queue_for)
        .select_related("key_set", "requested_by")
        .annotate(approvals_so_far=_APPROVALS_SO_FAR)
        .order_by("expires_at", "pk")
    )
    if not include_decided:
        qs = qs.exclude(approvals__approver=user)
    if key_set_id:
        qs = qs.filter(key_set_id=key_set_id)
    if kind:
        qs = qs.filter(kind=kind)
    if asset:
        qs = qs.filter(asset=asset.upper())
    return sort_apply(qs, sort=sort, allowed=REQUEST_SORTS) if sort else qs


def approvals_so_far_fill(*, rows: list[TransferRequest]) -> list[TransferRequest]:
    """`approvals_so_far` of a history page's rows from their prefetched decisions (history_for)."""
    for row in rows:
        if not hasattr(row, "approvals_so_far"):
            approved = sum(1 for a in row.approvals.all() if a.decision == Decision.APPROVE)
            setattr(row, "approvals_so_far", approved)  # noqa: B010  (an annotation's name)
    return rows


@dataclass
class HistoryFilters:
    status: str = ""
    kind: str = ""
    key_set_id: int | None = None
    asset: str = ""
    requester: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def history_for(
    *, user: User, filters: HistoryFilters, sort: Sort | None = None
) -> QuerySet[TransferRequest]:
    """Requests the user may view, newest first unless `sort` names a whitelisted column. The
    requester filter is a substring of the username or the person's name."""
    qs = requests_visible_to(user=user).order_by("-created_at", "-pk").prefetch_related("approvals__approver")
    if sort is not None and sort.key == "approvals":
        # Only to sort by it: otherwise PostgreSQL would count approvals for every row before a deep
        # page's OFFSET; `approvals_so_far_fill` counts the shown rows from their prefetched decisions.
        qs = qs.annotate(approvals_so_far=_APPROVALS_SO_FAR)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.key_set_id:
        qs = qs.filter(key_set_id=filters.key_set_id)
    if filters.asset:
        qs = qs.filter(asset=filters.asset.upper())
    if filters.requester:
        text = filters.requester.strip()
        qs = qs.filter(
            Q(requested_by__username__icontains=text)
            | Q(requested_by__first_name__icontains=text)
            | Q(requested_by__last_name__icontains=text)
        )
    # Days are the person's days (their time zone, accounts.time_zone).
    if filters.date_from:
        start = timezone.make_aware(dt.datetime.combine(filters.date_from, dt.time.min))
        qs = qs.filter(created_at__gte=start)
    if filters.date_to:
        end = timezone.make_aware(dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time.min))
        qs = qs.filter(created_at__lt=end)
    return sort_apply(qs, sort=sort, allowed=REQUEST_SORTS) if sort else qs


@dataclass
class Dashboard:
    waiting: list[TransferRequest]
    mine: list[TransferRequest]
    recent: list[TransferRequest]
    attention: list[TransferRequest]


ATTENTION_FAILED_FOR = dt.timedelta(days=7)


def dashboard_for(*, user: User) -> Dashboard:
    visible = requests_visible_to(user=user)
    return Dashboard(
        waiting=list(queue_for(user=user)[:20]),
        mine=list(visible.filter(requested_by=user).order_by("-created_at")[:10]),
        recent=list(
            visible.filter(
                status__in=[
                    Status.SUCCEEDED,
                    Status.FAILED,
                    Status.APPROVED,
                    Status.SUBMITTING,
                    Status.UNKNOWN,
                ]
            ).order_by("-updated_at")[:10]
        ),
        # UNKNOWN at once; FAILED for a week (someone decides: submit again or let go).
        attention=list(
            visible.filter(
                Q(needs_attention=True)
                | Q(status=Status.UNKNOWN)
                | Q(status=Status.FAILED, updated_at__gte=timezone.now() - ATTENTION_FAILED_FOR)
            ).order_by("-updated_at")[:20]
        ),
    )


HISTORY_CSV_HEADER = [
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
    "approved_by",
    "rejected_by",
    "decided_at",
    "completed_at",
    "failure_reason",
    "exchange_id",
    "client_id",
    "payload_sha256",
    "note",
]

_CSV_CHUNK = 1000


def _decisions_of(pks: list[int]) -> dict[int, dict[str, list[str]]]:
    """Who approved and who rejected each of these requests (one query)."""
    found: dict[int, dict[str, list[str]]] = {}
    rows = (
        Approval.objects.filter(request_id__in=pks)
        .order_by("created_at", "pk")
        .values_list("request_id", "decision", "approver__username")
    )
    for request_id, decision, username in rows:
        found.setdefault(request_id, {}).setdefault(decision, []).append(username)
    return found


def history_csv_rows(qs: QuerySet[TransferRequest]) -> Iterator[tuple[Any, ...]]:
    """The history export's rows, read in chunks over plain values (no model instances, no prefetch):
    memory stays flat however many rows match; one more query per chunk for the decisions. Ids are
    text cells (spreadsheets round a 22-digit exchange id); times in ISO 8601 with their offset."""
    values = qs.order_by("-created_at", "-pk").values_list(
        "pk",
        "created_at",
        "status",
        "kind",
        "key_set__label",
        "asset",
        "payload",
        "requested_by__username",
        "required_approvals",
        "decided_at",
        "completed_at",
        "failure_code",
        "failure_message",
        "exchange_id",
        "client_id",
        "payload_sha256",
        "note",
    )
    chunk: list[tuple[Any, ...]] = []
    for row in values.iterator(chunk_size=_CSV_CHUNK):
        chunk.append(row)
        if len(chunk) >= _CSV_CHUNK:
            yield from _history_csv_chunk(chunk)
            chunk = []
    if chunk:
        yield from _history_csv_chunk(chunk)


def _history_csv_chunk(rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    decided_by = _decisions_of([row[0] for row in rows])
    for (
        pk,
        created,
        status,
        kind,
        label,
        asset,
        payload,
        user,
        required,
        decided,
        completed,
        failure_code,
        failure_message,
        exchange_id,
        client_id,
        sha256,
        note,
    ) in rows:
        who = decided_by.get(pk, {})
        failure = failure_text(code=failure_code, message=failure_message, asset=asset)
        yield (
            TextCell(pk),
            created.isoformat(),
            status,
            kind,
            label,
            asset,
            format(Decimal(str(payload.get("amount"))), "f"),
            source_text_of(kind=kind, payload=payload, key_set_label=label),
            destination_text_of(kind=kind, payload=payload),
            user,
            required,
            "; ".join(who.get(Decision.APPROVE, [])),
            "; ".join(who.get(Decision.REJECT, [])),
            decided.isoformat() if decided else "",
            completed.isoformat() if completed else "",
            str(failure),
            TextCell(exchange_id) if exchange_id else "",
            TextCell(client_id) if client_id else "",
            TextCell(sha256),
            note,
        )


# --- request detail ------------------------------------------------------------------------------


def destination_text_of(*, kind: str, payload: dict[str, Any]) -> str:
    p = payload
    if kind == TransferKind.WALLET:
        return f"own {wallet_label(p.get('to_wallet'))} wallet"
    if kind in (TransferKind.INNER, TransferKind.SUB_INNER):
        rtype = RECIPIENT_TYPES.get(int(p.get("recipient_type") or 0), "?")
        calling = f"+{p['calling_code']} " if p.get("calling_code") else ""
        return f"{rtype} {calling}{p.get('recipient_account')}"
    if kind == TransferKind.FAMILY:
        member = FAMILY_MEMBER_TYPES.get(int(p.get("to_type") or 0), "?")
        wallet = FAMILY_ACCOUNT_TYPES.get(int(p.get("to_account_type") or 0), "?")
        return f"{member} {p.get('to_uid')} · {wallet}"
    return "?"


def destination_text(req: TransferRequest) -> str:
    return destination_text_of(kind=req.kind, payload=req.payload)


def source_text_of(*, kind: str, payload: dict[str, Any], key_set_label: str) -> str:
    p = payload
    if kind == TransferKind.WALLET:
        return f"own {wallet_label(p.get('from_wallet'))} wallet"
    if kind in (TransferKind.INNER, TransferKind.SUB_INNER):
        return f"{WALLET_TYPES.get(int(p.get('wallet_type') or 0), '?')} wallet of {key_set_label}"
    if kind == TransferKind.FAMILY:
        member = FAMILY_MEMBER_TYPES.get(int(p.get("from_type") or 0), "?")
        wallet = FAMILY_ACCOUNT_TYPES.get(int(p.get("from_account_type") or 0), "?")
        return f"{member} {p.get('from_uid')} · {wallet}"
    return "?"


def source_text(req: TransferRequest) -> str:
    return source_text_of(kind=req.kind, payload=req.payload, key_set_label=req.key_set.label)


def _source_wallet(req: TransferRequest) -> tuple[ApiKeySet | None, str | None]:
    p = req.payload
    if req.kind == TransferKind.WALLET:
        return req.key_set, str(p.get("from_wallet"))
    if req.kind in (TransferKind.INNER, TransferKind.SUB_INNER):
        return req.key_set, WALLET_TYPE_TO_WALLET.get(int(p.get("wallet_type") or 0))
    if req.kind == TransferKind.FAMILY:
        wallet = WALLET_TYPE_TO_WALLET.get(int(p.get("from_account_type") or 0))
        uid = int(p.get("from_uid") or 0)
        if req.key_set.uid and uid == int(req.key_set.uid):
            return req.key_set, wallet
        return ApiKeySet.objects.filter(uid=uid).first(), wallet
    return None, None


def source_balance(*, user: User, req: TransferRequest) -> BalanceSnapshot | None:
    """The latest synced balance of the paying wallet and asset (None when never synced here, or when
    the paying key set, e.g. a family request's sub-account, is one the person may not view)."""
    key_set, wallet = _source_wallet(req)
    if key_set is None or wallet is None:
        return None
    if not user_can(user=user, key_set=key_set, capability=Capability.VIEW):
        return None
    return (
        BalanceSnapshot.objects.filter(key_set=key_set, wallet=wallet, asset=req.asset)
        .order_by("-taken_at")
        .first()
    )


def same_destination_recent(*, user: User, req: TransferRequest, limit: int = 10) -> list[TransferRequest]:
    qs = requests_visible_to(user=user).filter(kind=req.kind).exclude(pk=req.pk)
    p = req.payload
    if req.kind == TransferKind.WALLET:
        qs = qs.filter(key_set=req.key_set, payload__to_wallet=p.get("to_wallet"))
    elif req.kind in (TransferKind.INNER, TransferKind.SUB_INNER):
        qs = qs.filter(payload__recipient_account=p.get("recipient_account"))
    elif req.kind == TransferKind.FAMILY:
        qs = qs.filter(payload__to_uid=p.get("to_uid"), payload__to_account_type=p.get("to_account_type"))
    return list(qs.order_by("-created_at")[:limit])


def audit_trail(*, req: TransferRequest) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type=req._meta.label_lower, object_id=str(req.pk)).order_by("seq")


@dataclass
class DecisionView:
    """What the page offers this user: the buttons mirror the rules the service enforces."""

    can_decide: bool
    reason: str
    can_cancel: bool


def decision_view(*, user: User, req: TransferRequest) -> DecisionView:
    if req.batch_id is not None:
        return DecisionView(
            False,
            f"This is leg {req.leg_index} of batch #{req.batch_id}; it is decided with the batch.",
            False,
        )
    can_cancel = req.status == Status.PENDING and req.requested_by_id == user.pk
    if req.status != Status.PENDING:
        return DecisionView(False, f"No decision is open: status “{req.get_status_display()}”.", can_cancel)
    if req.requested_by_id == user.pk:
        return DecisionView(
            False, "You requested this transfer, so someone else must approve it.", can_cancel
        )
    if not user_can(user=user, key_set=req.key_set, capability=Capability.APPROVE):
        return DecisionView(False, "You do not have the approve grant on this key set.", can_cancel)
    if req.approvals.filter(approver=user).exists():
        return DecisionView(False, "You have already decided this request.", can_cancel)
    if req.expires_at <= timezone.now():
        return DecisionView(False, "This request has expired.", can_cancel)
    return DecisionView(True, "", can_cancel)


@dataclass
class RequestDetail:
    req: TransferRequest
    hash_ok: bool
    policy_current: bool
    approvals: int
    decisions: list[Approval]
    balance: BalanceSnapshot | None
    same_destination: list[TransferRequest]
    trail: list[AuditEvent]
    attempts: list[Any]
    decision: DecisionView
    eligible_count: int
    source: str
    destination: str
    daily: Any = None
    payload_items: list[tuple[str, Any]] = field(default_factory=list)
    facts: RequestFacts | None = None
    failure: Any = None

    @property
    def balance_after(self) -> Decimal | None:
        """The source's free balance once this transfer has moved (as last synced)."""
        return None if self.balance is None else self.balance.free - self.req.amount

    @property
    def progress_pct(self) -> int:
        return min(100, int(100 * self.approvals / max(1, self.req.required_approvals)))


def request_detail(*, user: User, pk: int) -> RequestDetail:
    req = request_get_for(user=user, pk=pk)
    decisions = list(req.approvals.select_related("approver").order_by("created_at"))
    return RequestDetail(
        req=req,
        hash_ok=payload_verify(request=req),
        policy_current=request_policy_holds(req),
        approvals=sum(1 for d in decisions if d.decision == Decision.APPROVE),
        decisions=decisions,
        balance=source_balance(user=user, req=req),
        same_destination=same_destination_recent(user=user, req=req),
        trail=list(audit_trail(req=req)),
        attempts=list(req.attempts.all()),
        decision=decision_view(user=user, req=req),
        eligible_count=eligible_approvers(key_set=req.key_set, requester=req.requested_by).count(),
        source=source_text(req),
        destination=destination_text(req),
        daily=daily_usage(key_set=req.key_set, asset=req.asset),
        payload_items=sorted(req.payload.items()),
        facts=request_facts(req=req, decisions=decisions, visible=requests_visible_to(user=user)),
        failure=failure_text(code=req.failure_code, message=req.failure_message, asset=req.asset),
    )


# --- transferable amount (live read from BingX) ---------------------------------------------------


@dataclass
class Transferable:
    rows: list[tuple[str, Decimal]] = field(default_factory=list)
    what: str = ""
    problem: str = ""


def transferable_for(*, user: User, key_set_id: int, kind: str, params: dict[str, str]) -> Transferable:
    """What BingX says can be moved for the form's current choices. Exchange errors become a message."""
    key_set = key_sets_for(user=user, capability=Capability.REQUEST).filter(pk=key_set_id).first()
    if key_set is None:
        return Transferable(problem="Choose a key set you may request on.")
    asset = (params.get("asset") or "").strip().upper()
    try:
        client = client_for(key_set=key_set)
        with client:
            if kind == TransferKind.WALLET:
                src, dst = params.get("from_wallet") or "", params.get("to_wallet") or ""
                if not src or not dst or src == dst:
                    return Transferable(problem="Choose two different wallets to see what can be moved.")
                coins = client.transferable_coins(src, dst)
                rows = [(c.asset, c.amount) for c in coins]
                what = f"Transferable from {src} to {dst}"
            elif kind == TransferKind.FAMILY:
                need = ("from_uid", "from_account_type", "to_uid", "to_account_type")
                numbers = [ascii_int(params.get(n)) for n in need]
                if None in numbers:
                    return Transferable(problem="Enter both UIDs and wallets to see what can be moved.")
                from_uid, from_account_type, to_uid, to_account_type = (int(n or 0) for n in numbers)
                family = client.sub_account_transferable_coins(
                    from_uid, from_account_type, to_uid, to_account_type
                )
                rows = [(c.asset, c.available_amount) for c in family]
                what = f"Transferable from {params['from_uid']} to {params['to_uid']}"
            else:
                balances = client.fund_balances(asset or None)
                rows = [(b.asset, b.free) for b in balances]
                what = f"Funding wallet balance of {key_set.label}"
    except Exception as exc:
        return Transferable(problem=exchange_problem(exc=exc, key_set=key_set).message)
    if asset:
        rows = [r for r in rows if r[0].upper() == asset]
    return Transferable(rows=rows, what=what)
