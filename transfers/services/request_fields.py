"""The kind-specific fields of a new request, checked and normalised: wallets for a move between own
wallets, the recipient (own family or an active address-book entry) for inner transfers, both
family members and wallets for a master-driven family transfer."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from accounts.models import ApiKeySet
from transfers.models import AllowedRecipient, TransferKind, TransferRequest
from transfers.payload import FAMILY_ACCOUNT_TYPES, FAMILY_MEMBER_TYPES, WALLET_TYPES, WALLETS
from transfers.recipients import RecipientRefused, family_uids, recipient_check, recipient_clean
from transfers.refusals import RequestRefused

Cleaned = tuple[dict[str, Any], AllowedRecipient | None]
FAMILY_FIELDS = ("from_uid", "from_type", "from_account_type", "to_uid", "to_type", "to_account_type")


def _wallet(*, kind: str, key_set: ApiKeySet, fields: dict[str, Any]) -> Cleaned:
    src, dst = str(fields.get("from_wallet") or ""), str(fields.get("to_wallet") or "")
    if src not in WALLETS or dst not in WALLETS:
        raise RequestRefused("Choose both wallets.")
    if src == dst:
        raise RequestRefused("Source and destination wallets must differ.")
    return {"from_wallet": src, "to_wallet": dst}, None


def _inner(*, kind: str, key_set: ApiKeySet, fields: dict[str, Any]) -> Cleaned:
    try:
        wallet_type = int(fields.get("wallet_type") or 0)
    except (TypeError, ValueError):
        wallet_type = 0
    if wallet_type not in WALLET_TYPES:
        raise RequestRefused("Choose the wallet the amount is paid from.")
    try:
        clean = recipient_clean(
            recipient_type=fields.get("recipient_type") or 0,
            account=str(fields.get("recipient_account") or ""),
            calling_code=str(fields.get("calling_code") or ""),
        )
        check = recipient_check(key_set=key_set, recipient=clean)
    except RecipientRefused as exc:
        raise RequestRefused(str(exc)) from None
    if kind == TransferKind.SUB_INNER and check.own_label is None and check.allowed is None:
        raise RequestRefused("A sub-account can pay only its own family or an address-book entry.")
    return {
        "recipient_type": clean.recipient_type,
        "recipient_account": clean.account,
        "calling_code": clean.calling_code,
        "wallet_type": wallet_type,
    }, check.allowed


def _family_side(*, side: str, out: dict[str, int], key_set: ApiKeySet) -> None:
    """One side of a family transfer: the main account itself, or a known sub-account of it."""
    if out[f"{side}_type"] not in FAMILY_MEMBER_TYPES:
        raise RequestRefused(f"Choose whether the {side} account is the main account or a sub-account.")
    if out[f"{side}_account_type"] not in FAMILY_ACCOUNT_TYPES:
        raise RequestRefused(f"Choose the {side} wallet.")
    uid = out[f"{side}_uid"]
    if uid <= 0:
        raise RequestRefused(f"Enter the {side} UID.")
    is_main = key_set.uid is not None and uid == int(key_set.uid)
    if out[f"{side}_type"] == 1 and not is_main:
        raise RequestRefused(
            f"The {side} UID is not this key set's main account ({key_set.uid or 'unknown'})."
        )
    if out[f"{side}_type"] == 2 and uid not in family_uids(key_set=key_set):
        raise RequestRefused(
            f"The {side} UID {uid} is not a known sub-account of this main account "
            "(discover sub-accounts on the key set page first)."
        )
    if out[f"{side}_type"] == 2 and is_main:
        raise RequestRefused(f"The {side} UID is the main account, not a sub-account.")


def _family(*, kind: str, key_set: ApiKeySet, fields: dict[str, Any]) -> Cleaned:
    try:
        out = {name: int(fields.get(name) or 0) for name in FAMILY_FIELDS}
    except (TypeError, ValueError):
        raise RequestRefused("UIDs and account types are whole numbers.") from None
    remark = str(fields.get("remark") or "").strip()
    if len(remark) > 100:
        raise RequestRefused("Keep the remark under 100 characters.")
    for side in ("from", "to"):
        _family_side(side=side, out=out, key_set=key_set)
    if (out["from_uid"], out["from_account_type"]) == (out["to_uid"], out["to_account_type"]):
        raise RequestRefused("Source and destination must differ.")
    return {**out, "remark": remark}, None


_CLEANERS: dict[str, Callable[..., Cleaned]] = {
    TransferKind.WALLET: _wallet,
    TransferKind.INNER: _inner,
    TransferKind.SUB_INNER: _inner,
    TransferKind.FAMILY: _family,
}


def request_fields_clean(*, kind: str, key_set: ApiKeySet, fields: dict[str, Any]) -> Cleaned:
    """Check and normalise the kind-specific fields. Returns (fields, address-book entry or None)."""
    cleaner = _CLEANERS.get(kind)
    if cleaner is None:
        raise RequestRefused("Unknown transfer kind.")
    return cleaner(kind=kind, key_set=key_set, fields=fields)


def request_initial_from(req: TransferRequest) -> dict[str, Any]:
    """The new-request form's initial values for "Submit again": the old request's payload as typed."""
    p = req.payload
    initial: dict[str, Any] = {
        "key_set": req.key_set_id,
        "asset": req.asset,
        "amount": format(Decimal(str(p.get("amount"))).normalize(), "f"),
        "note": req.note,
    }
    if req.kind == TransferKind.WALLET:
        initial.update(from_wallet=p.get("from_wallet"), to_wallet=p.get("to_wallet"))
    elif req.kind in (TransferKind.INNER, TransferKind.SUB_INNER):
        initial.update(
            wallet_type=p.get("wallet_type"),
            recipient_type=p.get("recipient_type"),
            recipient_account=p.get("recipient_account"),
            calling_code=p.get("calling_code") or "",
        )
    elif req.kind == TransferKind.FAMILY:
        initial.update({name: p.get(name) for name in FAMILY_FIELDS})
        remark = str(p.get("remark") or "")
        initial["remark"] = "" if remark == req.client_id else remark  # the client id was added for BingX
    return initial
