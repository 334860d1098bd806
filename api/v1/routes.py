"""The operations of API v1. Parse, call the service or selector the pages call, shape the answer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Header, Query, Router, Schema, Status

from accounts.access import Capability
from accounts.models import ApiKeySet, BalanceSnapshot
from accounts.selectors import balances_latest
from accounts.web import client_ip
from api.models import ApiToken, TokenScope
from api.payloads import batch_data, request_data
from api.services.tokens import token_key_sets
from api.v1.pagination import page_of
from transfers.batch_csv import LegInput
from transfers.models import TransferBatch, TransferRecord, TransferRequest
from transfers.policy import policy_overview
from transfers.services.batches import transfer_batch_cancel, transfer_batch_create
from transfers.services.requests import transfer_request_cancel, transfer_request_create

router = Router()

Kind = Literal["wallet", "inner", "sub_inner", "family"]
AMOUNT_PATTERN = r"^[0-9]{1,20}(\.[0-9]{1,18})?$"


class ScopeRefused(Exception):
    """The token's scope does not allow this (403)."""


# --- helpers -------------------------------------------------------------------------------------


def _token(request: HttpRequest) -> ApiToken:
    token = request.auth  # type: ignore[attr-defined]
    assert isinstance(token, ApiToken)
    return token


def _requesting(request: HttpRequest) -> ApiToken:
    token = _token(request)
    if token.scope != TokenScope.REQUEST:
        raise ScopeRefused(
            "This token is read-only: create a token with the request scope to submit or cancel."
        )
    return token


def _visible_key_set_ids(token: ApiToken) -> QuerySet[ApiKeySet]:
    return token_key_sets(token=token, capability=Capability.VIEW)


def _requests_of(token: ApiToken) -> QuerySet[TransferRequest]:
    return TransferRequest.objects.filter(key_set__in=_visible_key_set_ids(token)).select_related(
        "requested_by"
    )


def _batches_of(token: ApiToken) -> QuerySet[TransferBatch]:
    allowed = _visible_key_set_ids(token).values("pk")
    hidden = ApiKeySet.objects.exclude(pk__in=allowed).values("pk")
    return TransferBatch.objects.exclude(legs__key_set__in=hidden).select_related("requested_by")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


# --- schemas -------------------------------------------------------------------------------------


class KeySetOut(Schema):
    id: int
    uuid: str
    label: str
    environment: str
    account_kind: str
    uid: int | None
    status: str
    parent_id: int | None
    balances_synced_at: str | None


def _key_set(ks: ApiKeySet) -> dict[str, Any]:
    return {
        "id": ks.pk,
        "uuid": str(ks.uuid),
        "label": ks.label,
        "environment": ks.environment,
        "account_kind": ks.account_kind,
        "uid": ks.uid,
        "status": ks.status,
        "parent_id": ks.parent_id,
        "balances_synced_at": _iso(ks.balances_synced_at),
    }


class KeySetPage(Schema):
    results: list[KeySetOut]
    next_cursor: str | None


class AssetBalance(Schema):
    asset: str
    free: str
    locked: str


class WalletOut(Schema):
    wallet: str
    label: str
    usdt_value: str | None
    assets: list[AssetBalance]


class BalancesOut(Schema):
    key_set_id: int
    taken_at: str | None
    total_usdt: str
    wallets: list[WalletOut]


class BalanceRow(Schema):
    id: int
    wallet: str
    asset: str
    free: str
    locked: str
    taken_at: str


class BalancePage(Schema):
    results: list[BalanceRow]
    next_cursor: str | None


class RecordOut(Schema):
    id: int
    key_set_id: int
    source: str
    exchange_id: str
    asset: str
    amount: str
    status: str
    from_account: str
    to_account: str
    direction: str
    transfer_client_id: str
    occurred_at: str
    matched_request_id: int | None


class RecordPage(Schema):
    results: list[RecordOut]
    next_cursor: str | None


class RequestOut(Schema):
    id: int
    uuid: str
    status: str
    kind: str
    key_set_id: int
    asset: str
    amount: str
    client_id: str
    fields: dict[str, Any]
    note: str
    payload_sha256: str
    required_approvals: int
    requested_by: str
    batch_id: int | None
    created_at: str | None
    updated_at: str | None
    expires_at: str | None
    exchange_id: str
    failure_code: str
    failure_message: str
    needs_attention: bool


class RequestPage(Schema):
    results: list[RequestOut]
    next_cursor: str | None


class RequestIn(Schema):
    key_set_id: int = Field(..., ge=1)
    kind: Kind
    asset: str = Field(..., min_length=1, max_length=20)
    amount: str = Field(..., pattern=AMOUNT_PATTERN, description="A positive decimal, as a string.")
    fields: dict[str, str | int] = Field(
        default_factory=dict, description="The kind's own fields (docs/api.md)."
    )
    note: str = Field("", max_length=300)


class Progress(Schema):
    done: int
    failed: int
    unknown: int
    running: int
    waiting: int


class BatchOut(Schema):
    id: int
    uuid: str
    status: str
    note: str
    required_approvals: int
    requested_by: str
    created_at: str | None
    expires_at: str | None
    legs: list[int]
    progress: Progress


class BatchPage(Schema):
    results: list[BatchOut]
    next_cursor: str | None


class LegIn(Schema):
    key_set_id: int = Field(..., ge=1)
    kind: Kind
    asset: str = Field(..., min_length=1, max_length=20)
    amount: str = Field(..., pattern=AMOUNT_PATTERN)
    fields: dict[str, str | int] = Field(default_factory=dict)


class BatchIn(Schema):
    legs: list[LegIn] = Field(..., min_length=1, max_length=500)
    note: str = Field("", max_length=300)


class RuleOut(Schema):
    id: int
    position: int
    name: str
    key_set_id: int | None
    kind: str
    asset: str
    min_amount: str | None
    required_approvals: int
    is_active: bool


class LimitOut(Schema):
    key_set_id: int
    asset: str
    limit: str


class PolicyOut(Schema):
    rules: list[RuleOut]
    daily_limits: list[LimitOut]


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


ERRORS: dict[int, type[Schema]] = {
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    422: Problem,
    429: Problem,
}
WRITE_ERRORS: dict[int, type[Schema]] = {**ERRORS, 409: Problem}

Limit = Query(50, ge=1, le=200)
IdempotencyKey = Header(..., alias="Idempotency-Key", min_length=1, max_length=255)


# --- key sets, balances, records -----------------------------------------------------------------


@router.get("/key-sets", response={200: KeySetPage, **ERRORS}, tags=["key sets"])
def key_sets_list(request: HttpRequest, cursor: str | None = None, limit: int = Limit) -> Any:
    """Key sets this token may see."""
    return page_of(_visible_key_set_ids(_token(request)), cursor=cursor, limit=limit, item=_key_set)


@router.get("/key-sets/{key_set_id}", response={200: KeySetOut, **ERRORS}, tags=["key sets"])
def key_set_get(request: HttpRequest, key_set_id: int) -> Any:
    return _key_set(_visible_key_set_ids(_token(request)).get(pk=key_set_id))


@router.get("/key-sets/{key_set_id}/balances", response={200: BalancesOut, **ERRORS}, tags=["balances"])
def balances_get(request: HttpRequest, key_set_id: int) -> Any:
    """The latest balance snapshot (the desk syncs balances; this call does not reach the exchange)."""
    key_set = _visible_key_set_ids(_token(request)).get(pk=key_set_id)
    latest = balances_latest(key_set=key_set)
    return {
        "key_set_id": key_set.pk,
        "taken_at": _iso(latest.taken_at),
        "total_usdt": _dec(latest.total_usdt),
        "wallets": [
            {
                "wallet": w.wallet,
                "label": w.label,
                "usdt_value": _dec(w.usdt_value),
                "assets": [
                    {"asset": r.asset, "free": _dec(r.free), "locked": _dec(r.locked)} for r in w.rows
                ],
            }
            for w in latest.wallets
        ],
    }


def _balance_row(row: BalanceSnapshot) -> dict[str, Any]:
    return {
        "id": row.pk,
        "wallet": row.wallet,
        "asset": row.asset,
        "free": _dec(row.free),
        "locked": _dec(row.locked),
        "taken_at": row.taken_at.isoformat(),
    }


@router.get(
    "/key-sets/{key_set_id}/balances/history", response={200: BalancePage, **ERRORS}, tags=["balances"]
)
def balances_history(
    request: HttpRequest,
    key_set_id: int,
    asset: str | None = Query(None, max_length=20),
    wallet: str | None = Query(None, max_length=16),
    cursor: str | None = None,
    limit: int = Limit,
) -> Any:
    """Every balance row ever synced for the key set, newest first."""
    key_set = _visible_key_set_ids(_token(request)).get(pk=key_set_id)
    rows = BalanceSnapshot.objects.filter(key_set=key_set)
    if asset:
        rows = rows.filter(asset=asset.upper())
    if wallet:
        rows = rows.filter(wallet=wallet)
    return page_of(rows, cursor=cursor, limit=limit, item=_balance_row)


def _record(row: TransferRecord) -> dict[str, Any]:
    return {
        "id": row.pk,
        "key_set_id": row.key_set_id,
        "source": row.source,
        "exchange_id": row.exchange_id,
        "asset": row.asset,
        "amount": _dec(row.amount),
        "status": row.status,
        "from_account": row.from_account,
        "to_account": row.to_account,
        "direction": row.direction,
        "transfer_client_id": row.transfer_client_id,
        "occurred_at": row.occurred_at.isoformat(),
        "matched_request_id": row.matched_request_id,
    }


@router.get("/records", response={200: RecordPage, **ERRORS}, tags=["records"])
def records_list(
    request: HttpRequest, key_set_id: int | None = None, cursor: str | None = None, limit: int = Limit
) -> Any:
    """Exchange transfer records synced by the desk, newest first."""
    rows = TransferRecord.objects.filter(
        key_set__in=_visible_key_set_ids(_token(request)), is_duplicate=False
    )
    if key_set_id is not None:
        rows = rows.filter(key_set_id=key_set_id)
    return page_of(rows, cursor=cursor, limit=limit, item=_record)


# --- requests ------------------------------------------------------------------------------------


@router.get("/requests", response={200: RequestPage, **ERRORS}, tags=["requests"])
def requests_list(
    request: HttpRequest,
    status: str | None = Query(None, max_length=16),
    cursor: str | None = None,
    limit: int = Limit,
) -> Any:
    rows = _requests_of(_token(request))
    if status:
        rows = rows.filter(status=status)
    return page_of(rows, cursor=cursor, limit=limit, item=request_data)


@router.get("/requests/{request_id}", response={200: RequestOut, **ERRORS}, tags=["requests"])
def request_get(request: HttpRequest, request_id: int) -> Any:
    return request_data(_requests_of(_token(request)).get(pk=request_id))


def _may_request_on(token: ApiToken, key_set_id: int) -> None:
    if not token_key_sets(token=token, capability=Capability.VIEW).filter(pk=key_set_id).exists():
        raise TransferRequest.DoesNotExist  # looks absent, as on the pages
    if not token_key_sets(token=token, capability=Capability.REQUEST).filter(pk=key_set_id).exists():
        raise ScopeRefused(
            "You do not have the request grant on this key set, or this token does not cover it."
        )


@router.post("/requests", response={201: RequestOut, **WRITE_ERRORS}, tags=["requests"])
def request_create(request: HttpRequest, payload: RequestIn, idempotency_key: str = IdempotencyKey) -> Any:
    """Submit a transfer request. It waits for approval by people, in the browser, with a second factor."""
    token = _requesting(request)
    _may_request_on(token, payload.key_set_id)
    req = transfer_request_create(
        requester=token.user,
        key_set_id=payload.key_set_id,
        kind=payload.kind,
        asset=payload.asset,
        amount=payload.amount,
        fields=dict(payload.fields),
        note=payload.note,
        ip=client_ip(request),
    )
    return Status(201, request_data(req))


@router.post("/requests/{request_id}/cancel", response={200: RequestOut, **WRITE_ERRORS}, tags=["requests"])
def request_cancel(request: HttpRequest, request_id: int, idempotency_key: str = IdempotencyKey) -> Any:
    """Withdraw one of your own pending requests."""
    token = _requesting(request)
    req = _requests_of(token).get(pk=request_id)
    req = transfer_request_cancel(request_id=req.pk, actor=token.user, ip=client_ip(request))
    return request_data(_requests_of(token).get(pk=req.pk))


# --- batches -------------------------------------------------------------------------------------


@router.get("/batches", response={200: BatchPage, **ERRORS}, tags=["batches"])
def batches_list(request: HttpRequest, cursor: str | None = None, limit: int = Limit) -> Any:
    return page_of(_batches_of(_token(request)), cursor=cursor, limit=limit, item=batch_data)


@router.get("/batches/{batch_id}", response={200: BatchOut, **ERRORS}, tags=["batches"])
def batch_get(request: HttpRequest, batch_id: int) -> Any:
    return batch_data(_batches_of(_token(request)).get(pk=batch_id))


@router.post("/batches", response={201: BatchOut, **WRITE_ERRORS}, tags=["batches"])
def batch_create(request: HttpRequest, payload: BatchIn, idempotency_key: str = IdempotencyKey) -> Any:
    """Submit a batch of legs; the batch is approved as one, by people."""
    token = _requesting(request)
    uuids: dict[int, str] = {}
    for leg in payload.legs:
        _may_request_on(token, leg.key_set_id)
        if leg.key_set_id not in uuids:
            uuids[leg.key_set_id] = str(
                ApiKeySet.objects.values_list("uuid", flat=True).get(pk=leg.key_set_id)
            )
    legs = [
        LegInput(
            line=index,
            kind=leg.kind,
            key_set=uuids[leg.key_set_id],
            asset=leg.asset,
            amount=leg.amount,
            fields={k: str(v) for k, v in leg.fields.items()},
        )
        for index, leg in enumerate(payload.legs, start=1)
    ]
    batch = transfer_batch_create(requester=token.user, legs=legs, note=payload.note, ip=client_ip(request))
    return Status(201, batch_data(batch))


@router.post("/batches/{batch_id}/cancel", response={200: BatchOut, **WRITE_ERRORS}, tags=["batches"])
def batch_cancel(request: HttpRequest, batch_id: int, idempotency_key: str = IdempotencyKey) -> Any:
    """Withdraw one of your own pending batches (every pending leg is cancelled)."""
    token = _requesting(request)
    batch = _batches_of(token).get(pk=batch_id)
    transfer_batch_cancel(batch_id=batch.pk, actor=token.user, ip=client_ip(request))
    return batch_data(_batches_of(token).get(pk=batch.pk))


# --- policy --------------------------------------------------------------------------------------


@router.get("/policy", response={200: PolicyOut, **ERRORS}, tags=["policy"])
def policy_get(request: HttpRequest) -> Any:
    """The approval rules and 24-hour limits that apply to the key sets this token may see."""
    token = _token(request)
    overview = policy_overview(user=token.user)  # the policy page's read, scoped to the person
    visible = set(_visible_key_set_ids(token).values_list("pk", flat=True))  # narrowed to the token
    rules = overview.rules
    limits = overview.limits
    return {
        "rules": [
            {
                "id": r.pk,
                "position": r.position,
                "name": r.name,
                "key_set_id": r.key_set_id,
                "kind": r.kind,
                "asset": r.asset,
                "min_amount": _dec(r.min_amount),
                "required_approvals": r.required_approvals,
                "is_active": r.is_active,
            }
            for r in rules
            if r.key_set_id is None or r.key_set_id in visible
        ],
        "daily_limits": [
            {"key_set_id": d.key_set_id, "asset": d.asset, "limit": _dec(d.limit)}
            for d in limits
            if d.key_set_id in visible
        ],
    }
