"""The transition table of a transfer request, walked whole: every allowed move works (one
conditional UPDATE, one audit event, the attempts kept), every other one is refused before anything
is written, and a request that already moved on is left alone."""

from __future__ import annotations

import ast
import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from django.db.models import Q
from django.utils import timezone

from accounts.models import AuditEvent
from tests.transfers.execution_support import approved_request
from tests.transfers.workflow_support import make_main_key_set
from transfers.lifecycle import TRANSITIONS, IllegalTransition, transition, transition_allowed
from transfers.models import AttemptKind, AttemptOutcome, ExecutionAttempt, Status, TransferRequest

ALLOWED = sorted((src, dst) for src, targets in TRANSITIONS.items() for dst in targets)
REFUSED = sorted(
    (src, dst) for src, dst in itertools.product(Status.values, Status.values) if (src, dst) not in ALLOWED
)
FINAL = (Status.REJECTED, Status.CANCELLED, Status.EXPIRED, Status.STALE, Status.SUCCEEDED, Status.FAILED)


def events(req: TransferRequest) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="transfers.transferrequest", object_id=str(req.pk)))


def test_the_table_covers_every_status_and_matches_the_design() -> None:
    assert set(TRANSITIONS) == set(Status.values)
    for final in FINAL:
        assert TRANSITIONS[final] == frozenset(), f"{final} is final"
    assert TRANSITIONS[Status.PENDING] == {
        Status.APPROVED,
        Status.REJECTED,
        Status.CANCELLED,
        Status.EXPIRED,
        Status.STALE,
    }
    assert TRANSITIONS[Status.APPROVED] == {Status.SUBMITTING}
    # Nothing skips the claim, and nothing reaches SUCCEEDED without having been sent.
    assert all(Status.SUCCEEDED not in TRANSITIONS[s] for s in (Status.PENDING, Status.APPROVED))


@pytest.mark.django_db
@pytest.mark.parametrize(("src", "dst"), ALLOWED)
def test_every_allowed_transition_moves_the_request_and_is_audited(src: str, dst: str) -> None:
    req = approved_request(key_set=make_main_key_set(), status=src)
    now = timezone.now()
    attempt = ExecutionAttempt(
        request=req,
        kind=AttemptKind.SUBMIT,
        endpoint="/x",
        outcome=AttemptOutcome.REJECTED,
        started_at=now,
        finished_at=now,
    )
    before = len(events(req))

    moved = transition(
        request=req,
        from_statuses=(src,),
        to_status=dst,
        verb="transfer.test",
        changes={"failure_message": f"{src}→{dst}"},
        attempts=[attempt],
    )

    assert moved is True
    req.refresh_from_db()
    assert req.status == dst
    assert req.failure_message == f"{src}→{dst}"
    new = events(req)[before:]
    assert [(e.verb, e.before["status"], e.after["status"]) for e in new] == [("transfer.test", src, dst)]
    assert ExecutionAttempt.objects.filter(request=req).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("src", "dst"), REFUSED)
def test_every_other_transition_is_refused_and_writes_nothing(src: str, dst: str) -> None:
    req = approved_request(key_set=make_main_key_set(), status=src)
    before = len(events(req))

    with pytest.raises(IllegalTransition, match=f"{src} → {dst}"):
        transition(request=req, from_statuses=(src,), to_status=dst, verb="transfer.test")

    req.refresh_from_db()
    assert req.status == src
    assert len(events(req)) == before
    assert not transition_allowed(from_status=src, to_status=dst)


@pytest.mark.django_db
def test_a_request_that_moved_on_is_left_alone_but_the_attempt_is_kept() -> None:
    """Two workers race: the second finds the request no longer SUBMITTING and changes nothing."""
    req = approved_request(key_set=make_main_key_set(), status=Status.SUBMITTING)
    stale_copy = TransferRequest.objects.get(pk=req.pk)
    assert transition(request=req, from_statuses=(Status.SUBMITTING,), to_status=Status.SUCCEEDED, verb="a")
    now = timezone.now()
    late = ExecutionAttempt(
        request=stale_copy,
        kind=AttemptKind.SUBMIT,
        endpoint="/x",
        outcome=AttemptOutcome.AMBIGUOUS,
        started_at=now,
        finished_at=now,
    )

    moved = transition(
        request=stale_copy,
        from_statuses=(Status.SUBMITTING,),
        to_status=Status.UNKNOWN,
        verb="b",
        attempts=[late],
    )

    assert moved is False
    assert TransferRequest.objects.get(pk=req.pk).status == Status.SUCCEEDED
    assert [e.verb for e in events(req)] == ["a"]
    assert ExecutionAttempt.objects.filter(request=req, outcome=AttemptOutcome.AMBIGUOUS).count() == 1


@pytest.mark.django_db
def test_a_guard_keeps_the_transition_conditional() -> None:
    """The sweeper moves only requests stuck since before its cutoff."""
    req = approved_request(key_set=make_main_key_set(), status=Status.SUBMITTING)
    TransferRequest.objects.filter(pk=req.pk).update(submitted_at=timezone.now())
    cutoff = timezone.now() - timedelta(minutes=5)

    moved = transition(
        request=req,
        from_statuses=(Status.SUBMITTING,),
        to_status=Status.UNKNOWN,
        guard=Q(submitted_at__lt=cutoff),
        verb="transfer.sweep.stuck",
    )

    assert moved is False
    assert TransferRequest.objects.get(pk=req.pk).status == Status.SUBMITTING


def _status_writes(path: Path) -> list[str]:
    """Places in one module that write a transfer request's status without transition()."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update":
            chain, base = node.func.value, None
            while isinstance(chain, (ast.Call, ast.Attribute)):
                chain = chain.func if isinstance(chain, ast.Call) else chain.value
            base = chain.id if isinstance(chain, ast.Name) else None
            if base == "TransferRequest" and any(k.arg == "status" for k in node.keywords):
                found.append(f"{path}:{node.lineno} TransferRequest…update(status=…)")
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "status"
                    and isinstance(target.value, ast.Name)
                    and target.value.id in {"req", "request", "transfer_request"}
                ):
                    found.append(f"{path}:{node.lineno} {target.value.id}.status = …")
    return found


def test_nothing_but_the_lifecycle_writes_a_request_status() -> None:
    root = Path(__file__).resolve().parents[2]
    modules = [
        p
        for package in ("transfers", "accounts", "demo", "exchange")
        for p in (root / package).rglob("*.py")
        if "migrations" not in p.parts and p != root / "transfers" / "lifecycle.py"
    ]
    assert len(modules) > 40
    writes = [w for p in modules for w in _status_writes(p)]
    assert writes == [], "status changes go through transfers.lifecycle.transition():\n" + "\n".join(writes)
    # The guard itself sees such a write.
    assert _status_writes(root / "transfers" / "lifecycle.py") != []
