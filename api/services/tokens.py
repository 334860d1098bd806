"""Personal API tokens: created by a person for themselves, shown once, stored as a SHA-256; revoked by
their owner or any administrator; every use checked (expiry, revocation, source address)."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.access import Capability, key_sets_for, user_is_admin
from accounts.audit import audit_record
from accounts.models import ApiKeySet, User
from api.models import ApiToken, TokenScope

TOKEN_PREFIX = "bxa_"
MAX_DAYS = 366
USE_AUDIT_EVERY = timedelta(hours=1)  # a use is audited from a new address, or once an hour


class TokenRefused(Exception):
    """Creation or revocation refused; the message is safe to show."""


class TokenInvalid(Exception):
    """A token that cannot be used (unknown, expired, revoked, wrong address); `status` is 401 or 403."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _state(token: ApiToken) -> dict[str, object]:
    return {
        "name": token.name,
        "prefix": token.prefix,
        "scope": token.scope,
        "key_sets": sorted(token.key_sets.values_list("pk", flat=True)),
        "allowed_ips": token.allowed_ips,
        "expires_at": token.expires_at.isoformat(),
        "revoked": token.revoked_at is not None,
    }


def allowed_ips_clean(values: Iterable[str]) -> list[str]:
    networks = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            networks.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            raise TokenRefused(
                f"“{value}” is not an IP address or network (e.g. 203.0.113.7 or 10.0.0.0/24)."
            ) from None
    return networks


@transaction.atomic
def api_token_create(
    *,
    user: User,
    name: str,
    days: int,
    scope: str,
    key_set_ids: Iterable[int] = (),
    allowed_ips: Iterable[str] = (),
    ip: str | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user` (for themselves only); returns it and the secret, which is never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise TokenRefused("Give the token a name of at most 100 characters (what script uses it).")
    if scope not in TokenScope.values:
        raise TokenRefused("Choose read only, or read and request transfers.")
    if not 1 <= days <= MAX_DAYS:
        raise TokenRefused(f"A token lives from 1 to {MAX_DAYS} days.")
    wanted = set(key_set_ids)
    visible = key_sets_for(user=user, capability=Capability.VIEW).filter(pk__in=wanted)
    if len(visible) != len(wanted):
        raise TokenRefused("A token can only cover key sets you may see.")
    networks = allowed_ips_clean(allowed_ips)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:12],
        token_sha256=token_hash(raw),
        scope=scope,
        allowed_ips=networks,
        expires_at=timezone.now() + timedelta(days=days),
    )
    token.key_sets.set(visible)
    audit_record(actor=user, verb="api.token.create", obj=token, after=_state(token), ip=ip)
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User, token_id: int, ip: str | None = None) -> ApiToken:
    """The owner, or any administrator, revokes a token at once."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None or (token.user_id != actor.pk and not user_is_admin(user=actor)):
        raise TokenRefused("No such token.")
    if token.revoked_at is not None:
        raise TokenRefused("This token is already revoked.")
    before = _state(token)
    token.revoked_at = timezone.now()
    token.revoked_by = actor
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(actor=actor, verb="api.token.revoke", obj=token, before=before, after=_state(token), ip=ip)
    return token


def _ip_allowed(*, token: ApiToken, ip: str | None) -> bool:
    if not token.allowed_ips:
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in token.allowed_ips)


def api_token_authenticate(*, raw: str, ip: str | None) -> ApiToken:
    """The token behind `raw`, usable now from `ip`; TokenInvalid otherwise. Records the use."""
    if not raw.startswith(TOKEN_PREFIX):
        raise TokenInvalid("Unknown API token.")
    token = ApiToken.objects.select_related("user").filter(token_sha256=token_hash(raw)).first()
    now = timezone.now()
    if token is None:
        raise TokenInvalid("Unknown API token.")
    if token.revoked_at is not None:
        raise TokenInvalid("This API token was revoked.")
    if token.expires_at <= now:
        raise TokenInvalid("This API token has expired.")
    if not token.user.is_active:
        raise TokenInvalid("The person this token belongs to is no longer active.")
    if not _ip_allowed(token=token, ip=ip):
        raise TokenInvalid(f"This API token may not be used from {ip or 'an unknown address'}.", status=403)
    audit = (
        token.last_used_ip != ip
        or token.last_audited_at is None
        or now - token.last_audited_at > USE_AUDIT_EVERY
    )
    with transaction.atomic():
        values: dict[str, object] = {"last_used_at": now, "last_used_ip": ip}
        if audit:
            values["last_audited_at"] = now
        ApiToken.objects.filter(pk=token.pk).update(**values)
        for name, value in values.items():
            setattr(token, name, value)
        if audit:
            audit_record(
                actor=token.user,
                verb="api.token.use",
                obj=token,
                after={"prefix": token.prefix, "ip": ip},
                ip=ip,
            )
    return token


def token_key_sets(*, token: ApiToken, capability: Capability = Capability.VIEW) -> QuerySet[ApiKeySet]:
    """Key sets this token may act on: the person's grants, narrowed to the token's key sets if any."""
    allowed = key_sets_for(user=token.user, capability=capability)
    chosen = list(token.key_sets.values_list("pk", flat=True))
    return allowed.filter(pk__in=chosen) if chosen else allowed


def tokens_of(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).prefetch_related("key_sets")


def tokens_all(*, actor: User) -> QuerySet[ApiToken]:
    """Every token, for administrators (revocation); none for anyone else."""
    if not user_is_admin(user=actor):
        return ApiToken.objects.none()
    return ApiToken.objects.select_related("user").prefetch_related("key_sets")
