"""The step-up throttle holds under parallel wrong codes: the per-person row lock makes the checks one at a
time, so exactly STEP_UP_FAILURE_LIMIT codes are checked and every other attempt is refused as locked."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import AuditEvent, StepUpThrottle
from tests.stepup_support import stepup_data
from transfers.refusals import DecisionRefused
from transfers.services.decisions import transfer_request_approve

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twelve_parallel_wrong_codes_get_exactly_the_limit_of_checks(require_postgres, pending, bob):
    stepup_data(bob)  # enrolled
    limit = settings.STEP_UP_FAILURE_LIMIT

    def attempt(_: int) -> str:
        try:
            transfer_request_approve(request_id=pending.pk, approver=bob, stepup={"stepup_code": "000000"})
        except DecisionRefused as exc:
            return exc.code
        finally:
            connection.close()
        return "approved"

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(attempt, range(12)))
    assert sorted(codes) == sorted(["second_factor"] * limit + ["locked"] * (12 - limit))
    events = AuditEvent.objects.filter(actor=bob, verb="auth.step_up_failed")
    assert events.count() == 12  # every failure audited
    assert sorted(e.after["reason"] for e in events) == sorted(["wrong"] * limit + ["locked"] * (12 - limit))
    assert StepUpThrottle.objects.get(user=bob).failures == limit
    assert pending.approvals.count() == 0
