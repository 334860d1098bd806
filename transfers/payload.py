"""The canonical payload of a transfer request: exactly what is approved and later executed.

A payload is a flat JSON object (ints and strings only, never floats) with a version, the key set's
UUID, the kind, the kind's source/destination fields, the asset (upper-case), the amount as a plain
normalised decimal string, the client id and the policy version. `payload_sha256` hashes its
sorted-keys compact JSON; approvals record that hash and the worker recomputes it (`payload_verify`)
before it signs anything.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from transfers.policy import policy_version_current

if TYPE_CHECKING:
    from accounts.models import ApiKeySet
    from transfers.models import TransferRequest

PAYLOAD_VERSION = 1

# BingX transfer endpoints accept at most 8 decimal places (coin precision on the wallet side);
# a longer amount is refused here rather than rounded by the exchange.
AMOUNT_DECIMALS = 8
AMOUNT_MAX = Decimal("1e15")

WALLETS = ("fund", "spot", "stdFutures", "USDTMPerp", "coinMPerp")
WALLET_TYPES = {1: "Funding", 2: "Standard futures", 3: "Perpetual futures"}  # inner / sub_inner
FAMILY_ACCOUNT_TYPES = {1: "Funding", 2: "Standard futures", 3: "USDT-M perpetual"}
FAMILY_MEMBER_TYPES = {1: "Main account", 2: "Sub-account"}
RECIPIENT_TYPES = {1: "UID", 2: "Phone", 3: "Email"}

# Which wallet a kind's source field names, for showing the source balance.
WALLET_TYPE_TO_WALLET = {1: "fund", 2: "stdFutures", 3: "USDTMPerp"}

# Fields per kind: name -> type. Every field is required ("" allowed only for calling_code/remark).
KIND_FIELDS: dict[str, dict[str, type]] = {
    "wallet": {"from_wallet": str, "to_wallet": str},
    "inner": {"recipient_type": int, "recipient_account": str, "calling_code": str, "wallet_type": int},
    "sub_inner": {"recipient_type": int, "recipient_account": str, "calling_code": str, "wallet_type": int},
    "family": {
        "from_uid": int,
        "from_type": int,
        "from_account_type": int,
        "to_uid": int,
        "to_type": int,
        "to_account_type": int,
        "remark": str,
    },
}
OPTIONAL_EMPTY = {"calling_code", "remark"}

# ASCII only, checked before upper-casing: Unicode case rules turn "ß" into "SS" and "ﬁ" into "FI".
_ASSET_RE = re.compile(r"[A-Za-z0-9]{1,20}", re.ASCII)


class PayloadError(ValueError):
    """A value cannot go into a canonical payload; the message is safe to show."""


def new_client_id() -> str:
    """A fresh client id: 32 hex characters, valid as BingX's transferClientId (alphanumeric, ≤ 100)."""
    return uuid.uuid4().hex


def asset_clean(value: Any) -> str:
    text = str(value or "").strip()
    if not _ASSET_RE.fullmatch(text):
        raise PayloadError("Enter an asset symbol of 1 to 20 letters A-Z or digits, for example USDT.")
    return text.upper()


def amount_clean(value: Any) -> Decimal:
    """A positive Decimal with at most 8 decimal places, normalised (no exponent, no trailing zeros)."""
    if isinstance(value, float):
        raise PayloadError("Amounts are decimals, never floats.")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PayloadError("Enter the amount as a decimal number, for example 25 or 0.015.") from None
    if not amount.is_finite():
        raise PayloadError("Enter the amount as a decimal number, for example 25 or 0.015.")
    if amount <= 0:
        raise PayloadError("The amount must be greater than zero.")
    if amount >= AMOUNT_MAX:
        raise PayloadError("The amount is too large.")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > AMOUNT_DECIMALS:
        raise PayloadError(f"BingX accepts at most {AMOUNT_DECIMALS} decimal places.")
    return amount


def amount_text(amount: Decimal) -> str:
    """The wire form: plain decimal string without exponent or trailing zeros ("100", "0.015")."""
    text = format(amount.normalize(), "f")
    return text


def payload_build(
    *,
    kind: str,
    key_set: ApiKeySet,
    asset: str,
    amount: Decimal,
    client_id: str,
    policy_version: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The canonical payload for a request. Raises PayloadError for a missing, extra or mistyped field."""
    if kind not in KIND_FIELDS:
        raise PayloadError(f"Unknown transfer kind {kind!r}.")
    spec = KIND_FIELDS[kind]
    extra = set(fields) - set(spec)
    if extra:
        raise PayloadError(f"Unexpected field(s) for a {kind} transfer: {', '.join(sorted(extra))}.")
    payload: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "key_set": str(key_set.uuid),
        "kind": kind,
        "asset": asset_clean(asset),
        "amount": amount_text(amount_clean(amount)),
        "client_id": str(client_id),
    }
    if policy_version is None:
        policy_version = policy_version_current()
    payload["policy_version"] = int(policy_version)
    for name, typ in spec.items():
        value = fields.get(name, "" if name in OPTIONAL_EMPTY else None)
        if value is None or (value == "" and name not in OPTIONAL_EMPTY):
            raise PayloadError(f"The field {name} is required for a {kind} transfer.")
        try:
            payload[name] = typ(value) if typ is int else str(value).strip()
        except (TypeError, ValueError):
            raise PayloadError(f"The field {name} must be a whole number.") from None
    return payload


def payload_json(payload: dict[str, Any]) -> str:
    """Sorted keys, compact separators: the exact text that is hashed."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def payload_sha256(payload: dict[str, Any]) -> str:
    return hashlib.sha256(payload_json(payload).encode()).hexdigest()


def payload_verify(*, request: TransferRequest) -> bool:
    """True when the stored payload still hashes to the stored hash and agrees with the request's columns."""
    payload = request.payload
    if not isinstance(payload, dict):
        return False
    if payload_sha256(payload) != request.payload_sha256:
        return False
    try:
        same_amount = Decimal(str(payload.get("amount"))) == request.amount
    except (InvalidOperation, ValueError):
        return False
    return (
        same_amount
        and payload.get("kind") == request.kind
        and payload.get("asset") == request.asset
        and payload.get("client_id") == request.client_id
        and payload.get("key_set") == str(request.key_set.uuid)
        and payload.get("policy_version") == request.policy_version
    )


def batch_payload_sha256(legs: list[dict[str, Any]]) -> str:
    """A batch's hash: SHA-256 of its legs' payloads, in leg order, as one sorted-keys compact JSON list."""
    text = json.dumps(legs, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def batch_leg_covered(
    *, batch_payload: Any, batch_sha256: str, leg_index: int | None, leg_sha256: str
) -> bool:
    """True when the batch's stored list still hashes to its hash and its leg `leg_index` is exactly the
    payload whose hash is `leg_sha256` (what a batch approval of that leg relied on)."""
    if not isinstance(batch_payload, list) or leg_index is None or not 0 <= leg_index < len(batch_payload):
        return False
    leg = batch_payload[leg_index]
    return (
        batch_payload_sha256(batch_payload) == batch_sha256
        and isinstance(leg, dict)
        and payload_sha256(leg) == leg_sha256
    )
