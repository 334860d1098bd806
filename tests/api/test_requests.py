"""The API against the real app: requests, scopes, idempotency, problem details."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import ApiKeySet, AuditEvent, User
from api.models import ApiToken
from tests.api.conftest import ApiClient, inner_body, token_for
from transfers.models import Approval, Status, TransferRequest

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def test_requester_creates_a_pending_request_that_people_must_approve(
    alice: User, key_set: ApiKeySet
) -> None:
    api = ApiClient(token_for(alice)[1])
    response = api.post("/requests", inner_body(key_set))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "pending"
    assert data["amount"] == "25"
    assert data["requested_by"] == "alice"
    req = TransferRequest.objects.get(pk=data["id"])
    assert req.requested_by == alice
    assert req.required_approvals >= 1
    assert AuditEvent.objects.filter(verb="transfer.request", object_id=str(req.pk), ip="127.0.0.1").exists()
    assert response["Cache-Control"] == "no-store"
    assert api.get(f"/requests/{req.pk}").json()["id"] == req.pk


def test_same_idempotency_key_twice_creates_one_request(alice: User, key_set: ApiKeySet) -> None:
    api = ApiClient(token_for(alice)[1])
    first = api.post("/requests", inner_body(key_set), key="sweep-2026-11-26")
    second = api.post("/requests", inner_body(key_set), key="sweep-2026-11-26")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert TransferRequest.objects.count() == 1


def test_same_idempotency_key_with_another_body_is_422_and_creates_nothing(
    alice: User, key_set: ApiKeySet
) -> None:
    api = ApiClient(token_for(alice)[1])
    assert api.post("/requests", inner_body(key_set), key="k").status_code == 201
    response = api.post("/requests", inner_body(key_set, amount="26"), key="k")
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/idempotency-key-reused")
    assert TransferRequest.objects.count() == 1


def test_idempotency_keys_are_per_token(alice: User, key_set: ApiKeySet) -> None:
    one, two = ApiClient(token_for(alice)[1]), ApiClient(token_for(alice)[1])
    assert one.post("/requests", inner_body(key_set), key="same").status_code == 201
    assert two.post("/requests", inner_body(key_set), key="same").status_code == 201
    assert TransferRequest.objects.count() == 2


def test_post_without_idempotency_key_is_a_field_error(alice: User, key_set: ApiKeySet) -> None:
    response = ApiClient(token_for(alice)[1]).post("/requests", inner_body(key_set), key=None)
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert {"in": "header", "pointer": "/Idempotency-Key"}.items() <= response.json()["errors"][0].items()
    assert TransferRequest.objects.count() == 0


def test_bad_input_is_a_problem_with_one_error_per_field(alice: User, key_set: ApiKeySet) -> None:
    body = {"key_set_id": key_set.pk, "kind": "teleport", "asset": "", "amount": "-5"}
    response = ApiClient(token_for(alice)[1]).post("/requests", body)
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert problem["title"] == "Invalid input"
    pointers = {e["pointer"] for e in problem["errors"]}
    assert {"/kind", "/asset", "/amount"} <= pointers
    assert TransferRequest.objects.count() == 0


def test_malformed_json_is_a_problem(alice: User, key_set: ApiKeySet) -> None:
    response = ApiClient(token_for(alice)[1]).post("/requests", raw="{not json")
    assert response.status_code in (400, 422)
    assert response["Content-Type"] == PROBLEM
    assert TransferRequest.objects.count() == 0


def test_service_refusal_is_a_422_problem_with_the_desks_words(alice: User, key_set: ApiKeySet) -> None:
    body = inner_body(key_set)
    body["fields"]["recipient_account"] = "99999999"  # not an own account, not in the address book
    response = ApiClient(token_for(alice)[1]).post("/requests", body)
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/request-refused")
    assert TransferRequest.objects.count() == 0


def test_read_only_token_cannot_request(alice: User, key_set: ApiKeySet) -> None:
    response = ApiClient(token_for(alice, scope="read")[1]).post("/requests", inner_body(key_set))
    assert response.status_code == 403
    assert response.json()["type"].endswith("/scope")
    assert TransferRequest.objects.count() == 0


def test_token_limited_to_other_key_sets_cannot_see_or_request_on_this_one(
    alice: User, key_set: ApiKeySet
) -> None:
    from tests.transfers.workflow_support import grant, make_main_key_set

    other = make_main_key_set(label="Other main", uid=10000077)
    grant(other, alice, request=True)
    api = ApiClient(token_for(alice, key_set_ids=[other.pk])[1])
    assert [k["id"] for k in api.get("/key-sets").json()["results"]] == [other.pk]
    assert api.get(f"/key-sets/{key_set.pk}").status_code == 404
    assert api.post("/requests", inner_body(key_set)).status_code == 404
    assert TransferRequest.objects.count() == 0


def test_approver_without_request_grant_is_refused_by_the_grant(bob: User, key_set: ApiKeySet) -> None:
    response = ApiClient(token_for(bob)[1]).post("/requests", inner_body(key_set))
    assert response.status_code == 403
    assert TransferRequest.objects.count() == 0


def test_viewer_reads_but_cannot_request(victor: User, key_set: ApiKeySet, alice: User) -> None:
    from tests.transfers.workflow_support import new_request

    req = new_request(requester=alice, key_set=key_set)
    api = ApiClient(token_for(victor)[1])
    assert api.get(f"/requests/{req.pk}").json()["status"] == "pending"
    assert api.post("/requests", inner_body(key_set)).status_code == 403


def test_stranger_sees_nothing(stranger: User, alice: User, key_set: ApiKeySet) -> None:
    from tests.transfers.workflow_support import new_request

    req = new_request(requester=alice, key_set=key_set)
    api = ApiClient(token_for(stranger)[1])
    assert api.get("/key-sets").json()["results"] == []
    assert api.get("/requests").json()["results"] == []
    response = api.get(f"/requests/{req.pk}")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_requester_cancels_own_request_but_not_someone_elses(
    alice: User, bob: User, key_set: ApiKeySet
) -> None:
    from accounts.models import KeySetGrant

    KeySetGrant.objects.filter(key_set=key_set, user=bob).update(can_request=True)
    api = ApiClient(token_for(alice)[1])
    mine = api.post("/requests", inner_body(key_set), key="a").json()
    bobs = ApiClient(token_for(bob)[1]).post("/requests", inner_body(key_set), key="b").json()
    refused = api.post(f"/requests/{bobs['id']}/cancel", key="c1")
    assert refused.status_code == 403
    assert refused["Content-Type"] == PROBLEM
    done = api.post(f"/requests/{mine['id']}/cancel", key="c2")
    assert done.status_code == 200
    assert done.json()["status"] == "cancelled"
    again = api.post(f"/requests/{mine['id']}/cancel", key="c3")
    assert again.status_code == 409
    assert TransferRequest.objects.get(pk=bobs["id"]).status == Status.PENDING


@pytest.mark.parametrize(
    "path",
    ["/requests/{pk}/approve", "/requests/{pk}/reject", "/requests/{pk}/decide", "/batches/{pk}/approve"],
)
def test_no_token_can_approve_or_reject(path: str, bob: User, alice: User, key_set: ApiKeySet) -> None:
    from tests.transfers.workflow_support import new_request

    req = new_request(requester=alice, key_set=key_set)
    api = ApiClient(token_for(bob)[1])  # bob may approve in the browser
    response = api.post(path.format(pk=req.pk), {"decision": "approve"})
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert not Approval.objects.exists()


def test_a_token_is_not_a_session_on_the_approval_page(bob: User, alice: User, key_set: ApiKeySet) -> None:
    from django.test import Client

    from tests.transfers.workflow_support import new_request

    req = new_request(requester=alice, key_set=key_set)
    raw = token_for(bob)[1]
    response = Client(enforce_csrf_checks=True).post(
        f"/transfers/{req.pk}/approve/", {"stepup_code": "000000"}, headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code in (302, 403)
    assert response.status_code == 403 or "/login/" in response["Location"]
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert not Approval.objects.exists()


def test_missing_unknown_expired_and_revoked_tokens_are_401(alice: User, key_set: ApiKeySet) -> None:
    assert ApiClient(None).get("/key-sets").status_code == 401
    assert ApiClient("bxa_not-a-token").get("/key-sets").status_code == 401
    token, raw = token_for(alice)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    expired = ApiClient(raw).get("/key-sets")
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert expired["WWW-Authenticate"].startswith("Bearer")
    token2, raw2 = token_for(alice)
    from api.services.tokens import api_token_revoke

    api_token_revoke(actor=alice, token_id=token2.pk)
    assert ApiClient(raw2).get("/key-sets").status_code == 401


def test_ip_allow_list(alice: User, key_set: ApiKeySet) -> None:
    _, raw = token_for(alice, allowed_ips=["10.1.2.0/24"])
    refused = ApiClient(raw).get("/key-sets")
    assert refused.status_code == 403
    assert refused["Content-Type"] == PROBLEM
    assert ApiClient(raw, remote_addr="10.1.2.9").get("/key-sets").status_code == 200


def test_use_is_recorded_and_audited(alice: User, key_set: ApiKeySet) -> None:
    token, raw = token_for(alice)
    ApiClient(raw, remote_addr="10.0.0.5").get("/key-sets")
    ApiClient(raw, remote_addr="10.0.0.5").get("/key-sets")
    token.refresh_from_db()
    assert token.last_used_ip == "10.0.0.5"
    assert token.last_used_at is not None
    assert AuditEvent.objects.filter(verb="api.token.create", object_id=str(token.pk)).count() == 1
    assert AuditEvent.objects.filter(verb="api.token.use", object_id=str(token.pk)).count() == 1
    ApiClient(raw, remote_addr="10.0.0.6").get("/key-sets")
    assert AuditEvent.objects.filter(verb="api.token.use", object_id=str(token.pk)).count() == 2
    assert raw not in str(list(AuditEvent.objects.values_list("before", "after")))


def test_rate_limit_429_with_retry_after(alice: User, key_set: ApiKeySet, settings: object) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 3  # type: ignore[attr-defined]
    api = ApiClient(token_for(alice)[1])
    codes = [api.get("/key-sets").status_code for _ in range(3)]
    limited = api.get("/key-sets")
    assert codes == [200, 200, 200]
    assert limited.status_code == 429
    assert limited["Content-Type"] == PROBLEM
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert ApiClient(token_for(alice)[1]).get("/key-sets").status_code == 200  # per token


def test_cursor_pagination_walks_every_request_once(alice: User, key_set: ApiKeySet) -> None:
    from tests.transfers.workflow_support import new_request

    made = {new_request(requester=alice, key_set=key_set, amount=str(n)).pk for n in range(1, 6)}
    api = ApiClient(token_for(alice)[1])
    seen: list[int] = []
    cursor = None
    while True:
        page = api.get("/requests", limit=2, **({"cursor": cursor} if cursor else {})).json()
        seen += [r["id"] for r in page["results"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(made, reverse=True)
    bad = api.get("/requests", cursor="garbage!")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["pointer"] == "/cursor"


def test_unknown_path_and_wrong_method_are_problems(alice: User, key_set: ApiKeySet) -> None:
    api = ApiClient(token_for(alice)[1])
    missing = api.get("/nothing-here")
    assert missing.status_code == 404
    assert missing["Content-Type"] == PROBLEM
    wrong = api.client.delete("/api/v1/requests", headers=api.headers)
    assert wrong.status_code == 405
    assert wrong["Content-Type"] == PROBLEM


def test_an_idempotency_key_is_kept_for_a_day(alice: User, key_set: ApiKeySet) -> None:
    from api.models import IdempotentResponse

    api = ApiClient(token_for(alice)[1])
    assert api.post("/requests", inner_body(key_set), key="daily").status_code == 201
    IdempotentResponse.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    again = api.post("/requests", inner_body(key_set, amount="26"), key="daily")
    assert again.status_code == 201
    assert TransferRequest.objects.count() == 2


def test_a_failed_first_call_does_not_hold_its_key(alice: User, key_set: ApiKeySet) -> None:
    api = ApiClient(token_for(alice)[1])
    body = inner_body(key_set)
    body["fields"]["recipient_account"] = "99999999"
    assert api.post("/requests", body, key="fix-and-retry").status_code == 422
    assert api.post("/requests", inner_body(key_set), key="fix-and-retry").status_code == 201


def test_a_crash_is_a_500_problem_without_details(
    alice: User, key_set: ApiKeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.v1 import routes

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes, "request_data", boom)
    from tests.transfers.workflow_support import new_request

    req = new_request(requester=alice, key_set=key_set)
    response = ApiClient(token_for(alice)[1]).get(f"/requests/{req.pk}")
    assert response.status_code == 500
    assert response["Content-Type"] == PROBLEM
    assert b"secret internals" not in response.content


@pytest.mark.parametrize(
    ("role", "status"),
    [("alice", 201), ("bob", 403), ("victor", 403), ("admin1", 403), ("stranger", 404)],
)
def test_submit_by_role(role: str, status: int, key_set: ApiKeySet, request: pytest.FixtureRequest) -> None:
    """Only a person with the request grant submits; an administrator is no exception (grants, not roles)."""
    user: User = request.getfixturevalue(role)
    response = ApiClient(token_for(user)[1]).post("/requests", inner_body(key_set))
    assert response.status_code == status, response.content
    assert TransferRequest.objects.count() == (1 if status == 201 else 0)
