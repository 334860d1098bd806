"""Checkpoint copies by email and by webhook: delivered as the file holds them, signed, retried, and
never able to stop the file checkpoint or leak the webhook's secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from accounts.audit import audit_record
from accounts.audit_checkpoint_delivery import SIGNATURE_HEADER
from accounts.audit_checkpoints import audit_checkpoint_write
from accounts.models import User
from bingxadmin.celery import app as celery_app
from tests.factories import UserFactory

SECRET = "webhook-secret-never-logged-0123456789"


class Receiver:
    """A real local HTTP server that records each POST and answers with the next queued status."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/audit?token=query-token-never-logged"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path: Path) -> Path:
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
    settings.AUDIT_CHECKPOINT_EMAIL = []
    settings.AUDIT_CHECKPOINT_WEBHOOK_URL = ""
    settings.AUDIT_CHECKPOINT_WEBHOOK_SECRET = ""
    return tmp_path / "checkpoints.jsonl"


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Delivery tasks run in this process as the worker would run them (retries included)."""
    saved = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = True, False
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = saved


@pytest.fixture
def auditor(db: None) -> User:
    user = UserFactory.create(username="auditor-delivery")
    audit_record(actor=user, verb="test.event", obj=user, after={"n": 1})
    return user


def file_line(path: Path, n: int = -1) -> dict[str, Any]:
    return json.loads(path.read_text().splitlines()[n])


def test_checkpoint_is_emailed_to_every_address_as_the_file_holds_it(
    settings, auditor, eager_tasks, checkpoint_file
):
    settings.AUDIT_CHECKPOINT_EMAIL = ["audit@example.com", "cso@example.com"]
    checkpoint = audit_checkpoint_write()
    assert checkpoint is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["audit@example.com", "cso@example.com"]
    assert f"position {checkpoint.index}" in message.subject
    line = next(x for x in message.body.splitlines() if x.startswith("{"))
    assert json.loads(line) == file_line(checkpoint_file)


def test_checkpoint_is_posted_to_the_webhook_with_an_hmac_signature(
    settings, auditor, eager_tasks, receiver, checkpoint_file
):
    settings.AUDIT_CHECKPOINT_WEBHOOK_URL = receiver.url
    settings.AUDIT_CHECKPOINT_WEBHOOK_SECRET = SECRET
    audit_checkpoint_write()
    assert len(receiver.posts) == 1
    post = receiver.posts[0]
    assert post["path"].startswith("/hooks/audit")
    assert post["headers"]["Content-Type"] == "application/json"
    assert json.loads(post["body"]) == file_line(checkpoint_file)
    expected = "sha256=" + hmac.new(SECRET.encode(), post["body"], hashlib.sha256).hexdigest()
    assert post["headers"][SIGNATURE_HEADER] == expected
    assert mail.outbox == []  # no address configured: no email


def test_a_failing_webhook_is_retried_until_it_answers(settings, auditor, eager_tasks, receiver, caplog):
    settings.AUDIT_CHECKPOINT_WEBHOOK_URL = receiver.url
    settings.AUDIT_CHECKPOINT_WEBHOOK_SECRET = SECRET
    receiver.statuses = [500, 503]
    with caplog.at_level(logging.WARNING):
        audit_checkpoint_write()
    assert len(receiver.posts) == 3
    assert receiver.posts[0]["body"] == receiver.posts[2]["body"]
    assert "HTTP 500" in caplog.text
    assert SECRET not in caplog.text
    assert "never-logged" not in caplog.text


def test_an_unreachable_webhook_never_stops_the_file_checkpoint_nor_leaks_the_url(
    settings, auditor, eager_tasks, caplog, checkpoint_file
):
    # A closed port: every try fails at connect (retries run at once in eager mode).
    settings.AUDIT_CHECKPOINT_WEBHOOK_URL = "http://127.0.0.1:9/hook?token=query-token-never-logged"
    settings.AUDIT_CHECKPOINT_WEBHOOK_SECRET = SECRET
    with caplog.at_level(logging.WARNING):
        checkpoint = audit_checkpoint_write()
    assert checkpoint is not None
    assert file_line(checkpoint_file)["index"] == checkpoint.index
    assert "giving up" in caplog.text
    assert "127.0.0.1:9" in caplog.text
    assert SECRET not in caplog.text
    assert "never-logged" not in caplog.text
    assert "/hook" not in caplog.text


def test_a_broker_outage_never_stops_the_file_checkpoint(
    settings, auditor, monkeypatch, caplog, checkpoint_file
):
    from accounts import audit_checkpoint_delivery

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(audit_checkpoint_delivery.audit_checkpoint_email_task, "delay", broker_down)
    settings.AUDIT_CHECKPOINT_EMAIL = ["audit@example.com"]
    with caplog.at_level(logging.WARNING):
        checkpoint = audit_checkpoint_write()
    assert checkpoint is not None
    assert checkpoint_file.exists()
    assert "email delivery not enqueued" in caplog.text
