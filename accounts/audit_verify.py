"""Verify the audit chain against its keys and its checkpoints; run in the background, never in a request.

`audit_verify_chain(full=True)` walks every sealed event in chain order and recomputes each HMAC link;
`full=False` starts from the newest checkpoint at or before the last good verification (incremental:
the events since, plus every later checkpoint). Then each checkpoint (accounts.audit_checkpoints) is
compared with the table. What each tampering looks like:
- an edited event: its link no longer verifies → that event's seq;
- a tail rewritten and recomputed without the key: the first rewritten event's link fails → its seq;
- an inserted event: its link (or its successor's link to it) fails → its seq;
- a truncated tail: a checkpoint names a position the table no longer has → the first missing seq
  (the seq after the last one left).
`audit_verify_run` stores the outcome in AuditVerification (shown on the audit page); beat runs it
(accounts.tasks.audit_verify_task), and the audit page's button only enqueues it.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from celery import current_app
from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from accounts.audit_chain import GENESIS, audit_link_message
from accounts.audit_checkpoints import Checkpoint, audit_checkpoints_read
from accounts.audit_keys import audit_keys, audit_mac
from accounts.models import AuditEvent, AuditVerification

logger = logging.getLogger(__name__)

VERIFY_TASK = "accounts.tasks.audit_verify_task"
REQUEST_INTERVAL_S = 60  # the page's button enqueues at most one full walk a minute
_FIELDS = ["seq", "chain_index", "prev_seq", "key_id", "at", "actor_label", "actor_id", "verb", "object_type",
           "object_id", "object_repr", "before", "after", "ip", "prev_hash", "hash"]  # fmt: skip


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_seq: int | None
    reason: str
    broken: bool = False
    through_index: int = 0
    unsealed: int = 0
    checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return not self.broken and self.first_broken_seq is None


def _start(*, full: bool, checkpoints: list[Checkpoint]) -> tuple[int, str]:
    """(chain_index to start after, its link): genesis, or the newest checkpoint already verified good."""
    if full:
        return 0, GENESIS
    last_good = AuditVerification.objects.filter(ok=True).order_by("-finished_at").first()
    verified = last_good.through_index if last_good else 0
    usable = [c for c in checkpoints if c.index <= verified]
    if not usable:
        return 0, GENESIS
    best = max(usable, key=lambda c: c.index)
    return best.index, best.link


def _walk(*, after_index: int, prev_link: str) -> ChainReport:
    keys = audit_keys()
    expected = after_index + 1
    checked = 0
    rows = (
        AuditEvent.objects.filter(chain_index__gt=after_index)
        .order_by("chain_index")
        .only(*_FIELDS)
        .iterator(chunk_size=2000)
    )
    for event in rows:
        if event.chain_index != expected:
            return ChainReport(
                checked, event.seq, f"the event before it in the chain (position {expected}) is missing", True
            )
        if not hmac.compare_digest(event.prev_hash, prev_link):
            return ChainReport(
                checked,
                event.seq,
                "its link to the previous event does not match (removed, inserted or reordered)",
                True,
            )
        key = keys.get(event.key_id)
        if key is None:
            return ChainReport(checked, event.seq, f"sealed with an unknown key id {event.key_id!r}", True)
        link = audit_mac(key=key, message=audit_link_message(prev_link=prev_link, event=event))
        if not hmac.compare_digest(link, event.hash or ""):
            return ChainReport(
                checked,
                event.seq,
                "its content does not match its link (edited, inserted or recomputed without the key)",
                True,
            )
        prev_link = link
        expected += 1
        checked += 1
    return ChainReport(checked, None, "intact", False, expected - 1)


def _check_checkpoints(*, checkpoints: list[Checkpoint], from_index: int) -> ChainReport | None:
    todo = [c for c in checkpoints if c.index >= from_index]
    if not todo:
        return None
    rows: dict[int, tuple[int, str | None]] = {}
    indexes = sorted({c.index for c in todo})
    for i in range(0, len(indexes), 1000):
        for index, seq, link in AuditEvent.objects.filter(chain_index__in=indexes[i : i + 1000]).values_list(
            "chain_index", "seq", "hash"
        ):
            rows[index or 0] = (seq, link)
    head = (
        AuditEvent.objects.filter(chain_index__isnull=False)
        .order_by("-chain_index")
        .values("chain_index", "seq")
        .first()
    )
    for checkpoint in sorted(todo, key=lambda c: c.index):
        row = rows.get(checkpoint.index)
        if row is None:
            last_seq, last_index = (head["seq"], head["chain_index"]) if head else (0, 0)
            return ChainReport(
                0,
                last_seq + 1,
                f"truncated: the chain ends at seq={last_seq} (position {last_index}) but the "
                f"checkpoint of {checkpoint.at} covers position {checkpoint.index} (seq={checkpoint.seq})",
                True,
            )
        seq, link = row
        if seq != checkpoint.seq or not hmac.compare_digest(link or "", checkpoint.link):
            return ChainReport(
                0,
                seq,
                f"differs from the checkpoint of {checkpoint.at} at position {checkpoint.index} (rewritten)",
                True,
            )
    return None


def audit_verify_chain(*, full: bool = True) -> ChainReport:
    """Verify the sealed chain and every checkpoint; name the first bad sequence number."""
    checkpoints, problems = audit_checkpoints_read()
    unsealed = AuditEvent.objects.filter(hash__isnull=True).count()
    if problems:
        first = problems[0]
        return ChainReport(
            0, None, f"checkpoint file line {first.line}: {first.reason}", True, unsealed=unsealed
        )
    start_index, start_link = _start(full=full, checkpoints=checkpoints)
    walked = _walk(after_index=start_index, prev_link=start_link)
    extra = {"unsealed": unsealed, "checkpoints": len(checkpoints)}
    if walked.broken:
        return ChainReport(walked.checked, walked.first_broken_seq, walked.reason, True, start_index, **extra)
    bad = _check_checkpoints(checkpoints=checkpoints, from_index=0 if full else start_index)
    if bad:
        return ChainReport(
            walked.checked, bad.first_broken_seq, bad.reason, True, walked.through_index, **extra
        )
    if walked.through_index == 0 and start_index:
        through = start_index
    else:
        through = max(walked.through_index, start_index)
    return ChainReport(walked.checked, None, "intact", False, through, **extra)


def audit_verify_run(*, full: bool) -> AuditVerification:
    """Verify and store the outcome (the audit page shows the newest)."""
    started = timezone.now()
    report = audit_verify_chain(full=full)
    if not report.ok:
        logger.error("audit chain broken at seq=%s: %s", report.first_broken_seq, report.reason)
    return AuditVerification.objects.create(
        started_at=started,
        finished_at=timezone.now(),
        full=full,
        ok=report.ok,
        checked=report.checked,
        first_broken_seq=report.first_broken_seq,
        reason=report.reason[:300],
        through_index=report.through_index,
        unsealed=report.unsealed,
        checkpoints=report.checkpoints,
    )


def audit_verify_request(*, full: bool = True) -> bool:
    """Enqueue a verification (by name: the task module imports this one), at most one a minute."""
    if not cache.add("audit-verify-requested", True, timeout=REQUEST_INTERVAL_S):
        return False
    app = current_app
    if VERIFY_TASK not in app.tasks:
        app.loader.import_default_modules()
    try:
        app.tasks[VERIFY_TASK].delay(full=full)
    except Exception:
        logger.exception("audit verification not enqueued")
        cache.delete("audit-verify-requested")
        return False
    return True


@dataclass(frozen=True)
class ChainStatus:
    last: AuditVerification | None
    unsealed: int
    oldest_unsealed_seconds: float | None
    sealed_through: int


def audit_chain_status() -> ChainStatus:
    """For the audit page: the newest verification, and how many events wait for the sealer."""
    unsealed = AuditEvent.objects.filter(hash__isnull=True)
    oldest = unsealed.order_by("seq").values_list("at", flat=True).first()
    return ChainStatus(
        last=AuditVerification.objects.order_by("-finished_at").first(),
        unsealed=unsealed.count(),
        oldest_unsealed_seconds=(timezone.now() - oldest).total_seconds() if oldest else None,
        sealed_through=AuditEvent.objects.aggregate(top=Max("chain_index"))["top"] or 0,
    )
