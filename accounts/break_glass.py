"""The superuser is break-glass: every login of a superuser and every change made through the Django
admin (by anyone) becomes an audit-chain event. Connected in AccountsConfig.ready().

The admin writes a LogEntry for each add, change (the password form included) and delete, inside the
same transaction as the change itself; the audit event is recorded in that transaction too.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.http import HttpRequest

from accounts.audit import audit_record
from accounts.models import User
from accounts.request_context import request_context_current
from accounts.web import client_ip

ADMIN_VERBS = {ADDITION: "admin.add", CHANGE: "admin.change", DELETION: "admin.delete"}


def superuser_login_audit(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if isinstance(user, User) and user.is_superuser:
        ip = client_ip(request) if request is not None else None
        audit_record(actor=user, verb="auth.superuser_login", obj=user, after={"superuser": True}, ip=ip)


def admin_change_audit(
    sender: Any, instance: LogEntry, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    if not created or raw:
        return
    actor = User.objects.filter(pk=instance.user_id).first()
    model = instance.content_type.model_class() if instance.content_type is not None else None
    context = request_context_current()  # the admin's request; LogEntry itself does not keep the address
    audit_record(
        actor=actor,
        verb=ADMIN_VERBS.get(instance.action_flag, "admin.change"),
        obj=instance,
        after={
            "model": model._meta.label_lower if model is not None else None,
            "object_id": None if instance.object_id is None else str(instance.object_id),
            "object": instance.object_repr,
            "change": instance.get_change_message(),
            "superuser": bool(actor and actor.is_superuser),
        },
        ip=context.ip if context is not None else None,
    )


def connect() -> None:
    user_logged_in.connect(superuser_login_audit, dispatch_uid="accounts.break_glass.login")
    post_save.connect(admin_change_audit, sender=LogEntry, dispatch_uid="accounts.break_glass.admin")
