"""What each kind of people change means: checking a proposal (`change_clean`) and applying it
(`change_apply`). The four-eyes flow around them is accounts.services.people.

Every check runs twice: when the change is proposed (so a bad one is never stored) and again when it
is applied (the world may have moved: the user was created meanwhile, the key set is gone…).
A created user, and a user whose password was reset, gets no password from any administrator: a
one-time set-password link goes to their own email address after the change commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.access import ADMIN_GROUP
from accounts.models import (
    ApiKeySet,
    KeySetGrant,
    PeopleChange,
    PeopleChangeKind,
    PeopleChangeStatus,
    User,
    WebAuthnCredential,
)
from accounts.roles import ROLES
from accounts.services.grants import grant_revoke, grant_set

log = logging.getLogger(__name__)

Kind = PeopleChangeKind
CAPABILITIES = ("view", "request", "approve")
# Changes that only take a right away: they take effect at once (fail safe), one administrator suffices.
REMOVALS = frozenset({Kind.ROLE_REMOVE, Kind.GRANT_REVOKE, Kind.USER_DEACTIVATE})
MIN_ADMINISTRATORS = 2  # fewer, and no people change could ever be approved again


class PeopleChangeRefused(Exception):
    """A people change was refused; nothing changed. The message is safe to show; `code` says why."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class CleanChange:
    """A checked change: its kind (a narrowing grant becomes a removal), target, JSON and prior state."""

    kind: str
    target: User | None
    change: dict[str, Any]
    before: dict[str, Any] = field(default_factory=dict)

    @property
    def at_once(self) -> bool:
        return self.kind in REMOVALS or (self.kind == Kind.GRANT_SET and _narrows(self.before, self.change))


def _narrows(before: dict[str, Any], change: dict[str, Any]) -> bool:
    """True when a grant change only removes capabilities it had."""
    if not before:
        return False
    return all(before.get(c) or not change.get(c) for c in CAPABILITIES)


def roles_of(user: User) -> list[str]:
    return sorted(user.groups.filter(name__in=list(ROLES)).values_list("name", flat=True))


def user_state(user: User) -> dict[str, Any]:
    return {"username": user.get_username(), "active": user.is_active, "roles": roles_of(user)}


def _user(values: dict[str, Any], *, actor: User, self_allowed: bool = True) -> User:
    raw = values.get("user_id")
    try:
        pk = int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        pk = None
    user = User.objects.filter(pk=pk).first() if pk is not None else None
    if user is None:
        raise PeopleChangeRefused("No such user.", code="unknown_user")
    if user.is_superuser:
        raise PeopleChangeRefused(
            "Superusers are not managed on the desk (break-glass accounts: manage.py, audited).",
            code="superuser",
        )
    if not self_allowed and user.pk == actor.pk:
        raise PeopleChangeRefused("This change is for another person's account, not your own.", code="self")
    return user


def _role(values: dict[str, Any]) -> str:
    role = str(values.get("role") or "").strip()
    if role not in ROLES:
        raise PeopleChangeRefused(
            f"Unknown role “{role}”: choose one of {', '.join(sorted(ROLES))}.", code="unknown_role"
        )
    return role


def _administrators_left(*, without: User) -> int:
    return (
        User.objects.filter(is_active=True, is_superuser=False, groups__name=ADMIN_GROUP)
        .exclude(pk=without.pk)
        .distinct()
        .count()
    )


def _keep_two_administrators(*, user: User) -> None:
    if (
        user.groups.filter(name=ADMIN_GROUP).exists()
        and _administrators_left(without=user) < MIN_ADMINISTRATORS
    ):
        raise PeopleChangeRefused(
            f"This would leave fewer than {MIN_ADMINISTRATORS} active administrators, and then no "
            "people change could be approved any more. Add an administrator first (or use the "
            "break-glass superuser).",
            code="last_admins",
        )


def user_create_clean(values: dict[str, Any]) -> CleanChange:
    username = str(values.get("username") or "").strip()
    email = str(values.get("email") or "").strip().lower()
    if not username:
        raise PeopleChangeRefused("Give the new user a username.", code="empty")
    try:
        User.username_validator(username)
    except ValidationError:
        raise PeopleChangeRefused(
            "A username may contain letters, digits and @ . + - _ only.", code="bad_username"
        ) from None
    if len(username) > 150:
        raise PeopleChangeRefused("A username has at most 150 characters.", code="bad_username")
    if not email:
        raise PeopleChangeRefused(
            "Give the new user's own email address: the link to set a password goes there.", code="empty"
        )
    try:
        validate_email(email)
    except ValidationError:
        raise PeopleChangeRefused(f"“{email}” is not an email address.", code="bad_email") from None
    if User.objects.filter(username__iexact=username).exists():
        raise PeopleChangeRefused(f"A user named “{username}” already exists.", code="exists")
    if User.objects.filter(email__iexact=email).exists():
        raise PeopleChangeRefused(f"Another user already has the address {email}.", code="exists")
    change = {
        "username": username,
        "email": email,
        "first_name": str(values.get("first_name") or "").strip()[:150],
        "last_name": str(values.get("last_name") or "").strip()[:150],
    }
    return CleanChange(kind=Kind.USER_CREATE, target=None, change=change)


def _clean_role(kind: str, values: dict[str, Any], actor: User) -> CleanChange:
    user = _user(values, actor=actor)
    role = _role(values)
    has = user.groups.filter(name=role).exists()
    if kind == Kind.ROLE_ADD and has:
        raise PeopleChangeRefused(f"{user.get_username()} already has the role {role}.", code="nothing")
    if kind == Kind.ROLE_REMOVE:
        if not has:
            raise PeopleChangeRefused(f"{user.get_username()} does not have the role {role}.", code="nothing")
        if role == ADMIN_GROUP:
            _keep_two_administrators(user=user)
    change = {"username": user.get_username(), "role": role}
    return CleanChange(kind=kind, target=user, change=change, before=user_state(user))


def _grant_state(grant: KeySetGrant | None) -> dict[str, Any]:
    if grant is None:
        return {}
    return {"view": grant.can_view, "request": grant.can_request, "approve": grant.can_approve}


def _clean_grant_set(values: dict[str, Any], actor: User) -> CleanChange:
    key_set = ApiKeySet.objects.filter(pk=_int(values.get("key_set_id")) or 0).first()
    if key_set is None:
        raise PeopleChangeRefused("No such key set.", code="unknown_key_set")
    group_name = str(values.get("group") or "").strip()
    has_user = values.get("user_id") not in (None, "")
    if has_user == bool(group_name):
        raise PeopleChangeRefused("Choose either a user or a group.", code="empty")
    caps = {c: _flag(values.get(c)) for c in CAPABILITIES}
    if not any(caps.values()):
        raise PeopleChangeRefused(
            "Choose at least one capability (to remove access, revoke the grant).", code="empty"
        )
    if (caps["request"] or caps["approve"]) and not caps["view"]:
        raise PeopleChangeRefused("Requesting and approving need the view capability too.", code="bad_grant")
    change: dict[str, Any] = {"key_set_id": key_set.pk, "key_set": key_set.label, **caps}
    target: User | None = None
    if has_user:
        target = _user(values, actor=actor)
        change["username"] = target.get_username()
        grant = KeySetGrant.objects.filter(key_set=key_set, user=target).first()
    else:
        group = Group.objects.filter(name=group_name).first()
        if group is None:
            raise PeopleChangeRefused(f"No such group “{group_name}”.", code="unknown_role")
        change["group"] = group.name
        grant = KeySetGrant.objects.filter(key_set=key_set, group=group).first()
    before = _grant_state(grant)
    if before and all(before[c] == caps[c] for c in CAPABILITIES):
        raise PeopleChangeRefused(
            "Nothing to change: the grant already has these capabilities.", code="nothing"
        )
    return CleanChange(kind=Kind.GRANT_SET, target=target, change=change, before=before)


def _clean_grant_revoke(values: dict[str, Any]) -> CleanChange:
    grant = KeySetGrant.objects.select_related("user", "group", "key_set").filter(
        pk=_int(values.get("grant_id")) or 0
    )
    if values.get("key_set_id") not in (None, ""):
        grant = grant.filter(key_set_id=_int(values.get("key_set_id")))
    found = grant.first()
    if found is None:
        raise PeopleChangeRefused("That grant does not exist.", code="unknown_grant")
    change: dict[str, Any] = {
        "grant_id": found.pk,
        "key_set_id": found.key_set_id,
        "key_set": found.key_set.label,
    }
    if found.user is not None:
        change["username"] = found.user.get_username()
    else:
        change["group"] = found.group.name if found.group else "?"
    return CleanChange(kind=Kind.GRANT_REVOKE, target=found.user, change=change, before=_grant_state(found))


def _clean_person(kind: str, values: dict[str, Any], actor: User) -> CleanChange:
    self_allowed = kind not in (Kind.PASSWORD_RESET, Kind.SECOND_FACTOR_RESET, Kind.USER_DEACTIVATE)
    user = _user(values, actor=actor, self_allowed=self_allowed)
    if kind == Kind.USER_DEACTIVATE:
        if not user.is_active:
            raise PeopleChangeRefused(f"{user.get_username()} is already inactive.", code="nothing")
        _keep_two_administrators(user=user)
    if kind == Kind.USER_REACTIVATE and user.is_active:
        raise PeopleChangeRefused(f"{user.get_username()} is already active.", code="nothing")
    if kind == Kind.PASSWORD_RESET and not user.email:
        raise PeopleChangeRefused(
            f"{user.get_username()} has no email address for the set-password link.", code="bad_email"
        )
    return CleanChange(
        kind=kind, target=user, change={"username": user.get_username()}, before=user_state(user)
    )


def _flag(raw: Any) -> bool:
    """A checkbox or a boolean: "on", "true", "1", "yes" (any case) or True."""
    if isinstance(raw, bool):
        return raw
    return str(raw or "").strip().lower() in {"on", "true", "1", "yes"}


def _int(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def change_clean(*, kind: str, values: dict[str, Any], actor: User) -> CleanChange:
    """Check a proposed change against the database now; PeopleChangeRefused when it cannot apply."""
    if kind == Kind.USER_CREATE:
        return user_create_clean(values)
    if kind in (Kind.ROLE_ADD, Kind.ROLE_REMOVE):
        return _clean_role(kind, values, actor)
    if kind == Kind.GRANT_SET:
        return _clean_grant_set(values, actor)
    if kind == Kind.GRANT_REVOKE:
        return _clean_grant_revoke(values)
    if kind in (Kind.USER_DEACTIVATE, Kind.USER_REACTIVATE, Kind.PASSWORD_RESET, Kind.SECOND_FACTOR_RESET):
        return _clean_person(kind, values, actor)
    raise PeopleChangeRefused("Unknown kind of people change.", code="unknown_kind")


def stored_values(*, kind: str, change: dict[str, Any], target: User | None) -> dict[str, Any]:
    """The values a stored change is checked with again when it is applied."""
    values = dict(change)
    if target is not None:
        values["user_id"] = target.pk
    if kind == Kind.GRANT_SET and target is not None:
        values.pop("group", None)
    return values


# --- applying -------------------------------------------------------------------------------------


def password_set_url(*, user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("people:password_set", kwargs={"uidb64": uid, "token": token})
    return settings.SITE_URL.rstrip("/") + path


def password_link_send(*, user_id: int, why: str) -> None:
    """Email the person (never an administrator) a one-time link to set their password."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.email:
        return
    body = (
        f"Hello {user.get_username()},\n\n{why}\n\nSet your password here (the link works once):\n"
        f"{password_set_url(user=user)}\n\nThen sign in and set up your second factor.\n"
    )
    try:
        send_mail("[bingxadmin] Set your password", body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception:
        log.exception("could not send the set-password link to user %s", user_id)


def _cancel_proposals_by(*, user: User, actor: User, reason: str) -> int:
    """A person who lost administration cannot keep proposals waiting for someone else's approval."""
    return PeopleChange.objects.filter(proposed_by=user, status=PeopleChangeStatus.PENDING).update(
        status=PeopleChangeStatus.CANCELLED, decided_by=actor, decided_at=timezone.now(), note=reason[:300]
    )


def change_apply(*, clean: CleanChange, actor: User, ip: str | None) -> tuple[User | None, dict[str, Any]]:
    """Apply a checked change as `actor` (the approving administrator, or the remover); returns the
    target user (created here for USER_CREATE) and facts for the audit event."""
    kind, target, change = clean.kind, clean.target, clean.change
    if kind == Kind.USER_CREATE:
        user = User.objects.create_user(
            username=change["username"],
            email=change["email"],
            password=None,  # unusable until the person sets one through the emailed link
            first_name=change["first_name"],
            last_name=change["last_name"],
        )
        transaction.on_commit(
            lambda: password_link_send(
                user_id=user.pk, why="An account on the treasury desk was created for you."
            )
        )
        return user, {"user_id": user.pk, "password_link": "emailed"}
    assert target is not None or kind in (Kind.GRANT_SET, Kind.GRANT_REVOKE)
    if kind == Kind.ROLE_ADD and target is not None:
        target.groups.add(Group.objects.get(name=change["role"]))
        return target, {"roles": roles_of(target)}
    if kind == Kind.ROLE_REMOVE and target is not None:
        target.groups.remove(Group.objects.get(name=change["role"]))
        cancelled = 0
        if change["role"] == ADMIN_GROUP:
            cancelled = _cancel_proposals_by(
                user=target, actor=actor, reason="proposer is no longer an administrator"
            )
        return target, {"roles": roles_of(target), "cancelled_proposals": cancelled}
    if kind == Kind.GRANT_SET:
        group = Group.objects.get(name=change["group"]) if target is None else None
        grant = grant_set(
            actor=actor,
            key_set_id=change["key_set_id"],
            user=target,
            group=group,
            can_view=change["view"],
            can_request=change["request"],
            can_approve=change["approve"],
            ip=ip,
        )
        return target, {"grant_id": grant.pk}
    if kind == Kind.GRANT_REVOKE:
        grant_revoke(actor=actor, grant_id=change["grant_id"], key_set_id=change["key_set_id"], ip=ip)
        return target, {}
    assert target is not None
    if kind == Kind.USER_DEACTIVATE:
        target.is_active = False
        target.save(update_fields=["is_active"])
        cancelled = _cancel_proposals_by(user=target, actor=actor, reason="proposer was deactivated")
        return target, {"active": False, "cancelled_proposals": cancelled}
    if kind == Kind.USER_REACTIVATE:
        target.is_active = True
        target.save(update_fields=["is_active"])
        return target, {"active": True}
    if kind == Kind.PASSWORD_RESET:
        target.set_unusable_password()  # the old password stops working; sessions end with the hash
        target.save(update_fields=["password"])
        user_id = target.pk
        transaction.on_commit(
            lambda: password_link_send(user_id=user_id, why="Your password on the treasury desk was reset.")
        )
        return target, {"password_link": "emailed"}
    if kind == Kind.SECOND_FACTOR_RESET:
        removed = TOTPDevice.objects.filter(user=target).delete()[0]
        removed += StaticDevice.objects.filter(user=target).delete()[0]
        removed += WebAuthnCredential.objects.filter(user=target).delete()[0]
        return target, {"second_factors_removed": removed}
    raise PeopleChangeRefused("Unknown kind of people change.", code="unknown_kind")
