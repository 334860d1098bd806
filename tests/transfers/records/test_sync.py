"""Records sync against the sandbox exchange over HTTP: every record endpoint with its own paging,
idempotent re-runs, cursors with overlap, matching to requests, flags, and refusals."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import ApiKeySet, AuditEvent, KeySetStatus, User
from bingx import endpoints
from bingx.sandbox import SandboxServer
from tests.transfers.execution_support import EXTERNAL_UID, MAIN_UID, SUB1_UID, SUB2_UID
from tests.transfers.records.records_support import (
    ASSET_PATH,
    FAMILY_PATH,
    INNER_PATH,
    LEGACY_PATH,
    SUB_INNER_PATH,
    client_of,
    key_set_for,
    make_request,
)
from transfers import dispatch
from transfers.models import RecordSource, Status, SyncCursor, TransferKind, TransferRecord
from transfers.records.sync import OVERLAP_MS, SyncRefused, records_sync


def paged_calls(server: SandboxServer, path: str, param: str) -> set[str]:
    return {str(call["params"].get(param)) for call in server.journal(path=path)}


def records(key_set: ApiKeySet, source: str) -> int:
    return TransferRecord.objects.filter(key_set=key_set, source=source).count()


# -- each source, more than one page, re-run inserts nothing ------------------------------------------


def test_asset_records_page_by_page_index(sandbox: SandboxServer, main_ks: ApiKeySet) -> None:
    sandbox.bulk_records(uid=MAIN_UID, kind="asset", count=250, from_account="fund", to_account="spot")

    report = records_sync(key_set_id=main_ks.pk, sources=["asset"])

    assert report.ok, report.errors
    assert (report.sources["asset"].fetched, report.sources["asset"].inserted) == (250, 250)
    assert records(main_ks, RecordSource.ASSET) == 250
    assert paged_calls(sandbox, ASSET_PATH, "pageIndex") == {"1", "2", "3"}
    assert paged_calls(sandbox, ASSET_PATH, "pageSize") == {"100"}
    # every ordered pair of the five wallets has its own cursor
    assert SyncCursor.objects.filter(key_set=main_ks, source="asset").count() == 20
    rec = TransferRecord.objects.filter(key_set=main_ks, source="asset").first()
    assert rec is not None
    assert (rec.from_account, rec.to_account, rec.asset, rec.amount) == ("fund", "spot", "USDT", Decimal(1))
    assert rec.occurred_at.tzinfo is not None

    again = records_sync(key_set_id=main_ks.pk, sources=["asset"])
    assert (again.inserted, again.updated) == (0, 0)
    assert records(main_ks, RecordSource.ASSET) == 250


def test_legacy_records_page_by_current_and_size(sandbox: SandboxServer, main_ks: ApiKeySet) -> None:
    sandbox.bulk_records(uid=MAIN_UID, kind="asset", count=150, from_account="fund", to_account="USDTMPerp")

    report = records_sync(key_set_id=main_ks.pk, sources=["legacy_asset"])

    assert report.ok, report.errors
    assert report.sources["legacy_asset"].inserted == 150
    assert paged_calls(sandbox, LEGACY_PATH, "current") == {"1", "2"}
    assert paged_calls(sandbox, LEGACY_PATH, "size") == {"100"}
    assert paged_calls(sandbox, LEGACY_PATH, "type") == {
        "FUND_SFUTURES",
        "FUND_PFUTURES",
        "SFUTURES_FUND",
        "SFUTURES_PFUTURES",
        "PFUTURES_FUND",
        "PFUTURES_SFUTURES",
    }
    rec = TransferRecord.objects.filter(key_set=main_ks, source="legacy_asset").first()
    assert rec is not None
    assert (rec.from_account, rec.to_account) == ("fund", "USDTMPerp")

    assert records_sync(key_set_id=main_ks.pk, sources=["legacy_asset"]).inserted == 0
    assert records(main_ks, RecordSource.LEGACY_ASSET) == 150


def test_main_inner_records_page_by_offset_and_limit(sandbox: SandboxServer, main_ks: ApiKeySet) -> None:
    sandbox.bulk_records(uid=MAIN_UID, kind="inner", count=2100, counterparty_uid=EXTERNAL_UID)

    report = records_sync(key_set_id=main_ks.pk, sources=["inner"])

    assert report.ok, report.errors
    assert report.sources["inner"].inserted == 2100
    assert paged_calls(sandbox, INNER_PATH, "offset") == {"0", "1000", "2000"}
    assert paged_calls(sandbox, INNER_PATH, "limit") == {"1000"}
    rec = TransferRecord.objects.filter(key_set=main_ks, source="inner").first()
    assert rec is not None
    assert (rec.direction, rec.counterparty, rec.to_account) == ("out", str(EXTERNAL_UID), str(EXTERNAL_UID))

    assert records_sync(key_set_id=main_ks.pk, sources=["inner"]).inserted == 0
    assert records(main_ks, RecordSource.INNER) == 2100


def test_sub_inner_records_are_read_with_the_sub_key(sandbox: SandboxServer, sub1_ks: ApiKeySet) -> None:
    sandbox.bulk_records(uid=SUB1_UID, kind="sub_inner", count=1200, counterparty_uid=SUB2_UID)

    report = records_sync(key_set_id=sub1_ks.pk)

    assert report.ok, report.errors
    assert set(report.sources) == {"asset", "legacy_asset", "sub_inner"}
    assert report.sources["sub_inner"].inserted == 1200
    assert paged_calls(sandbox, SUB_INNER_PATH, "offset") == {"0", "1000"}
    assert not sandbox.journal(path=INNER_PATH)  # the main-only endpoint is never asked with a sub key

    assert records_sync(key_set_id=sub1_ks.pk).inserted == 0
    assert records(sub1_ks, RecordSource.SUB_INNER) == 1200


def test_family_history_pages_by_page_id_per_member(
    sandbox: SandboxServer, main_ks: ApiKeySet, sub1_ks: ApiKeySet
) -> None:
    sandbox.bulk_records(
        uid=MAIN_UID, kind="family", count=230, counterparty_uid=SUB1_UID, to_account="USDTMPerp"
    )

    report = records_sync(key_set_id=main_ks.pk, sources=["family"])

    assert report.ok, report.errors
    family = report.sources["family"]
    # Asked for the main uid and for the sub uid; both list the same 230 transfers, stored once.
    assert (family.fetched, family.inserted) == (460, 230)
    assert paged_calls(sandbox, FAMILY_PATH, "pageId") == {"1", "2", "3"}
    assert paged_calls(sandbox, FAMILY_PATH, "uid") == {str(MAIN_UID), str(SUB1_UID)}
    rec = TransferRecord.objects.filter(key_set=main_ks, source="family").first()
    assert rec is not None
    assert (rec.from_account, rec.to_account, rec.direction) == (
        f"{MAIN_UID}/fund",
        f"{SUB1_UID}/USDTMPerp",
        "out",
    )

    assert records_sync(key_set_id=main_ks.pk, sources=["family"]).inserted == 0
    assert records(main_ks, RecordSource.FAMILY) == 230


def test_full_sync_of_a_main_key_set_reads_its_four_endpoints(demo_sandbox: SandboxServer, db: None) -> None:
    main = key_set_for(demo_sandbox, MAIN_UID)

    report = records_sync(key_set_id=main.pk)

    assert report.ok, report.errors
    assert set(report.sources) == {"asset", "legacy_asset", "inner", "family"}
    # demo seed: two wallet transfers (one has a legacy type), two inner payments, one family top-up
    assert {s: r.inserted for s, r in report.sources.items()} == {
        "asset": 2,
        "legacy_asset": 1,
        "inner": 2,
        "family": 1,
    }
    assert records_sync(key_set_id=main.pk).inserted == 0


# -- cursors: new records after the cursor, and at the boundary ----------------------------------------


def test_new_records_after_the_cursor_are_picked_up(sandbox: SandboxServer, main_ks: ApiKeySet) -> None:
    sandbox.bulk_records(uid=MAIN_UID, kind="asset", count=120, from_account="fund", to_account="spot")
    records_sync(key_set_id=main_ks.pk, sources=["asset"])
    cursor = SyncCursor.objects.get(key_set=main_ks, source="asset", scope="fund>spot")
    assert cursor.last_time_ms > 0
    assert cursor.last_synced_at is not None

    with client_of(sandbox, MAIN_UID) as client:
        made = client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("3.25"))
    since = sandbox.journal(path=ASSET_PATH)[-1]["seq"]

    report = records_sync(key_set_id=main_ks.pk, sources=["asset"])

    assert report.sources["asset"].inserted == 1
    new = TransferRecord.objects.get(key_set=main_ks, source="asset", exchange_id=made.id)
    assert new.amount == Decimal("3.25")
    # the second run asked only from the cursor (less the overlap), not the whole history
    starts = {
        c["params"].get("startTime")
        for c in sandbox.journal(path=ASSET_PATH, since_seq=since)
        if c["params"].get("fromAccount") == "fund" and c["params"].get("toAccount") == "spot"
    }
    assert starts == {str(cursor.last_time_ms - OVERLAP_MS)}
    cursor.refresh_from_db()
    assert cursor.last_time_ms == int(new.occurred_at.timestamp() * 1000)


def test_a_record_written_late_just_behind_the_cursor_is_not_missed(
    sandbox: SandboxServer, main_ks: ApiKeySet
) -> None:
    sandbox.bulk_records(uid=MAIN_UID, kind="inner", count=5, counterparty_uid=EXTERNAL_UID)
    records_sync(key_set_id=main_ks.pk, sources=["inner"])
    cursor = SyncCursor.objects.get(key_set=main_ks, source="inner", scope="USDT")

    # The exchange writes a record stamped a little before the newest one we have already seen.
    sandbox.bulk_records(
        uid=MAIN_UID,
        kind="inner",
        count=1,
        counterparty_uid=EXTERNAL_UID,
        start_time_ms=cursor.last_time_ms - 5000,
    )
    report = records_sync(key_set_id=main_ks.pk, sources=["inner"])

    assert report.sources["inner"].inserted == 1
    assert records(main_ks, RecordSource.INNER) == 6


def test_coins_seen_in_requests_are_synced_too(
    sandbox: SandboxServer, main_ks: ApiKeySet, requester: User
) -> None:
    make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.INNER,
        amount="0.01",
        asset="BTC",
        status=Status.PENDING,
        recipient_type=1,
        recipient_account=str(EXTERNAL_UID),
        wallet_type=1,
    )
    sandbox.bulk_records(
        uid=MAIN_UID, kind="inner", count=3, asset="BTC", amount="0.01", counterparty_uid=EXTERNAL_UID
    )

    report = records_sync(key_set_id=main_ks.pk, sources=["inner"])

    assert paged_calls(sandbox, INNER_PATH, "coin") == {"BTC", "USDT"}
    assert report.sources["inner"].inserted == 3


# -- matching ----------------------------------------------------------------------------------------


def test_inner_record_matches_its_request_by_client_id(
    sandbox: SandboxServer, main_ks: ApiKeySet, requester: User
) -> None:
    req = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.INNER,
        amount="12.5",
        status=Status.UNKNOWN,
        recipient_type=1,
        recipient_account=str(EXTERNAL_UID),
        wallet_type=1,
    )
    with client_of(sandbox, MAIN_UID) as client:
        client.inner_transfer(
            coin="USDT",
            user_account_type=1,
            user_account=EXTERNAL_UID,
            amount=Decimal("12.5"),
            wallet_type=1,
            transfer_client_id=req.client_id,
        )
        # the same amount once more, sent outside the desk: must not be taken for the request
        client.inner_transfer(
            coin="USDT",
            user_account_type=1,
            user_account=EXTERNAL_UID,
            amount=Decimal("12.5"),
            wallet_type=1,
            transfer_client_id="elsewhere1",
        )

    report = records_sync(key_set_id=main_ks.pk, sources=["inner"])

    assert report.sources["inner"].matched == 1
    matched = TransferRecord.objects.get(matched_request=req)
    assert matched.transfer_client_id == req.client_id
    assert TransferRecord.objects.filter(key_set=main_ks, matched_request__isnull=True).count() == 1
    req.refresh_from_db()
    assert req.status == Status.UNKNOWN  # matching never decides a request's status


def test_inner_transfer_to_an_own_sub_matches_on_both_sides(
    sandbox: SandboxServer, main_ks: ApiKeySet, sub1_ks: ApiKeySet, requester: User
) -> None:
    req = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.INNER,
        amount="4",
        recipient_type=1,
        recipient_account=str(SUB1_UID),
        wallet_type=1,
    )
    with client_of(sandbox, MAIN_UID) as client:
        client.inner_transfer(
            coin="USDT",
            user_account_type=1,
            user_account=SUB1_UID,
            amount=Decimal("4"),
            wallet_type=1,
            transfer_client_id=req.client_id,
        )

    records_sync(key_set_id=main_ks.pk, sources=["inner"])
    records_sync(key_set_id=sub1_ks.pk, sources=["sub_inner"])

    payer = TransferRecord.objects.get(key_set=main_ks, source="inner")
    payee = TransferRecord.objects.get(key_set=sub1_ks, source="sub_inner")
    assert payer.matched_request == req
    assert payee.matched_request == req
    assert payee.direction == "in"
    assert payee.exchange_id == payer.exchange_id


def test_wallet_transfer_matches_by_amount_pair_and_time(
    sandbox: SandboxServer, main_ks: ApiKeySet, requester: User
) -> None:
    req = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.WALLET,
        amount="7.5",
        status=Status.UNKNOWN,
        from_wallet="fund",
        to_wallet="USDTMPerp",
    )
    other = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.WALLET,
        amount="7.5",
        from_wallet="fund",
        to_wallet="USDTMPerp",
        submitted_ago=timedelta(hours=3),
    )
    with client_of(sandbox, MAIN_UID) as client:
        client.transfer(from_account="fund", to_account="USDTMPerp", asset="USDT", amount=Decimal("7.5"))
        client.transfer(
            from_account="fund", to_account="USDTMPerp", asset="USDT", amount=Decimal("7.25")
        )  # someone else's, different amount

    report = records_sync(key_set_id=main_ks.pk, sources=["asset", "legacy_asset"])

    assert report.sources["asset"].matched == 1
    assert report.sources["legacy_asset"].matched == 1
    assert set(TransferRecord.objects.filter(matched_request=req).values_list("source", flat=True)) == {
        "asset",
        "legacy_asset",
    }
    assert not TransferRecord.objects.filter(matched_request=other).exists()  # hours away: not this one
    outside = TransferRecord.objects.filter(key_set=main_ks, matched_request__isnull=True)
    assert {r.amount for r in outside} == {Decimal("7.25")}


def test_sub_inner_and_family_transfers_match_by_amount_and_parties(
    sandbox: SandboxServer, main_ks: ApiKeySet, sub1_ks: ApiKeySet, sub2_ks: ApiKeySet, requester: User
) -> None:
    sub_req = make_request(
        key_set=sub1_ks,
        user=requester,
        kind=TransferKind.SUB_INNER,
        amount="2",
        recipient_type=1,
        recipient_account=str(SUB2_UID),
        wallet_type=1,
    )
    fam_req = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.FAMILY,
        amount="9",
        from_uid=MAIN_UID,
        from_type=1,
        from_account_type=1,
        to_uid=SUB2_UID,
        to_type=2,
        to_account_type=3,
    )
    with client_of(sandbox, SUB1_UID) as sub_client:
        sub_client.sub_account_inner_transfer(
            coin="USDT", user_account_type=1, user_account=SUB2_UID, amount=Decimal("2"), wallet_type=1
        )
    with client_of(sandbox, MAIN_UID) as main_client:
        main_client.sub_account_transfer(
            asset="USDT",
            amount=Decimal("9"),
            from_uid=MAIN_UID,
            from_type=1,
            from_account_type=1,
            to_uid=SUB2_UID,
            to_type=2,
            to_account_type=3,
            remark="desk",
        )

    records_sync(key_set_id=sub1_ks.pk)
    records_sync(key_set_id=sub2_ks.pk)
    records_sync(key_set_id=main_ks.pk)

    assert TransferRecord.objects.get(key_set=sub1_ks, source="sub_inner").matched_request == sub_req
    # the payee sub-account's view of the same transfer, found by the payer record's id
    assert TransferRecord.objects.get(key_set=sub2_ks, source="sub_inner").matched_request == sub_req
    family = TransferRecord.objects.get(key_set=main_ks, source="family")
    assert family.matched_request == fam_req
    assert (family.from_account, family.to_account) == (f"{MAIN_UID}/fund", f"{SUB2_UID}/USDTMPerp")


def test_unmatched_settled_request_is_flagged_without_changing_its_status(
    sandbox: SandboxServer, main_ks: ApiKeySet, requester: User, settings: Any
) -> None:
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = 60
    lost = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.WALLET,
        amount="999",
        from_wallet="fund",
        to_wallet="spot",
        submitted_ago=timedelta(minutes=5),
    )
    recent = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.WALLET,
        amount="998",
        from_wallet="fund",
        to_wallet="spot",
        status=Status.UNKNOWN,
    )
    other_endpoint = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.INNER,
        amount="997",
        submitted_ago=timedelta(minutes=5),
        recipient_type=1,
        recipient_account=str(EXTERNAL_UID),
        wallet_type=1,
    )

    report = records_sync(key_set_id=main_ks.pk, sources=["asset"])

    assert report.flagged == 1
    lost.refresh_from_db()
    assert lost.needs_attention
    assert lost.status == Status.SUCCEEDED
    assert "No exchange record" in lost.attention_reason
    assert lost.client_id in lost.attention_reason
    recent.refresh_from_db()
    assert not recent.needs_attention  # still inside the settle window
    other_endpoint.refresh_from_db()
    assert not other_endpoint.needs_attention  # inner records were not read: absence is not proven
    assert (
        AuditEvent.objects.filter(verb="transfer.records.needs_attention", object_id=str(lost.pk)).count()
        == 1
    )

    # Flagged once: another run adds no second audit event.
    records_sync(key_set_id=main_ks.pk, sources=["asset"])
    assert AuditEvent.objects.filter(verb="transfer.records.needs_attention").count() == 1


def test_a_record_for_a_failed_request_is_flagged(
    sandbox: SandboxServer, main_ks: ApiKeySet, requester: User
) -> None:
    req = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.INNER,
        amount="3",
        status=Status.FAILED,
        recipient_type=1,
        recipient_account=str(EXTERNAL_UID),
        wallet_type=1,
    )
    with client_of(sandbox, MAIN_UID) as client:
        client.inner_transfer(
            coin="USDT",
            user_account_type=1,
            user_account=EXTERNAL_UID,
            amount=Decimal("3"),
            wallet_type=1,
            transfer_client_id=req.client_id,
        )

    records_sync(key_set_id=main_ks.pk, sources=["inner"])

    req.refresh_from_db()
    assert req.status == Status.FAILED
    assert req.needs_attention
    assert "money may have moved" in req.attention_reason


# -- refusals and partial failures -----------------------------------------------------------------------


def test_bad_input_is_refused_and_changes_nothing(sandbox: SandboxServer, sub1_ks: ApiKeySet) -> None:
    with pytest.raises(SyncRefused, match="Unknown record source"):
        records_sync(key_set_id=sub1_ks.pk, sources=["asset", "bogus"])
    with pytest.raises(SyncRefused, match="cannot be read with key set"):
        records_sync(key_set_id=sub1_ks.pk, sources=["inner"])
    with pytest.raises(SyncRefused, match="No record source"):
        records_sync(key_set_id=sub1_ks.pk, sources=[])
    with pytest.raises(SyncRefused, match="does not exist"):
        records_sync(key_set_id=999_999)
    ApiKeySet.objects.filter(pk=sub1_ks.pk).update(status=KeySetStatus.INACTIVE)
    with pytest.raises(SyncRefused, match="not active"):
        records_sync(key_set_id=sub1_ks.pk)
    assert not SyncCursor.objects.exists()
    assert not TransferRecord.objects.exists()
    assert sandbox.journal() == []


def test_a_failing_endpoint_is_reported_and_keeps_its_cursor(
    sandbox: SandboxServer, main_ks: ApiKeySet
) -> None:
    sandbox.bulk_records(uid=MAIN_UID, kind="inner", count=3, counterparty_uid=EXTERNAL_UID)
    sandbox.bulk_records(uid=MAIN_UID, kind="family", count=2, counterparty_uid=SUB1_UID)
    sandbox.add_fault(INNER_PATH, "error_code", count=10, code=100004, msg="Permission denied")

    report = records_sync(key_set_id=main_ks.pk, sources=["inner", "family"])

    assert not report.ok
    assert any("inner" in e and "Permission missing" in e for e in report.errors)
    assert report.sources["family"].inserted == 2  # the other endpoint still synced
    assert not SyncCursor.objects.filter(
        key_set=main_ks, source="inner", last_synced_at__isnull=False
    ).exists()

    sandbox.clear_faults()
    assert records_sync(key_set_id=main_ks.pk, sources=["inner"]).sources["inner"].inserted == 3


def test_a_rate_limited_scope_is_read_again_once_the_endpoint_is_free(
    sandbox: SandboxServer, main_ks: ApiKeySet
) -> None:
    sandbox.bulk_records(uid=MAIN_UID, kind="asset", count=2, from_account="fund", to_account="USDTMPerp")
    sandbox.add_fault(ASSET_PATH, "error_code", count=1, code=100410, msg="rate limited")

    report = records_sync(key_set_id=main_ks.pk, sources=["asset", "legacy_asset"])

    assert report.ok, report.errors
    assert report.sources["asset"].inserted == 2  # the scope was not abandoned
    assert report.sources["legacy_asset"].inserted == 2
    limited, again, *_ = sandbox.journal(path=ASSET_PATH)
    assert limited["code"] == 100410
    pair = ("fromAccount", "toAccount")
    assert [again["params"][k] for k in pair] == [limited["params"][k] for k in pair]  # the same scope
    # "rate limited" names no time: the endpoint rests a second before it is asked again.
    assert again["time_ms"] - limited["time_ms"] >= 900


def test_a_long_block_defers_the_rest_of_the_source_to_a_later_task(
    sandbox: SandboxServer, main_ks: ApiKeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    later: list[tuple[int, list[str] | None, float]] = []
    monkeypatch.setattr(
        dispatch,
        "records_sync_enqueue",
        lambda *, key_set_id, sources=None, countdown=0: later.append((key_set_id, sources, countdown)),
    )
    sandbox.bulk_records(uid=MAIN_UID, kind="asset", count=2, from_account="fund", to_account="USDTMPerp")
    unblocked = sandbox.app.state.now_ms() + 300_000  # BingX's documented 5-minute penalty
    sandbox.add_fault(
        ASSET_PATH,
        "error_code",
        count=1,
        code=100410,
        msg="code:100410:The endpoint trigger frequency limit rule is currently in the disabled period "
        f"and will be unblocked after {unblocked}",
    )

    report = records_sync(key_set_id=main_ks.pk, sources=["asset", "legacy_asset"])

    assert report.sources["asset"].deferred  # not dropped: left for the task enqueued below
    assert report.sources["legacy_asset"].inserted == 2  # the other endpoint went on
    ((key_set_id, sources, countdown),) = later
    assert (key_set_id, sources) == (main_ks.pk, ["asset"])
    assert 290 <= countdown <= 301
    assert len(sandbox.journal(path=ASSET_PATH)) == 1  # no hammering of a blocked endpoint
    # Nothing claims the deferred scopes are synced.
    assert not SyncCursor.objects.filter(
        key_set=main_ks, source="asset", last_synced_at__isnull=False
    ).exists()


def test_pending_record_keeps_the_cursor_until_its_status_is_final(
    sandbox: SandboxServer, main_ks: ApiKeySet
) -> None:
    sandbox.bulk_records(uid=MAIN_UID, kind="inner", count=2, counterparty_uid=EXTERNAL_UID)
    state = sandbox.app.state
    oldest = min(state.inner_transfers, key=lambda r: r.time)
    oldest.status = 4  # pending review
    records_sync(key_set_id=main_ks.pk, sources=["inner"])
    pending = TransferRecord.objects.get(key_set=main_ks, exchange_id=str(oldest.id))
    assert pending.status == "4"
    assert SyncCursor.objects.get(key_set=main_ks, source="inner", scope="USDT").last_time_ms == oldest.time

    oldest.status = 6  # BingX completes it later; its timestamp does not change
    report = records_sync(key_set_id=main_ks.pk, sources=["inner"])

    assert (report.inserted, report.updated) == (0, 1)
    pending.refresh_from_db()
    assert pending.status == "6"


def test_record_endpoints_are_read_at_the_same_time(demo_sandbox: SandboxServer, db: None) -> None:
    """Each endpoint has its own rate limit, so a slow one does not hold up the others: with every
    record endpoint answering 1 s late, the four endpoints' first calls all arrive at the exchange
    before the first of them has been answered (read one after another, the second endpoint would
    be asked only after the first endpoint's last answer)."""
    main = key_set_for(demo_sandbox, MAIN_UID)
    paths = {
        "asset": endpoints.TRANSFER_RECORDS.path,
        "legacy_asset": endpoints.LEGACY_TRANSFER_RECORDS.path,
        "inner": endpoints.INNER_TRANSFER_RECORDS.path,
        "family": endpoints.SUB_TRANSFER_HISTORY.path,
    }
    for path in paths.values():
        demo_sandbox.app.add_fault(path, "slow", count=1, delay=1.0)

    report = records_sync(key_set_id=main.pk)

    assert report.ok, report.errors
    assert {s: r.inserted for s, r in report.sources.items()} == {
        "asset": 2,
        "legacy_asset": 1,
        "inner": 2,
        "family": 1,
    }
    firsts = {
        name: min(c["time_ms"] for c in demo_sandbox.app.journal.list(path)) for name, path in paths.items()
    }
    # Every endpoint was first asked within the first (1 s) slow answer of whichever was asked first.
    assert max(firsts.values()) - min(firsts.values()) < 900, firsts


def test_a_stopping_sync_does_not_wait_for_a_slow_reader(demo_sandbox: SandboxServer, db: None) -> None:
    """A worker's cold shutdown raises SystemExit in the running task (billiard's handler for the
    terminate signal); the sync must let it through at once even while an endpoint's answer is 8 s
    late, or the worker outlives its grace and is SIGKILLed. Nothing of the unread scope is
    recorded as read: its cursor stays where it was."""
    import signal
    import threading
    import time

    main = key_set_for(demo_sandbox, MAIN_UID)
    demo_sandbox.app.add_fault(endpoints.INNER_TRANSFER_RECORDS.path, "slow", count=1, delay=8.0)

    def cold_shutdown(signum: int, frame: Any) -> None:
        raise SystemExit(-(256 - signum))

    previous = signal.signal(signal.SIGUSR1, cold_shutdown)
    timer = threading.Timer(0.5, os.kill, args=(os.getpid(), signal.SIGUSR1))
    started = time.monotonic()
    try:
        timer.start()
        with pytest.raises(SystemExit):
            records_sync(key_set_id=main.pk)
        stopped_after = time.monotonic() - started
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)

    assert stopped_after < 2.0, f"the sync held the stopping task {stopped_after:.1f} s"
    assert not SyncCursor.objects.filter(key_set=main, source="inner", last_time_ms__gt=0).exists()
