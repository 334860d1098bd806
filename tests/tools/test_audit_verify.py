"""tools/audit_verify.py: an auditor verifies a JSON Lines export outside the desk (issue 11)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.audit import audit_record
from tests.factories import ApiKeySetFactory, UserFactory

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "audit_verify.py"
KEY = base64.b64encode(b"k" * 32).decode()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # -I: isolated from the environment and the project; the script needs the standard library only.
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location("audit_verify", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _plain_chain(count: int) -> list[dict[str, Any]]:
    tool, prev = _tool(), "0" * 64
    events: list[dict[str, Any]] = []
    for seq in range(1, count + 1):
        event: dict[str, Any] = {
            "seq": seq,
            "at": f"2026-01-01T00:00:0{seq}+00:00",
            "actor_id": 1,
            "actor_label": "alice",
            "verb": "keyset.update",
            "object_type": "accounts.apikeyset",
            "object_id": "1",
            "object_repr": "Alpha",
            "before": {},
            "after": {"n": seq},
            "ip": "192.0.2.1",
            "prev_hash": prev,
        }
        prev = event["hash"] = hashlib.sha256(tool.canonical_plain(event).encode()).hexdigest()
        events.append(event)
    return events


def _write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def test_the_script_uses_the_standard_library_only():
    imported = {
        line.split()[1].split(".")[0]
        for line in SCRIPT.read_text().splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_a_plain_chain_verifies_and_an_edited_line_is_named(tmp_path):
    events = _plain_chain(4)
    result = _run(str(_write(tmp_path / "ok.jsonl", events)), "--complete")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact: 4 event(s)" in result.stdout
    events[2]["after"] = {"n": 999}
    result = _run(str(_write(tmp_path / "edited.jsonl", events)))
    assert result.returncode == 2
    assert "broken at seq=3" in result.stdout
    assert "edited" in result.stdout


def test_a_removed_event_is_a_gap_and_fails_with_complete(tmp_path):
    events = _plain_chain(4)
    del events[1]
    path = _write(tmp_path / "gap.jsonl", events)
    assert "1 gap(s)" in _run(str(path)).stdout
    result = _run(str(path), "--complete")
    assert result.returncode == 2
    assert "broken at seq=3" in result.stdout


def test_an_unreadable_export_is_status_1(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("not json\n")
    assert _run(str(path)).returncode == 1


@pytest.mark.django_db
def test_an_export_of_the_desk_verifies_and_an_edited_line_is_detected(tmp_path, settings):
    settings.AUDIT_CHAIN_KEYS = [f"k1:{KEY}"]
    auditor = UserFactory(username="auditor1")
    auditor.groups.add(Group.objects.get(name="auditor"))
    maker = UserFactory(username="maker")
    key_set = ApiKeySetFactory(label="Alpha", created_by=maker, secret_changed_by=maker)
    for n in range(3):
        audit_record(actor=maker, verb="keyset.update", obj=key_set, after={"n": n, "note": "x;=1+1 ü"})
    if importlib.util.find_spec("accounts.audit_seal") is not None:  # the keyed chain seals after commit
        from accounts.audit_seal import audit_seal_pending

        audit_seal_pending()
    client = Client()
    client.force_login(auditor)
    response = client.get(reverse("transfers:audit_export") + "?format=jsonl&action=keyset.update")
    assert response.status_code == 200
    export = tmp_path / "audit-events.jsonl"
    assert response.streaming  # exports stream
    export.write_bytes(response.getvalue())
    keys = tmp_path / "keys"
    keys.write_text(f"k1:{KEY}\n")
    result = _run(str(export), "--key-file", str(keys))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact: 3 event(s) verified" in result.stdout
    lines = export.read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[1])
    edited["after"]["n"] = 42
    lines[1] = json.dumps(edited)
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _run(str(export), "--key-file", str(keys))
    assert result.returncode == 2
    assert f"broken at seq={edited['seq']}" in result.stdout
