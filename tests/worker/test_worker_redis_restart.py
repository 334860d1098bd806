"""Redis (broker and shared rate limiter) restarted empty in the middle of a burst of 20 approved
transfers executed by two real workers (solo and prefork pools) and beat, each under bin/respawn as
bin/run runs them, against the sandbox exchange.

What happens (docs/deployment.md, "Redis restarts"): every queued and unacknowledged message is gone
with the unpersisted Redis, and workers reconnect (back-off 2 s, 4 s, …); a worker that hits kombu
5.7's reconnect crash ("Unrecoverable error: AttributeError: 'NoneType' object has no attribute
'hostname'") is started again by bin/respawn. The sweeper (beat's schedule, and the sweep each worker
enqueues when it starts) re-drives every request a lost message was for; the rate limiter finds its
marker gone and counts every window as full for one window plus the in-flight hold, so the restart
cannot push BingX over its limit. The sandbox journal is the judge.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import redis

from bingxadmin.celery import app as celery_app
from exchange.ratelimit.redis import EPOCH_KEY
from tests.transfers.execution_support import (
    INNER_APPLY,
    MAIN_UID,
    Sandbox,
    applied_for,
    approved_request,
    make_key_set,
    wait_for,
)
from tests.worker.conftest import Broker, _reset_producer_pools
from tests.worker.redis_support import RedisServer, SupervisedBeat, SupervisedWorker, redis_server  # noqa: F401
from transfers.models import Status, TransferRequest
from transfers.tasks import transfer_execute_task, transfers_sweep_task

pytestmark = [
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

BURST = 20
SWEEP_EVERY_S = 5
FINAL = (Status.SUCCEEDED, Status.FAILED)


@pytest.fixture
def own_broker(
    redis_server: RedisServer,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    transactional_db: None,
    thresholds: None,
) -> Iterator[Broker]:
    """The worker tests' broker settings, on the throw-away Redis (broker and rate limiter)."""
    monkeypatch.setenv("REDIS_URL", redis_server.url())
    saved = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options)
    broker = Broker(tmp_path)
    broker.configure_web_side()
    try:
        yield broker
    finally:
        celery_app.conf.update(broker_url=saved[0], broker_transport_options=saved[1])
        _reset_producer_pools()


def production_sweep_schedule() -> None:
    """The sweep schedule as the migrations leave it (every 5 s, transfers/0008); a transactional test
    before this one may have flushed it."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=SWEEP_EVERY_S, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name="Transfers: sweep lost and stuck executions",
        defaults={"task": "transfers.tasks.transfers_sweep_task", "interval": every, "enabled": True},
    )


def _running(worker: SupervisedWorker) -> bool:
    return worker.worker_alive


def _statuses(ids: list[int]) -> Counter[str]:
    return Counter(TransferRequest.objects.filter(pk__in=ids).values_list("status", flat=True))


# solo: one task at a time (the worker tests' default); prefork: as bin/run and production run it.
@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_redis_restarted_empty_during_a_burst(
    pool: str,
    sandbox: Sandbox,
    redis_server: RedisServer,  # noqa: F811
    own_broker: Broker,
    tmp_path: Path,
) -> None:
    production_sweep_schedule()
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    reqs = [approved_request(key_set=key_set, amount="1") for _ in range(BURST)]
    ids = [r.pk for r in reqs]
    # A desk that has been running: the limiter's marker is there (a brand new Redis holds every
    # window for one window plus the hold first, as after a restart).
    redis.Redis.from_url(redis_server.url()).set(EPOCH_KEY, 0)

    env = own_broker.worker_env()
    workers = [
        SupervisedWorker(name="w1", env=env, log_path=tmp_path / "w1.log", pool=pool),
        SupervisedWorker(name="w2", env=env, log_path=tmp_path / "w2.log", pool=pool),
        SupervisedBeat(name="beat", env=env, log_path=tmp_path / "beat.log"),
    ]
    try:
        for worker in workers:
            worker.start()
        # Delayed tasks (a retry's countdown) are unacknowledged messages a worker holds for long;
        # holding one is what made kombu 5.7's reconnect crash in the fault trials.
        for _ in range(2):
            transfers_sweep_task.apply_async(countdown=600)
        for pk in ids:
            transfer_execute_task.delay(pk)
        # Mid-burst: some applied, most still queued or held by a worker.
        wait_for(lambda: len(sandbox.applied(INNER_APPLY)) >= 4, timeout=45, what="the burst to be under way")
        before = _statuses(ids)
        back = redis_server.restart(down_s=1.0)

        def all_final() -> bool:
            return sum(n for s, n in _statuses(ids).items() if s in FINAL) == BURST

        wait_for(all_final, timeout=75, interval=0.25, what="every request to reach a final state")
        recovery_s = time.monotonic() - back

        statuses = _statuses(ids)
        applied = {pk: len(applied_for(sandbox, r)) for pk, r in zip(ids, reqs, strict=True)}
        journal = sandbox.journal()
        rate_limited = [c for c in journal if c.get("code") == 100410]
        restarts = {w.name: w.restarts for w in workers}
        print(
            f"\nredis restart mid-burst ({pool}): before={dict(before)} after={dict(statuses)}; "
            f"recovery {recovery_s:.1f} s (Redis back -> all {BURST} final); 100410 x{len(rate_limited)}; "
            f"worker restarts {restarts}; apply calls {len(sandbox.calls(INNER_APPLY))}"
        )
        assert all(n == 1 for n in applied.values()), applied  # exactly once each, none lost
        assert statuses == Counter({Status.SUCCEEDED: BURST}), statuses
        assert rate_limited == []
        # The limiter noticed its store came back empty and held one window plus the in-flight hold.
        assert any("came back empty" in w.log() for w in workers)
        for worker in workers:
            assert worker.supervisor_alive, f"respawn for {worker.name} exited"
            wait_for(partial(_running, worker), timeout=30, what=f"{worker.name} to be running")
    except BaseException:
        for worker in workers:
            print(f"\n----- {worker.log_path.name} -----\n{worker.log()[-15000:]}")
        raise
    finally:
        for worker in workers:
            worker.stop()


def test_a_worker_holding_a_delayed_task_rides_through_a_redis_restart(
    redis_server: RedisServer,  # noqa: F811
    own_broker: Broker,
    tmp_path: Path,
) -> None:
    """The fault trials' crash, deterministic: an idle worker holding a delayed (unacknowledged) message
    when Redis restarts. kombu 5.7.0 exits ("Unrecoverable error"); bin/respawn starts it again and the
    next task runs. Either way — reconnected or restarted — the worker serves the broker again."""
    worker = SupervisedWorker(name="w1", env=own_broker.worker_env(), log_path=tmp_path / "w1.log")
    try:
        worker.start()
        transfers_sweep_task.apply_async(countdown=600)
        wait_for(lambda: "transfers_sweep_task" in worker.log().split(" ready.")[-1], what="the delayed task")
        back = redis_server.restart(down_s=1.0)
        probe = transfers_sweep_task.apply_async()
        wait_for(
            lambda: f"transfers_sweep_task[{probe.id}] succeeded" in worker.log(),
            timeout=45,
            what="a task sent after the restart to run",
        )
        served_s = time.monotonic() - back
        crashed = "Unrecoverable error" in worker.log()
        outcome = "crashed, restarted by respawn" if crashed else "reconnected"
        print(
            f"\nworker holding a delayed task, Redis restarted: {outcome} (restarts {worker.restarts}); "
            f"a new task ran {served_s:.1f} s after Redis was back"
        )
        assert worker.supervisor_alive
        assert worker.worker_alive
        assert worker.restarts == (1 if crashed else 0)
    except BaseException:
        print(f"\n----- {worker.log_path.name} -----\n{worker.log()[-15000:]}")
        raise
    finally:
        worker.stop()
