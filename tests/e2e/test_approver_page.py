"""The approver's page in a real browser (issue 13, part 4): two contexts, alice requests, bob decides.

Bob reads every fact in people's words (our sub-account "demosub1", not "UID 10000002" alone; who
requested; who may still approve; the rule behind the quorum; duplicates within the hour), Enter in
the code field decides nothing, a rejection without a reason is refused and one with a reason ends it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from accounts.models import ApiKeySet, User
from tests.e2e.test_two_person_flow import desk, login, sandbox_url, shot  # noqa: F401  (fixtures)
from tests.stepup_support import totp_code
from tests.transfers.workflow_support import SUB1_UID
from transfers.models import PolicyRule, Status, TransferKind, TransferRequest
from transfers.services.requests import transfer_request_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def inner_to_demosub1(*, alice: User, key_set: ApiKeySet, amount: str) -> TransferRequest:
    return transfer_request_create(
        requester=alice,
        key_set_id=key_set.pk,
        kind=TransferKind.INNER,
        asset="USDT",
        amount=Decimal(amount),
        fields={"recipient_type": 1, "recipient_account": str(SUB1_UID), "wallet_type": 1},
        note="top up demosub1",
    )


def test_approver_page_answers_every_question(
    chromium_path: str,
    browser: Browser,
    live_server: Any,
    desk: ApiKeySet,  # noqa: F811  (the fixture imported above)
    enqueued: list[int],
) -> None:
    PolicyRule.objects.create(position=1, name="USDT transfers", asset="USDT", required_approvals=1)
    alice_user, bob_user = User.objects.get(username="alice"), User.objects.get(username="bob")
    first = inner_to_demosub1(alice=alice_user, key_set=desk, amount="1250")
    req = inner_to_demosub1(alice=alice_user, key_set=desk, amount="1250")  # the same, minutes later
    _, bob = login(browser, live_server.url, "bob")

    bob.goto(f"/transfers/{req.pk}/")
    expect(bob.locator("#summary-heading")).to_have_text("What would be executed")
    expect(bob.locator("#fact-destination")).to_contain_text("our sub-account demosub1")
    expect(bob.locator("#fact-destination")).to_contain_text(f"UID {SUB1_UID}")
    expect(bob.locator("#fact-source")).to_have_text("Funding wallet of Demo main")
    expect(bob.locator("#amount")).to_have_text("1,250 USDT")
    expect(bob.locator("#fact-requester")).to_contain_text("alice")
    expect(bob.locator("#fact-approved-by")).to_have_text("nobody yet")
    expect(bob.locator("#fact-may-approve")).to_have_text("bob")  # alice requested it: never her
    expect(bob.locator("#fact-quorum")).to_contain_text("1 approval, set by rule “USDT transfers”")
    expect(bob.locator("#fact-duplicates")).to_contain_text(f"#{first.pk}")
    expect(bob.locator("#fact-note")).to_have_text("top up demosub1")
    shot(bob, "10-approver-page")

    # Enter in the code field decides nothing: the form has no implicit submission.
    bob.fill("#stepup-code", totp_code(bob_user))
    bob.press("#stepup-code", "Enter")
    bob.wait_for_timeout(700)
    assert TransferRequest.objects.get(pk=req.pk).status == Status.PENDING
    assert not enqueued

    # A rejection needs a reason; nothing changes without one.
    bob.fill("#stepup-code", totp_code(bob_user))
    bob.click("#reject")
    expect(bob.locator(".messages")).to_contain_text("Say why you reject this request")
    assert TransferRequest.objects.get(pk=req.pk).status == Status.PENDING
    bob.fill("#stepup-code", totp_code(bob_user))
    bob.fill("#id_comment", f"duplicate of #{first.pk}")
    bob.click("#reject")
    expect(bob.locator("#status-badge")).to_have_text("Rejected")
    expect(bob.locator("#fact-rejected-by")).to_have_text("bob")
    expect(bob.locator("#decisions")).to_contain_text(f"duplicate of #{first.pk}")


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from transfers import dispatch

    calls: list[int] = []
    monkeypatch.setattr(
        dispatch, "transfer_execute_enqueue", lambda *, request_id, **_: calls.append(request_id)
    )
    return calls
