#!/usr/bin/env python3
"""Verify a JSON Lines export of the bingxadmin audit trail outside the desk (standard library only).

    python3 tools/audit_verify.py audit-events.jsonl [--key-file FILE] [--complete]

The export comes from the audit page ("JSON Lines"), one event per line with every stored field.
The script recomputes each event's link from its content and checks that each event names the link
of the event before it (when both are in the file). `--complete` also demands the whole trail:
sequence numbers from 1 with no gap (an auditor's unfiltered export); a filtered export has gaps,
and the links across a gap cannot be checked.

Two link formats, told apart by the fields an event carries (only `canonical_*` and `link_*` below
know them):

- keyed (events carry `key_id` and `chain_index`; accounts/audit_chain.py): the chain runs in
  `chain_index` order and link(n) = HMAC-SHA256(key[key_id], link(n-1) + "|" + canonical(n)); the
  keys are AUDIT_CHAIN_KEYS entries `<key id>:<base64 key>`, one per line in `--key-file` or
  comma-separated in the environment variable AUDIT_CHAIN_KEYS. Unsealed events (no link yet) are
  counted, not checked.
- plain (older exports): the chain runs in `seq` order and link(n) = SHA-256(canonical(n)), where the
  canonical form includes link(n-1); no key.

Exit status: 0 every check passed; 2 the export does not verify (the first bad sequence number is
printed); 1 the file or the arguments could not be read.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def is_keyed(event: dict[str, Any]) -> bool:
    return "chain_index" in event and "key_id" in event


def canonical_plain(event: dict[str, Any]) -> str:
    """The SHA-256 chain's canonical text (the first accounts/audit.py `_canonical`)."""
    body = {
        "seq": event["seq"],
        "at": event["at"],
        "actor": event["actor_label"],
        "verb": event["verb"],
        "object": f"{event['object_type']}:{event['object_id']}",
        "repr": event["object_repr"],
        "before": event["before"],
        "after": event["after"],
        "ip": event["ip"],
        "prev": event["prev_hash"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def canonical_keyed(event: dict[str, Any]) -> str:
    """The keyed chain's canonical text (accounts/audit_chain.py `audit_canonical`)."""
    body = {
        "seq": event["seq"],
        "index": event["chain_index"],
        "prev_seq": event["prev_seq"],
        "key": event["key_id"],
        "at": event["at"],
        "actor": event["actor_label"],
        "actor_id": event["actor_id"],
        "verb": event["verb"],
        "object": f"{event['object_type']}:{event['object_id']}",
        "repr": event["object_repr"],
        "before": event["before"],
        "after": event["after"],
        "ip": event["ip"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def link_of(event: dict[str, Any], *, keys: dict[str, bytes]) -> str | None:
    """The event's link recomputed, or None when its key is not among `keys`."""
    if not is_keyed(event):
        return hashlib.sha256(canonical_plain(event).encode()).hexdigest()
    key = keys.get(str(event["key_id"]))
    if key is None:
        return None
    message = f"{event['prev_hash']}|{canonical_keyed(event)}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def position(event: dict[str, Any]) -> int:
    """The event's place in the chain: `chain_index` (keyed) or `seq` (plain)."""
    return int(event["chain_index"] if is_keyed(event) else event["seq"])


@dataclass(frozen=True)
class Report:
    checked: int
    gaps: int
    unsealed: int
    first_bad_seq: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None


def verify(events: Iterable[dict[str, Any]], *, keys: dict[str, bytes], complete: bool = False) -> Report:
    """Check every link and, where both ends are in the export, every event's reference to the one before."""
    sealed, unsealed = [], 0
    for event in events:
        if is_keyed(event) and (event.get("chain_index") is None or not event.get("hash")):
            unsealed += 1
        else:
            sealed.append(event)
    sealed.sort(key=position)
    previous: dict[str, Any] | None = None
    checked = gaps = 0
    for event in sealed:
        seq, here = int(event["seq"]), position(event)
        if previous is not None and position(previous) == here:
            return Report(checked, gaps, unsealed, seq, "two events claim the same place in the chain")
        expected_prev = None
        if previous is not None and position(previous) == here - 1:
            expected_prev = str(previous["hash"])
        elif previous is None and here == 1:
            expected_prev = GENESIS
        elif complete:
            return Report(checked, gaps, unsealed, seq, "events are missing before this one (--complete)")
        else:
            gaps += 1
        if expected_prev is not None and str(event["prev_hash"]) != expected_prev:
            reason = (
                "it does not name the previous event's link (an event was removed, inserted or reordered)"
            )
            return Report(checked, gaps, unsealed, seq, reason)
        link = link_of(event, keys=keys)
        if link is None:
            return Report(checked, gaps, unsealed, seq, f"no key with id {event['key_id']!r} was given")
        if not hmac.compare_digest(link, str(event["hash"])):
            return Report(
                checked, gaps, unsealed, seq, "its content does not match its link (the event was edited)"
            )
        previous = event
        checked += 1
    return Report(checked, gaps, unsealed, None, "intact")


def read_export(path: str) -> list[dict[str, Any]]:
    events = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number} is not JSON: {exc}") from exc
            if not isinstance(event, dict) or "seq" not in event:
                raise ValueError(f"line {number} is not an audit event")
            events.append(event)
    return events


def parse_keys(entries: Iterable[str]) -> dict[str, bytes]:
    """`<key id>:<base64 key>` entries (standard or URL-safe base64, padding optional)."""
    keys: dict[str, bytes] = {}
    for entry in entries:
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep:
            raise ValueError("a key entry is not '<key id>:<base64 key>'")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_")
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"the key {key_id!r} is not base64") from exc
        keys.setdefault(key_id, key)
    return keys


def read_keys(path: str | None) -> dict[str, bytes]:
    if path:
        with open(path, encoding="utf-8") as handle:
            return parse_keys(handle.read().splitlines())
    return parse_keys(os.environ.get("AUDIT_CHAIN_KEYS", "").split(","))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a JSON Lines export of the bingxadmin audit trail.")
    parser.add_argument("export", help="the .jsonl file exported from the audit page")
    parser.add_argument(
        "--key-file", help="chain keys, '<key id>:<base64 key>' per line (default: $AUDIT_CHAIN_KEYS)"
    )
    parser.add_argument(
        "--complete", action="store_true", help="require the whole trail from the first event, no gaps"
    )
    args = parser.parse_args(argv)
    try:
        events = read_export(args.export)
        keys = read_keys(args.key_file)
    except (OSError, ValueError) as exc:
        print(f"cannot read: {exc}", file=sys.stderr)
        return 1
    try:
        report = verify(events, keys=keys, complete=args.complete)
    except (KeyError, TypeError, ValueError) as exc:
        print(f"cannot read: an event lacks a field or has a wrong type ({exc})", file=sys.stderr)
        return 1
    notes = []
    if report.gaps:
        notes.append(f"{report.gaps} gap(s), links across them not checked")
    if report.unsealed:
        notes.append(f"{report.unsealed} unsealed event(s) not checked")
    if report.ok:
        print(f"intact: {report.checked} event(s) verified" + (f"; {'; '.join(notes)}" if notes else ""))
        return 0
    print(f"broken at seq={report.first_bad_seq}: {report.reason} ({report.checked} verified before it)")
    return 2


if __name__ == "__main__":
    sys.exit(main())
