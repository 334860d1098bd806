"""GET /health: database, broker and worker heartbeat, as JSON for load balancers and operators.

Anyone gets only `{"status": "ok" | "failing"}`; the details (database vendor, broker transport,
worker host names) need `Authorization: Bearer <HEALTH_TOKEN>`. The Celery ping waits up to a second
for replies, so its result is cached for HEALTH_WORKERS_CACHE_SECONDS and pinged by one caller at a
time: a flood of probes cannot tie up the web tier.
"""

import hmac
import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
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


WORKERS_CACHE_KEY = "bingxadmin:health:workers"
_ping_lock = threading.Lock()


def _workers_cached() -> dict[str, Any]:
    """The last ping's answer while it is fresh; otherwise one caller pings and the others wait for it."""
    result = cache.get(WORKERS_CACHE_KEY)
    if result is not None:
        return dict(result)
    with _ping_lock:
        result = cache.get(WORKERS_CACHE_KEY)
        if result is None:
            result = _check_workers(timeout=1.0)
            cache.set(WORKERS_CACHE_KEY, result, timeout=settings.HEALTH_WORKERS_CACHE_SECONDS)
    return dict(result)


def _details_allowed(request: HttpRequest) -> bool:
    token = settings.HEALTH_TOKEN
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    database = _check_database()
    broker = _check_broker()
    workers = _workers_cached() if broker["ok"] else {"ok": False, "workers": []}
    critical_ok = database["ok"] and broker["ok"]
    status = "ok" if critical_ok and workers["ok"] else ("degraded" if critical_ok else "down")
    # The web tier is serviceable without workers (requests wait in the outbox), so only
    # database or broker failures make the endpoint answer 503.
    http_status = 200 if critical_ok else 503
    if not _details_allowed(request):
        return JsonResponse({"status": "ok" if status == "ok" else "failing"}, status=http_status)
    return JsonResponse(
        {"status": status, "database": database, "broker": broker, "workers": workers},
        status=http_status,
    )
