"""GET /health: database, broker and worker heartbeat, as JSON for load balancers and operators."""

import time
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bingxadmin.celery import app as celery_app


def _check_database() -> dict[str, Any]:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_broker() -> dict[str, Any]:
    started = time.monotonic()
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "transport": str(transport), "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_workers(timeout: float) -> dict[str, Any]:
    try:
        replies = celery_app.control.ping(timeout=timeout) or []
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "workers": []}
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "workers": names}


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    database = _check_database()
    broker = _check_broker()
    workers = _check_workers(timeout=1.0) if broker["ok"] else {"ok": False, "workers": []}
    critical_ok = database["ok"] and broker["ok"]
    status = "ok" if critical_ok and workers["ok"] else ("degraded" if critical_ok else "down")
    # The web tier is serviceable without workers (requests wait in the outbox), so only
    # database or broker failures make the endpoint answer 503.
    return JsonResponse(
        {"status": status, "database": database, "broker": broker, "workers": workers},
        status=200 if critical_ok else 503,
    )
