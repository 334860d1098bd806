"""One exchange record, whatever endpoint it came from, normalised into `TransferRecord` fields."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import bingx

# Legacy `type` names of the funding and futures wallets (§6.7); grid and copy-trading types are not
# wallets this desk moves money between.
LEGACY_WALLET_BY_NAME = {"FUND": "fund", "SFUTURES": "stdFutures", "PFUTURES": "USDTMPerp"}
LEGACY_TYPES: tuple[str, ...] = tuple(
    f"{a}_{b}" for a in LEGACY_WALLET_BY_NAME for b in LEGACY_WALLET_BY_NAME if a != b
)
# Family-history type fragments (§6.16): CAPITAL = funding, CONTRACT = standard futures, SWAP = perpetual.
FAMILY_WALLET_BY_NAME = {"CAPITAL": "fund", "CONTRACT": "stdFutures", "SWAP": "USDTMPerp"}

INNER_PENDING = "4"  # inner-transfer status 4 = pending review; 5 failed, 6 completed
_PENDING_WORDS = ("PEND", "PROCESS", "REVIEW")


@dataclass(frozen=True)
class Row:
    """One record as we store it; `time_ms` drives the cursor."""

    exchange_id: str
    asset: str
    amount: Decimal
    status: str
    from_account: str
    to_account: str
    direction: str
    counterparty: str
    transfer_client_id: str
    time_ms: int | None
    raw: dict[str, Any]

    @property
    def pending(self) -> bool:
        upper = self.status.upper()
        return self.status == INNER_PENDING or any(w in upper for w in _PENDING_WORDS)


def _jsonable(value: Any) -> Any:
    """The client parses JSON numbers as Decimal; JSONField needs plain JSON (amounts kept exact)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def asset_row(r: bingx.TransferRecord) -> Row:
    return Row(
        exchange_id=r.transfer_id,
        asset=r.asset.upper(),
        amount=abs(r.amount),
        status=r.status,
        from_account=r.from_account,
        to_account=r.to_account,
        direction="",
        counterparty="",
        transfer_client_id="",
        time_ms=r.timestamp,
        raw=_jsonable(r.raw),
    )


def legacy_row(r: bingx.LegacyTransferRecord) -> Row:
    src, _, dst = r.type.partition("_")
    return Row(
        exchange_id=r.tran_id,
        asset=r.asset.upper(),
        amount=abs(r.amount),  # older answers carried a minus sign on outgoing rows
        status=r.status,
        from_account=LEGACY_WALLET_BY_NAME.get(src, src),
        to_account=LEGACY_WALLET_BY_NAME.get(dst, dst),
        direction="",
        counterparty="",
        transfer_client_id="",
        time_ms=r.timestamp,
        raw=_jsonable(r.raw),
    )


def inner_row(r: bingx.InnerTransferRecord) -> Row:
    out = r.record_type != "in"
    return Row(
        exchange_id=r.id,
        asset=r.coin.upper(),
        amount=abs(r.amount),
        status=str(r.status),
        from_account=r.from_uid or "",
        to_account=r.receiver,
        direction=r.record_type,
        counterparty=r.receiver if out else (r.from_uid or ""),
        transfer_client_id=r.transfer_client_id or "",
        time_ms=r.time,
        raw=_jsonable(r.raw),
    )


def _family_side(uid: str | None, part: str) -> str:
    """One side as "10000002/USDTMPerp" from a uid and a type half like "SUB_SWAP" (bare uid if unknown)."""
    wallet = FAMILY_WALLET_BY_NAME.get(part.partition("_")[2], "")
    return f"{uid or ''}/{wallet}" if wallet else (uid or "")


def family_row(r: bingx.SubAccountTransferRecord, *, main_uid: str) -> Row:
    src, _, dst = r.type.partition("_TO_")
    if r.from_uid == main_uid:
        direction, other = "out", r.to_uid
    elif r.to_uid == main_uid:
        direction, other = "in", r.from_uid
    else:
        direction, other = "", r.to_uid  # between two sub-accounts
    return Row(
        exchange_id=r.tran_id,
        asset=r.asset.upper(),
        amount=abs(r.amount),
        status=r.status,
        from_account=_family_side(r.from_uid, src),
        to_account=_family_side(r.to_uid, dst),
        direction=direction,
        counterparty=other or "",
        transfer_client_id="",
        time_ms=r.timestamp,
        raw=_jsonable(r.raw),
    )
