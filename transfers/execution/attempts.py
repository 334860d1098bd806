"""The facts of each call to the exchange, kept as `ExecutionAttempt` rows."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bingx import CallInfo
from transfers.models import AttemptKind, AttemptOutcome, ExecutionAttempt, TransferRequest


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def ms_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() * 1000))


@dataclass
class CallRecorder:
    """Collects the client's `on_response` reports: one per HTTP attempt."""

    calls: list[CallInfo] = field(default_factory=list)
    downstream: Callable[[CallInfo], None] | None = None

    def __call__(self, info: CallInfo) -> None:
        self.calls.append(info)
        if self.downstream is not None:
            self.downstream(info)


def code_text(error: BaseException | None) -> str:
    code = getattr(error, "code", None)
    return "" if code is None else str(code)


def message_text(error: BaseException | None) -> str:
    if error is None:
        return ""
    return (getattr(error, "message", None) or str(error) or type(error).__name__)[:2000]


def attempt_rows(
    *,
    req: TransferRequest,
    endpoint: str,
    params: dict[str, Any],
    calls: list[CallInfo],
    final_outcome: str,
    exchange_id: str = "",
    started_at: datetime,
    finished_at: datetime,
    error: BaseException | None = None,
    message: str = "",
    kind: str = AttemptKind.SUBMIT,
) -> list[ExecutionAttempt]:
    """One row per HTTP attempt the client reported; earlier ones were timestamp rejections the client
    retried itself. With no report (refused, or failed before signing), one row with what was planned
    (`endpoint`, `params`) and `message` (or the error's)."""
    worker = worker_name()
    if not calls:
        return [
            ExecutionAttempt(
                request=req,
                kind=kind,
                endpoint=endpoint,
                method="POST",
                params=params,
                bingx_code=code_text(error),
                bingx_message=message or message_text(error),
                http_status=getattr(error, "http_status", None),
                outcome=final_outcome,
                exchange_id=exchange_id,
                worker=worker,
                started_at=started_at,
                finished_at=finished_at,
                duration_ms=ms_between(started_at, finished_at),
            )
        ]
    rows = []
    for index, info in enumerate(calls):
        last = index == len(calls) - 1
        rows.append(
            ExecutionAttempt(
                request=req,
                kind=kind,
                endpoint=info.path,
                method=info.method,
                params=dict(info.params),
                http_status=info.http_status,
                bingx_code="" if info.code is None else str(info.code),
                bingx_message=(info.msg or (info.error or ""))[:2000],
                outcome=final_outcome if last else AttemptOutcome.REJECTED,
                exchange_id=exchange_id if last else "",
                worker=worker,
                started_at=started_at,
                finished_at=finished_at if last else started_at,
                duration_ms=info.duration_ms,
            )
        )
    return rows
