"""The automation API, version 1 (django-ninja): token auth, problem details, rate limit, docs page.

Every operation calls the services and selectors the pages call (transfers.services, accounts.access,
…), so grants, the address book, policy, limits and four eyes hold the same way. There is no
operation that approves or rejects: decisions stay with a person and their second factor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.security import HttpBearer

from accounts.access import AccessDenied
from accounts.web import client_ip
from api.models import ApiToken
from api.services.tokens import TokenInvalid, api_token_authenticate
from api.v1.pagination import CursorInvalid
from api.v1.problems import CONTENT_TYPE, field_errors, problem
from api.v1.ratelimit import TokenThrottle
from api.v1.routes import ScopeRefused, router
from transfers.refusals import DecisionRefused, RequestRefused


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        return api_token_authenticate(raw=token, ip=client_ip(request))


class DeskAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        """Error responses are documented as what they are: `application/problem+json`."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(code) >= 400 and "application/json" in content:
                        response["content"] = {CONTENT_TYPE: content["application/json"]}
        return schema


api = DeskAPI(
    title="bingxadmin automation API",
    version="1",
    description=(
        "Scripts request, people approve. Authenticate with `Authorization: Bearer <token>` "
        "(a personal token from *API tokens*); every POST needs an `Idempotency-Key`. "
        "Errors are RFC 9457 problem details. See docs/api.md."
    ),
    auth=TokenAuth(),
    throttle=[TokenThrottle()],
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
    docs_decorator=login_required,
)


@api.exception_handler(ValidationError)
def _validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return problem(
        status=422,
        slug="validation",
        title="Invalid input",
        detail="Some fields are missing or invalid; see `errors`.",
        errors=field_errors(exc.errors),
        request=request,
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem(
        status=401,
        slug="unauthenticated",
        detail="Send a valid API token: Authorization: Bearer <token>.",
        request=request,
        headers={"WWW-Authenticate": 'Bearer realm="bingxadmin"'},
    )


@api.exception_handler(TokenInvalid)
def _token_invalid(request: HttpRequest, exc: TokenInvalid) -> HttpResponse:
    headers = (
        {"WWW-Authenticate": 'Bearer realm="bingxadmin", error="invalid_token"'}
        if exc.status == 401
        else None
    )
    return problem(status=exc.status, slug="token-refused", detail=str(exc), request=request, headers=headers)


@api.exception_handler(CursorInvalid)
def _cursor(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem(
        status=400,
        slug="validation",
        title="Invalid input",
        detail=str(exc),
        errors=[{"in": "query", "pointer": "/cursor", "detail": str(exc)}],
        request=request,
    )


@api.exception_handler(DecisionRefused)
def _decision(request: HttpRequest, exc: DecisionRefused) -> HttpResponse:
    status = {"not_found": 404, "not_requester": 403}.get(exc.code, 409)
    return problem(
        status=status, slug=f"refused-{exc.code}".replace("_", "-"), detail=str(exc), request=request
    )


@api.exception_handler(RequestRefused)
def _refused(request: HttpRequest, exc: RequestRefused) -> HttpResponse:
    errors: list[dict[str, Any]] = []
    for error in getattr(exc, "errors", []):  # a batch: one entry per leg
        pointer = f"/legs/{error.line - 1}" if error.line is not None else "/"
        errors.append({"in": "body", "pointer": pointer, "detail": error.message})
    return problem(
        status=422,
        slug="request-refused",
        title="Request refused",
        detail=str(exc),
        errors=errors,
        request=request,
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(status=exc.status_code, detail=str(exc), request=request)


NOT_FOUND = "There is no such resource, or this token may not see it."
# Refusals answered by one fixed problem: (exception, status, type slug or None, detail or None for
# the exception's own sentence). The handlers above add fields, headers or a status of their own.
PLAIN_PROBLEMS: list[tuple[type[Exception], int, str | None, str | None]] = [
    (Throttled, 429, "rate-limited", "Too many requests with this token; wait and retry."),
    (ScopeRefused, 403, "scope", None),
    (AccessDenied, 403, "access-denied", None),
    (ObjectDoesNotExist, 404, None, NOT_FOUND),
    (Http404, 404, None, NOT_FOUND),
]


def _plain_problem(status: int, slug: str | None, detail: str | None) -> Callable[..., HttpResponse]:
    def handler(request: HttpRequest, exc: Exception) -> HttpResponse:
        return problem(status=status, slug=slug, detail=detail or str(exc), request=request)

    return handler


for _exc_type, _status, _slug, _detail in PLAIN_PROBLEMS:
    api.add_exception_handler(_exc_type, _plain_problem(_status, _slug, _detail))


api.add_router("", router)
