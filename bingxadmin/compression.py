"""GZip for HTML pages, except pages that show a secret (issue 14, part 6; docs/frontend.md#compression).

BREACH: an attacker who can make a victim's browser load a page many times while injecting text into it
can learn a secret on that page from the compressed sizes. Django masks the CSRF token differently in
every response and its GZipMiddleware adds random bytes to each gzip header ("Heal The Breach"); on top
of that, the pages under COMPRESSION_EXCLUDED_PATHS (second-factor setup and recovery codes, API tokens
and webhook secrets shown once, password setting, login) are never compressed. Static files are
compressed ahead of time by WhiteNoise and are not touched here; JSON, CSV and other bodies neither.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.gzip import GZipMiddleware


class HtmlGZipMiddleware(GZipMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        if request.path_info.startswith(tuple(settings.COMPRESSION_EXCLUDED_PATHS)):
            return response
        return super().process_response(request, response)
