"""Error pages in the site's layout (issue 14, part 5): what happened and what to do next, no details.

403 and 404 are Django's own handlers rendering templates/403.html and templates/404.html with the
request's context (the menu for a signed-in person); they never show the exception's text. The 500 page
and the CSRF failure page need a view of their own: Django renders 500.html without a request (so the
page makes no database query), and its CSRF failure page would have no menu.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseServerError
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)

# What a visitor sees if even the 500 template cannot be rendered (a broken template, a missing file).
BARE_500 = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Server error · bingxadmin</title>"
    "<h1>Something went wrong on our side</h1><p>The error is recorded. Open the page again in a minute; "
    "before repeating a transfer request or a decision, look it up in History: it may already be saved.</p>"
    "<p><a href=/>Go to the dashboard</a></p></html>"
)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the 500 template rendered without a request (no context processor, no query)."""
    try:
        html = loader.get_template("500.html").render({})
    except Exception:  # the error page itself must never fail
        logger.exception("500.html could not be rendered")
        html = BARE_500
    return HttpResponseServerError(html)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form the desk cannot match to the session. The reason goes to the log only."""
    logger.warning("CSRF check failed: %s", reason)
    return HttpResponseForbidden(loader.get_template("403_csrf.html").render({}, request))
