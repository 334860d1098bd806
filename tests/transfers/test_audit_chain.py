"""The audit chain: every transition leaves an event, and the command finds the first tampered one."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import AuditEvent
from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import new_request
from transfers.services.decisions import transfer_request_approve
from transfers.services.requests import transfer_request_cancel


def test_command_reports_an_intact_chain(pending, bob, capsys):
    transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    call_command("audit_verify_chain")
    assert "intact" in capsys.readouterr().out


def test_edited_row_is_reported_with_its_seq(alice, bob, key_set):
    a = new_request(requester=alice, key_set=key_set)
    b = new_request(requester=alice, key_set=key_set)
    transfer_request_approve(request_id=a.pk, approver=bob, stepup=stepup_data(bob))
    transfer_request_cancel(request_id=b.pk, actor=alice)
    target = AuditEvent.objects.get(verb="transfer.approve")
    table = AuditEvent._meta.db_table
    with connection.cursor() as cur:  # what an attacker with database access would do
        cur.execute(f"UPDATE {table} SET actor_label = %s WHERE seq = %s", ["mallory", target.seq])
    with pytest.raises(CommandError, match=f"seq={target.seq}: content") as info:
        call_command("audit_verify_chain")
    assert info.value.returncode == 2


def test_deleted_row_breaks_the_next_link(alice, key_set):
    for _ in range(3):
        new_request(requester=alice, key_set=key_set)
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE seq = %s", [seqs[1]])
    with pytest.raises(CommandError, match=f"seq={seqs[2]}: previous-hash link"):
        call_command("audit_verify_chain")


def test_command_exit_code_is_non_zero_from_the_shell(alice, key_set):
    new_request(requester=alice, key_set=key_set)
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {AuditEvent._meta.db_table} SET verb = 'x'")
    from django.core.management import execute_from_command_line

    with pytest.raises(SystemExit) as info:
        execute_from_command_line(["manage.py", "audit_verify_chain"])
    assert info.value.code == 2
