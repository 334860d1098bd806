import pytest
from django.core.cache import cache
from django.test import Client

from bingxadmin.celery import app as celery_app
from bingxadmin.health import WORKERS_CACHE_KEY

TOKEN = "health-token-for-tests-0123456789"


@pytest.fixture(autouse=True)
def fresh_health_cache():
    # Only the health entry: cache.clear() is FLUSHDB on Redis, which would also wipe the shared rate
    # limiter's state and make it hold every window (exchange/ratelimit/redis.py) for the next tests.
    cache.delete(WORKERS_CACHE_KEY)
    yield
    cache.delete(WORKERS_CACHE_KEY)


@pytest.fixture
def pings(monkeypatch):
    """Counts Celery pings and answers as one live worker."""
    calls: list[float] = []

    def ping(timeout: float = 1.0) -> list[dict[str, dict[str, str]]]:
        calls.append(timeout)
        return [{"worker1@host-a": {"ok": "pong"}}]

    monkeypatch.setattr(celery_app.control, "ping", ping)
    return calls


def details(**extra):
    return Client().get("/health", headers={"Authorization": f"Bearer {TOKEN}"}, **extra)


@pytest.mark.django_db
def test_health_reports_database_and_broker_with_the_token(settings):
    settings.HEALTH_TOKEN = TOKEN
    response = details()
    body = response.json()
    assert response.status_code == 200
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    # No worker runs in this test: the page says so instead of pretending.
    assert body["workers"]["ok"] is False
    assert body["status"] == "degraded"


@pytest.mark.django_db
def test_anonymous_callers_get_only_ok_or_failing(settings, pings):
    settings.HEALTH_TOKEN = TOKEN
    response = Client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "host-a" not in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")  # never cached by a proxy


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["", "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_details_need_the_exact_token(settings, pings, header):
    settings.HEALTH_TOKEN = TOKEN
    body = Client().get("/health", headers={"Authorization": header} if header else {}).json()
    assert body == {"status": "ok"}


@pytest.mark.django_db
def test_no_token_configured_means_no_details_for_anyone(settings, pings):
    settings.HEALTH_TOKEN = ""
    assert Client().get("/health", headers={"Authorization": "Bearer "}).json() == {"status": "ok"}


@pytest.mark.django_db
def test_no_worker_is_failing_for_anonymous_callers_but_still_200():
    # Requests wait in the outbox without a worker: the node stays in rotation.
    response = Client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "failing"}


@pytest.mark.django_db
def test_the_worker_ping_is_cached_for_a_few_seconds(settings, pings):
    settings.HEALTH_TOKEN = TOKEN
    settings.HEALTH_WORKERS_CACHE_SECONDS = 5
    for _ in range(10):
        assert details().json()["workers"] == {"ok": True, "workers": ["worker1@host-a"]}
        Client().get("/health")
    assert len(pings) == 1
    cache.delete(WORKERS_CACHE_KEY)  # the entry expired
    details()
    assert len(pings) == 2


@pytest.mark.django_db
def test_health_answers_503_when_the_broker_is_unreachable(settings):
    settings.HEALTH_TOKEN = TOKEN
    old = celery_app.conf.broker_url
    celery_app.conf["broker_url"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        anonymous = Client().get("/health")
        response = details()
    finally:
        celery_app.conf["broker_url"] = old
    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "failing"}
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
    assert response.json()["status"] == "down"
