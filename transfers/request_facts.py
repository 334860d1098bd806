"""What an approver needs to know about one request, in people's words (the request page's facts):
named wallets and accounts, who requested, who decided, who else may decide, the rule that set the
quorum, the 24 h use, recent transfers to the same place and near-duplicates of the last hour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from accounts.models import ApiKeySet, User
from transfers import recipients
from transfers.kinds import wallet_label
from transfers.models import (
    FINAL_STATUSES,
    AllowedRecipient,
    Decision,
    RecipientStatus,
    Status,
    TransferKind,
    TransferRequest,
)
from transfers.payload import FAMILY_ACCOUNT_TYPES, RECIPIENT_TYPES, WALLET_TYPE_TO_WALLET
from transfers.policy import eligible_approvers

DUPLICATE_WINDOW = timedelta(hours=1)
# A duplicate that will never move money is no risk.
_NOT_DUPLICATES = (Status.REJECTED, Status.CANCELLED, Status.EXPIRED, Status.STALE, Status.FAILED)


@dataclass(frozen=True)
class Place:
    """One end of a transfer: `name` for people ("demosub1 · Funding"), `detail` the technical form."""

    name: str
    detail: str = ""
    ours: bool = False  # one of the team's own accounts
    book_label: str = ""  # the address-book entry's label, when it is one


@dataclass
class RequestFacts:
    source: Place
    destination: Place
    requester: User
    approved_by: list[User]
    rejected_by: list[User]
    may_still_approve: list[User]
    quorum_rule: str
    heading: str
    duplicates: list[TransferRequest] = field(default_factory=list)


def _account_names(*, key_set: ApiKeySet) -> dict[int, str]:
    """UID → how the desk names that account ("sub-account demosub1", "main account of Demo main")."""
    try:
        return recipients.own_uids(key_set=key_set)
    except (TypeError, ValueError):
        return {}


def _uid_place(*, uid: Any, names: dict[int, str], key_set: ApiKeySet, wallet: str = "") -> Place:
    try:
        number = int(uid)
    except (TypeError, ValueError):
        return Place(name=f"UID {uid}{wallet}")
    if key_set.uid and number == int(key_set.uid):
        return Place(name=f"{key_set.label} (this key set){wallet}", detail=f"UID {number}", ours=True)
    name = names.get(number)
    if name:
        # "sub-account demosub1" → "Our sub-account demosub1"
        return Place(name=f"our {name}{wallet}", detail=f"UID {number}", ours=True)
    return Place(name=f"UID {number}{wallet}", detail="not one of our accounts")


def _book_entry(*, rtype: int, account: str, calling: str) -> AllowedRecipient | None:
    return AllowedRecipient.objects.filter(
        recipient_type=rtype, account=account, calling_code=calling, status=RecipientStatus.ACTIVE
    ).first()


def places_of(*, req: TransferRequest) -> tuple[Place, Place]:
    """The source and the destination in people's words."""
    p = req.payload or {}
    ks = req.key_set
    if req.kind == TransferKind.WALLET:
        return (
            Place(name=f"{wallet_label(p.get('from_wallet'))} wallet of {ks.label}", ours=True),
            Place(name=f"{wallet_label(p.get('to_wallet'))} wallet of {ks.label}", ours=True),
        )
    names = _account_names(key_set=ks)
    if req.kind in (TransferKind.INNER, TransferKind.SUB_INNER):
        wallet = wallet_label(WALLET_TYPE_TO_WALLET.get(int(p.get("wallet_type") or 0), ""))
        source = Place(name=f"{wallet} wallet of {ks.label}", ours=True)
        rtype = int(p.get("recipient_type") or 0)
        account = str(p.get("recipient_account") or "")
        calling = str(p.get("calling_code") or "")
        entry = req.recipient or _book_entry(rtype=rtype, account=account, calling=calling)
        if rtype == 1:
            dest = _uid_place(uid=account, names=names, key_set=ks)
        else:
            shown = f"+{calling} {account}" if calling else account
            dest = Place(name=f"{RECIPIENT_TYPES.get(rtype, '?').lower()} {shown}")
        if entry is not None:
            dest = Place(
                name=f"{entry.label} (address book)",
                detail=f"{RECIPIENT_TYPES.get(rtype, '?')} {account}",
                ours=dest.ours,
                book_label=entry.label,
            )
        return source, dest
    if req.kind == TransferKind.FAMILY:
        src_wallet = FAMILY_ACCOUNT_TYPES.get(int(p.get("from_account_type") or 0), "?")
        dst_wallet = FAMILY_ACCOUNT_TYPES.get(int(p.get("to_account_type") or 0), "?")
        return (
            _uid_place(uid=p.get("from_uid"), names=names, key_set=ks, wallet=f" · {src_wallet}"),
            _uid_place(uid=p.get("to_uid"), names=names, key_set=ks, wallet=f" · {dst_wallet}"),
        )
    return Place(name="?"), Place(name="?")


_IN_FLIGHT = (Status.APPROVED, Status.SUBMITTING, Status.UNKNOWN)


def summary_heading(*, status: str) -> str:
    """The page's summary heading: what would be, is being, or was executed."""
    if status in FINAL_STATUSES:
        return "What was executed" if status in (Status.SUCCEEDED, Status.FAILED) else "What was requested"
    return "What is being executed" if status in _IN_FLIGHT else "What would be executed"


def quorum_rule_text(*, req: TransferRequest) -> str:
    n = req.required_approvals
    needs = f"{n} approval{'s' if n != 1 else ''}"
    if req.policy_rule_id and req.policy_rule is not None:
        return f"{needs}, set by rule “{req.policy_rule.name}” (policy v{req.policy_version})"
    return f"{needs}, the default of policy v{req.policy_version} (no rule matched)"


def duplicates_of(*, req: TransferRequest, visible: Any) -> list[TransferRequest]:
    """Identical requests (key set, kind, asset, amount, destination) within an hour of this one."""
    p = req.payload or {}
    qs = (
        visible.filter(
            key_set_id=req.key_set_id,
            kind=req.kind,
            asset=req.asset,
            payload__amount=p.get("amount"),
            created_at__gte=req.created_at - DUPLICATE_WINDOW,
            created_at__lte=req.created_at + DUPLICATE_WINDOW,
        )
        .exclude(pk=req.pk)
        .exclude(status__in=_NOT_DUPLICATES)
    )
    for name in _DESTINATION_FIELDS.get(req.kind, ()):
        qs = qs.filter(**{f"payload__{name}": p.get(name)})
    return list(qs.order_by("-created_at")[:10])


_DESTINATION_FIELDS: dict[str, tuple[str, ...]] = {
    TransferKind.WALLET: ("from_wallet", "to_wallet"),
    TransferKind.INNER: ("recipient_type", "recipient_account", "wallet_type"),
    TransferKind.SUB_INNER: ("recipient_type", "recipient_account", "wallet_type"),
    TransferKind.FAMILY: ("from_uid", "from_account_type", "to_uid", "to_account_type"),
}


def request_facts(*, req: TransferRequest, decisions: list[Any], visible: Any) -> RequestFacts:
    source, destination = places_of(req=req)
    approved = [d.approver for d in decisions if d.decision == Decision.APPROVE]
    rejected = [d.approver for d in decisions if d.decision == Decision.REJECT]
    decided = {u.pk for u in approved + rejected}
    still: list[User] = []
    if req.status == Status.PENDING:
        still = [
            u
            for u in eligible_approvers(key_set=req.key_set, requester=req.requested_by).order_by("username")
            if u.pk not in decided
        ]
    return RequestFacts(
        source=source,
        destination=destination,
        requester=req.requested_by,
        approved_by=approved,
        rejected_by=rejected,
        may_still_approve=still,
        quorum_rule=quorum_rule_text(req=req),
        heading=summary_heading(status=req.status),
        duplicates=duplicates_of(req=req, visible=visible),
    )


def duplicate_ids(*, rows: list[TransferRequest], visible: Any) -> set[int]:
    """Of these rows (a page of a list), the ids of requests with an identical live request within an
    hour (one query for the page): the lists' duplicate flag."""
    if not rows:
        return set()
    low = min(r.created_at for r in rows) - DUPLICATE_WINDOW
    high = max(r.created_at for r in rows) + DUPLICATE_WINDOW
    candidates = visible.filter(
        key_set_id__in={r.key_set_id for r in rows},
        asset__in={r.asset for r in rows},
        # Only the same kind and amount can match (`_same_key`): without these a queue page read and
        # decoded ~1 000 payloads (26 ms) at 10 000 requests.
        kind__in={r.kind for r in rows},
        amount__in={r.amount for r in rows},
        created_at__gte=low,
        created_at__lte=high,
    ).exclude(status__in=_NOT_DUPLICATES)
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for pk, created, *key in candidates.values_list(
        "pk", "created_at", "key_set_id", "kind", "asset", "payload"
    ):
        groups.setdefault(_same_key(*key), []).append((pk, created))
    flagged: set[int] = set()
    for r in rows:
        for pk, created in groups.get(_same_key(r.key_set_id, r.kind, r.asset, r.payload), []):
            if pk != r.pk and abs(created - r.created_at) <= DUPLICATE_WINDOW:
                flagged.add(r.pk)
                break
    return flagged


def _same_key(key_set_id: int, kind: str, asset: str, payload: Any) -> tuple[Any, ...]:
    p = payload or {}
    return (
        key_set_id,
        kind,
        asset,
        str(p.get("amount")),
        *(str(p.get(n)) for n in _DESTINATION_FIELDS.get(kind, ())),
    )
