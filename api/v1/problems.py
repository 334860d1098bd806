"""RFC 9457 problem details: every error of the API is `application/problem+json`."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://bingxadmin.invalid/problems/"  # documented in docs/api.md#errors


def problem(
    *,
    status: int,
    detail: str,
    request: HttpRequest | None = None,
    slug: str | None = None,
    title: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.path
    if errors:
        body["errors"] = list(errors)
    response = HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def field_errors(errors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors as RFC 9457 extension members: a JSON pointer to the field and a message."""
    out = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        where = loc[0] if loc else "body"
        path = loc[1:] if where in ("body", "query", "path", "header") else loc
        if where == "body" and path and path[0] == "payload":
            path = path[1:]
        out.append({"in": where, "pointer": "/" + "/".join(path), "detail": str(error.get("msg", "invalid"))})
    return out


def problem_wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Around every API URL: a non-problem error (Django's 404/405, a crash) becomes a problem; no answer
    is stored by a cache on the way (balances, requests and tokens' data are the desk's)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Exception:
            log.exception("API view failed: %s %s", request.method, request.path)
            response = problem(status=500, detail="Something went wrong on our side.", request=request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(CONTENT_TYPE):
            status = HTTPStatus(response.status_code)
            response = problem(
                status=response.status_code,
                detail=status.description or status.phrase,
                request=request,
                headers={"Allow": response["Allow"]} if response.has_header("Allow") else None,
            )
        response["Cache-Control"] = "no-store"
        return response

    return login_not_required(wrapper)


@login_not_required
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return problem(status=404, detail="There is no such API resource.", request=request)
