"""A database session store whose refresh never turns a recorded decision into an error page.

Sessions are saved on every request (sliding expiry), after the view has committed its work. When the
database fails at that moment, Django's session middleware answers 400 ("session was deleted") or 500,
although the approval, rejection or request the view just committed stands; the person then believes
it did not happen and may act again. Here a failed *refresh* of an existing session is logged and
skipped: the view's own response is sent, the session simply keeps its previous expiry, and the next
page shows the truth. Creating a session (login) still fails loudly: nothing was decided yet.

Used as `SESSION_ENGINE = "bingxadmin.sessions"` (Django's own SessionMiddleware stays in place).
"""

from __future__ import annotations

import logging

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError

logger = logging.getLogger(__name__)


class SessionStore(DatabaseSessionStore):
    def save(self, must_create: bool = False) -> None:
        if must_create or self.session_key is None:
            super().save(must_create=must_create)
            return
        try:
            super().save(must_create=False)
        except (UpdateError, DatabaseError) as exc:
            logger.warning("session not refreshed (%s); the response stands", type(exc).__name__)
