"""The Idempotency-Key header around every POST of the API (api.services.idempotency)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from api.models import ApiToken
from api.services.idempotency import (
    KeyInProgress,
    KeyReused,
    idempotency_begin,
    idempotency_finish,
    request_fingerprint,
)
from api.services.tokens import token_hash
from api.v1.problems import problem

HEADER = "Idempotency-Key"


def _token(request: HttpRequest) -> ApiToken | None:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw:
        return None
    return ApiToken.objects.filter(token_sha256=token_hash(raw.strip()), revoked_at__isnull=True).first()


def idempotent(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        key = request.headers.get(HEADER, "")
        if request.method != "POST" or not key:
            return view(request, *args, **kwargs)  # a POST without the key is refused by the operation
        if len(key) > 255:
            return problem(status=422, detail=f"{HEADER} is at most 255 characters.", request=request)
        token = _token(request)
        if token is None:
            return view(request, *args, **kwargs)  # authentication answers
        fingerprint = request_fingerprint(method=request.method, path=request.path, body=request.body)
        try:
            stored = idempotency_begin(
                token=token, key=key, method=request.method, path=request.path, fingerprint=fingerprint
            )
        except KeyReused as exc:
            return problem(status=422, slug="idempotency-key-reused", detail=str(exc), request=request)
        except KeyInProgress as exc:
            return problem(status=409, slug="idempotency-key-in-progress", detail=str(exc), request=request)
        if stored is not None:
            replay = HttpResponse(stored.body, status=stored.status_code, content_type=stored.content_type)
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = HttpResponse(status=500)
        try:
            response = view(request, *args, **kwargs)
        finally:
            idempotency_finish(
                token=token,
                key=key,
                status_code=response.status_code,
                body=response.content.decode("utf-8") if response.status_code < 300 else "",
                content_type=response.get("Content-Type", "application/json"),
            )
        return response

    return wrapper
