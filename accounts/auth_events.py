"""Everything a person does to get in or out becomes an audit event (issue 11): logins, failed logins
(an unknown username too: no actor, the attempted name in the payload, never the password),
django-axes lockouts, logouts and password changes made anywhere (the admin, the one-time link, a
command). Connected in AccountsConfig.ready().

A failed login has no actor even when the username exists: an attempt proves nothing about who made
it. The event is about that person's account, so they see it on their audit page.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.http import HttpRequest

from accounts.audit import audit_record
from accounts.models import User
from accounts.request_context import request_context_current
from accounts.web import client_ip

USERNAME_MAX = 150  # the length of User.username; longer attempts are cut, not refused


def _ip(request: HttpRequest | None) -> str | None:
    return client_ip(request) if isinstance(request, HttpRequest) else None


def _account(username: str) -> User:
    """The person with this username, or an unsaved stand-in that names the attempt (object id None)."""
    found = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
    return found if found is not None else User(username=username)


def _attempted(credentials: dict[str, Any] | None, username: str | None = None) -> str:
    name = username if username is not None else (credentials or {}).get(User.USERNAME_FIELD, "")
    return str(name or "")[:USERNAME_MAX]


def login_audit(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if isinstance(user, User):
        after = {"superuser": user.is_superuser, "staff": user.is_staff}
        audit_record(actor=user, verb="auth.login", obj=user, after=after, ip=_ip(request))


def logout_audit(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if isinstance(user, User):
        audit_record(actor=user, verb="auth.logout", obj=user, ip=_ip(request))


def login_failed_audit(
    sender: Any, credentials: dict[str, Any] | None = None, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = _attempted(credentials)
    account = _account(username)
    after = {"username": username, "known_user": account.pk is not None}
    if isinstance(request, HttpRequest) and getattr(request, "axes_locked_out", False):
        after["locked_out"] = True
    audit_record(actor=None, verb="auth.login_failed", obj=account, after=after, ip=_ip(request))


def lockout_audit(
    sender: Any, request: HttpRequest | None = None, username: str | None = None, **kwargs: Any
) -> None:
    attempted = _attempted(None, username)
    account = _account(attempted)
    after = {"username": attempted, "known_user": account.pk is not None}
    audit_record(actor=None, verb="auth.lockout", obj=account, after=after, ip=_ip(request))


def password_change_audit(
    sender: Any, instance: User, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """`set_password()` then `save()` (Django clears `_password` for a mere hash upgrade at login)."""
    if created or raw or getattr(instance, "_password", None) is None:
        return
    context = request_context_current()
    if context is None:
        actor, ip = None, None  # a management command or a task
    else:
        actor, ip = (context.user or instance), context.ip  # anonymous: the person's own one-time link
    audit_record(
        actor=actor,
        verb="auth.password_changed",
        obj=instance,
        before={"password": "(old)"},
        after={"password": "(changed)", "by_self": actor is not None and actor.pk == instance.pk},
        ip=ip,
    )


def connect() -> None:
    user_logged_in.connect(login_audit, dispatch_uid="accounts.auth_events.login")
    user_logged_out.connect(logout_audit, dispatch_uid="accounts.auth_events.logout")
    user_login_failed.connect(login_failed_audit, dispatch_uid="accounts.auth_events.login_failed")
    user_locked_out.connect(lockout_audit, dispatch_uid="accounts.auth_events.lockout")
    post_save.connect(password_change_audit, sender=User, dispatch_uid="accounts.auth_events.password")
