"""Idempotent POSTs (Stripe's semantics), per token: the first 2xx response to a key is stored and
replayed for the same key and body; the same key with another body is refused (422); a key whose
first request is still running answers 409. An error response is not stored, so a corrected retry
may reuse its key. Keys are kept for 24 hours."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import ApiToken, IdempotentResponse

IN_PROGRESS = 0
KEEP = timedelta(hours=24)  # as Stripe: a key may be reused for anything once a day has passed


@dataclass(frozen=True)
class Stored:
    status_code: int
    body: str
    content_type: str


class KeyReused(Exception):
    """Same key, different request (422)."""


class KeyInProgress(Exception):
    """The first request with this key has not finished (409)."""


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def idempotency_begin(
    *, token: ApiToken, key: str, method: str, path: str, fingerprint: str
) -> Stored | None:
    """Claim the key (None: go on and run the request) or return the stored response to replay."""
    IdempotentResponse.objects.filter(token=token, created_at__lt=timezone.now() - KEEP).delete()
    try:
        with transaction.atomic():
            IdempotentResponse.objects.create(
                token=token,
                key=key,
                method=method,
                path=path[:300],
                body_sha256=fingerprint,
                status_code=IN_PROGRESS,
                body="",
                content_type="",
            )
        return None
    except IntegrityError:
        pass
    row = IdempotentResponse.objects.filter(token=token, key=key).first()
    if row is None:  # removed meanwhile (the first request failed): run this one
        return idempotency_begin(token=token, key=key, method=method, path=path, fingerprint=fingerprint)
    if row.body_sha256 != fingerprint:
        raise KeyReused("This Idempotency-Key was used with a different request.")
    if row.status_code == IN_PROGRESS:
        raise KeyInProgress("A request with this Idempotency-Key is still being processed.")
    return Stored(status_code=row.status_code, body=row.body, content_type=row.content_type)


def idempotency_finish(*, token: ApiToken, key: str, status_code: int, body: str, content_type: str) -> None:
    rows = IdempotentResponse.objects.filter(token=token, key=key, status_code=IN_PROGRESS)
    if 200 <= status_code < 300:
        rows.update(status_code=status_code, body=body, content_type=content_type)
    else:
        rows.delete()
