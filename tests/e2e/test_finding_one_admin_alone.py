"""Finding 1 of issue 10, replayed over HTTP: one administrator (not a superuser) tries to move money
alone. Django's test client against the real views; the key set talks to the sandbox exchange over HTTP.

Mallory creates a user in /admin/ (refused) and on the desk (only a proposal), tries to make it an
administrator and to grant it *approve* and herself *request*, proposes an address-book entry for an
outside UID and tries to approve it, requests 123.45 USDT to it and tries to approve that too, and sets
the superuser's password through /admin/. At no step does money move: the outside account's sandbox
balance is unchanged and the sandbox journal has no transfer call. Every step she is allowed to take
is an audit-chain event, and the chain verifies.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.audit import audit_verify_chain
from accounts.models import ApiKeySet, AuditEvent, KeySetGrant, PeopleChange, PeopleChangeStatus, User
from accounts.roles import roles_ensure
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.stepup_support import stepup_data
from tests.transfers.execution_support import APPLY_PATHS, EXTERNAL_UID, Sandbox
from transfers.models import AllowedRecipient, RecipientStatus, TransferRequest

pytestmark = pytest.mark.django_db

ATTACKER_PASSWORD = "mallory-owns-root-now-123"


def _member(username: str, *roles: str, **extra: Any) -> User:
    user = UserFactory(username=username, **extra)
    roles_ensure()  # a transaction test may have flushed the migrated role groups
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


def _outside_usdt(sandbox: Sandbox) -> Decimal:
    state = sandbox.control("GET", "state?records=false")
    account = next(a for a in state["accounts"] if a["uid"] == EXTERNAL_UID)
    return sum((Decimal(w.get("USDT", "0")) for w in account["wallets"].values()), Decimal(0))


def _verbs_by(user: User) -> list[str]:
    return list(AuditEvent.objects.filter(actor=user).order_by("seq").values_list("verb", flat=True))


@pytest.fixture
def desk(main_key_set: ApiKeySet, limiter_dir: Any) -> ApiKeySet:
    ApiKeySet.objects.filter(pk=main_key_set.pk).update(permissions=[1, 2, 4, 5])
    main_key_set.refresh_from_db()
    return main_key_set


def test_one_administrator_alone_cannot_move_money(desk: ApiKeySet, sandbox: Sandbox) -> None:
    root = _member("root", is_superuser=True, is_staff=True)
    mallory = _member("mallory", "administrator", is_staff=True)
    _member("admin2", "administrator", is_staff=True)  # exists, and never acts in this story
    outside_before = _outside_usdt(sandbox)
    web = Client()
    web.force_login(mallory)  # password and second factor, as after a real login
    allowed: list[str] = ["auth.login"]  # the verbs of every step she may take, signing in first

    # 1. Create a user in the Django admin: refused outright.
    assert web.get(reverse("admin:accounts_user_add")).status_code == 403
    response = web.post(
        reverse("admin:accounts_user_add"),
        {"username": "mule", "password1": "mule-password-123", "password2": "mule-password-123"},
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="mule").exists()

    # 2. Create it on the desk: only a proposal, waiting for a second administrator.
    response = web.post(reverse("people:new"), {"username": "mule", "email": "mule@example.org"})
    assert response.status_code == 302
    assert not User.objects.filter(username="mule").exists()
    create = PeopleChange.objects.get(kind="user_create")
    assert create.status == PeopleChangeStatus.PENDING
    allowed.append("people.propose")
    # …which she cannot approve herself, even with her second factor.
    response = web.post(reverse("people:change_approve", args=[create.pk]), stepup_data(mallory), follow=True)
    assert "second administrator" in response.content.decode()
    create.refresh_from_db()
    assert create.status == PeopleChangeStatus.PENDING
    assert not User.objects.filter(username="mule").exists()

    # 3. Put it in the administrator group: there is no such user to change; the admin is read-only.
    admins = Group.objects.get(name="administrator")
    assert (
        web.post(reverse("admin:auth_group_change", args=[admins.pk]), {"name": "administrator"}).status_code
        == 403
    )
    response = web.post(
        reverse("admin:accounts_user_change", args=[mallory.pk]),
        {"username": "mallory", "is_superuser": "on", "groups": [admins.pk]},
    )
    assert response.status_code == 403
    mallory.refresh_from_db()
    assert not mallory.is_superuser
    missing = max(User.objects.values_list("pk", flat=True)) + 1  # where "mule" would be
    web.post(reverse("people:propose", args=[missing]), {"kind": "role_add", "role": "administrator"})
    assert not PeopleChange.objects.filter(kind="role_add").exists()

    # 4. Grant herself *request* on the key set (the mule's *approve* has no user to go to): a proposal.
    response = web.post(
        reverse("accounts:keyset_grants", args=[desk.pk]),
        {"user": mallory.pk, "can_view": "on", "can_request": "on"},
    )
    assert response.status_code == 302
    assert not KeySetGrant.objects.filter(user=mallory).exists()
    assert PeopleChange.objects.get(kind="grant_set").status == PeopleChangeStatus.PENDING
    allowed.append("people.propose")
    assert web.post(reverse("admin:accounts_keysetgrant_add"), {"key_set": desk.pk}).status_code == 403
    response = web.post(
        reverse("people:change_approve", args=[PeopleChange.objects.get(kind="grant_set").pk]),
        stepup_data(mallory),
    )
    assert not KeySetGrant.objects.filter(user=mallory).exists()

    # 5. An address-book entry for the outside UID: requested, and she cannot approve it.
    response = web.post(
        reverse("transfers:recipients"),
        {"label": "Mule", "recipient_type": "1", "account": str(EXTERNAL_UID), "calling_code": ""},
    )
    assert response.status_code == 302
    entry = AllowedRecipient.objects.get(account=str(EXTERNAL_UID))
    allowed.append("recipient.request")
    web.post(reverse("transfers:recipient_approve", args=[entry.pk]), stepup_data(mallory))
    entry.refresh_from_db()
    assert entry.status == RecipientStatus.PENDING

    # 6. Request 123.45 USDT to it: she holds no request grant, so nothing is stored, nothing to approve.
    response = web.post(
        reverse("transfers:request_new") + "?kind=inner",
        {
            "kind": "inner",
            "key_set": desk.pk,
            "wallet_type": "1",
            "recipient_type": "1",
            "recipient_account": str(EXTERNAL_UID),
            "asset": "USDT",
            "amount": "123.45",
        },
    )
    assert response.status_code in (400, 403)
    assert not TransferRequest.objects.exists()

    # 7. Set the superuser's password through the admin: refused; root keeps its password.
    url = reverse("admin:auth_user_password_change", args=[root.pk])
    assert url == f"/admin/accounts/user/{root.pk}/password/"
    assert web.get(url).status_code == 403
    response = web.post(url, {"password1": ATTACKER_PASSWORD, "password2": ATTACKER_PASSWORD})
    assert response.status_code == 403
    root.refresh_from_db()
    assert root.check_password(DEFAULT_PASSWORD)
    login = Client().post(reverse("login"), {"username": "root", "password": ATTACKER_PASSWORD})
    assert login.status_code == 200  # the form again: her password is not root's
    assert "_auth_user_id" not in login.wsgi_request.session

    # No money moved at any step, and nothing was even sent to the exchange's transfer endpoints.
    assert _outside_usdt(sandbox) == outside_before
    assert [c for c in sandbox.journal() if c["path"] in APPLY_PATHS] == []
    assert not TransferRequest.objects.exists()
    # Every step she was allowed to take is on the audit chain, and the chain is intact.
    assert _verbs_by(mallory) == allowed
    assert audit_verify_chain().ok
    assert PeopleChange.objects.filter(status=PeopleChangeStatus.PENDING).count() == 2
