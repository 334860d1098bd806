"""Pure-Python BingX client for the account, wallet, transfer and sub-account REST endpoints.

Nothing here imports Django. Quick start::

    from decimal import Decimal
    from bingx import Client, Rejected, Ambiguous, NotSent

    client = Client(api_key, secret_key)        # base_url defaults to https://open-api.bingx.com
    client.sync_time()
    print(client.uid(), client.fund_balances())
    try:
        result = client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("10"))
    except Rejected:      # the exchange refused; nothing moved
        ...
    except Ambiguous:     # may or may not have happened: reconcile with transfer_records()
        ...
    except NotSent:       # never left this machine; safe to try again
        ...

Public API:

* :class:`Client` (``bingx.client``) — one typed method per endpoint; :class:`CallInfo` audit record.
* Errors (``bingx.errors``): :class:`BingXError` → :class:`Rejected` (:class:`AuthenticationError`,
  :class:`TimestampError`, :class:`PermissionDenied`, :class:`IPNotWhitelisted`,
  :class:`InvalidParameters`, :class:`InsufficientBalance`, :class:`RateLimited`), :class:`Ambiguous`,
  :class:`NotSent`.
* Models (``bingx.models``): frozen dataclasses — :class:`ServerTime`, :class:`ApiPermissions`,
  :class:`Balance`, :class:`AssetOverviewEntry`, :class:`TransferResult`, :class:`TransferableCoin`,
  :class:`TransferRecord`, :class:`LegacyTransferRecord`, :class:`InnerTransferResult`,
  :class:`InnerTransferRecord`, :class:`SubAccountTransferResult`, :class:`SubAccountTransferableCoin`,
  :class:`SubAccountTransferRecord`, :class:`SubAccount`, and :class:`Page` (alias ``RecordsPage``).
* :func:`sign` (``bingx.signing``) — ``sign(secret, params) -> (canonical, signature)``.
* The endpoint table (``bingx.endpoints``): :class:`Endpoint` (path, method, transport, envelope,
  per-UID limit, permission, ``moves_money``/``read_only``), one constant per endpoint
  (``endpoints.SPOT_BALANCE``, ``endpoints.ASSET_TRANSFER``, …), :data:`ENDPOINTS` (by path),
  :func:`endpoint_for` and :data:`PERMISSION_NAMES` (API-key permission code → name).
"""

from . import endpoints
from .client import DEFAULT_BASE_URL, CallInfo, Client
from .endpoints import ENDPOINTS, PERMISSION_NAMES, Endpoint, endpoint_for
from .errors import (
    Ambiguous,
    AuthenticationError,
    BingXError,
    InsufficientBalance,
    InvalidParameters,
    IPNotWhitelisted,
    NotSent,
    PermissionDenied,
    RateLimited,
    Rejected,
    TimestampError,
)
from .models import (
    ApiPermissions,
    AssetOverviewEntry,
    Balance,
    InnerTransferRecord,
    InnerTransferResult,
    LegacyTransferRecord,
    Page,
    RecordsPage,
    ServerTime,
    SubAccount,
    SubAccountTransferableCoin,
    SubAccountTransferRecord,
    SubAccountTransferResult,
    TransferableCoin,
    TransferRecord,
    TransferResult,
)
from .signing import sign

__all__ = [
    "DEFAULT_BASE_URL",
    "ENDPOINTS",
    "PERMISSION_NAMES",
    "Ambiguous",
    "ApiPermissions",
    "AssetOverviewEntry",
    "AuthenticationError",
    "Balance",
    "BingXError",
    "CallInfo",
    "Client",
    "Endpoint",
    "IPNotWhitelisted",
    "InnerTransferRecord",
    "InnerTransferResult",
    "InsufficientBalance",
    "InvalidParameters",
    "LegacyTransferRecord",
    "NotSent",
    "Page",
    "PermissionDenied",
    "RateLimited",
    "RecordsPage",
    "Rejected",
    "ServerTime",
    "SubAccount",
    "SubAccountTransferRecord",
    "SubAccountTransferResult",
    "SubAccountTransferableCoin",
    "TimestampError",
    "TransferRecord",
    "TransferResult",
    "TransferableCoin",
    "endpoint_for",
    "endpoints",
    "sign",
]
