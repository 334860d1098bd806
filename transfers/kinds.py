"""What each transfer kind needs from the key set that pays it (account kind, BingX permission).

The permission of a kind is the one its money-moving endpoint needs, read from the endpoint registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import AccountKind, ApiKeySet, KeySetStatus
from bingx.endpoints import PERMISSION_NAMES
from transfers.execution.plan import SEND_ENDPOINTS
from transfers.models import TransferKind


@dataclass(frozen=True)
class KindNeeds:
    permission: int
    permission_name: str
    account_kinds: tuple[str, ...]


def _needs(kind: str, *account_kinds: str) -> KindNeeds:
    permission = SEND_ENDPOINTS[kind].permission
    assert permission is not None, f"the endpoint of {kind} transfers names no permission"
    return KindNeeds(permission, PERMISSION_NAMES[permission], account_kinds)


# Which key sets can pay with each kind (the permission comes from the kind's endpoint).
KIND_NEEDS: dict[str, KindNeeds] = {
    TransferKind.WALLET: _needs(TransferKind.WALLET, AccountKind.MAIN, AccountKind.SUB),
    TransferKind.INNER: _needs(TransferKind.INNER, AccountKind.MAIN),
    TransferKind.SUB_INNER: _needs(TransferKind.SUB_INNER, AccountKind.SUB),
    TransferKind.FAMILY: _needs(TransferKind.FAMILY, AccountKind.MAIN),
}


# BingX's wallet names as people say them ("USDTMPerp" → "USDT-M perpetual futures").
WALLET_LABELS: dict[str, str] = {
    "fund": "Funding",
    "spot": "Spot",
    "stdFutures": "Standard futures",
    "USDTMPerp": "USDT-M perpetual futures",
    "coinMPerp": "Coin-M perpetual futures",
}


def wallet_label(name: object) -> str:
    """The people's name of a BingX wallet; an unknown name is shown as given."""
    text = str(name or "")
    return WALLET_LABELS.get(text, text or "?")


def key_set_usable_for(*, key_set: ApiKeySet, kind: str) -> str | None:
    """Why the key set cannot pay a transfer of this kind, or None when it can."""
    needs = KIND_NEEDS[kind]
    if key_set.status != KeySetStatus.ACTIVE:
        return f"Key set “{key_set.label}” is not active."
    if key_set.account_kind not in needs.account_kinds:
        kinds = " or ".join(AccountKind(k).label.lower() for k in needs.account_kinds)
        return f"A {TransferKind(kind).label.lower()} transfer needs a {kinds} key set."
    perms = {int(p) for p in (key_set.permissions or []) if str(p).isdigit()}
    if needs.permission not in perms:
        return (
            f"Key set “{key_set.label}” lacks BingX permission {needs.permission} "
            f"({needs.permission_name}), which this kind of transfer needs."
        )
    return None
