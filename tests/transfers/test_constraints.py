"""The database itself refuses money rows that break the rules (migration transfers.0004_money_constraints).

Whatever path writes — a service, the admin, a shell, a bug — a zero amount, an unknown status or a
quorum of nothing never lands, and a refused write leaves nothing behind. Runs on SQLite and PostgreSQL.
"""

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Model
from django.utils import timezone

from accounts.models import ApiKeySet
from tests.factories import ApiKeySetFactory, UserFactory
from tests.transfers.execution_support import approved_request
from transfers.models import (
    AllowedRecipient,
    Approval,
    AttemptKind,
    AttemptOutcome,
    DailyLimit,
    Decision,
    ExecutionAttempt,
    PolicyRule,
    RecipientStatus,
    RecipientType,
    RecordSource,
    Status,
    TransferKind,
    TransferRecord,
    TransferRequest,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def key_set() -> ApiKeySet:
    return ApiKeySetFactory.create()


@pytest.fixture
def pending(key_set: ApiKeySet) -> TransferRequest:
    """A legitimate request with one approval, as the workflow writes it."""
    return approved_request(key_set=key_set, status=Status.PENDING)


def refused(write: Callable[[], object], *, model: type[Model], constraint: str | None) -> None:
    """`write` raises IntegrityError (naming `constraint` when given) and the table is unchanged."""
    before = list(model._default_manager.order_by("pk").values())
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        write()
    if constraint is not None:
        assert constraint in str(caught.value)
    assert list(model._default_manager.order_by("pk").values()) == before


def request_like(base: TransferRequest, **overrides: Any) -> dict[str, Any]:
    """The fields of a second request copied from a valid one, with `overrides` applied."""
    fields = {
        f.attname: getattr(base, f.attname)
        for f in TransferRequest._meta.concrete_fields
        if not f.primary_key
    }
    fields.update(uuid=uuid.uuid4(), client_id=uuid.uuid4().hex, **overrides)
    return fields


# -- TransferRequest ------------------------------------------------------------------------------

BAD_REQUESTS = [
    pytest.param({"amount": Decimal(0)}, "transfer_request_amount_positive", id="amount-zero"),
    pytest.param({"amount": Decimal(-1)}, "transfer_request_amount_positive", id="amount-negative"),
    pytest.param({"status": "sent"}, "transfer_request_status_valid", id="status-not-a-choice"),
    pytest.param({"kind": "withdraw"}, "transfer_request_kind_valid", id="kind-not-a-choice"),
    pytest.param({"required_approvals": 0}, "transfer_request_needs_one_approval", id="no-approvals"),
]


@pytest.mark.parametrize(("overrides", "constraint"), BAD_REQUESTS)
def test_a_bad_request_is_never_inserted(pending, overrides, constraint):
    refused(
        lambda: TransferRequest.objects.create(**request_like(pending, **overrides)),
        model=TransferRequest,
        constraint=constraint,
    )


@pytest.mark.parametrize(("overrides", "constraint"), BAD_REQUESTS)
def test_a_request_is_never_updated_into_a_bad_one(pending, overrides, constraint):
    refused(
        lambda: TransferRequest.objects.filter(pk=pending.pk).update(**overrides),
        model=TransferRequest,
        constraint=constraint,
    )


def test_every_status_kind_and_the_smallest_amount_are_accepted(pending):
    for status in Status.values:
        TransferRequest.objects.filter(pk=pending.pk).update(status=status)
    for kind in TransferKind.values:
        TransferRequest.objects.filter(pk=pending.pk).update(kind=kind)
    smallest = TransferRequest.objects.create(**request_like(pending, amount=Decimal("1e-18")))
    smallest.refresh_from_db()
    assert smallest.amount == Decimal("0.000000000000000001")


# -- Approval -------------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", [Decision.APPROVE, Decision.REJECT])
def test_a_second_decision_by_the_same_approver_is_refused(pending, decision):
    first = pending.approvals.get()
    refused(
        lambda: Approval.objects.create(
            request=pending, approver=first.approver, decision=decision, payload_sha256=pending.payload_sha256
        ),
        model=Approval,
        constraint=None,  # SQLite names the columns of a UNIQUE failure, not the constraint
    )
    assert pending.approvals.count() == 1


def test_a_decision_outside_the_choices_is_refused(pending):
    other = UserFactory.create()
    refused(
        lambda: Approval.objects.create(
            request=pending, approver=other, decision="abstain", payload_sha256=pending.payload_sha256
        ),
        model=Approval,
        constraint="approval_decision_valid",
    )


# -- ExecutionAttempt, TransferRecord ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        pytest.param({"kind": "retry"}, "attempt_kind_valid", id="kind"),
        pytest.param({"outcome": "maybe"}, "attempt_outcome_valid", id="outcome"),
    ],
)
def test_an_attempt_outside_the_choices_is_refused(pending, overrides, constraint):
    now = timezone.now()
    fields = {
        "request": pending,
        "kind": AttemptKind.SUBMIT,
        "endpoint": "/x",
        "outcome": AttemptOutcome.NOT_SENT,
        "started_at": now,
        "finished_at": now,
    }
    refused(
        lambda: ExecutionAttempt.objects.create(**{**fields, **overrides}),
        model=ExecutionAttempt,
        constraint=constraint,
    )


def record(key_set: ApiKeySet, **overrides: Any) -> TransferRecord:
    fields: dict[str, Any] = {
        "key_set": key_set,
        "source": RecordSource.INNER,
        "exchange_id": uuid.uuid4().hex,
        "asset": "USDT",
        "amount": Decimal(1),
        "occurred_at": timezone.now(),
    }
    return TransferRecord.objects.create(**{**fields, **overrides})


def test_a_synced_record_may_be_zero_but_never_negative(key_set):
    assert record(key_set, amount=Decimal(0)).amount == 0  # the exchange's to report; sync stores abs()
    refused(
        lambda: record(key_set, amount=Decimal("-0.5")),
        model=TransferRecord,
        constraint="record_amount_not_negative",
    )
    refused(
        lambda: record(key_set, source="withdrawals"), model=TransferRecord, constraint="record_source_valid"
    )


# -- Policy and address book ------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [Decimal(0), Decimal(-5)])
def test_a_daily_limit_is_positive(key_set, limit):
    refused(
        lambda: DailyLimit.objects.create(key_set=key_set, asset="USDT", limit=limit),
        model=DailyLimit,
        constraint="daily_limit_positive",
    )


def test_a_rule_threshold_is_not_negative_and_its_kind_is_known():
    PolicyRule.objects.create(name="any kind, any amount", kind="", min_amount=None)
    PolicyRule.objects.create(name="from zero", kind=TransferKind.WALLET, min_amount=Decimal(0))
    refused(
        lambda: PolicyRule.objects.create(name="neg", min_amount=Decimal(-1)),
        model=PolicyRule,
        constraint="rule_min_amount_not_negative",
    )
    refused(
        lambda: PolicyRule.objects.create(name="odd", kind="withdraw"),
        model=PolicyRule,
        constraint="rule_kind_valid_or_any",
    )


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        pytest.param({"recipient_type": 4}, "recipient_type_valid", id="type"),
        pytest.param({"status": "maybe"}, "recipient_status_valid", id="status"),
        pytest.param({"calling_code": "44"}, "recipient_calling_code_only_for_phone", id="email-with-code"),
        pytest.param(
            {"recipient_type": RecipientType.PHONE, "account": "5550100001"},
            "recipient_calling_code_only_for_phone",
            id="phone-without-code",
        ),
    ],
)
def test_an_address_book_entry_fits_its_type(overrides, constraint):
    fields: dict[str, Any] = {
        "label": "Partner",
        "recipient_type": RecipientType.EMAIL,
        "account": "partner@example.com",
        "status": RecipientStatus.PENDING,
        "requested_by": UserFactory.create(),
    }
    refused(
        lambda: AllowedRecipient.objects.create(**{**fields, **overrides}),
        model=AllowedRecipient,
        constraint=constraint,
    )


# -- The migration validates existing rows ---------------------------------------------------------


@pytest.fixture
def before_constraints() -> Iterator[MigrationExecutor]:
    """Rows created by the test beforehand, then the database taken back to before 0004 (no money
    constraints; the rows keep their older columns); put back to the latest state after."""
    executor = MigrationExecutor(connection)

    def back() -> MigrationExecutor:
        executor.migrate([("transfers", "0003_policychangerequest")])
        executor.loader.build_graph()
        return executor

    try:
        yield back  # type: ignore[misc]
    finally:
        with connection.cursor() as cursor:  # raw: the model may be ahead of the table here
            cursor.execute("DELETE FROM transfers_transferrequest")
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def _money(pk: int) -> tuple[Decimal, int]:
    # Only columns every schema version has (the model may be ahead of the migrated table).
    return TransferRequest.objects.filter(pk=pk).values_list("amount", "required_approvals").get()


@pytest.mark.django_db(transaction=True)
def test_migration_stops_on_existing_bad_money_rows_and_names_the_constraint(before_constraints, key_set):
    bad = approved_request(key_set=key_set, status=Status.PENDING, with_approval=False)
    executor = before_constraints()
    TransferRequest.objects.filter(pk=bad.pk).update(amount=Decimal(0), required_approvals=0)
    with pytest.raises(IntegrityError) as caught:
        executor.migrate([("transfers", "0004_money_constraints")])
    message = str(caught.value)
    assert (
        f"transfer_request_amount_positive: 1 row(s) in transfers_transferrequest violate it (ids {bad.pk})"
        in (message)
    )
    assert "transfer_request_needs_one_approval" in message
    assert "transfer_request_status_valid" not in message
    assert _money(bad.pk) == (Decimal(0), 0)  # nothing was "fixed"


@pytest.mark.django_db(transaction=True)
def test_migration_applies_over_legitimate_rows(before_constraints, key_set):
    good = approved_request(key_set=key_set, status=Status.PENDING, with_approval=False)
    expires = good.expires_at
    executor = before_constraints()
    executor.migrate([("transfers", "0004_money_constraints")])
    assert _money(good.pk)[0] == Decimal(1)
    assert TransferRequest.objects.filter(pk=good.pk).values_list("expires_at", flat=True).get() == expires
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        TransferRequest.objects.filter(pk=good.pk).update(amount=Decimal(0))
    assert "transfer_request_amount_positive" in str(caught.value)
    assert _money(good.pk)[0] == Decimal(1)
