"""accounts tells, transfers reacts: key_set_changed is sent inside the service's transaction, and the
transfers receiver marks the key set's pending requests stale with the reason and the caller's IP."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from accounts.models import ApiKeySet, AuditEvent
from accounts.services.key_sets import key_set_deactivate, key_set_replace_secret, key_set_update
from accounts.signals import key_set_changed
from tests.accounts.conftest import pending_request
from tests.stepup_support import stepup_data
from transfers.models import Status

pytestmark = pytest.mark.django_db

IP = "203.0.113.5"


@pytest.fixture
def sent() -> Any:
    calls: list[dict[str, Any]] = []

    def listen(sender: type[ApiKeySet], **kwargs: Any) -> None:
        calls.append({"sender": sender, "in_atomic": transaction.get_connection().in_atomic_block, **kwargs})

    key_set_changed.connect(listen, dispatch_uid="test-listen")
    yield calls
    key_set_changed.disconnect(dispatch_uid="test-listen")


def test_deactivation_sends_the_signal_inside_the_transaction(admin1, key_set, sent):
    key_set_deactivate(actor=admin1, key_set_id=key_set.pk, stepup=stepup_data(admin1), ip=IP)
    assert len(sent) == 1
    call = sent[0]
    assert call["sender"] is ApiKeySet
    assert call["key_set"].pk == key_set.pk
    assert (call["actor"], call["reason"], call["ip"]) == (admin1, "key set deactivated", IP)
    assert call["in_atomic"]


def test_replacing_the_secret_sends_it_and_a_rename_does_not(admin1, key_set, sent):
    key_set_update(actor=admin1, key_set_id=key_set.pk, label="Renamed", rotate_by=None, ip=IP)
    assert sent == []
    key_set_replace_secret(
        actor=admin1,
        key_set_id=key_set.pk,
        api_key="replacement-key-0000WXYZ",
        secret="new-secret-0123456789",
    )
    assert [c["reason"] for c in sent] == ["key set secret replaced"]
    assert sent[0]["ip"] is None


def test_stale_requests_record_the_reason_and_the_ip(admin1, key_set, requester):
    first, second = pending_request(key_set, requester), pending_request(key_set, requester)
    key_set_deactivate(actor=admin1, key_set_id=key_set.pk, stepup=stepup_data(admin1), ip=IP)
    for req in (first, second):
        req.refresh_from_db()
        assert req.status == Status.STALE
        assert req.attention_reason == "key set deactivated"
    stale = list(AuditEvent.objects.filter(verb="transfer.stale").order_by("seq"))
    assert [e.object_id for e in stale] == [str(first.pk), str(second.pk)]  # in request order
    assert {e.ip for e in stale} == {IP}
    assert {e.actor_id for e in stale} == {admin1.pk}
    assert all(e.after == {"status": Status.STALE, "reason": "key set deactivated"} for e in stale)
    event = AuditEvent.objects.get(verb="keyset.deactivate")
    assert event.after["stale_requests"] == 2
    assert event.seq > stale[-1].seq  # the key set's own event comes last, as before


def test_a_failing_receiver_rolls_the_change_back(admin1, key_set):
    status = key_set.status

    def fail(sender: type[ApiKeySet], **kwargs: Any) -> None:
        raise RuntimeError("receiver failed")

    key_set_changed.connect(fail, dispatch_uid="test-fail")
    try:
        with pytest.raises(RuntimeError):
            key_set_deactivate(actor=admin1, key_set_id=key_set.pk, stepup=stepup_data(admin1))
    finally:
        key_set_changed.disconnect(dispatch_uid="test-fail")
    key_set.refresh_from_db()
    assert key_set.status == status
    assert not AuditEvent.objects.filter(verb="keyset.deactivate").exists()
