"""The one table of BingX endpoints (bingx-api.md §5): path, method, transport, envelope, per-UID rate
limit, the API-key permission each needs, and whether it moves money.

Pure Python, no imports beyond the standard library. Everything that needs to know about an endpoint
reads it from here: the client (what to send, whether a read may be retried), the sandbox (routing,
permission and rate-limit checks), and the desk above (shared rate limiter, permission messages).

    from bingx import endpoints

    endpoints.ASSET_TRANSFER.path            # "/openApi/api/asset/v1/transfer"
    endpoints.ASSET_TRANSFER.moves_money     # True
    endpoints.endpoint_for("/openApi/fund/v1/account/balance").permission   # 4
    endpoints.PERMISSION_NAMES[4]            # "Universal transfer"

Per-UID limits are BingX's documented requests per second per account UID and endpoint (the first
figure where the docs give two: fund balance 10/s, older doc 2/s; inner transfer apply 2/s, other doc
page 5/s; sub-account inner-transfer records and authorizeSubAccount 5/s, a copy of the docs 10/s).
``None`` means not limited per UID (public endpoints). Endpoints not in the table get
:data:`DEFAULT_PER_UID_LIMIT`.

Permission codes (``GET /openApi/v1/account/apiPermissions``, §6.18): 1 spot trading, 2 read,
3 contract trading, 4 universal transfer, 5 withdraw (needed for main-account inner transfers),
7 sub-account inner transfer. ``permission=None`` only for public endpoints: every signed endpoint
names the one permission BingX's docs give it ("API KEY permission: …" on each endpoint's docs page,
account and sub-account sections; the shared reference's bingx-api.md §5 table).
authorizeSubAccount's documented "Manage Subaccounts" has no numeric code; see its entry.

Envelopes (§4), the shape of a successful answer:

* ``std``: ``{"code": 0, "msg": "", "timestamp": …, "data": {…}}``;
* ``spot``: ``{"code": 0, "msg": "", "debugMsg": "", "data": {…}}`` — no ``timestamp`` (spot v1 family);
* ``data.data``: ``std`` whose ``data`` holds the rows under a second ``data`` (inner-transfer records);
* ``double``: ``std`` whose ``data`` is itself a ``std`` envelope (sub-account transferAsset);
* ``bare``: no envelope at all (``{"total", "rows"}``, apiPermissions, legacy ``{"tranId"}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ACCOUNT_UID",
    "API_PERMISSIONS",
    "ASSET_OVERVIEW",
    "ASSET_TRANSFER",
    "ASSET_TRANSFER_SUPPORT_COINS",
    "AUTHORIZE_SUB_ACCOUNT",
    "DEFAULT_PER_UID_LIMIT",
    "ENDPOINTS",
    "FUND_BALANCE",
    "INNER_TRANSFER_APPLY",
    "INNER_TRANSFER_RECORDS",
    "LEGACY_TRANSFER",
    "LEGACY_TRANSFER_RECORDS",
    "PERMISSION_NAMES",
    "PERM_CONTRACT_TRADING",
    "PERM_READ",
    "PERM_SPOT_TRADING",
    "PERM_SUB_INNER_TRANSFER",
    "PERM_UNIVERSAL_TRANSFER",
    "PERM_WITHDRAW",
    "SERVER_TIME",
    "SPOT_BALANCE",
    "SPOT_SERVER_TIME",
    "SUB_ACCOUNT_ASSETS",
    "SUB_ACCOUNT_LIST",
    "SUB_ALL_ACCOUNT_BALANCE",
    "SUB_INNER_TRANSFER_APPLY",
    "SUB_INNER_TRANSFER_RECORDS",
    "SUB_TRANSFER_ASSET",
    "SUB_TRANSFER_HISTORY",
    "SUB_TRANSFER_SUPPORT_COINS",
    "TRANSFER_RECORDS",
    "Endpoint",
    "Envelope",
    "Method",
    "Transport",
    "endpoint_for",
]

Method = Literal["GET", "POST"]
Transport = Literal["query", "json"]
Envelope = Literal["std", "spot", "data.data", "double", "bare"]

PERM_SPOT_TRADING = 1
PERM_READ = 2
PERM_CONTRACT_TRADING = 3
PERM_UNIVERSAL_TRANSFER = 4
PERM_WITHDRAW = 5
PERM_SUB_INNER_TRANSFER = 7

# Code → the name the desk shows people (key-set pages, permission warnings).
PERMISSION_NAMES: dict[int, str] = {
    PERM_SPOT_TRADING: "Spot trading",
    PERM_READ: "Read",
    PERM_CONTRACT_TRADING: "Contract trading",
    PERM_UNIVERSAL_TRANSFER: "Universal transfer",
    PERM_WITHDRAW: "Withdraw",
    PERM_SUB_INNER_TRANSFER: "Sub-account inner transfer",
}

DEFAULT_PER_UID_LIMIT = 5


@dataclass(frozen=True)
class Endpoint:
    """One BingX REST endpoint.

    ``moves_money``: a successful call moves assets (the transfer applies); never retried blindly.
    ``writes``: changes exchange-side settings without moving money (authorizeSubAccount); not
    retried automatically either. ``transport``: ``query`` = signed query string (any method),
    ``json`` = signed JSON body, required by the endpoint.
    """

    name: str
    method: Method
    path: str
    per_uid_limit: int | None
    permission: int | None
    transport: Transport = "query"
    envelope: Envelope = "std"
    moves_money: bool = False
    writes: bool = False
    public: bool = False

    def __post_init__(self) -> None:
        if not self.path.startswith("/openApi/"):
            raise ValueError(f"{self.name}: path must start with /openApi/")
        if self.moves_money and self.method != "POST":
            raise ValueError(f"{self.name}: a money-moving endpoint is a POST")
        if self.public and (self.permission is not None or self.per_uid_limit is not None):
            raise ValueError(f"{self.name}: a public endpoint has no permission and no per-UID limit")

    @property
    def read_only(self) -> bool:
        """Changes nothing on the exchange (GETs, and the JSON ``supportCoins`` POST): safe to retry."""
        return not (self.moves_money or self.writes)

    @property
    def permission_name(self) -> str | None:
        """Human name of :attr:`permission` (``None`` when any valid key may call)."""
        if self.permission is None:
            return None
        return PERMISSION_NAMES.get(self.permission, f"permission {self.permission}")


# -- public ------------------------------------------------------------------------------------------
SERVER_TIME = Endpoint("server_time", "GET", "/openApi/swap/v2/server/time", None, None, public=True)
SPOT_SERVER_TIME = Endpoint(
    "spot_server_time", "GET", "/openApi/spot/v1/server/time", None, None, envelope="spot", public=True
)

# -- identity ----------------------------------------------------------------------------------------
ACCOUNT_UID = Endpoint("account_uid", "GET", "/openApi/account/v1/uid", 5, PERM_READ)
API_PERMISSIONS = Endpoint(
    "api_permissions", "GET", "/openApi/v1/account/apiPermissions", 5, PERM_READ, envelope="bare"
)

# -- balances ----------------------------------------------------------------------------------------
SPOT_BALANCE = Endpoint(
    "spot_balance", "GET", "/openApi/spot/v1/account/balance", 5, PERM_READ, envelope="spot"
)
# Universal transfer per the docs' permission table, although it only reads.
FUND_BALANCE = Endpoint(
    "fund_balance", "GET", "/openApi/fund/v1/account/balance", 10, PERM_UNIVERSAL_TRANSFER
)
ASSET_OVERVIEW = Endpoint("asset_overview", "GET", "/openApi/account/v1/allAccountBalance", 5, PERM_READ)

# -- own-account transfers ---------------------------------------------------------------------------
ASSET_TRANSFER = Endpoint(
    "asset_transfer", "POST", "/openApi/api/asset/v1/transfer", 2, PERM_UNIVERSAL_TRANSFER, moves_money=True
)
ASSET_TRANSFER_SUPPORT_COINS = Endpoint(
    "asset_transfer_support_coins",
    "GET",
    "/openApi/api/asset/v1/transfer/supportCoins",
    2,
    PERM_UNIVERSAL_TRANSFER,
)
TRANSFER_RECORDS = Endpoint(
    "transfer_records",
    "GET",
    "/openApi/api/v3/asset/transferRecord",
    2,
    PERM_UNIVERSAL_TRANSFER,
    envelope="bare",
)
LEGACY_TRANSFER_RECORDS = Endpoint(
    "legacy_transfer_records", "GET", "/openApi/api/v3/asset/transfer", 10, PERM_READ, envelope="bare"
)
LEGACY_TRANSFER = Endpoint(
    "legacy_transfer",
    "POST",
    "/openApi/api/v3/post/asset/transfer",
    2,
    PERM_UNIVERSAL_TRANSFER,
    envelope="bare",
    moves_money=True,
)

# -- inner transfers (user to user) ------------------------------------------------------------------
INNER_TRANSFER_APPLY = Endpoint(
    "inner_transfer_apply",
    "POST",
    "/openApi/wallets/v1/capital/innerTransfer/apply",
    2,
    PERM_WITHDRAW,
    moves_money=True,
)
INNER_TRANSFER_RECORDS = Endpoint(
    "inner_transfer_records",
    "GET",
    "/openApi/wallets/v1/capital/innerTransfer/records",
    10,
    PERM_READ,
    envelope="data.data",
)
SUB_INNER_TRANSFER_APPLY = Endpoint(
    "sub_inner_transfer_apply",
    "POST",
    "/openApi/wallets/v1/capital/subAccountInnerTransfer/apply",
    5,
    PERM_SUB_INNER_TRANSFER,
    moves_money=True,
)
SUB_INNER_TRANSFER_RECORDS = Endpoint(
    "sub_inner_transfer_records",
    "GET",
    "/openApi/wallets/v1/capital/subAccount/innerTransfer/records",
    5,
    PERM_READ,
    envelope="data.data",
)
AUTHORIZE_SUB_ACCOUNT = Endpoint(
    "authorize_sub_account",
    "POST",
    "/openApi/account/v1/innerTransfer/authorizeSubAccount",
    5,
    # Docs: "API KEY permission: Manage Subaccounts" (sub-account docs, "Authorize sub-account internal
    # transfers"; bingx-api.md §5 row 14), a permission apiPermissions has no code for (1,2,3,4,5,7).
    # Strictest sensible real code: Withdraw. The call lets money leave sub-accounts to other accounts,
    # the same power BingX guards with Withdraw for the main account's own inner transfers (§6.9); a
    # transfer-only or read-only key must never grant it.
    PERM_WITHDRAW,
    writes=True,
)

# -- master ↔ sub family transfers (JSON body) -------------------------------------------------------
SUB_TRANSFER_ASSET = Endpoint(
    "sub_transfer_asset",
    "POST",
    "/openApi/account/transfer/v1/subAccount/transferAsset",
    5,
    PERM_UNIVERSAL_TRANSFER,
    transport="json",
    envelope="double",
    moves_money=True,
)
SUB_TRANSFER_SUPPORT_COINS = Endpoint(
    "sub_transfer_support_coins",
    "POST",
    "/openApi/account/transfer/v1/subAccount/transferAsset/supportCoins",
    5,
    PERM_READ,  # docs: "API KEY permission: Read" (§5 row 16 "(Read/Universal)"; the docs page says Read)
    transport="json",
)
SUB_TRANSFER_HISTORY = Endpoint(
    "sub_transfer_history",
    "GET",
    "/openApi/account/transfer/v1/subAccount/asset/transferHistory",
    5,
    PERM_READ,
    envelope="bare",
)

# -- sub-accounts (read side) ------------------------------------------------------------------------
SUB_ACCOUNT_LIST = Endpoint("sub_account_list", "GET", "/openApi/subAccount/v1/list", 5, PERM_READ)
SUB_ACCOUNT_ASSETS = Endpoint("sub_account_assets", "GET", "/openApi/subAccount/v1/assets", 5, PERM_READ)
SUB_ALL_ACCOUNT_BALANCE = Endpoint(
    "sub_all_account_balance", "GET", "/openApi/subAccount/v1/allAccountBalance", 5, PERM_READ
)

ENDPOINTS: dict[str, Endpoint] = {
    e.path: e
    for e in (
        SERVER_TIME,
        SPOT_SERVER_TIME,
        ACCOUNT_UID,
        API_PERMISSIONS,
        SPOT_BALANCE,
        FUND_BALANCE,
        ASSET_OVERVIEW,
        ASSET_TRANSFER,
        ASSET_TRANSFER_SUPPORT_COINS,
        TRANSFER_RECORDS,
        LEGACY_TRANSFER_RECORDS,
        LEGACY_TRANSFER,
        INNER_TRANSFER_APPLY,
        INNER_TRANSFER_RECORDS,
        SUB_INNER_TRANSFER_APPLY,
        SUB_INNER_TRANSFER_RECORDS,
        AUTHORIZE_SUB_ACCOUNT,
        SUB_TRANSFER_ASSET,
        SUB_TRANSFER_SUPPORT_COINS,
        SUB_TRANSFER_HISTORY,
        SUB_ACCOUNT_LIST,
        SUB_ACCOUNT_ASSETS,
        SUB_ALL_ACCOUNT_BALANCE,
    )
}


def endpoint_for(path: str) -> Endpoint | None:
    """The endpoint at ``path`` (exact, without query string), or None if BingX's table lacks it."""
    return ENDPOINTS.get(path)
