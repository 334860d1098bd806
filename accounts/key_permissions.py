"""What the desk needs from a BingX API key, against what the key can do. Pure: no I/O.

Permission codes and names come from the endpoint table (bingx.endpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accounts.models import AccountKind
from bingx.endpoints import (
    PERM_READ,
    PERM_SUB_INNER_TRANSFER,
    PERM_UNIVERSAL_TRANSFER,
    PERM_WITHDRAW,
    PERMISSION_NAMES,
)

__all__ = ["NEEDS", "PERMISSION_NAMES", "Need", "permission_report"]


@dataclass(frozen=True)
class Need:
    code: int
    purpose: str
    kinds: tuple[str, ...]


NEEDS = (
    Need(PERM_READ, "balances, records and verification", (AccountKind.MAIN, AccountKind.SUB)),
    Need(
        PERM_UNIVERSAL_TRANSFER,
        "moves between own wallets and master-driven family transfers",
        (AccountKind.MAIN, AccountKind.SUB),
    ),
    Need(PERM_WITHDRAW, "inner transfers to another main account or an own sub-account", (AccountKind.MAIN,)),
    Need(
        PERM_SUB_INNER_TRANSFER, "sub-account inner transfers (sub → sub or sub → main)", (AccountKind.SUB,)
    ),
)


def permission_report(
    *, account_kind: str, permissions: list[int], ip_whitelist: list[str]
) -> dict[str, Any]:
    """What the key can do against what the desk needs, with warnings. Pure: no I/O."""
    have = set(permissions)
    needs = [
        {
            "code": need.code,
            "name": PERMISSION_NAMES[need.code],
            "purpose": need.purpose,
            "present": need.code in have,
        }
        for need in NEEDS
        if account_kind in need.kinds
    ]
    needed_codes = {n["code"] for n in needs}
    warnings = [
        f"Missing permission {n['code']} ({n['name']}): {n['purpose']} will be refused by BingX."
        for n in needs
        if not n["present"]
    ]
    for code in sorted(have - needed_codes):
        name = PERMISSION_NAMES.get(code, "unknown")
        warnings.append(
            f"The key has permission {code} ({name}) that nothing here needs; "
            "remove it on BingX to limit the damage if the key leaks."
        )
    if not ip_whitelist:
        warnings.append(
            "The key has no IP whitelist: anyone holding it can use it from anywhere. "
            "Restrict it to this desk's server IP addresses."
        )
    return {"needs": needs, "warnings": warnings}
