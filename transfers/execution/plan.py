"""What an approved request becomes on the wire: the endpoint of its kind and the exact values, all
taken from the approved payload (never from the editable columns)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import bingx
from bingx import endpoints
from transfers.models import TransferKind, TransferRequest

# The money-moving endpoint of each kind, and the records endpoint reconciliation reads for it.
SEND_ENDPOINTS: dict[str, endpoints.Endpoint] = {
    TransferKind.WALLET: endpoints.ASSET_TRANSFER,
    TransferKind.INNER: endpoints.INNER_TRANSFER_APPLY,
    TransferKind.SUB_INNER: endpoints.SUB_INNER_TRANSFER_APPLY,
    TransferKind.FAMILY: endpoints.SUB_TRANSFER_ASSET,
}
RECORD_ENDPOINTS: dict[str, endpoints.Endpoint] = {
    TransferKind.WALLET: endpoints.TRANSFER_RECORDS,
    TransferKind.INNER: endpoints.INNER_TRANSFER_RECORDS,
    TransferKind.SUB_INNER: endpoints.SUB_INNER_TRANSFER_RECORDS,
    TransferKind.FAMILY: endpoints.SUB_TRANSFER_HISTORY,
}


@dataclass(frozen=True)
class PlannedCall:
    endpoint: str
    params: dict[str, Any]  # what we intend to send, for the attempt row when nothing was signed
    send: Callable[[bingx.Client], str]  # performs the call, returns the exchange id


def family_remark(req: TransferRequest) -> str:
    """The remark BingX requires on family transfers; it carries our client id for people reading history."""
    return str(req.payload.get("remark") or f"bingxadmin {req.client_id}")


def _wallet(req: TransferRequest, asset: str, amount: Decimal) -> PlannedCall:
    p = req.payload
    params: dict[str, Any] = {
        "fromAccount": p["from_wallet"],
        "toAccount": p["to_wallet"],
        "asset": asset,
        "amount": str(amount),
    }
    return PlannedCall(
        SEND_ENDPOINTS[TransferKind.WALLET].path,
        params,
        lambda c: (
            c.transfer(
                from_account=p["from_wallet"], to_account=p["to_wallet"], asset=asset, amount=amount
            ).id
        ),
    )


def _inner(req: TransferRequest, asset: str, amount: Decimal) -> PlannedCall:
    # Same parameters for both endpoints; only main-account inner transfers take a client id.
    p = req.payload
    inner: dict[str, Any] = {
        "coin": asset,
        "user_account_type": int(p["recipient_type"]),
        "user_account": str(p["recipient_account"]),
        "amount": amount,
        "wallet_type": int(p["wallet_type"]),
        "calling_code": p.get("calling_code") or None,
    }
    params: dict[str, Any] = {
        "coin": asset,
        "userAccountType": inner["user_account_type"],
        "userAccount": inner["user_account"],
        "amount": str(amount),
        "walletType": inner["wallet_type"],
        "callingCode": inner["calling_code"],
    }
    if req.kind == TransferKind.INNER:
        params["transferClientId"] = req.client_id
        return PlannedCall(
            SEND_ENDPOINTS[TransferKind.INNER].path,
            params,
            lambda c: c.inner_transfer(**inner, transfer_client_id=req.client_id).id,
        )
    return PlannedCall(
        SEND_ENDPOINTS[TransferKind.SUB_INNER].path,
        params,
        lambda c: c.sub_account_inner_transfer(**inner).id,
    )


def _family(req: TransferRequest, asset: str, amount: Decimal) -> PlannedCall:
    p = req.payload
    sides = {
        "from_uid": int(p["from_uid"]),
        "from_type": int(p["from_type"]),
        "from_account_type": int(p["from_account_type"]),
        "to_uid": int(p["to_uid"]),
        "to_type": int(p["to_type"]),
        "to_account_type": int(p["to_account_type"]),
    }
    params: dict[str, Any] = {
        "assetName": asset,
        "transferAmount": str(amount),
        "fromUid": sides["from_uid"],
        "fromType": sides["from_type"],
        "fromAccountType": sides["from_account_type"],
        "toUid": sides["to_uid"],
        "toType": sides["to_type"],
        "toAccountType": sides["to_account_type"],
        "remark": family_remark(req),
    }
    return PlannedCall(
        SEND_ENDPOINTS[TransferKind.FAMILY].path,
        params,
        lambda c: (
            c.sub_account_transfer(asset=asset, amount=amount, **sides, remark=family_remark(req)).tran_id
        ),
    )


_PLANNERS: dict[str, Callable[[TransferRequest, str, Decimal], PlannedCall]] = {
    TransferKind.WALLET: _wallet,
    TransferKind.INNER: _inner,
    TransferKind.SUB_INNER: _inner,
    TransferKind.FAMILY: _family,
}


def plan_call(req: TransferRequest) -> PlannedCall:
    """The endpoint and exact values for the request's kind, taken from the approved payload."""
    planner = _PLANNERS.get(req.kind)
    if planner is None:
        raise ValueError(f"unknown transfer kind {req.kind!r}")
    return planner(req, str(req.payload["asset"]), Decimal(str(req.payload["amount"])))
