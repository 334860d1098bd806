"""After money moved: refresh the balances of the paying key set and of any key set here that received
it, without waiting for the periodic sync (coalesced, so a burst of transfers costs one sync)."""

from __future__ import annotations

from django.core.cache import cache

from accounts.models import ApiKeySet, KeySetStatus
from transfers import dispatch
from transfers.models import Status, TransferKind, TransferRequest

BALANCES_REFRESH_COALESCE_S = 3
# While the paying key set still has transfers approved or under way (a batch), one refresh covers
# the whole burst: the first success schedules it this much later, the others add nothing.
BALANCES_REFRESH_BATCH_S = 15
BALANCES_REFRESH_UIDS_CACHE_S = 30


def balances_refresh_enqueue(*, req: TransferRequest) -> None:
    """Balance syncs for the paying key set and for any key set here that received the money."""
    p = req.payload
    receiving_uids = {str(p[k]) for k in ("to_uid", "recipient_account") if p.get(k)}
    if req.kind == TransferKind.INNER and str(p.get("recipient_type")) != "1":
        receiving_uids.discard(str(p.get("recipient_account")))  # phone/email: not a UID here
    ids = {req.key_set_id}
    uids = sorted(int(u) for u in receiving_uids if u.isdigit())
    if uids:
        # Which of our key sets received it: cached briefly (it only decides which balances to refresh).
        cache_key = "balances-refresh-uids:" + ",".join(map(str, uids))
        found = cache.get(cache_key)
        if found is None:
            found = list(
                ApiKeySet.objects.filter(uid__in=uids, status=KeySetStatus.ACTIVE).values_list(
                    "pk", flat=True
                )
            )
            cache.set(cache_key, found, timeout=BALANCES_REFRESH_UIDS_CACHE_S)
        ids |= set(found)
    delay = BALANCES_REFRESH_COALESCE_S
    if cache.get(f"balances-refresh:{req.key_set_id}") is None and (
        TransferRequest.objects.filter(
            key_set_id=req.key_set_id, status__in=(Status.APPROVED, Status.SUBMITTING)
        )
        .exclude(pk=req.pk)
        .exists()
    ):
        delay = BALANCES_REFRESH_BATCH_S  # asked once per burst: later successes find the refresh pending
    for key_set_id in sorted(ids):
        # Coalesce bursts (many transfers on one key set): one sync per key set per burst.
        if cache.add(f"balances-refresh:{key_set_id}", 1, timeout=delay):
            dispatch.balances_sync_enqueue(key_set_id=key_set_id, countdown=delay)
