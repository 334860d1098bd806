import pytest
from django.test import Client


@pytest.mark.django_db
def test_health_reports_database_and_broker_without_login():
    response = Client().get("/health")
    body = response.json()
    assert response.status_code == 200
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    # No worker runs in this test: the page says so instead of pretending.
    assert body["workers"]["ok"] is False
    assert body["status"] == "degraded"


@pytest.mark.django_db
def test_health_answers_503_when_the_broker_is_unreachable(settings):
    from bingxadmin.celery import app

    old = app.conf.broker_url
    app.conf["broker_url"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = Client().get("/health")
    finally:
        app.conf["broker_url"] = old
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
    assert response.json()["status"] == "down"
