"""Session middleware that never turns a recorded decision into an error page.

Sessions are saved on every request (sliding expiry), after the view has committed its work. When
the database fails at that moment, Django's middleware answers 400 ("session was deleted") or 500,
although the approval, rejection or request the view just committed stands; the person then believes
it did not happen and may act again. Here the view's own response is sent instead (without a
refreshed session cookie) and the failure is logged; the next page shows the truth.
"""

from __future__ import annotations

import logging

from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


class CommittedResponseSessionMiddleware(SessionMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except (SessionInterrupted, DatabaseError) as exc:
            logger.warning(
                "session not saved after %s %s (%s); sending the view's response %s unchanged",
                request.method,
                request.path,
                type(exc).__name__,
                response.status_code,
            )
            response.headers["Cache-Control"] = "no-store"
            return response
