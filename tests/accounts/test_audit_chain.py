"""The sealed audit chain: append, seal in order, HMAC links, checkpoints, and each tampering named by seq.

Runs on SQLite and on PostgreSQL (the tamperer disables the append-only trigger as the table's owner).
"""

from __future__ import annotations

import base64
import itertools
import json
import stat
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from accounts.audit import audit_record, audit_seal_coalesce
from accounts.audit_chain import GENESIS, audit_link_message
from accounts.audit_checkpoints import audit_checkpoint_write, checkpoint_path
from accounts.audit_keys import audit_mac
from accounts.audit_seal import audit_seal_pending
from accounts.audit_verify import audit_verify_chain, audit_verify_run
from accounts.models import AuditEvent, AuditVerification, User
from tests.accounts.audit_support import TABLE, as_database_owner, events_write
from tests.factories import UserFactory

KEY2 = "k2:" + base64.b64encode(b"second-audit-chain-key-0123456789abcdef").decode()


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path: Path) -> Path:
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
    return tmp_path / "checkpoints.jsonl"


@pytest.fixture
def auditor(db: None) -> User:
    return UserFactory.create(username="auditor-test")


def _seqs() -> list[int]:
    return list(AuditEvent.objects.order_by("chain_index").values_list("seq", flat=True))


def test_an_event_is_unsealed_until_the_sealer_links_it(auditor):
    event = audit_record(actor=auditor, verb="test.event", obj=auditor)
    event.refresh_from_db()
    assert not event.sealed
    assert event.chain_index is None
    assert audit_seal_pending() == 1
    event.refresh_from_db()
    assert event.sealed
    assert event.chain_index == 1
    assert event.key_id == "test1"
    assert event.prev_hash == GENESIS
    assert audit_verify_chain().ok


def test_the_sealer_runs_right_after_commit(auditor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event = audit_record(actor=auditor, verb="test.event", obj=auditor)
    event.refresh_from_db()
    assert event.sealed


def test_many_events_in_one_transaction_seal_once(auditor, django_capture_on_commit_callbacks):
    """Approving a 400-leg batch writes 400 events in one transaction: one seal after its commit
    links them all, instead of one sealer run per event."""
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for n in range(5):
            with transaction.atomic():  # each leg's transition: a savepoint of its own
                audit_record(actor=auditor, verb=f"test.event.{n}", obj=auditor)
    assert len(callbacks) == 1
    assert not AuditEvent.objects.filter(hash__isnull=True).exists()
    assert audit_verify_chain().ok


def test_a_seal_lost_with_its_savepoint_is_scheduled_again(auditor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        try:
            with transaction.atomic():
                audit_record(actor=auditor, verb="test.gone", obj=auditor)
                raise RuntimeError("the change it recorded failed")
        except RuntimeError:
            pass
        kept = audit_record(actor=auditor, verb="test.kept", obj=auditor)
    kept.refresh_from_db()
    assert kept.sealed
    assert not AuditEvent.objects.filter(verb="test.gone").exists()


def test_a_worker_seals_at_most_once_per_interval_and_the_beat_sealer_takes_the_rest(
    auditor, django_capture_on_commit_callbacks
):
    """A worker executing dozens of transfers a second seals after a commit only when its last seal
    is older than AUDIT_SEAL_WORKER_INTERVAL_S; what it left is sealed by the next round (beat)."""
    audit_seal_coalesce(interval_s=60)
    try:
        sealed = []
        for n in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                event = audit_record(actor=auditor, verb=f"test.exec.{n}", obj=auditor)
            event.refresh_from_db()
            sealed.append(event.sealed)
    finally:
        audit_seal_coalesce(interval_s=0)
    assert sealed == [True, False, False]
    assert audit_seal_pending() == 2  # beat's audit_seal_task
    assert audit_verify_chain().ok


def test_events_are_sealed_in_sequence_order_each_linked_to_the_one_before(auditor):
    events_write(actor=auditor, count=5)
    rows = list(AuditEvent.objects.order_by("seq"))
    assert [r.chain_index for r in rows] == [1, 2, 3, 4, 5]
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
        assert after.prev_seq == before.seq


def test_an_id_that_never_commits_is_skipped_and_recorded_in_the_chain(auditor):
    first = audit_record(actor=auditor, verb="test.event", obj=auditor)
    audit_seal_pending()
    lost = audit_record(actor=auditor, verb="test.lost", obj=auditor)
    later = audit_record(actor=auditor, verb="test.event", obj=auditor)
    with as_database_owner() as cursor:  # stands for a rolled-back insert: the id never appears
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq = %s", [lost.seq])
    audit_seal_pending()
    later.refresh_from_db()
    assert later.sealed
    assert later.prev_seq == first.seq
    assert later.chain_index == 2
    assert audit_verify_chain().ok


def test_an_edited_event_is_reported_with_its_seq(auditor):
    events = events_write(actor=auditor, count=6)
    target = events[3]
    with as_database_owner() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET actor_label = %s WHERE seq = %s", ["mallory", target.seq])
    report = audit_verify_chain()
    assert not report.ok
    assert report.first_broken_seq == target.seq
    assert "content" in report.reason


def test_a_tail_recomputed_without_the_key_is_reported_at_its_first_event(auditor):
    events = events_write(actor=auditor, count=8)
    rows = list(AuditEvent.objects.filter(seq__gte=events[4].seq).order_by("chain_index"))
    prev = str(AuditEvent.objects.get(seq=events[3].seq).hash)
    guessed_key = b"not-the-key-but-the-attacker-tried-0123"
    with as_database_owner() as cursor:
        for row in rows:  # edit the first, then recompute every later link, as the old chain allowed
            if row.seq == events[4].seq:
                row.verb = "test.rewritten"
            link = audit_mac(key=guessed_key, message=audit_link_message(prev_link=prev, event=row))
            cursor.execute(
                f"UPDATE {TABLE} SET verb = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                [row.verb, prev, link, row.seq],
            )
            prev = link
    report = audit_verify_chain()
    assert not report.ok
    assert report.first_broken_seq == events[4].seq


def test_an_inserted_event_is_reported_with_its_seq(auditor):
    events_write(actor=auditor, count=4)
    head = AuditEvent.objects.order_by("-chain_index").first()
    assert head is not None
    forged = AuditEvent(
        at=head.at, actor=auditor, actor_label="mallory", verb="test.forged", object_type="accounts.user",
        object_id=str(auditor.pk), prev_hash=head.hash or "", hash="f" * 64, key_id="test1",
        chain_index=(head.chain_index or 0) + 1, prev_seq=head.seq, sealed_at=head.sealed_at,
    )  # fmt: skip
    forged.save()
    report = audit_verify_chain()
    assert not report.ok
    assert report.first_broken_seq == forged.seq


def test_a_removed_event_is_reported_at_the_one_after_it(auditor):
    events = events_write(actor=auditor, count=5)
    with as_database_owner() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq = %s", [events[2].seq])
    report = audit_verify_chain()
    assert not report.ok
    assert report.first_broken_seq == events[3].seq


def test_a_truncated_tail_after_a_checkpoint_is_reported(auditor):
    events = events_write(actor=auditor, count=10)
    assert audit_checkpoint_write() is not None
    with as_database_owner() as cursor:  # the newest events go, and nothing in the table is left broken
        cursor.execute(f"DELETE FROM {TABLE} WHERE seq >= %s", [events[6].seq])
    report = audit_verify_chain()
    assert not report.ok
    assert report.first_broken_seq == events[6].seq
    assert "truncated" in report.reason
    assert not audit_verify_chain(full=False).ok


def test_checkpoints_are_signed_private_and_appended(auditor, checkpoint_file: Path):
    events_write(actor=auditor, count=3)
    audit_checkpoint_write()
    events_write(actor=auditor, count=2)
    audit_checkpoint_write()
    lines = [json.loads(line) for line in checkpoint_file.read_text().splitlines()]
    assert [c["index"] for c in lines] == [3, 5]
    assert all(c["key_id"] == "test1" for c in lines)
    assert all(c["mac"] for c in lines)
    assert stat.S_IMODE(checkpoint_path().stat().st_mode) == 0o600
    assert audit_verify_chain().ok
    lines[0]["seq"] += 1  # an edited checkpoint line
    checkpoint_file.write_text("\n".join(json.dumps(c) for c in lines) + "\n")
    report = audit_verify_chain()
    assert not report.ok
    assert "checkpoint file line 1" in report.reason


def test_a_new_key_seals_new_events_and_the_old_one_still_verifies(auditor, settings):
    events_write(actor=auditor, count=3)
    audit_checkpoint_write()
    settings.AUDIT_CHAIN_KEYS = [KEY2, *settings.AUDIT_CHAIN_KEYS]
    events_write(actor=auditor, count=2)
    assert (
        list(AuditEvent.objects.order_by("chain_index").values_list("key_id", flat=True))
        == ["test1"] * 3 + ["k2"] * 2
    )
    assert audit_verify_chain().ok
    settings.AUDIT_CHAIN_KEYS = [KEY2]  # the old key withdrawn too early: its events cannot be verified
    assert not audit_verify_chain().ok


def test_incremental_verification_walks_only_what_came_after_the_last_good_checkpoint(auditor):
    events_write(actor=auditor, count=20)
    audit_checkpoint_write()
    assert audit_verify_run(full=True).checked == 20
    events_write(actor=auditor, count=3)
    result = audit_verify_run(full=False)
    assert result.ok
    assert result.checked == 3
    assert result.through_index == 23
    assert AuditVerification.objects.count() == 2


def test_the_command_exits_2_naming_the_first_bad_seq(auditor):
    events = events_write(actor=auditor, count=3)
    call_command("audit_verify_chain")
    with as_database_owner() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET verb = 'x' WHERE seq = %s", [events[1].seq])
    with pytest.raises(CommandError, match=f"seq={events[1].seq}: its content") as info:
        call_command("audit_verify_chain")
    assert info.value.returncode == 2


def test_audit_checkpoint_command_appends_a_line(auditor, checkpoint_file: Path, capsys):
    events_write(actor=auditor, count=2)
    call_command("audit_checkpoint")
    assert "position 2" in capsys.readouterr().out
    assert len(checkpoint_file.read_text().splitlines()) == 1


def test_the_audit_page_shows_the_last_verification_and_never_walks_the_chain(db, client, monkeypatch):
    admin = UserFactory.create(username="chain-admin", is_superuser=True, is_staff=True)
    events_write(actor=admin, count=3)
    audit_record(actor=admin, verb="test.pending", obj=admin)  # not sealed: no commit in this test
    audit_verify_run(full=True)
    requested: list[bool] = []
    monkeypatch.setattr("transfers.views.audit.audit_verify_request", lambda *, full: requested.append(full))
    monkeypatch.setattr("accounts.audit_verify._walk", lambda **_: pytest.fail("walked inside the request"))
    client.force_login(admin)
    page = client.get("/audit/?verify=1").content.decode()
    assert requested == [True]
    unsealed = AuditEvent.objects.filter(hash__isnull=True).count()  # ours, and the sign-in's own event
    assert "Chain intact" in page
    assert f"{unsealed} not sealed yet" in page
    assert "Verification requested" in page


def test_beat_seals_checkpoints_and_verifies_with_registered_tasks(db):
    from django_celery_beat.models import PeriodicTask

    from bingxadmin.celery import app

    app.loader.import_default_modules()
    tasks = {
        t.name: (t.task, t.interval.every)
        for t in PeriodicTask.objects.filter(task__startswith="accounts.tasks.audit_")
    }
    assert tasks["Audit: seal pending events"] == ("accounts.tasks.audit_seal_task", 5)
    assert tasks["Audit: write a checkpoint"] == ("accounts.tasks.audit_checkpoint_task", 300)
    assert {task for task, _ in tasks.values()} <= set(app.tasks)
