"""Page budget (issue 14, part 6): every main page under 150 KB transferred on first load, as served.

Measured through the real stack: the page from Django with `Accept-Encoding: gzip, deflate, br` (what
Chromium sends) and every stylesheet and script it references fetched through WhiteNoise from a real
`collectstatic` with the production storage (CompressedManifestStaticFilesStorage), so each file comes
compressed as a browser gets it. Bytes counted: the body as sent plus the response headers. Data: an
administrator on a desk with 110 transfer requests (full list pages: 50 a page, the audit log's 100),
30 days of synced balances.
The per-page figures are printed (`-s`) and recorded in docs/frontend.md.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKeySet, User
from tests.accounts.test_balance_history import sync
from tests.transfers.workflow_support import grant, make_main_key_set, member, new_request

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

BUDGET = 150 * 1024
BROWSER_ACCEPT_ENCODING = "gzip, deflate, br, zstd"
PRODUCTION_STATIC = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
ASSET = re.compile(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="(/static/[^"]+)"')


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `bin/run` and a deployment serve: collectstatic with the production storage (hashed, gzipped)."""
    root = tmp_path_factory.mktemp("staticfiles")
    storages = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    with override_settings(STATIC_ROOT=str(root), STORAGES={**storages, "staticfiles": PRODUCTION_STATIC}):
        call_command("collectstatic", interactive=False, verbosity=0)
    return root


@pytest.fixture
def served(settings: Any, static_root: Path) -> None:
    settings.STATIC_ROOT = str(static_root)
    settings.STORAGES = {**settings.STORAGES, "staticfiles": PRODUCTION_STATIC}


@pytest.fixture
def desk() -> tuple[User, ApiKeySet, int]:
    admin = member("admin", "administrator", "approver")
    key_set = make_main_key_set(label="Demo main 10000001")
    now = timezone.now()
    for day in range(30, 0, -1):
        sync(
            key_set,
            now - dt.timedelta(days=day),
            fund={"USDT": str(78000 - day), "BTC": "0.5", "ETH": "4"},
            spot={"USDT": "2500", "BTC": "0.1"},
            overview={"spot": "52000", "stdFutures": "1500", "USDTMPerp": "5000", "coinMPerp": "15000"},
        )
    requester = member("rita", "requester")
    grant(key_set, requester, request=True)
    grant(key_set, admin, approve=True)
    pks = [new_request(requester=requester, key_set=key_set, amount=str(10 + i)).pk for i in range(110)]
    return admin, key_set, pks[-1]


def main_pages(key_set: ApiKeySet, request_pk: int) -> list[str]:
    return [
        reverse("transfers:dashboard"),
        reverse("transfers:request_new"),
        reverse("transfers:queue"),
        reverse("transfers:history"),
        reverse("transfers:request_detail", args=[request_pk]),
        reverse("transfers:batch_new"),
        reverse("transfers:recipients"),
        reverse("transfers:policy"),
        reverse("transfers:rules"),
        reverse("transfers:audit_log"),
        reverse("transfers:reconciliation"),
        reverse("transfers:charts"),
        reverse("accounts:keyset_list"),
        reverse("accounts:balances"),
        reverse("accounts:keyset_detail", args=[key_set.pk]),
        reverse("people:list"),
        reverse("second_factor:manage"),
        reverse("preferences:edit"),
        reverse("api:tokens"),
    ]


def transferred(response: Any) -> int:
    """Bytes on the wire for one response: headers and the body as sent (compressed if it was)."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    headers = sum(len(f"{k}: {v}\r\n") for k, v in response.items()) + len("HTTP/1.1 200 OK\r\n\r\n")
    return headers + len(body)


def html_of(response: Any) -> str:
    body = response.content
    return (gzip.decompress(body) if response.get("Content-Encoding") == "gzip" else body).decode()


def test_every_main_page_is_under_150_kb_on_first_load(
    served: None, desk: tuple[User, ApiKeySet, int]
) -> None:
    admin, key_set, request_pk = desk
    client = Client(HTTP_ACCEPT_ENCODING=BROWSER_ACCEPT_ENCODING)
    client.force_login(admin)
    report = []
    for path in main_pages(key_set, request_pk):
        page = client.get(path)
        assert page.status_code == 200, path
        html_bytes = transferred(page)
        assets = sorted(set(ASSET.findall(html_of(page))))
        asset_bytes = 0
        for url in assets:
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert asset.get("Content-Encoding") == "gzip" or len(asset.content) < 1024, url
            asset_bytes += transferred(asset)
        total = html_bytes + asset_bytes
        report.append((path, len(html_of(page)), html_bytes, len(assets), asset_bytes, total))
        secret_page = path.startswith(tuple(settings.COMPRESSION_EXCLUDED_PATHS))
        assert page.get("Content-Encoding") == (None if secret_page else "gzip"), path
    print("\npage budget (bytes transferred on first load, compressed as served):")
    for path, raw, html_bytes, count, asset_bytes, total in report:
        print(
            f"  {path:<26} html {raw:>7,} raw, {html_bytes:>6,} sent"
            f" + {count} files {asset_bytes:>6,} = {total:>6,}"
        )
    over = [(path, total) for path, *_, total in report if total >= BUDGET]
    assert over == [], f"over {BUDGET:,} bytes: {over}"
    assert all(count >= 2 for _, _, _, count, _, _ in report)  # the stylesheet and htmx at least


def test_pages_that_show_a_secret_are_never_compressed() -> None:
    admin = member("admin", "administrator")
    client = Client(HTTP_ACCEPT_ENCODING=BROWSER_ACCEPT_ENCODING)
    client.force_login(admin)
    for name in ("second_factor:manage", "second_factor:enrol", "api:tokens", "api:webhooks"):
        response = client.get(reverse(name))
        assert response.status_code in (200, 302), name
        assert not response.has_header("Content-Encoding"), name
    response = client.get(reverse("login"))
    assert not response.has_header("Content-Encoding")
    # Everything else in HTML is, and says so to caches; JSON and CSV are left as they are.
    page = client.get(reverse("transfers:history"))
    assert page["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in page["Vary"]
    export = client.get(reverse("transfers:history") + "?format=csv")
    assert not export.has_header("Content-Encoding")
