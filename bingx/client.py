"""Synchronous BingX REST client for the account / wallet / transfer / sub-account endpoints.

Usage::

    from decimal import Decimal
    from bingx import Client, InsufficientBalance, Ambiguous

    client = Client(api_key, secret_key)            # base_url="https://open-api.bingx.com"
    client.sync_time()                              # optional: store the server-clock offset
    for bal in client.fund_balances():
        print(bal.asset, bal.free, bal.locked)
    result = client.transfer("fund", "spot", "USDT", Decimal("10"))
    print(result.transfer_id)

Behaviour:

* Every signed call carries ``timestamp`` (local ms + server offset) and ``recvWindow``. Offsets are
  shared by all clients on the same base URL (:meth:`Client.sync_time`). On ``TimestampError`` (100421)
  the client resyncs and retries that call exactly once (a timestamp rejection proves nothing moved).
* Reads (GET and the read-only JSON ``supportCoins`` POST) are retried on :class:`~bingx.errors.NotSent`
  / :class:`~bingx.errors.Ambiguous` up to ``read_retries`` times with a short backoff. Money-moving
  POSTs are **never** retried automatically (apart from the timestamp case above).
* ``before_request(method, path)`` is called right before each signed request is sent (each attempt),
  e.g. to take a rate-limit token; an exception from it aborts the call (nothing is sent).
* ``on_response(CallInfo)`` is called after each attempt, successful or not, with the signed params
  (never the signature or secret), HTTP status, BingX code/msg and duration. Its exceptions are logged
  and swallowed so auditing can never turn a completed transfer into an error.
* Secrets never appear in ``repr``, logs or exception messages; log lines carry method, path, code and
  duration only.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import requests
import urllib3.exceptions

from . import envelope
from .errors import (
    Ambiguous,
    BingXError,
    NotSent,
    RateLimited,
    Rejected,
    TimestampError,
    error_for_http_status,
)
from .models import (
    ApiPermissions,
    AssetOverviewEntry,
    Balance,
    InnerTransferRecord,
    InnerTransferResult,
    LegacyTransferRecord,
    Page,
    ServerTime,
    SubAccount,
    SubAccountTransferableCoin,
    SubAccountTransferRecord,
    SubAccountTransferResult,
    TransferableCoin,
    TransferRecord,
    TransferResult,
    to_id,
)
from .signing import Mode, build, format_decimal

__all__ = ["DEFAULT_BASE_URL", "CallInfo", "Client"]

DEFAULT_BASE_URL = "https://open-api.bingx.com"
SERVER_TIME_PATH = "/openApi/swap/v2/server/time"

T = TypeVar("T")
Amount = Decimal | int | str
Uid = int | str
Timeout = tuple[float, float]


@dataclass(frozen=True)
class CallInfo:
    """One attempt of one signed call, for audit. ``params`` are the signed values (no signature).

    ``http_status``/``code`` are None when no HTTP answer arrived; ``error`` names the exception class
    raised for this attempt (None on success); ``attempt`` counts from 1.
    """

    method: str
    path: str
    params: dict[str, str]
    http_status: int | None
    code: int | None
    msg: str
    duration_ms: int
    error: str | None = None
    attempt: int = 1
    base_url: str = field(default="", compare=False)


_SIGNED_QUERY_RE = re.compile(r"\?[^\s\"']*signature=[^\s\"']*")


def _redact(value: Any) -> Any:
    if isinstance(value, str) and "signature=" in value:
        return _SIGNED_QUERY_RE.sub("?<signed query redacted>", value)
    return value


class _RedactSignedQueries(logging.Filter):
    """urllib3 logs full request URLs at DEBUG; drop the signed query string from those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) for a in record.args)
        return True


_REDACTOR = _RedactSignedQueries()


def _install_redactor() -> None:
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
        log = logging.getLogger(name)
        if _REDACTOR not in log.filters:
            log.addFilter(_REDACTOR)


class _TimeOffsets:
    """Process-wide registry: base URL → (server clock - local clock) in ms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offsets: dict[str, int] = {}

    def get(self, base_url: str) -> int:
        with self._lock:
            return self._offsets.get(base_url, 0)

    def set(self, base_url: str, offset_ms: int) -> None:
        with self._lock:
            self._offsets[base_url] = offset_ms

    def clear(self) -> None:
        with self._lock:
            self._offsets.clear()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _amount(value: Amount, name: str = "amount") -> Decimal:
    """Validate an amount: Decimal/int/str only (float → TypeError), finite, > 0."""
    if isinstance(value, (bool, float)):
        raise TypeError(f"{name} must be Decimal (or str/int), not {type(value).__name__}")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, (int, str)):
        try:
            d = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"{name} is not a decimal number") from exc
    else:
        raise TypeError(f"{name} must be Decimal (or str/int), not {type(value).__name__}")
    if not d.is_finite() or d <= 0:
        raise ValueError(f"{name} must be a finite number greater than 0")
    format_decimal(d)
    return d


def _uid(value: Uid, name: str) -> int:
    """UIDs go on the wire as integers (JSON numbers in JSON mode)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"{name} must be int or a string of digits")
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"{name} must be a number")
    return int(text)


_NOT_CONNECTED = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)


def _classify_transport(exc: requests.RequestException, path: str) -> BingXError:
    """requests exception → NotSent (nothing left the machine) or Ambiguous (it may have been sent)."""
    name = type(exc).__name__
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return NotSent(f"connect timeout ({name})", path=path)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return Ambiguous("read timeout: request sent, no answer", path=path)
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return Ambiguous(f"response broken off ({name})", path=path)
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidHeader,
        ),
    ):
        return NotSent(f"request not sent ({name})", path=path)
    if isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.ProxyError)):
        return NotSent(f"connection not established ({name})", path=path)
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason: BaseException | None = (
            exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        )
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        if isinstance(
            reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
        ):
            # Includes connection refused and DNS failures (NameResolutionError).
            return NotSent("could not connect to the exchange", path=path)
        if isinstance(reason, urllib3.exceptions.ProtocolError):
            return Ambiguous("connection lost after the request was sent", path=path)
        return Ambiguous(f"connection error, outcome unknown ({name})", path=path)
    return Ambiguous(f"transport error, outcome unknown ({name})", path=path)


class Client:
    """BingX REST client. See the module docstring for retry, hook and secrecy rules."""

    _offsets = _TimeOffsets()
    retry_backoff_s: float = 0.2

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: Timeout = (3.05, 10),
        recv_window: int = 5000,
        session: requests.Session | None = None,
        read_retries: int = 2,
        logger: logging.Logger | None = None,
        before_request: Callable[[str, str], None] | None = None,
        on_response: Callable[[CallInfo], None] | None = None,
    ) -> None:
        if not api_key or not secret_key:
            raise ValueError("api_key and secret_key are required")
        if timeout is None:
            raise ValueError("a timeout is required")
        if not 0 < recv_window <= 60000:
            raise ValueError("recv_window must be in 1..60000 ms")
        if read_retries < 0:
            raise ValueError("read_retries must be >= 0")
        self.api_key = api_key
        self.__secret = secret_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.recv_window = recv_window
        self.session = session if session is not None else requests.Session()
        self.read_retries = read_retries
        self.logger = logger if logger is not None else logging.getLogger("bingx")
        self.before_request = before_request
        self.on_response = on_response
        _install_redactor()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, api_key='…{self.api_key[-4:]}')"

    __str__ = __repr__

    def __getstate__(self) -> Any:
        raise TypeError("bingx.Client holds a secret and cannot be pickled")

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------
    # server time
    # ------------------------------------------------------------------------------------------------
    @property
    def time_offset_ms(self) -> int:
        """Server clock minus local clock for this base URL (0 until :meth:`sync_time` ran)."""
        return self._offsets.get(self.base_url)

    @classmethod
    def reset_time_offsets(cls) -> None:
        """Forget every stored offset (tests)."""
        cls._offsets.clear()

    def server_time(self) -> ServerTime:
        """``GET /openApi/swap/v2/server/time`` (public, unsigned)."""
        data = self._public_get(SERVER_TIME_PATH)
        return ServerTime(server_time=int(data["serverTime"]))

    def sync_time(self) -> int:
        """Fetch server time, store the offset for this base URL (shared by all clients), return it."""
        t0 = _now_ms()
        data = self._public_get(SERVER_TIME_PATH)
        t1 = _now_ms()
        try:
            server = int(data["serverTime"])
        except (KeyError, TypeError, ValueError) as exc:
            raise Ambiguous("unexpected server time response", path=SERVER_TIME_PATH) from exc
        offset = server - (t0 + t1) // 2
        self._offsets.set(self.base_url, offset)
        self.logger.info("bingx time offset for %s: %d ms", self.base_url, offset)
        return offset

    # ------------------------------------------------------------------------------------------------
    # identity
    # ------------------------------------------------------------------------------------------------
    def uid(self) -> str:
        """``GET /openApi/account/v1/uid`` → the key's own UID."""
        data = self._call("GET", "/openApi/account/v1/uid", {})
        return self._parse("/openApi/account/v1/uid", lambda: to_id(data["uid"]))

    def api_permissions(self) -> ApiPermissions:
        """``GET /openApi/v1/account/apiPermissions`` (bare object)."""
        path = "/openApi/v1/account/apiPermissions"
        data = self._call("GET", path, {})
        return self._parse(path, lambda: ApiPermissions.from_raw(data))

    # ------------------------------------------------------------------------------------------------
    # balances
    # ------------------------------------------------------------------------------------------------
    def spot_balances(self) -> tuple[Balance, ...]:
        """``GET /openApi/spot/v1/account/balance``."""
        path = "/openApi/spot/v1/account/balance"
        data = self._call("GET", path, {})
        return self._parse(
            path, lambda: tuple(Balance.from_raw(r) for r in envelope.items(data, "balances", "assets"))
        )

    def fund_balances(self, asset: str | None = None) -> tuple[Balance, ...]:
        """``GET /openApi/fund/v1/account/balance`` (accepts ``data.assets`` and ``data.balances``)."""
        path = "/openApi/fund/v1/account/balance"
        data = self._call("GET", path, {"asset": asset})
        return self._parse(
            path, lambda: tuple(Balance.from_raw(r) for r in envelope.items(data, "assets", "balances"))
        )

    def asset_overview(self, account_type: str | None = None) -> tuple[AssetOverviewEntry, ...]:
        """``GET /openApi/account/v1/allAccountBalance`` → USDT value per account type."""
        path = "/openApi/account/v1/allAccountBalance"
        data = self._call("GET", path, {"accountType": account_type})
        return self._parse(
            path,
            lambda: tuple(AssetOverviewEntry.from_raw(r) for r in envelope.items(data, "result", "balances")),
        )

    # ------------------------------------------------------------------------------------------------
    # own-account transfers
    # ------------------------------------------------------------------------------------------------
    def transfer(self, from_account: str, to_account: str, asset: str, amount: Amount) -> TransferResult:
        """``POST /openApi/api/asset/v1/transfer`` between own wallets
        (``fund``, ``spot``, ``stdFutures``, ``coinMPerp``, ``USDTMPerp``). Never retried."""
        path = "/openApi/api/asset/v1/transfer"
        params = {
            "fromAccount": from_account,
            "toAccount": to_account,
            "asset": asset,
            "amount": _amount(amount),
        }
        data = self._call("POST", path, params)
        return self._parse(path, lambda: TransferResult.from_raw(data))

    def transferable_coins(self, from_account: str, to_account: str) -> tuple[TransferableCoin, ...]:
        """``GET /openApi/api/asset/v1/transfer/supportCoins``."""
        path = "/openApi/api/asset/v1/transfer/supportCoins"
        data = self._call("GET", path, {"fromAccount": from_account, "toAccount": to_account})
        return self._parse(
            path, lambda: tuple(TransferableCoin.from_raw(c) for c in envelope.items(data, "coins"))
        )

    def transfer_records(
        self,
        from_account: str | None = None,
        to_account: str | None = None,
        transfer_id: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        page_index: int = 1,
        page_size: int = 100,
    ) -> Page[TransferRecord]:
        """``GET /openApi/api/v3/asset/transferRecord`` (bare ``{total, rows}``); query by the account
        pair or by ``transfer_id``; ``page_size`` ≤ 100."""
        path = "/openApi/api/v3/asset/transferRecord"
        params = {
            "fromAccount": from_account,
            "toAccount": to_account,
            "transferId": transfer_id,
            "startTime": start_time,
            "endTime": end_time,
            "pageIndex": page_index,
            "pageSize": page_size,
        }
        data = self._call("GET", path, params)
        return self._page(path, data, TransferRecord.from_raw)

    def legacy_transfer(self, type: str, asset: str, amount: Amount) -> TransferResult:
        """Legacy ``POST /openApi/api/v3/post/asset/transfer`` (``type`` e.g. ``FUND_PFUTURES``).
        Never retried."""
        path = "/openApi/api/v3/post/asset/transfer"
        data = self._call("POST", path, {"type": type, "asset": asset, "amount": _amount(amount)})
        return self._parse(path, lambda: TransferResult.from_raw(data))

    def legacy_transfer_records(
        self,
        type: str,
        tran_id: str | int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        current: int = 1,
        size: int = 100,
    ) -> Page[LegacyTransferRecord]:
        """``GET /openApi/api/v3/asset/transfer`` (legacy, bare ``{total, rows}``)."""
        path = "/openApi/api/v3/asset/transfer"
        params = {
            "type": type,
            "tranId": None if tran_id is None else str(tran_id),
            "startTime": start_time,
            "endTime": end_time,
            "current": current,
            "size": size,
        }
        data = self._call("GET", path, params)
        return self._page(path, data, LegacyTransferRecord.from_raw)

    # ------------------------------------------------------------------------------------------------
    # inner transfers (user to user)
    # ------------------------------------------------------------------------------------------------
    def inner_transfer(
        self,
        coin: str,
        user_account_type: int,
        user_account: str | int,
        amount: Amount,
        wallet_type: int,
        calling_code: str | None = None,
        transfer_client_id: str | None = None,
    ) -> InnerTransferResult:
        """``POST /openApi/wallets/v1/capital/innerTransfer/apply`` (main → main / own sub).
        ``user_account_type``: 1 UID, 2 phone (needs ``calling_code``), 3 email; ``wallet_type``: 1 fund,
        2 standard futures, 3 perpetual. ``transfer_client_id`` is the exchange-side idempotency key
        and lets a lost answer be reconciled. Never retried."""
        return self._inner_apply(
            "/openApi/wallets/v1/capital/innerTransfer/apply",
            coin,
            user_account_type,
            user_account,
            amount,
            wallet_type,
            calling_code,
            {"transferClientId": transfer_client_id},
        )

    def inner_transfer_records(
        self,
        coin: str,
        id: str | int | None = None,
        transfer_client_id: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[InnerTransferRecord]:
        """``GET /openApi/wallets/v1/capital/innerTransfer/records`` (main account; ``data.data`` rows)."""
        return self._inner_records(
            "/openApi/wallets/v1/capital/innerTransfer/records",
            coin,
            id,
            transfer_client_id,
            start_time,
            end_time,
            offset,
            limit,
        )

    def sub_account_inner_transfer(
        self,
        coin: str,
        user_account_type: int,
        user_account: str | int,
        amount: Amount,
        wallet_type: int,
        calling_code: str | None = None,
    ) -> InnerTransferResult:
        """``POST /openApi/wallets/v1/capital/subAccountInnerTransfer/apply`` (signed by the sub-account;
        sub → sub of the same master, or sub → master). Never retried."""
        return self._inner_apply(
            "/openApi/wallets/v1/capital/subAccountInnerTransfer/apply",
            coin,
            user_account_type,
            user_account,
            amount,
            wallet_type,
            calling_code,
            {},
        )

    def _inner_apply(
        self,
        path: str,
        coin: str,
        user_account_type: int,
        user_account: str | int,
        amount: Amount,
        wallet_type: int,
        calling_code: str | None,
        extra: dict[str, Any],
    ) -> InnerTransferResult:
        """The two inner-transfer endpoints share their parameters; `extra` holds what only one takes."""
        params = {
            "coin": coin,
            "userAccountType": int(user_account_type),
            "userAccount": str(user_account),
            "amount": _amount(amount),
            "walletType": int(wallet_type),
            "callingCode": calling_code,
            **extra,
        }
        data = self._call("POST", path, params)
        return self._parse(path, lambda: InnerTransferResult.from_raw(data))

    def sub_account_inner_transfer_records(
        self,
        coin: str,
        id: str | int | None = None,
        transfer_client_id: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[InnerTransferRecord]:
        """``GET /openApi/wallets/v1/capital/subAccount/innerTransfer/records`` (signed by the sub)."""
        return self._inner_records(
            "/openApi/wallets/v1/capital/subAccount/innerTransfer/records",
            coin,
            id,
            transfer_client_id,
            start_time,
            end_time,
            offset,
            limit,
        )

    def _inner_records(
        self,
        path: str,
        coin: str,
        id: str | int | None,
        transfer_client_id: str | None,
        start_time: int | None,
        end_time: int | None,
        offset: int,
        limit: int,
    ) -> Page[InnerTransferRecord]:
        params = {
            "coin": coin,
            "id": None if id is None else str(id),
            "transferClientId": transfer_client_id,
            "startTime": start_time,
            "endTime": end_time,
            "offset": offset,
            "limit": limit,
        }
        data = self._call("GET", path, params)
        return self._page(path, data, InnerTransferRecord.from_raw)

    def authorize_sub_account_transfer(self, sub_uids: Sequence[Uid], transferable: bool) -> bool:
        """``POST /openApi/account/v1/innerTransfer/authorizeSubAccount`` (master only); ``subUids`` is
        sent comma-joined. Returns the exchange's boolean ``data``."""
        path = "/openApi/account/v1/innerTransfer/authorizeSubAccount"
        if isinstance(sub_uids, (str, int)):
            sub_uids = [sub_uids]
        if not sub_uids:
            raise ValueError("sub_uids must not be empty")
        if not isinstance(transferable, bool):
            raise TypeError("transferable must be a bool")
        params = {"subUids": [_uid(u, "sub_uids") for u in sub_uids], "transferable": transferable}
        data = self._call("POST", path, params)
        return self._parse(path, lambda: _as_bool(data))

    # ------------------------------------------------------------------------------------------------
    # master ↔ sub family transfers (JSON body)
    # ------------------------------------------------------------------------------------------------
    def sub_account_transfer(
        self,
        asset: str,
        amount: Amount,
        from_uid: Uid,
        from_type: int,
        from_account_type: int,
        to_uid: Uid,
        to_type: int,
        to_account_type: int,
        remark: str,
    ) -> SubAccountTransferResult:
        """``POST /openApi/account/transfer/v1/subAccount/transferAsset`` (JSON body, master key).
        ``*_type``: 1 parent, 2 sub; ``*_account_type``: 1 fund, 2 standard futures, 3 perpetual USDT-M.
        Response is double-wrapped. Never retried."""
        path = "/openApi/account/transfer/v1/subAccount/transferAsset"
        params = {
            "assetName": asset,
            "transferAmount": _amount(amount),
            "fromUid": _uid(from_uid, "from_uid"),
            "fromType": int(from_type),
            "fromAccountType": int(from_account_type),
            "toUid": _uid(to_uid, "to_uid"),
            "toType": int(to_type),
            "toAccountType": int(to_account_type),
            "remark": remark,
        }
        data = self._call("POST", path, params, mode="json")
        return self._parse(path, lambda: SubAccountTransferResult.from_raw(data))

    def sub_account_transferable_coins(
        self, from_uid: Uid, from_account_type: int, to_uid: Uid, to_account_type: int
    ) -> tuple[SubAccountTransferableCoin, ...]:
        """``POST /openApi/account/transfer/v1/subAccount/transferAsset/supportCoins`` (JSON, read-only,
        retried like a GET)."""
        path = "/openApi/account/transfer/v1/subAccount/transferAsset/supportCoins"
        params = {
            "fromUid": _uid(from_uid, "from_uid"),
            "fromAccountType": int(from_account_type),
            "toUid": _uid(to_uid, "to_uid"),
            "toAccountType": int(to_account_type),
        }
        data = self._call("POST", path, params, mode="json", read_only=True)
        return self._parse(
            path, lambda: tuple(SubAccountTransferableCoin.from_raw(c) for c in envelope.items(data, "coins"))
        )

    def sub_account_transfer_history(
        self,
        uid: Uid,
        type: str | None = None,
        tran_id: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        page_id: int = 1,
        paging_size: int = 100,
    ) -> Page[SubAccountTransferRecord]:
        """``GET /openApi/account/transfer/v1/subAccount/asset/transferHistory`` (master only, bare)."""
        path = "/openApi/account/transfer/v1/subAccount/asset/transferHistory"
        params = {
            "uid": _uid(uid, "uid"),
            "type": type,
            "tranId": tran_id,
            "startTime": start_time,
            "endTime": end_time,
            "pageId": page_id,
            "pagingSize": paging_size,
        }
        data = self._call("GET", path, params)
        return self._page(path, data, SubAccountTransferRecord.from_raw)

    # ------------------------------------------------------------------------------------------------
    # sub-accounts
    # ------------------------------------------------------------------------------------------------
    def sub_accounts(self, sub_uid: Uid | None = None, page: int = 1, limit: int = 100) -> Page[SubAccount]:
        """``GET /openApi/subAccount/v1/list`` (master only)."""
        path = "/openApi/subAccount/v1/list"
        params = {
            "subUid": None if sub_uid is None else _uid(sub_uid, "sub_uid"),
            "page": page,
            "limit": limit,
        }
        data = self._call("GET", path, params)
        return self._page(path, data, SubAccount.from_raw)

    def sub_account_assets(self, sub_uid: Uid) -> tuple[Balance, ...]:
        """``GET /openApi/subAccount/v1/assets`` → a sub-account's funding balances (JSON numbers)."""
        path = "/openApi/subAccount/v1/assets"
        data = self._call("GET", path, {"subUid": _uid(sub_uid, "sub_uid")})
        return self._parse(
            path, lambda: tuple(Balance.from_raw(r) for r in envelope.items(data, "balances", "assets"))
        )

    # ------------------------------------------------------------------------------------------------
    # plumbing
    # ------------------------------------------------------------------------------------------------
    def _parse(self, path: str, fn: Callable[[], T]) -> T:
        """Model parsing after a successful answer; a shape we don't understand is Ambiguous."""
        try:
            return fn()
        except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
            raise Ambiguous(
                f"unexpected response shape ({type(exc).__name__}), outcome unknown", path=path
            ) from exc

    def _page(self, path: str, data: Any, parse: Callable[[Any], T]) -> Page[T]:
        def go() -> Page[T]:
            total, rows = envelope.records(data)
            return Page(total=total, rows=tuple(parse(r) for r in rows))

        return self._parse(path, go)

    def _public_get(self, path: str) -> Any:
        """Unsigned GET with read retries (server time)."""
        attempt = 0
        while True:
            attempt += 1
            start = time.monotonic()
            try:
                prep = requests.Request("GET", self.base_url + path).prepare()
                return self._exchange(prep, "GET", path)
            except (NotSent, Ambiguous) as exc:
                self._log("GET", path, exc.http_status, exc.code, start, exc)
                if attempt > self.read_retries:
                    raise
                self._sleep_backoff(attempt)

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        *,
        mode: Mode = "query",
        read_only: bool | None = None,
    ) -> Any:
        """Sign, send, classify, retry (reads only), resync once on 100421. Returns the unwrapped payload."""
        if read_only is None:
            read_only = method == "GET"
        attempt = 0
        resynced = False
        retries = 0
        while True:
            attempt += 1
            try:
                return self._send_signed(method, path, params, mode, attempt)
            except TimestampError as exc:
                if resynced:
                    raise
                resynced = True
                try:
                    self.sync_time()
                except BingXError as sync_exc:
                    raise exc from sync_exc
            except (NotSent, Ambiguous):
                if not read_only or retries >= self.read_retries:
                    raise
                retries += 1
                self._sleep_backoff(retries)

    def _sleep_backoff(self, n: int) -> None:
        time.sleep(min(self.retry_backoff_s * (2 ** (n - 1)), 2.0))

    def _send_signed(
        self, method: str, path: str, params: Mapping[str, Any], mode: Mode, attempt: int
    ) -> Any:
        offset = self._offsets.get(self.base_url)
        signed = build(
            params,
            self.__secret,
            timestamp_ms=_now_ms() + offset,
            recv_window=self.recv_window,
            mode=mode,
        )
        headers = {"X-BX-APIKEY": self.api_key}
        if mode == "json":
            headers["Content-Type"] = "application/json"
            req = requests.Request(method, self.base_url + path, headers=headers, data=signed.body or "")
        else:
            req = requests.Request(method, self.base_url + path, headers=headers)
        prep = self.session.prepare_request(req)
        if mode == "query":
            # Set the URL ourselves so nothing re-encodes or re-orders what was signed.
            prep.url = f"{self.base_url}{path}?{signed.query}"
        if self.before_request is not None:
            self.before_request(method, path)
        start = time.monotonic()
        http_status: int | None = None
        code: int | None = None
        msg = ""
        error: BingXError | None = None
        try:
            resp_holder: list[requests.Response] = []
            payload = self._exchange(prep, method, path, resp_holder)
            if resp_holder:
                http_status = resp_holder[0].status_code
                code, msg = _code_msg(resp_holder[0])
            return payload
        except BingXError as exc:
            error = exc
            http_status = exc.http_status
            code = exc.code
            msg = exc.message
            if isinstance(exc, RateLimited) and exc.retry_after_ms is not None and exc.retry_in_ms is None:
                exc.retry_in_ms = max(0, exc.retry_after_ms - (_now_ms() + self._offsets.get(self.base_url)))
            raise
        finally:
            self._log(method, path, http_status, code, start, error)
            if self.on_response is not None:
                info = CallInfo(
                    method=method,
                    path=path,
                    params=dict(signed.params),
                    http_status=http_status,
                    code=code,
                    msg=msg,
                    duration_ms=int((time.monotonic() - start) * 1000),
                    error=None if error is None else type(error).__name__,
                    attempt=attempt,
                    base_url=self.base_url,
                )
                try:
                    self.on_response(info)
                except Exception:
                    self.logger.exception("bingx on_response hook failed for %s %s", method, path)

    def _exchange(
        self,
        prep: requests.PreparedRequest,
        method: str,
        path: str,
        holder: list[requests.Response] | None = None,
    ) -> Any:
        """Send one prepared request; return the unwrapped payload or raise a classified error."""
        settings = self.session.merge_environment_settings(prep.url, {}, None, None, None)
        transport_error: BingXError | None = None
        try:
            resp = self.session.send(prep, timeout=self.timeout, allow_redirects=False, **settings)
            content = resp.content  # read the whole body inside the try: a broken body is Ambiguous
        except requests.RequestException as exc:
            transport_error = _classify_transport(exc, path)
        except OSError as exc:  # pragma: no cover - defensive
            transport_error = Ambiguous(f"socket error, outcome unknown ({type(exc).__name__})", path=path)
        if transport_error is not None:
            # Raised outside the except block: the requests exception (its text holds the signed URL)
            # must not even be reachable as __context__.
            raise transport_error
        if holder is not None:
            holder.append(resp)
        status = resp.status_code
        body: Any = None
        body_error: BingXError | None = None
        if content.strip():
            try:
                body = envelope.parse_json(content, http_status=status, path=path)
            except Ambiguous as exc:
                body_error = exc
        if status >= 500:
            raise Ambiguous(
                f"HTTP {status} from the exchange, outcome unknown", http_status=status, path=path
            )
        if status != 200:
            retry_in_ms = _retry_after_header(resp)
            if isinstance(body, dict) and envelope.code_of(body) not in (None, 0):
                coded = envelope.classify_body(body, http_status=status, path=path)
                if coded is not None:
                    if isinstance(coded, RateLimited) and coded.retry_in_ms is None:
                        coded.retry_in_ms = retry_in_ms
                    raise coded
            err = error_for_http_status(status, path=path, retry_in_ms=retry_in_ms)
            raise err if err is not None else Rejected(f"HTTP {status}", http_status=status, path=path)
        if body_error is not None:
            raise body_error
        if body is None:
            raise Ambiguous("empty response body, outcome unknown", http_status=status, path=path)
        return envelope.unwrap(body, http_status=status, path=path)

    def _log(
        self,
        method: str,
        path: str,
        http_status: int | None,
        code: int | None,
        start: float,
        error: BingXError | None,
    ) -> None:
        ms = int((time.monotonic() - start) * 1000)
        if error is None:
            self.logger.info("bingx %s %s -> http=%s code=%s %dms", method, path, http_status, code, ms)
        else:
            self.logger.warning(
                "bingx %s %s -> %s http=%s code=%s %dms",
                method,
                path,
                type(error).__name__,
                http_status,
                code,
                ms,
            )


def _code_msg(resp: requests.Response) -> tuple[int | None, str]:
    try:
        body = envelope.parse_json(resp.content)
    except Ambiguous:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    code = envelope.code_of(body)
    data = body.get("data")
    msg = str(body.get("msg") or "")
    if isinstance(data, dict) and data.get("transferErrorMsg"):
        msg = str(data["transferErrorMsg"])
    return (0 if code is None else code), msg


def _retry_after_header(resp: requests.Response) -> int | None:
    value = resp.headers.get("Retry-After")
    if value and value.strip().isdigit():
        return int(value.strip()) * 1000
    return None


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TypeError("expected a boolean")
