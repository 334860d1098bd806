"""Signed checkpoints of the audit chain, kept outside the database (after Certificate Transparency's
signed tree heads): the chain's head — last sealed position and seq, its link, the event count — with
the time and key id, HMAC-signed with the chain key, appended as one JSON line to
AUDIT_CHECKPOINT_FILE (default VAR_DIR/audit-checkpoints.jsonl, created 0600, opened O_APPEND only),
then handed to the optional email / webhook delivery (accounts.audit_checkpoint_delivery).

A database writer can rewrite or truncate the table but not this file's past lines (keep it on another
volume, or ship it elsewhere: docs/security.md#audit-chain), so `accounts.audit_verify` detects a
rewritten-and-recomputed tail or a truncated one by comparing the table with every checkpoint.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from accounts.audit_checkpoint_delivery import audit_checkpoint_delivery_enqueue
from accounts.audit_keys import audit_current_key, audit_keys, audit_mac
from accounts.audit_seal import audit_seal_pending
from accounts.models import AuditEvent

CHECKPOINT_FILE_MODE = 0o600


@dataclass(frozen=True)
class Checkpoint:
    index: int  # chain_index of the last sealed event (= number of events in the chain)
    seq: int
    link: str
    count: int
    at: str
    key_id: str
    mac: str = ""

    def message(self) -> str:
        body = {k: v for k, v in asdict(self).items() if k != "mac"}
        return json.dumps(body, sort_keys=True, separators=(",", ":"))


def checkpoint_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_FILE)


def audit_checkpoint_write() -> Checkpoint | None:
    """Seal what is pending, then append a signed checkpoint of the head; None on an empty chain."""
    audit_seal_pending()
    head = (
        AuditEvent.objects.filter(chain_index__isnull=False)
        .order_by("-chain_index")
        .values("chain_index", "seq", "hash")
        .first()
    )
    if head is None:
        return None
    key_id, key = audit_current_key()
    draft = Checkpoint(
        index=(head["chain_index"] or 0),
        seq=int(head["seq"]),
        link=str(head["hash"]),
        count=(head["chain_index"] or 0),
        at=timezone.now().isoformat(),
        key_id=key_id,
    )
    checkpoint = Checkpoint(**{**asdict(draft), "mac": audit_mac(key=key, message=draft.message())})
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, CHECKPOINT_FILE_MODE)
    try:
        os.write(fd, (json.dumps(asdict(checkpoint), sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    audit_checkpoint_delivery_enqueue(checkpoint=asdict(checkpoint))  # optional copies; never raises
    return checkpoint


@dataclass(frozen=True)
class CheckpointProblem:
    line: int
    reason: str


def audit_checkpoints_read() -> tuple[list[Checkpoint], list[CheckpointProblem]]:
    """Every checkpoint whose signature verifies, in file order, and the lines that do not."""
    path = checkpoint_path()
    if not path.exists():
        return [], []
    keys = audit_keys()
    good: list[Checkpoint] = []
    bad: list[CheckpointProblem] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                checkpoint = Checkpoint(**json.loads(line))
            except (ValueError, TypeError):
                bad.append(CheckpointProblem(number, "not a checkpoint"))
                continue
            key = keys.get(checkpoint.key_id)
            if key is None:
                bad.append(CheckpointProblem(number, f"unknown key id {checkpoint.key_id!r}"))
            elif audit_mac(key=key, message=checkpoint.message()) != checkpoint.mac:
                bad.append(CheckpointProblem(number, "signature does not verify (the line was edited)"))
            else:
                good.append(checkpoint)
    return good, bad
