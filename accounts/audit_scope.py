"""What an audit event is about, decided when it is written: the key set and the person's account.

`accounts.audit.audit_record` stores these with the event, so the audit page can show each person only
events about key sets they may view and about their own account (accounts.audit_access). The object is
looked at by shape, not by class, because accounts may not import transfers: a key set itself; anything
with a `key_set_id` (transfer request, record, policy rule, limit, grant, snapshot) or `main_key_set_id`
(sub-account); anything tied to a transfer request (approval, attempt); a proposal whose JSON names a
key set by id (policy and people changes); a person, or a change whose `target_user_id` is one.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from accounts.models import ApiKeySet, User

_PROPOSAL_FIELDS = ("proposed", "change", "before")
_PROPOSAL_KEYS = ("key_set_id", "key_set")


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _key_set_id(obj: models.Model) -> int | None:
    if isinstance(obj, ApiKeySet):
        return _int_or_none(obj.pk)
    for attr in ("key_set_id", "main_key_set_id"):
        found = _int_or_none(getattr(obj, attr, None))
        if found is not None:
            return found
    request = getattr(obj, "request", None)
    if isinstance(request, models.Model):
        return _int_or_none(getattr(request, "key_set_id", None))
    for field in _PROPOSAL_FIELDS:
        data = getattr(obj, field, None)
        if isinstance(data, dict):
            for key in _PROPOSAL_KEYS:
                found = _int_or_none(data.get(key))
                if found is not None:
                    return found
    return None


def _subject_id(obj: models.Model) -> int | None:
    if isinstance(obj, User):
        return _int_or_none(obj.pk)
    return _int_or_none(getattr(obj, "target_user_id", None))


def audit_scope_fields(obj: models.Model) -> dict[str, int | None]:
    """The AuditEvent fields `key_set_id` and `subject_id` for an event about `obj`."""
    return {"key_set_id": _key_set_id(obj), "subject_id": _subject_id(obj)}
