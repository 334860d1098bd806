"""Synchronous BingX REST client for the account / wallet / transfer / sub-account endpoints.

Over 400 lines on purpose: one typed method per endpoint over one signing and transport core, so a
reader sees every call the library makes in one place (the endpoint table is bingx/endpoints.py).

Usage::

    from decimal import Decimal
    from bingx import Client, InsufficientBalance, Ambiguous

    client = Client(api_key, secret_key)            # base_url="https://open-api.bingx.com"
    client.sync_time()                              # optional: store the server-clock offset
    for bal in client.fund_balances():
        print(bal.asset, bal.free, bal.locked)
    result = client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("10"))
    print(result.transfer_id)

Behaviour:

* What each method sends (method, path, query string or JSON body) and whether it may be retried come
  from the endpoint table :mod:`bingx.endpoints`; method docstrings name the table entry
  (e.g. ``SPOT_BALANCE``). Money-moving methods take keyword arguments only.
* Every signed call carries ``timestamp`` (local ms + server offset) and ``recvWindow``. Offsets are
  shared by all clients on the same base URL (:meth:`Client.sync_time`). On ``TimestampError`` (100421)
  the client resyncs and retries that call exactly once (a timestamp rejection proves nothing moved).
* Reads (endpoints whose entry is ``read_only``: the GETs and the JSON ``supportCoins`` POST) are
  retried on :class:`~bingx.errors.NotSent` / :class:`~bingx.errors.Ambiguous` up to ``read_retries``
  times with a short backoff. Money-moving POSTs (and the authorizeSubAccount setting) are **never**
  retried automatically (apart from the timestamp case above).
* ``before_request(method, path)`` is called before each request is signed and sent (each attempt),
  e.g. to take a rate-limit token: signing comes after any wait in it, so the signed timestamp is
  fresh when the request leaves. An exception from it aborts the call (nothing is signed or sent).
* ``on_response(CallInfo)`` is called after each attempt, successful or not, with the signed params
  (never the signature or secret), HTTP status, BingX code/msg and duration. Its exceptions are logged
  and swallowed so auditing can never turn a completed transfer into an error.
* Secrets never appear in ``repr``, logs or exception messages; log lines carry method, path, code and
  duration only.
* The environment is read once, when the Client is built: proxies (``HTTP_PROXY``/``HTTPS_PROXY``/
  ``ALL_PROXY`` minus ``NO_PROXY``) for the base URL's host, the CA bundle (``REQUESTS_CA_BUNDLE``/
  ``CURL_CA_BUNDLE``) and ``~/.netrc`` credentials — the same answers ``requests`` would find on every
  call, without the per-call lookup. The session (also one passed in, which the Client owns from then
  on) gets ``trust_env = False``; build a new Client to pick up changed variables.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, TypeVar

import requests
import urllib3.exceptions

from . import envelope
from .endpoints import (
    ACCOUNT_UID,
    API_PERMISSIONS,
    ASSET_OVERVIEW,
    ASSET_TRANSFER,
    ASSET_TRANSFER_SUPPORT_COINS,
    AUTHORIZE_SUB_ACCOUNT,
    FUND_BALANCE,
    INNER_TRANSFER_APPLY,
    INNER_TRANSFER_RECORDS,
    LEGACY_TRANSFER,
    LEGACY_TRANSFER_RECORDS,
    SERVER_TIME,
    SPOT_BALANCE,
    SUB_ACCOUNT_ASSETS,
    SUB_ACCOUNT_LIST,
    SUB_ALL_ACCOUNT_BALANCE,
    SUB_INNER_TRANSFER_APPLY,
    SUB_INNER_TRANSFER_RECORDS,
    SUB_TRANSFER_ASSET,
    SUB_TRANSFER_HISTORY,
    SUB_TRANSFER_SUPPORT_COINS,
    TRANSFER_RECORDS,
    Endpoint,
)
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
from .signing import build, format_decimal

__all__ = ["DEFAULT_BASE_URL", "CallInfo", "Client"]

DEFAULT_BASE_URL = "https://open-api.bingx.com"

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


class _Answer(NamedTuple):
    """A successful answer: the unwrapped payload, plus status, code and message for audit."""

    payload: Any
    http_status: int
    code: int | None
    msg: str


def _environment_settings(
    session: requests.Session, base_url: str
) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """Resolve once what ``requests`` would otherwise look up in the environment on every call.

    Returns the ``send`` settings for ``base_url`` (proxies from ``HTTP(S)_PROXY``/``ALL_PROXY`` unless
    ``NO_PROXY`` matches the host, the CA bundle from ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, merged
    with the session's own ``proxies``/``verify``/``cert``/``stream``) and the ``~/.netrc`` credentials
    for the host, then switches the session's ``trust_env`` off so it stops re-reading the environment.
    Proxy choice depends on the scheme and host only, so one answer serves every path under the base URL.
    """
    url = base_url + "/"
    try:
        settings = session.merge_environment_settings(url, {}, None, None, None)
        auth = requests.utils.get_netrc_auth(url) if session.trust_env and session.auth is None else None
    except ValueError as exc:  # e.g. a non-numeric port, met while matching NO_PROXY
        raise ValueError("base_url is not a valid URL") from exc
    session.trust_env = False
    return dict(settings), auth


# What `_environment_settings` answered for a new default session, by base URL and the environment it
# read: a worker builds a client per transfer, and reading proxies, CA bundle and ~/.netrc each time
# cost about as much as signing the call.
_DEFAULT_SESSION_SETTINGS: dict[
    tuple[str, tuple[tuple[str, str | None], ...]], tuple[dict[str, Any], Any]
] = {}
# Everything `_environment_settings` reads from the environment (requests' proxy lookup, CA bundle and
# ~/.netrc; other schemes' proxies never apply to an http(s) base URL; urllib ignores HTTP_PROXY
# when REQUEST_METHOD is set).
_SETTINGS_ENV = (
    *(
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ),
    *("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC", "HOME", "REQUEST_METHOD"),
)


def _default_session_settings(
    session: requests.Session, base_url: str
) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """`_environment_settings` for a session with requests' defaults, remembered while the environment
    variables it depends on (`_SETTINGS_ENV`) are unchanged."""
    env = tuple((name, os.environ.get(name)) for name in _SETTINGS_ENV)
    key = (base_url, env)
    known = _DEFAULT_SESSION_SETTINGS.get(key)
    if known is None:
        known = _DEFAULT_SESSION_SETTINGS[key] = _environment_settings(session, base_url)
    else:
        session.trust_env = False  # as _environment_settings leaves it
    settings, auth = known
    return dict(settings), auth


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


def _certificate_refused(exc: BaseException) -> bool:
    """Whether a certificate verification failure is among the causes of `exc` (requests → urllib3's
    MaxRetryError → its SSLError → the ssl module's error)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, ssl.SSLCertVerificationError):
            return True
        todo += [a for a in err.args if isinstance(a, BaseException)]
        todo += [
            e
            for e in (getattr(err, "reason", None), err.__cause__, err.__context__)
            if isinstance(e, BaseException)
        ]
    return False


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
    if isinstance(exc, requests.exceptions.SSLError):
        # urllib3 raises SSLError for a TLS failure at any stage: in the handshake (nothing sent), but
        # also while reading the answer to a request the exchange received whole (a connection cut
        # without close_notify). Only a refused certificate proves the handshake never completed.
        if _certificate_refused(exc):
            return NotSent(f"the exchange's TLS certificate was refused ({name})", path=path)
        return Ambiguous(f"TLS connection failed, outcome unknown ({name})", path=path)
    if isinstance(exc, requests.exceptions.ProxyError):
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
        if session is None:
            self.session = requests.Session()
            self._environment, self._auth = _default_session_settings(self.session, self.base_url)
        else:
            self.session = session
            self._environment, self._auth = _environment_settings(self.session, self.base_url)
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
        """``SERVER_TIME`` (public, unsigned)."""
        data = self._public_get(SERVER_TIME)
        return ServerTime(server_time=int(data["serverTime"]))

    def sync_time(self) -> int:
        """Fetch server time, store the offset for this base URL (shared by all clients), return it."""
        t0 = _now_ms()
        data = self._public_get(SERVER_TIME)
        t1 = _now_ms()
        try:
            server = int(data["serverTime"])
        except (KeyError, TypeError, ValueError) as exc:
            raise Ambiguous("unexpected server time response", path=SERVER_TIME.path) from exc
        offset = server - (t0 + t1) // 2
        self._offsets.set(self.base_url, offset)
        self.logger.info("bingx time offset for %s: %d ms", self.base_url, offset)
        return offset

    # ------------------------------------------------------------------------------------------------
    # identity
    # ------------------------------------------------------------------------------------------------
    def uid(self) -> str:
        """``ACCOUNT_UID`` → the key's own UID."""
        data = self._call(ACCOUNT_UID, {})
        return self._parse(ACCOUNT_UID, lambda: to_id(data["uid"]))

    def api_permissions(self) -> ApiPermissions:
        """``API_PERMISSIONS`` (bare object)."""
        data = self._call(API_PERMISSIONS, {})
        return self._parse(API_PERMISSIONS, lambda: ApiPermissions.from_raw(data))

    # ------------------------------------------------------------------------------------------------
    # balances
    # ------------------------------------------------------------------------------------------------
    def spot_balances(self) -> tuple[Balance, ...]:
        """``SPOT_BALANCE``."""
        data = self._call(SPOT_BALANCE, {})
        return self._parse(
            SPOT_BALANCE,
            lambda: tuple(Balance.from_raw(r) for r in envelope.items(data, "balances", "assets")),
        )

    def fund_balances(self, asset: str | None = None) -> tuple[Balance, ...]:
        """``FUND_BALANCE`` (accepts ``data.assets`` and ``data.balances``)."""
        data = self._call(FUND_BALANCE, {"asset": asset})
        return self._parse(
            FUND_BALANCE,
            lambda: tuple(Balance.from_raw(r) for r in envelope.items(data, "assets", "balances")),
        )

    def asset_overview(self, account_type: str | None = None) -> tuple[AssetOverviewEntry, ...]:
        """``ASSET_OVERVIEW`` → USDT value per account type."""
        data = self._call(ASSET_OVERVIEW, {"accountType": account_type})
        return self._parse(
            ASSET_OVERVIEW,
            lambda: tuple(AssetOverviewEntry.from_raw(r) for r in envelope.items(data, "result", "balances")),
        )

    # ------------------------------------------------------------------------------------------------
    # own-account transfers
    # ------------------------------------------------------------------------------------------------
    def transfer(self, *, from_account: str, to_account: str, asset: str, amount: Amount) -> TransferResult:
        """``ASSET_TRANSFER`` between own wallets
        (``fund``, ``spot``, ``stdFutures``, ``coinMPerp``, ``USDTMPerp``). Never retried."""
        params = {
            "fromAccount": from_account,
            "toAccount": to_account,
            "asset": asset,
            "amount": _amount(amount),
        }
        data = self._call(ASSET_TRANSFER, params)
        return self._parse(ASSET_TRANSFER, lambda: TransferResult.from_raw(data))

    def transferable_coins(self, from_account: str, to_account: str) -> tuple[TransferableCoin, ...]:
        """``ASSET_TRANSFER_SUPPORT_COINS``."""
        data = self._call(
            ASSET_TRANSFER_SUPPORT_COINS, {"fromAccount": from_account, "toAccount": to_account}
        )
        return self._parse(
            ASSET_TRANSFER_SUPPORT_COINS,
            lambda: tuple(TransferableCoin.from_raw(c) for c in envelope.items(data, "coins")),
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
        """``TRANSFER_RECORDS`` (bare ``{total, rows}``); query by the account
        pair or by ``transfer_id``; ``page_size`` ≤ 100."""
        params = {
            "fromAccount": from_account,
            "toAccount": to_account,
            "transferId": transfer_id,
            "startTime": start_time,
            "endTime": end_time,
            "pageIndex": page_index,
            "pageSize": page_size,
        }
        data = self._call(TRANSFER_RECORDS, params)
        return self._page(TRANSFER_RECORDS, data, TransferRecord.from_raw)

    def legacy_transfer(self, *, type: str, asset: str, amount: Amount) -> TransferResult:
        """``LEGACY_TRANSFER``, the legacy universal transfer (``type`` e.g. ``FUND_PFUTURES``).
        Never retried."""
        data = self._call(LEGACY_TRANSFER, {"type": type, "asset": asset, "amount": _amount(amount)})
        return self._parse(LEGACY_TRANSFER, lambda: TransferResult.from_raw(data))

    def legacy_transfer_records(
        self,
        type: str,
        tran_id: str | int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        current: int = 1,
        size: int = 100,
    ) -> Page[LegacyTransferRecord]:
        """``LEGACY_TRANSFER_RECORDS`` (legacy, bare ``{total, rows}``)."""
        params = {
            "type": type,
            "tranId": None if tran_id is None else str(tran_id),
            "startTime": start_time,
            "endTime": end_time,
            "current": current,
            "size": size,
        }
        data = self._call(LEGACY_TRANSFER_RECORDS, params)
        return self._page(LEGACY_TRANSFER_RECORDS, data, LegacyTransferRecord.from_raw)

    # ------------------------------------------------------------------------------------------------
    # inner transfers (user to user)
    # ------------------------------------------------------------------------------------------------
    def inner_transfer(
        self,
        *,
        coin: str,
        user_account_type: int,
        user_account: str | int,
        amount: Amount,
        wallet_type: int,
        calling_code: str | None = None,
        transfer_client_id: str | None = None,
    ) -> InnerTransferResult:
        """``INNER_TRANSFER_APPLY`` (main → main / own sub).
        ``user_account_type``: 1 UID, 2 phone (needs ``calling_code``), 3 email; ``wallet_type``: 1 fund,
        2 standard futures, 3 perpetual. ``transfer_client_id`` is the exchange-side idempotency key
        and lets a lost answer be reconciled. Never retried."""
        return self._inner_apply(
            INNER_TRANSFER_APPLY,
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
        """``INNER_TRANSFER_RECORDS`` (main account; ``data.data`` rows)."""
        return self._inner_records(
            INNER_TRANSFER_RECORDS,
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
        *,
        coin: str,
        user_account_type: int,
        user_account: str | int,
        amount: Amount,
        wallet_type: int,
        calling_code: str | None = None,
    ) -> InnerTransferResult:
        """``SUB_INNER_TRANSFER_APPLY`` (signed by the sub-account;
        sub → sub of the same master, or sub → master). Never retried."""
        return self._inner_apply(
            SUB_INNER_TRANSFER_APPLY,
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
        endpoint: Endpoint,
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
        data = self._call(endpoint, params)
        return self._parse(endpoint, lambda: InnerTransferResult.from_raw(data))

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
        """``SUB_INNER_TRANSFER_RECORDS`` (signed by the sub)."""
        return self._inner_records(
            SUB_INNER_TRANSFER_RECORDS,
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
        endpoint: Endpoint,
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
        data = self._call(endpoint, params)
        return self._page(endpoint, data, InnerTransferRecord.from_raw)

    def authorize_sub_account_transfer(self, *, sub_uids: Sequence[Uid], transferable: bool) -> bool:
        """``AUTHORIZE_SUB_ACCOUNT`` (master only); ``subUids`` is
        sent comma-joined. Returns the exchange's boolean ``data``."""
        if isinstance(sub_uids, (str, int)):
            sub_uids = [sub_uids]
        if not sub_uids:
            raise ValueError("sub_uids must not be empty")
        if not isinstance(transferable, bool):
            raise TypeError("transferable must be a bool")
        params = {"subUids": [_uid(u, "sub_uids") for u in sub_uids], "transferable": transferable}
        data = self._call(AUTHORIZE_SUB_ACCOUNT, params)
        return self._parse(AUTHORIZE_SUB_ACCOUNT, lambda: _as_bool(data))

    # ------------------------------------------------------------------------------------------------
    # master ↔ sub family transfers (JSON body)
    # ------------------------------------------------------------------------------------------------
    def sub_account_transfer(
        self,
        *,
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
        """``SUB_TRANSFER_ASSET`` (JSON body, master key).
        ``*_type``: 1 parent, 2 sub; ``*_account_type``: 1 fund, 2 standard futures, 3 perpetual USDT-M.
        Response is double-wrapped. Never retried."""
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
        data = self._call(SUB_TRANSFER_ASSET, params)
        return self._parse(SUB_TRANSFER_ASSET, lambda: SubAccountTransferResult.from_raw(data))

    def sub_account_transferable_coins(
        self, from_uid: Uid, from_account_type: int, to_uid: Uid, to_account_type: int
    ) -> tuple[SubAccountTransferableCoin, ...]:
        """``SUB_TRANSFER_SUPPORT_COINS`` (JSON, read-only,
        retried like a GET)."""
        params = {
            "fromUid": _uid(from_uid, "from_uid"),
            "fromAccountType": int(from_account_type),
            "toUid": _uid(to_uid, "to_uid"),
            "toAccountType": int(to_account_type),
        }
        data = self._call(SUB_TRANSFER_SUPPORT_COINS, params)
        return self._parse(
            SUB_TRANSFER_SUPPORT_COINS,
            lambda: tuple(SubAccountTransferableCoin.from_raw(c) for c in envelope.items(data, "coins")),
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
        """``SUB_TRANSFER_HISTORY`` (master only, bare)."""
        params = {
            "uid": _uid(uid, "uid"),
            "type": type,
            "tranId": tran_id,
            "startTime": start_time,
            "endTime": end_time,
            "pageId": page_id,
            "pagingSize": paging_size,
        }
        data = self._call(SUB_TRANSFER_HISTORY, params)
        return self._page(SUB_TRANSFER_HISTORY, data, SubAccountTransferRecord.from_raw)

    # ------------------------------------------------------------------------------------------------
    # sub-accounts
    # ------------------------------------------------------------------------------------------------
    def sub_accounts(self, sub_uid: Uid | None = None, page: int = 1, limit: int = 100) -> Page[SubAccount]:
        """``SUB_ACCOUNT_LIST`` (master only)."""
        params = {
            "subUid": None if sub_uid is None else _uid(sub_uid, "sub_uid"),
            "page": page,
            "limit": limit,
        }
        data = self._call(SUB_ACCOUNT_LIST, params)
        return self._page(SUB_ACCOUNT_LIST, data, SubAccount.from_raw)

    def sub_account_assets(self, sub_uid: Uid) -> tuple[Balance, ...]:
        """``SUB_ACCOUNT_ASSETS`` → a sub-account's funding balances (JSON numbers)."""
        data = self._call(SUB_ACCOUNT_ASSETS, {"subUid": _uid(sub_uid, "sub_uid")})
        return self._parse(
            SUB_ACCOUNT_ASSETS,
            lambda: tuple(Balance.from_raw(r) for r in envelope.items(data, "balances", "assets")),
        )

    def sub_account_overview(
        self, sub_uid: Uid, account_type: str | None = None
    ) -> tuple[AssetOverviewEntry, ...]:
        """``SUB_ALL_ACCOUNT_BALANCE`` for one sub-account (master key) → USDT value per account type
        (``sopt`` funding, ``stdFutures``, ``coinMPerp``, ``USDTMPerp``, …); only ``account_type`` when
        given. The one way a master reads a sub-account's futures wallets: as a value in USDT."""
        uid = _uid(sub_uid, "sub_uid")
        data = self._call(
            SUB_ALL_ACCOUNT_BALANCE,
            {"subUid": uid, "accountType": account_type, "pageIndex": 1, "pageSize": 10},
        )

        def parse() -> tuple[AssetOverviewEntry, ...]:
            _total, rows = envelope.records(data)
            for row in rows:
                if str(row["subUid"]) == str(uid):
                    return tuple(AssetOverviewEntry.from_raw(r) for r in row.get("accountBalances") or [])
            return ()

        return self._parse(SUB_ALL_ACCOUNT_BALANCE, parse)

    # ------------------------------------------------------------------------------------------------
    # plumbing
    # ------------------------------------------------------------------------------------------------
    def _parse(self, endpoint: Endpoint, fn: Callable[[], T]) -> T:
        """Model parsing after a successful answer; a shape we don't understand is Ambiguous."""
        try:
            return fn()
        except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
            raise Ambiguous(
                f"unexpected response shape ({type(exc).__name__}), outcome unknown", path=endpoint.path
            ) from exc

    def _page(self, endpoint: Endpoint, data: Any, parse: Callable[[Any], T]) -> Page[T]:
        def go() -> Page[T]:
            total, rows = envelope.records(data)
            return Page(total=total, rows=tuple(parse(r) for r in rows))

        return self._parse(endpoint, go)

    def _public_get(self, endpoint: Endpoint) -> Any:
        """Unsigned GET with read retries (server time)."""
        path = endpoint.path
        attempt = 0
        while True:
            attempt += 1
            start = time.monotonic()
            try:
                prep = requests.Request(endpoint.method, self.base_url + path).prepare()
                return self._exchange(prep, path).payload
            except (NotSent, Ambiguous) as exc:
                self._log(endpoint.method, path, exc.http_status, exc.code, start, exc)
                if attempt > self.read_retries:
                    raise
                self._sleep_backoff(attempt)

    def _call(self, endpoint: Endpoint, params: Mapping[str, Any]) -> Any:
        """Sign, send, classify; retry read-only endpoints only; resync once on 100421. Returns the
        unwrapped payload."""
        attempt = 0
        resynced = False
        retries = 0
        while True:
            attempt += 1
            try:
                return self._send_signed(endpoint, params, attempt)
            except TimestampError as exc:
                if resynced:
                    raise
                resynced = True
                try:
                    self.sync_time()
                except BingXError as sync_exc:
                    raise exc from sync_exc
            except (NotSent, Ambiguous):
                if not endpoint.read_only or retries >= self.read_retries:
                    raise
                retries += 1
                self._sleep_backoff(retries)

    def _sleep_backoff(self, n: int) -> None:
        time.sleep(min(self.retry_backoff_s * (2 ** (n - 1)), 2.0))

    def _send_signed(self, endpoint: Endpoint, params: Mapping[str, Any], attempt: int) -> Any:
        method = endpoint.method
        path = endpoint.path
        mode = endpoint.transport
        if self.before_request is not None:
            # Before signing: a wait for a rate-limit token must not age the signed timestamp.
            self.before_request(method, path)
        offset = self._offsets.get(self.base_url)
        signed = build(
            params,
            self.__secret,
            timestamp_ms=_now_ms() + offset,
            recv_window=self.recv_window,
            mode=mode,
        )
        url = self.base_url + path
        headers = {"X-BX-APIKEY": self.api_key}
        # ~/.netrc credentials apply only when the session has no auth of its own (as in requests).
        auth = self._auth if self.session.auth is None else None
        if mode == "json":
            headers["Content-Type"] = "application/json"
            req = requests.Request(method, url, headers=headers, data=signed.body or "", auth=auth)
        else:
            req = requests.Request(method, url, headers=headers, auth=auth)
        prep = self.session.prepare_request(req)
        if mode == "query":
            # Set the URL ourselves so nothing re-encodes or re-orders what was signed.
            prep.url = f"{url}?{signed.query}"
        start = time.monotonic()
        http_status: int | None = None
        code: int | None = None
        msg = ""
        error: BingXError | None = None
        try:
            answer = self._exchange(prep, path)
            http_status, code, msg = answer.http_status, answer.code, answer.msg
            return answer.payload
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

    def _exchange(self, prep: requests.PreparedRequest, path: str) -> _Answer:
        """Send one prepared request; return the unwrapped payload or raise a classified error."""
        transport_error: BingXError | None = None
        try:
            resp = self.session.send(prep, timeout=self.timeout, allow_redirects=False, **self._environment)
            content = resp.content  # read the whole body inside the try: a broken body is Ambiguous
        except requests.RequestException as exc:
            transport_error = _classify_transport(exc, path)
        except OSError as exc:  # pragma: no cover - defensive
            transport_error = Ambiguous(f"socket error, outcome unknown ({type(exc).__name__})", path=path)
        if transport_error is not None:
            # Raised outside the except block: the requests exception (its text holds the signed URL)
            # must not even be reachable as __context__.
            raise transport_error
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
        payload = envelope.unwrap(body, http_status=status, path=path)
        code, msg = _code_msg(body)
        return _Answer(payload, status, code, msg)

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


def _code_msg(body: Any) -> tuple[int | None, str]:
    """BingX code (0 when a dict body has none) and message of a parsed successful answer, for audit."""
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
