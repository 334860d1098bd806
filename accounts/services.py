"""Writes for key sets, grants, verification, sub-account discovery and balances.

Each function is one state change: keyword-only arguments, permission and state checks here (views
only parse and call), one transaction, one audit event. Secrets never go into an audit event.
Calls to BingX happen outside any transaction; only the recording of their result is transactional.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

import bingx
from accounts.access import AccessDenied, Capability, ensure_admin, ensure_can
from accounts.audit import audit_record
from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, secret_encrypt
from accounts.exchange import ExchangeProblem, client_for, exchange_problem
from accounts.models import (
    AccountKind,
    ApiKeySet,
    AssetOverviewSnapshot,
    BalanceSnapshot,
    Environment,
    KeySetGrant,
    KeySetStatus,
    SubAccount,
    User,
    Wallet,
)

logger = logging.getLogger(__name__)


class KeySetRefused(Exception):
    """A key-set change was refused; the message is safe to show."""


# --- What the desk needs from a key -------------------------------------------------------------

PERMISSION_NAMES = {
    1: "Spot trading",
    2: "Read",
    3: "Contract trading",
    4: "Universal transfer",
    5: "Withdraw",
    7: "Sub-account inner transfer",
}


@dataclass(frozen=True)
class Need:
    code: int
    purpose: str
    kinds: tuple[str, ...]


NEEDS = (
    Need(2, "balances, records and verification", (AccountKind.MAIN, AccountKind.SUB)),
    Need(
        4, "moves between own wallets and master-driven family transfers", (AccountKind.MAIN, AccountKind.SUB)
    ),
    Need(5, "inner transfers to another main account or an own sub-account", (AccountKind.MAIN,)),
    Need(7, "sub-account inner transfers (sub → sub or sub → main)", (AccountKind.SUB,)),
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


# --- Validation shared by forms and services ----------------------------------------------------

_CREDENTIAL_RE = re.compile(r"^[\x21-\x7e]{8,256}$")
_BINGX_HOST_SUFFIXES = (".bingx.com", ".bingx.io")


def base_url_for(*, environment: str, base_url: str = "") -> str:
    """The base URL to store: BingX's by default, the sandbox only when chosen. Raises ValidationError."""
    if environment not in Environment.values:
        raise ValidationError("Choose BingX or the sandbox exchange.")
    url = (base_url or "").strip().rstrip("/")
    if not url:
        return (
            settings.BINGX_PRODUCTION_URL if environment == Environment.BINGX else settings.BINGX_SANDBOX_URL
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Enter a full URL such as https://open-api.bingx.com.")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError("Enter only scheme, host and port (no path, query or credentials).")
    host = parts.hostname.lower()
    is_bingx_host = host in ("bingx.com", "bingx.io") or host.endswith(_BINGX_HOST_SUFFIXES)
    if environment == Environment.BINGX:
        if parts.scheme != "https":
            raise ValidationError("A real BingX base URL must use https.")
        if not is_bingx_host:
            raise ValidationError(
                "A real BingX key set must point at a bingx.com host; "
                "choose “Sandbox exchange” for anything else."
            )
    elif is_bingx_host:
        raise ValidationError("This is a real BingX host; a sandbox key set cannot point at it.")
    return url


def credential_clean(*, value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError(f"Enter the {what}.")
    if not _CREDENTIAL_RE.match(value):
        raise ValidationError(f"The {what} must be 8-256 printable characters without spaces.")
    return value


def _validation_message(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _pending_requests_stale(*, key_set: ApiKeySet, actor: User, reason: str) -> int:
    """Mark the key set's pending transfer requests STALE, with one audit event per request."""
    from transfers.models import Status, TransferRequest

    pending = list(
        TransferRequest.objects.select_for_update()
        .filter(key_set=key_set, status=Status.PENDING)
        .order_by("pk")
    )
    for req in pending:
        TransferRequest.objects.filter(pk=req.pk, status=Status.PENDING).update(
            status=Status.STALE, updated_at=timezone.now()
        )
        audit_record(
            actor=actor,
            verb="transfer.stale",
            obj=req,
            before={"status": Status.PENDING},
            after={"status": Status.STALE, "reason": reason},
        )
    return len(pending)


def _lock(*, key_set_id: int) -> ApiKeySet:
    try:
        return ApiKeySet.objects.select_for_update().get(pk=key_set_id)
    except ApiKeySet.DoesNotExist:
        raise KeySetRefused("That key set does not exist.") from None


# --- Key set lifecycle --------------------------------------------------------------------------


@transaction.atomic
def key_set_create(
    *,
    actor: User,
    label: str,
    api_key: str,
    secret: str,
    environment: str = Environment.BINGX,
    base_url: str = "",
    account_kind: str = AccountKind.MAIN,
    parent_id: int | None = None,
    rotate_by: dt.date | None = None,
    ip: str | None = None,
) -> ApiKeySet:
    """Store a new key set, encrypted, awaiting activation by a second administrator."""
    ensure_admin(user=actor)
    label = (label or "").strip()
    if not label:
        raise KeySetRefused("Enter a label.")
    try:
        url = base_url_for(environment=environment, base_url=base_url)
        api_key = credential_clean(value=api_key, what="API key")
        secret = credential_clean(value=secret, what="API secret")
    except ValidationError as exc:
        raise KeySetRefused(_validation_message(exc)) from None
    if account_kind not in AccountKind.values:
        raise KeySetRefused("Choose main account or sub-account.")
    parent = None
    if account_kind == AccountKind.SUB:
        if parent_id is None:
            raise KeySetRefused("A sub-account key set needs its main account's key set.")
        parent = ApiKeySet.objects.filter(pk=parent_id, account_kind=AccountKind.MAIN).first()
        if parent is None:
            raise KeySetRefused("The main account must be an existing main-account key set.")
        if parent.environment != environment:
            raise KeySetRefused("A sub-account key set must use the same exchange as its main account.")
    elif parent_id is not None:
        raise KeySetRefused("A main-account key set has no parent.")
    if ApiKeySet.objects.filter(label__iexact=label).exists():
        raise KeySetRefused(f"A key set labelled “{label}” already exists.")
    now = timezone.now()
    key_set = ApiKeySet(
        label=label,
        environment=environment,
        base_url=url,
        account_kind=account_kind,
        parent=parent,
        api_key_last4=api_key[-4:],
        status=KeySetStatus.PENDING_ACTIVATION,
        rotate_by=rotate_by,
        created_by=actor,
        secret_changed_by=actor,
        secret_changed_at=now,
    )
    key_set.api_key_encrypted = secret_encrypt(
        plaintext=api_key, key_set_uuid=key_set.uuid, purpose=PURPOSE_API_KEY
    )
    key_set.secret_encrypted = secret_encrypt(
        plaintext=secret, key_set_uuid=key_set.uuid, purpose=PURPOSE_SECRET
    )
    try:
        with transaction.atomic():
            key_set.save()
    except IntegrityError:
        raise KeySetRefused(f"A key set labelled “{label}” already exists.") from None
    audit_record(
        actor=actor,
        verb="keyset.create",
        obj=key_set,
        after={
            "label": label,
            "environment": environment,
            "base_url": url,
            "account_kind": account_kind,
            "parent": parent.pk if parent else None,
            "api_key": key_set.api_key_hint,
            "status": key_set.status,
            "rotate_by": rotate_by,
        },
        ip=ip,
    )
    return key_set


@transaction.atomic
def key_set_update(
    *, actor: User, key_set_id: int, label: str, rotate_by: dt.date | None, ip: str | None = None
) -> ApiKeySet:
    """Rename a key set or change its rotate-by date (nothing that affects signing)."""
    ensure_admin(user=actor)
    key_set = _lock(key_set_id=key_set_id)
    label = (label or "").strip()
    if not label:
        raise KeySetRefused("Enter a label.")
    if ApiKeySet.objects.filter(label__iexact=label).exclude(pk=key_set.pk).exists():
        raise KeySetRefused(f"A key set labelled “{label}” already exists.")
    before = {"label": key_set.label, "rotate_by": key_set.rotate_by}
    key_set.label, key_set.rotate_by = label, rotate_by
    key_set.save(update_fields=["label", "rotate_by", "updated_at"])
    audit_record(
        actor=actor,
        verb="keyset.update",
        obj=key_set,
        before=before,
        after={"label": label, "rotate_by": rotate_by},
        ip=ip,
    )
    return key_set


@transaction.atomic
def key_set_replace_secret(
    *,
    actor: User,
    key_set_id: int,
    api_key: str,
    secret: str,
    rotate_by: dt.date | None = None,
    ip: str | None = None,
) -> ApiKeySet:
    """New credentials: back to pending activation, verification cleared, pending requests stale."""
    ensure_admin(user=actor)
    key_set = _lock(key_set_id=key_set_id)
    try:
        api_key = credential_clean(value=api_key, what="API key")
        secret = credential_clean(value=secret, what="API secret")
    except ValidationError as exc:
        raise KeySetRefused(_validation_message(exc)) from None
    before = {"status": key_set.status, "api_key": key_set.api_key_hint, "rotate_by": key_set.rotate_by}
    key_set.api_key_encrypted = secret_encrypt(
        plaintext=api_key, key_set_uuid=key_set.uuid, purpose=PURPOSE_API_KEY
    )
    key_set.secret_encrypted = secret_encrypt(
        plaintext=secret, key_set_uuid=key_set.uuid, purpose=PURPOSE_SECRET
    )
    key_set.api_key_last4 = api_key[-4:]
    key_set.status = KeySetStatus.PENDING_ACTIVATION
    key_set.secret_changed_at = timezone.now()
    key_set.secret_changed_by = actor
    key_set.activated_by = None
    key_set.activated_at = None
    # What the old key could do says nothing about the new one.
    key_set.permissions, key_set.ip_whitelist, key_set.verification = [], [], {}
    key_set.last_verified_at = None
    if rotate_by is not None:
        key_set.rotate_by = rotate_by
    key_set.save()
    staled = _pending_requests_stale(key_set=key_set, actor=actor, reason="key set secret replaced")
    audit_record(
        actor=actor,
        verb="keyset.replace_secret",
        obj=key_set,
        before=before,
        after={
            "status": key_set.status,
            "api_key": key_set.api_key_hint,
            "rotate_by": key_set.rotate_by,
            "stale_requests": staled,
        },
        ip=ip,
    )
    return key_set


@transaction.atomic
def key_set_activate(*, actor: User, key_set_id: int, ip: str | None = None) -> ApiKeySet:
    """Four eyes: only an administrator other than whoever created it or last changed its secret."""
    ensure_admin(user=actor)
    key_set = _lock(key_set_id=key_set_id)
    if key_set.status == KeySetStatus.ACTIVE:
        raise KeySetRefused("This key set is already active.")
    changer_id = key_set.secret_changed_by_id or key_set.created_by_id
    if actor.pk in {changer_id, key_set.created_by_id}:
        raise KeySetRefused(
            "A second administrator must activate this key set: you created it or last changed its secret."
        )
    before = {"status": key_set.status}
    key_set.status = KeySetStatus.ACTIVE
    key_set.activated_by = actor
    key_set.activated_at = timezone.now()
    key_set.save(update_fields=["status", "activated_by", "activated_at", "updated_at"])
    audit_record(
        actor=actor,
        verb="keyset.activate",
        obj=key_set,
        before=before,
        after={"status": key_set.status},
        ip=ip,
    )
    return key_set


@transaction.atomic
def key_set_deactivate(*, actor: User, key_set_id: int, ip: str | None = None) -> ApiKeySet:
    """Stop using a key set at once; its pending requests become stale."""
    ensure_admin(user=actor)
    key_set = _lock(key_set_id=key_set_id)
    if key_set.status == KeySetStatus.INACTIVE:
        raise KeySetRefused("This key set is already inactive.")
    before = {"status": key_set.status}
    key_set.status = KeySetStatus.INACTIVE
    key_set.save(update_fields=["status", "updated_at"])
    staled = _pending_requests_stale(key_set=key_set, actor=actor, reason="key set deactivated")
    audit_record(
        actor=actor,
        verb="keyset.deactivate",
        obj=key_set,
        before=before,
        after={"status": key_set.status, "stale_requests": staled},
        ip=ip,
    )
    return key_set


# --- Grants -------------------------------------------------------------------------------------


def _grant_state(grant: KeySetGrant) -> dict[str, Any]:
    return {
        "user": grant.user.get_username() if grant.user else None,
        "group": grant.group.name if grant.group else None,
        "view": grant.can_view,
        "request": grant.can_request,
        "approve": grant.can_approve,
    }


@transaction.atomic
def grant_set(
    *,
    actor: User,
    key_set_id: int,
    user: User | None = None,
    group: Group | None = None,
    can_view: bool = True,
    can_request: bool = False,
    can_approve: bool = False,
    ip: str | None = None,
) -> KeySetGrant:
    """Create or change one user's or group's grant on a key set."""
    ensure_admin(user=actor)
    key_set = _lock(key_set_id=key_set_id)
    if (user is None) == (group is None):
        raise KeySetRefused("Choose either a user or a group.")
    if not (can_view or can_request or can_approve):
        raise KeySetRefused("Choose at least one capability (to remove access, revoke the grant).")
    if (can_request or can_approve) and not can_view:
        raise KeySetRefused("Requesting and approving need the view capability too.")
    who: dict[str, Any] = {"user": user} if user is not None else {"group": group}
    grant = KeySetGrant.objects.select_for_update().filter(key_set=key_set, **who).first()
    before = _grant_state(grant) if grant else {}
    if grant is None:
        grant = KeySetGrant(key_set=key_set, created_by=actor, **who)
    grant.can_view, grant.can_request, grant.can_approve = can_view, can_request, can_approve
    grant.save()
    audit_record(actor=actor, verb="grant.set", obj=grant, before=before, after=_grant_state(grant), ip=ip)
    return grant


@transaction.atomic
def grant_revoke(*, actor: User, grant_id: int, key_set_id: int | None = None, ip: str | None = None) -> None:
    ensure_admin(user=actor)
    grant = (
        # of=("self",): PostgreSQL cannot lock the nullable side of the user/group outer joins.
        KeySetGrant.objects.select_for_update(of=("self",))
        .select_related("user", "group")
        .filter(pk=grant_id)
        .first()
    )
    if grant is None or (key_set_id is not None and grant.key_set_id != key_set_id):
        raise KeySetRefused("That grant does not exist.")
    before = _grant_state(grant)
    audit_record(actor=actor, verb="grant.revoke", obj=grant, before=before, after={}, ip=ip)
    grant.delete()


# --- Reads from BingX ---------------------------------------------------------------------------


def _readable_key_set(*, actor: User | None, key_set_id: int) -> ApiKeySet:
    """The key set, if the actor may view it (actor None: the system, from a task)."""
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first()
    if key_set is None:
        raise KeySetRefused("That key set does not exist.")
    if actor is not None:
        try:
            ensure_can(user=actor, key_set=key_set, capability=Capability.VIEW)
        except AccessDenied:
            raise KeySetRefused("That key set does not exist.") from None
    return key_set


def key_set_verify(*, key_set_id: int, actor: User | None = None, ip: str | None = None) -> dict[str, Any]:
    """Ask BingX who the key belongs to and what it may do, read a balance, and record the report."""
    key_set = _readable_key_set(actor=actor, key_set_id=key_set_id)
    report: dict[str, Any] = {"ok": False, "error": "", "error_kind": "", "checks": {}}
    uid: int | None = None
    permissions: list[int] | None = None
    ip_whitelist: list[str] | None = None
    try:
        client = client_for(key_set=key_set)
        uid = int(client.uid())
        report["checks"]["uid"] = True
        perms = client.api_permissions()
        permissions = sorted({int(p) for p in perms.permissions})
        ip_whitelist = [str(a) for a in (perms.ip_addresses or [])]
        report["checks"]["permissions"] = True
        client.spot_balances()  # a balance read with permission 2 alone
        report["checks"]["balance_read"] = True
        report["ok"] = True
    except Exception as exc:
        problem = exchange_problem(exc=exc, key_set=key_set)
        report["error"], report["error_kind"] = problem.message, problem.kind
        logger.info("key set %s verification failed: %s", key_set.pk, problem.kind)
    now = timezone.now()
    with transaction.atomic():
        locked = _lock(key_set_id=key_set.pk)
        before = {"uid": locked.uid, "permissions": locked.permissions, "ip_whitelist": locked.ip_whitelist}
        warnings: list[str] = []
        if uid is not None:
            if locked.uid is not None and locked.uid != uid:
                warnings.append(f"The key now belongs to BingX UID {uid}; it was UID {locked.uid} before.")
            if locked.account_kind == AccountKind.SUB and locked.parent_id is not None:
                known = SubAccount.objects.filter(main_key_set_id=locked.parent_id)
                if known.exists() and not known.filter(sub_uid=uid).exists():
                    warnings.append(
                        f"UID {uid} is not among the sub-accounts discovered from the main key set "
                        f"“{locked.parent.label if locked.parent else ''}”."
                    )
            locked.uid = uid
        if permissions is not None:
            locked.permissions = permissions
            locked.ip_whitelist = ip_whitelist or []
            summary = permission_report(
                account_kind=locked.account_kind, permissions=permissions, ip_whitelist=locked.ip_whitelist
            )
            report["needs"] = summary["needs"]
            warnings.extend(summary["warnings"])
        report["warnings"] = warnings
        report["uid"] = locked.uid
        report["checked_at"] = now.isoformat()
        locked.verification = report
        if report["ok"]:
            locked.last_verified_at = now
        locked.save(
            update_fields=[
                "uid",
                "permissions",
                "ip_whitelist",
                "verification",
                "last_verified_at",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            verb="keyset.verify",
            obj=locked,
            before=before,
            after={
                "ok": report["ok"],
                "uid": locked.uid,
                "permissions": locked.permissions,
                "ip_whitelist": locked.ip_whitelist,
                "error_kind": report["error_kind"],
            },
            ip=ip,
        )
    return report


@dataclass(frozen=True)
class DiscoveryResult:
    found: int
    added: int
    removed: int


def sub_accounts_discover(
    *, key_set_id: int, actor: User | None = None, ip: str | None = None
) -> DiscoveryResult:
    """List a main account's sub-accounts on BingX and mirror them as SubAccount rows."""
    key_set = _readable_key_set(actor=actor, key_set_id=key_set_id)
    if key_set.account_kind != AccountKind.MAIN:
        raise KeySetRefused("Sub-accounts can only be discovered from a main-account key set.")
    limit = 100
    rows: list[bingx.SubAccount] = []
    try:
        client = client_for(key_set=key_set)
        for page in range(1, 101):  # 10,000 sub-accounts at most; BingX allows far fewer
            batch = client.sub_accounts(page=page, limit=limit)
            rows.extend(batch.rows)
            if len(batch.rows) < limit or len(rows) >= batch.total:
                break
    except Exception as exc:
        raise exchange_problem(exc=exc, key_set=key_set) from None
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        created = row.create_time
        found[int(row.sub_uid)] = {
            "name": row.sub_account_string[:100],
            "note": row.note[:200],
            "frozen": row.freeze,
            "created_on_exchange": dt.datetime.fromtimestamp(created / 1000, tz=dt.UTC) if created else None,
        }
    with transaction.atomic():
        locked = _lock(key_set_id=key_set.pk)
        existing = set(SubAccount.objects.filter(main_key_set=locked).values_list("sub_uid", flat=True))
        for sub_uid, fields in found.items():
            SubAccount.objects.update_or_create(main_key_set=locked, sub_uid=sub_uid, defaults=fields)
        gone = existing - set(found)
        SubAccount.objects.filter(main_key_set=locked, sub_uid__in=gone).delete()
        result = DiscoveryResult(found=len(found), added=len(set(found) - existing), removed=len(gone))
        audit_record(
            actor=actor,
            verb="keyset.discover_subs",
            obj=locked,
            before={"sub_uids": sorted(existing)},
            after={"sub_uids": sorted(found)},
            ip=ip,
        )
    return result


# Asset overview names its funding account "spot" (docs) or "sopt" (docs' example): both mean fund.
OVERVIEW_WALLET = {
    "sopt": Wallet.FUND,
    "spot": Wallet.FUND,
    "fund": Wallet.FUND,
    "stdFutures": Wallet.STD_FUTURES,
    "USDTMPerp": Wallet.USDTM_PERP,
    "coinMPerp": Wallet.COINM_PERP,
}


@dataclass(frozen=True)
class SyncResult:
    taken_at: dt.datetime
    balances: int
    overview: int
    notes: tuple[str, ...] = ()


def balances_sync(*, key_set_id: int, actor: User | None = None, ip: str | None = None) -> SyncResult:
    """Snapshot fund and spot balances per asset, and the USDT value of every wallet.

    BingX's account API in this client's scope has no per-asset balance read for the standard-futures,
    USDT-M and COIN-M wallets; their USDT value comes from the asset overview and is shown as such.
    All reads happen first; a failing read writes nothing. History is kept (one taken_at per sync).
    Periodic syncs by the system are not audited (they change no decision); on-demand syncs are.
    """
    key_set = _readable_key_set(actor=actor, key_set_id=key_set_id)
    notes: list[str] = []
    try:
        client = client_for(key_set=key_set)
        spot = client.spot_balances()
        overview = client.asset_overview()
        try:
            fund: tuple[bingx.Balance, ...] = client.fund_balances()
        except bingx.PermissionDenied as exc:
            # BingX reads the funding wallet only with permission 4; its USDT value still shows.
            fund = ()
            notes.append(exchange_problem(exc=exc, key_set=key_set).message)
    except Exception as exc:
        raise exchange_problem(exc=exc, key_set=key_set) from None
    taken_at = timezone.now()
    snapshots = [
        BalanceSnapshot(
            key_set=key_set,
            wallet=wallet,
            asset=str(b.asset).upper()[:20],
            free=Decimal(b.free),
            locked=Decimal(b.locked),
            taken_at=taken_at,
        )
        for wallet, rows in ((Wallet.FUND, fund), (Wallet.SPOT, spot))
        for b in rows
        if Decimal(b.free) or Decimal(b.locked)
    ]
    overviews = [
        AssetOverviewSnapshot(
            key_set=key_set,
            account_type=str(e.account_type)[:32],
            usdt_balance=Decimal(e.usdt_balance),
            taken_at=taken_at,
        )
        for e in overview
    ]
    with transaction.atomic():
        locked = _lock(key_set_id=key_set.pk)
        BalanceSnapshot.objects.bulk_create(snapshots)
        AssetOverviewSnapshot.objects.bulk_create(overviews)
        locked.balances_synced_at = taken_at
        locked.save(update_fields=["balances_synced_at", "updated_at"])
        if actor is not None:
            audit_record(
                actor=actor,
                verb="keyset.balances_sync",
                obj=locked,
                after={
                    "balances": len(snapshots),
                    "overview": len(overviews),
                    "taken_at": taken_at,
                    "notes": notes,
                },
                ip=ip,
            )
    return SyncResult(taken_at=taken_at, balances=len(snapshots), overview=len(overviews), notes=tuple(notes))


__all__ = [
    "NEEDS",
    "PERMISSION_NAMES",
    "DiscoveryResult",
    "ExchangeProblem",
    "KeySetRefused",
    "SyncResult",
    "balances_sync",
    "base_url_for",
    "credential_clean",
    "grant_revoke",
    "grant_set",
    "key_set_activate",
    "key_set_create",
    "key_set_deactivate",
    "key_set_replace_secret",
    "key_set_update",
    "key_set_verify",
    "permission_report",
    "sub_accounts_discover",
]
