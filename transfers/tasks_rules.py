"""The beat task of a sweep or top-up rule: a thin interface over transfers.services.rule_runs (its
PeriodicTask is created when the rule is approved). Registered through CELERY_IMPORTS, since Celery's
autodiscovery imports only `tasks` modules and transfers/tasks.py is left as it is."""

from __future__ import annotations

import logging

from celery import shared_task

from transfers.services.rule_runs import transfer_rule_run
from transfers.services.transfer_rules import RuleRefused

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, max_retries=0, soft_time_limit=50, time_limit=60, ignore_result=True)
def transfer_rule_run_task(rule_id: int) -> None:
    try:
        transfer_rule_run(rule_id=int(rule_id), actor=None, trigger="schedule")
    except RuleRefused as exc:  # an inactive rule or an exchange problem: logged, tried again next tick
        logger.warning("transfer rule %s did not run: %s", rule_id, exc)
