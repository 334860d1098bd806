"""`manage.py demo_seed` creates the demo desk through the services, once, against the sandbox."""

from __future__ import annotations

import io
import json
import socket
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.audit import audit_verify_chain
from accounts.models import (
    AccountKind,
    ApiKeySet,
    BalanceSnapshot,
    Environment,
    KeySetGrant,
    KeySetStatus,
    SubAccount,
    User,
)
from demo.data import DEFAULT_SEED, LARGE_RULE_NAME
from demo.logins import logins_read

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def seed_env(settings, tmp_path):
    port = free_port()
    settings.VAR_DIR = tmp_path
    settings.BINGX_SANDBOX_URL = f"http://127.0.0.1:{port}"
    settings.RATE_LIMIT_URL = ""  # the file-backed limiter in the temp var dir
    return {"port": port, "state": tmp_path / "sandbox-state.json", "logins": tmp_path / "demo-logins.txt"}


def run_seed(seed_env, *extra: str) -> str:
    out = io.StringIO()
    call_command(
        "demo_seed",
        "--sandbox-port",
        str(seed_env["port"]),
        "--sandbox-state",
        str(seed_env["state"]),
        *extra,
        stdout=out,
    )
    return out.getvalue()


def counts() -> dict[str, int]:
    from transfers.models import PolicyRule, TransferRequest

    return {
        "users": User.objects.count(),
        "key_sets": ApiKeySet.objects.count(),
        "grants": KeySetGrant.objects.count(),
        "subs": SubAccount.objects.count(),
        "balances": BalanceSnapshot.objects.count(),
        "rules": PolicyRule.objects.count(),
        "requests": TransferRequest.objects.count(),
    }


def test_demo_seed_creates_the_desk_once(seed_env, monkeypatch):
    from transfers import dispatch
    from transfers.models import PolicyRule, Status, TransferRequest

    queued: list[int] = []
    monkeypatch.setattr(
        dispatch, "records_sync_enqueue", lambda *, key_set_id, **_: queued.append(key_set_id)
    )
    out = run_seed(seed_env)
    assert "Demo data seeded" in out

    # People with roles, and the printed passwords work (file readable only by the owner).
    logins = logins_read(seed_env["logins"])
    assert set(logins) == {"admin", "admin2", "alice", "bob", "victor"}
    assert stat.S_IMODE(seed_env["logins"].stat().st_mode) == 0o600
    for name, password in logins.items():
        assert User.objects.get(username=name).check_password(password)
        assert f"{name}" in out
        assert password in out
    groups = {u.username: set(u.groups.values_list("name", flat=True)) for u in User.objects.all()}
    assert "administrator" in groups["admin"]
    assert "administrator" in groups["admin2"]
    assert groups["alice"] == groups["bob"] == {"requester", "approver"}
    assert groups["victor"] == {"viewer"}

    # Key sets: sandbox, created by admin, activated by the other administrator, verified, synced.
    admin, admin2 = User.objects.get(username="admin"), User.objects.get(username="admin2")
    key_sets = {ks.uid: ks for ks in ApiKeySet.objects.all()}
    assert set(key_sets) == {10000001, 10000002, 10000003}
    main = key_sets[10000001]
    assert main.account_kind == AccountKind.MAIN
    for uid in (10000002, 10000003):
        assert key_sets[uid].account_kind == AccountKind.SUB
        assert key_sets[uid].parent_id == main.pk
    for ks in key_sets.values():
        assert ks.environment == Environment.SANDBOX
        assert ks.base_url == f"http://127.0.0.1:{seed_env['port']}"
        assert ks.status == KeySetStatus.ACTIVE
        assert ks.created_by_id == admin.pk
        assert ks.activated_by_id == admin2.pk
        assert ks.last_verified_at is not None
        assert ks.balances_synced_at is not None
    assert set(SubAccount.objects.filter(main_key_set=main).values_list("sub_uid", flat=True)) == {
        10000002,
        10000003,
    }

    # Grants: alice and bob view/request/approve everywhere, victor views.
    for ks in key_sets.values():
        for name in ("alice", "bob"):
            grant = KeySetGrant.objects.get(key_set=ks, user__username=name)
            assert (grant.can_view, grant.can_request, grant.can_approve) == (True, True, True)
        grant = KeySetGrant.objects.get(key_set=ks, user__username="victor")
        assert (grant.can_view, grant.can_request, grant.can_approve) == (True, False, False)

    # Policy: large USDT amounts need two approvals.
    rule = PolicyRule.objects.get(name=LARGE_RULE_NAME)
    assert rule.required_approvals == 2
    assert rule.min_amount == Decimal("10000")

    # Past transfers through the workflow: three executed, one rejected, one waiting for alice.
    statuses = sorted(TransferRequest.objects.values_list("status", flat=True))
    assert statuses == sorted([Status.SUCCEEDED] * 3 + [Status.REJECTED, Status.PENDING])
    for req in TransferRequest.objects.filter(status=Status.SUCCEEDED):
        assert req.exchange_id
        deciders = set(req.approvals.values_list("approver__username", flat=True))
        assert req.requested_by.username not in deciders
    waiting = TransferRequest.objects.get(status=Status.PENDING)
    assert waiting.requested_by.username == "bob"
    assert sorted(queued) == sorted(ks.pk for ks in key_sets.values())  # records: left to the worker

    # The sandbox state file (which the sandbox process resumes from) shows the money moved.
    state = json.loads(Path(seed_env["state"]).read_text())
    main_account = next(a for a in state["accounts"] if a["uid"] == 10000001)
    assert Decimal(main_account["wallets"]["fund"]["USDT"]) == Decimal("10000") - 1000 - 250
    assert Decimal(main_account["wallets"]["spot"]["USDT"]) == Decimal("2500") + 1000
    latest = BalanceSnapshot.objects.filter(key_set=main, wallet="fund", asset="USDT").order_by("-taken_at")[
        0
    ]
    assert latest.free == Decimal("8750")

    # The fake demo secrets are stored encrypted only.
    seed = json.loads(Path(DEFAULT_SEED).read_text())
    secret = seed["accounts"][0]["api_keys"][0]["secret"]
    assert secret not in main.secret_encrypted
    assert audit_verify_chain().ok

    # Second run: nothing changes, and it says so (and prints the logins again).
    before = counts()
    again = run_seed(seed_env)
    assert "already seeded" in again
    assert logins["alice"] in again
    assert counts() == before


def test_demo_seed_refuses_a_database_with_its_own_users(seed_env):
    User.objects.create_user(username="realperson", password="x" * 20)
    with pytest.raises(CommandError, match="already has users"):
        run_seed(seed_env)
    assert not ApiKeySet.objects.exists()


def test_demo_seed_refuses_a_sandbox_url_that_does_not_match_the_port(seed_env, settings):
    settings.BINGX_SANDBOX_URL = "http://127.0.0.1:1"
    with pytest.raises(CommandError, match="BINGX_SANDBOX_URL"):
        run_seed(seed_env)
