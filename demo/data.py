"""What the demo desk consists of: people, sandbox key sets, a policy rule and a few past transfers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings

from accounts.models import AccountKind

DEFAULT_SEED = Path(settings.BASE_DIR) / "bingx" / "sandbox" / "seeds" / "demo.json"
MAIN_UID, SUB1_UID, SUB2_UID = 10000001, 10000002, 10000003


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    groups: tuple[str, ...]
    role: str
    superuser: bool = False
    staff: bool = False


DEMO_USERS = (
    # Not a superuser: a superuser is break-glass only (its logins and changes are audit events).
    DemoUser("admin", "Ada", ("administrator",), "administrator: adds key sets", False, True),
    DemoUser(
        "admin2",
        "Ben",
        ("administrator", "approver"),
        "second administrator: activates key sets, approves",
        False,
        True,
    ),
    DemoUser("alice", "Alice", ("requester", "approver"), "requests and approves transfers"),
    DemoUser("bob", "Bob", ("requester", "approver"), "requests and approves transfers"),
    DemoUser("victor", "Victor", ("viewer",), "viewer: sees everything, changes nothing"),
)


@dataclass(frozen=True)
class DemoKeySet:
    label: str
    uid: int
    kind: str


DEMO_KEY_SETS = (
    DemoKeySet("Demo main 10000001", MAIN_UID, AccountKind.MAIN),
    DemoKeySet("Demo sub 1 10000002", SUB1_UID, AccountKind.SUB),
    DemoKeySet("Demo sub 2 10000003", SUB2_UID, AccountKind.SUB),
)
LARGE_RULE_NAME = "Demo: 10 000 USDT or more needs two approvals"
LARGE_AMOUNT = Decimal("10000")
LAST_TRANSFER_NOTE = "Demo: waiting for alice's approval"  # the last seeded transfer: its presence = done


@dataclass(frozen=True)
class PastTransfer:
    """One seeded request. `decider`: who approves ("bob"), rejects ("alice:reject"), or "" (left
    waiting). `key_set`: the index into DEMO_KEY_SETS it is made on."""

    requester: str
    decider: str
    key_set: int
    kind: str
    asset: str
    amount: str
    note: str
    fields: dict[str, Any] = field(default_factory=dict)


def _pay(uid: int) -> dict[str, Any]:
    return {"recipient_type": 1, "recipient_account": str(uid), "calling_code": "", "wallet_type": 1}


PAST_TRANSFERS = (
    PastTransfer(
        "alice",
        "bob",
        0,
        "wallet",
        "USDT",
        "1000",
        "Demo: float for spot",
        {"from_wallet": "fund", "to_wallet": "spot"},
    ),
    PastTransfer("alice", "bob", 0, "inner", "USDT", "250", "Demo: top up sub-account 1", _pay(SUB1_UID)),
    PastTransfer(
        "bob", "alice", 1, "sub_inner", "USDT", "20", "Demo: sub-account 1 pays sub-account 2", _pay(SUB2_UID)
    ),
    PastTransfer(
        "bob",
        "alice:reject",
        0,
        "wallet",
        "BTC",
        "0.05",
        "Demo: rejected example",
        {"from_wallet": "fund", "to_wallet": "spot"},
    ),
    PastTransfer(
        "bob",
        "",
        2,
        "wallet",
        "USDT",
        "50",
        LAST_TRANSFER_NOTE,
        {"from_wallet": "fund", "to_wallet": "USDTMPerp"},
    ),
)


def seed_keys(seed: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """uid → (api key, secret) of the first key of every account in the sandbox seed."""
    return {
        int(a["uid"]): (a["api_keys"][0]["api_key"], a["api_keys"][0]["secret"]) for a in seed["accounts"]
    }
