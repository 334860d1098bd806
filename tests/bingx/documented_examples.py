"""Builds tests/bingx/fixtures/documented/<endpoint>.json from the shared reference (re-runnable):

    .venv/bin/python -m tests.bingx.documented_examples [REFERENCE_DIR]    # default /work/shared/reference

For each of the ten endpoint sections of ``bingx-account-api-docs.md`` (BingX's own docs page) the
fixture holds what that page says — method, path, permission, the request and response parameter
tables — plus the documented response example. The docs page as stored carries the tables but not the
example bodies, so the example comes from ``bingx-api.md`` §6, which quotes BingX's docs example for
each endpoint with its source (``[S1 `j1Oc`]`` = the docs module); "Docs response = same as 6.1" is
followed. ``request`` holds example business parameters, named as in the docs' request table (checked
here), with values that also work against the demo seed; the signing parameters (``timestamp``,
``recvWindow``) are left to whoever sends it. The fixtures hold no secret: the docs examples carry
masked ids (``"17********28"``) and no API key.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from bingx.endpoints import endpoint_for

DEFAULT_REFERENCE = Path("/work/shared/reference")
DOCS_FILE = "bingx-account-api-docs.md"
SPEC_FILE = "bingx-api.md"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "documented"
SIGNING_PARAMS = {"timestamp", "recvWindow"}

# Example business parameters per endpoint (names from the docs' request table).
REQUESTS: dict[str, dict[str, Any]] = {
    "spot_balance": {},
    "fund_balance": {"asset": "USDT"},
    "asset_overview": {},
    # The docs' payload example for Asset Transfer New (bingx-api.md §6.4), amount scaled to the seed.
    "asset_transfer": {"asset": "USDT", "amount": "10.95", "fromAccount": "fund", "toAccount": "spot"},
    "asset_transfer_support_coins": {"fromAccount": "fund", "toAccount": "spot"},
    "transfer_records": {"fromAccount": "fund", "toAccount": "spot", "pageIndex": 1, "pageSize": 10},
    "legacy_transfer_records": {"type": "FUND_PFUTURES", "current": 1, "size": 10},
    # The docs' curl example for the legacy transfer (bingx-api.md §6.8).
    "legacy_transfer": {"type": "FUND_PFUTURES", "asset": "USDT", "amount": "100"},
    "inner_transfer_apply": {
        "coin": "USDT",
        "userAccountType": 1,
        "userAccount": "10000009",
        "amount": "1.5",
        "walletType": 1,
        "transferClientId": "docsExample1",
    },
    "inner_transfer_records": {"coin": "USDT", "offset": 0, "limit": 100},
}

_ENDPOINT_LINE = re.compile(r"^(GET|POST) (/openApi/\S+)\s*$")
_SPEC_HEADING = re.compile(r"^### (6\.\d+) (.+?) — (GET|POST) `([^`]+)`(.*)$")
_SAME_AS = re.compile(r"[Dd]ocs response = same as (6\.\d+)")
_CANDIDATE = re.compile(r"```json\n(.*?)```|`(\{.*?\})`", re.DOTALL)


def _table(lines: list[str]) -> list[list[str]]:
    """Rows of the markdown table that starts at ``lines[0]`` (header and rule skipped)."""
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def parse_docs(text: str) -> list[dict[str, Any]]:
    """One dict per ``### `` endpoint section of the docs page."""
    sections = []
    for chunk in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        lines = chunk.splitlines()
        found = next((m for m in map(_ENDPOINT_LINE.match, lines) if m), None)
        if found is None:
            continue
        section: dict[str, Any] = {
            "title": lines[0].strip(),
            "method": found.group(1),
            "path": found.group(2),
            "permission": "",
            "request_parameters": [],
            "response_parameters": [],
            "element_parameters": [],
        }
        for i, line in enumerate(lines):
            if line.startswith("API KEY permission:"):
                section["permission"] = line.split(":", 1)[1].strip()
            heading = line.strip()
            if heading == "#### Request Parameters":
                section["request_parameters"] = [
                    {"name": r[0], "type": r[1], "required": r[2]} for r in _table(lines[i + 2 :])
                ]
            elif heading == "#### Response Parameters":
                section["response_parameters"] = [
                    {"name": r[0], "type": r[1]} for r in _table(lines[i + 2 :])
                ]
            elif heading == "#### Order Parameters":  # element fields of the response's list
                section["element_parameters"] = [{"name": r[0], "type": r[1]} for r in _table(lines[i + 2 :])]
        sections.append(section)
    return sections


def parse_spec_examples(text: str) -> dict[str, dict[str, Any]]:
    """Documented response example per path from the spec's §6 endpoint sections."""
    by_number: dict[str, dict[str, Any]] = {}
    pending_same: dict[str, str] = {}
    for chunk in re.split(r"^(?=### 6\.)", text, flags=re.MULTILINE):
        head = _SPEC_HEADING.match(chunk.splitlines()[0]) if chunk.startswith("### 6.") else None
        if head is None:
            continue
        number, path, source = head.group(1), head.group(4), head.group(5).strip()
        entry: dict[str, Any] = {"section": f"bingx-api.md §{number} {head.group(2)}", "path": path}
        entry["source"] = source
        same = _SAME_AS.search(chunk)
        if same:
            pending_same[number] = same.group(1)
        else:
            entry["example"] = _first_response_json(chunk)
        by_number[number] = entry
    for number, other in pending_same.items():
        by_number[number]["example"] = by_number[other]["example"]
        by_number[number]["example_note"] = f"the docs give the §{other} example for this endpoint"
    return {e["path"]: e for e in by_number.values() if e.get("example") is not None}


def _first_response_json(chunk: str) -> Any:
    """The first valid JSON object after the first mention of the response."""
    start = re.search(r"[Rr]esponse", chunk)
    if start is None:
        return None
    for match in _CANDIDATE.finditer(chunk, start.end()):
        try:
            return json.loads(match.group(1) or match.group(2))
        except ValueError:
            continue  # e.g. the spec's JavaScript-literal quotes of observed answers
    return None


def build(reference: Path = DEFAULT_REFERENCE) -> dict[str, dict[str, Any]]:
    docs = parse_docs((reference / DOCS_FILE).read_text(encoding="utf-8"))
    examples = parse_spec_examples((reference / SPEC_FILE).read_text(encoding="utf-8"))
    fixtures: dict[str, dict[str, Any]] = {}
    for section in docs:
        endpoint = endpoint_for(section["path"])
        if endpoint is None or endpoint.method != section["method"]:
            raise ValueError(f"docs section {section['title']!r} is not in bingx.endpoints")
        example = examples[section["path"]]
        params = REQUESTS[endpoint.name]
        documented = {p["name"] for p in section["request_parameters"]}
        if set(params) - documented or documented & set(params) & SIGNING_PARAMS:
            raise ValueError(f"{endpoint.name}: example parameters {set(params) - documented} not documented")
        fixtures[endpoint.name] = {
            "endpoint": endpoint.name,
            "title": section["title"],
            "method": section["method"],
            "path": section["path"],
            "docs": {
                "file": DOCS_FILE,
                "permission": section["permission"],
                "request_parameters": section["request_parameters"],
                "response_parameters": section["response_parameters"],
                "element_parameters": section["element_parameters"],
            },
            "request": params,
            "response": example["example"],
            "response_source": {
                "file": SPEC_FILE,
                "section": example["section"],
                "cites": example["source"],
                **({"note": example["example_note"]} if "example_note" in example else {}),
            },
        }
    if set(fixtures) != set(REQUESTS):
        raise ValueError(f"docs sections and REQUESTS disagree: {set(fixtures) ^ set(REQUESTS)}")
    return fixtures


def render(fixture: dict[str, Any]) -> str:
    return json.dumps(fixture, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    reference = Path(argv[0]) if argv else DEFAULT_REFERENCE
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, fixture in sorted(build(reference).items()):
        (FIXTURES / f"{name}.json").write_text(render(fixture), encoding="utf-8")
        print(f"wrote {FIXTURES / name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
