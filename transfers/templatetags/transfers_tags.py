"""Template helpers for the workflow pages: `{% load transfers_tags %}{{ amount|plain }}`."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.templatetags.display import money, when, when_short
from accounts.templatetags.keysets import plain
from transfers.selectors import destination_text

register = template.Library()


register.filter("plain", plain)  # one definition, shared with the accounts pages
# One formatting for money and time on every page (accounts.formatting); also in {% load display %}.
register.filter("money", money)
register.filter("when", when)
register.filter("when_short", when_short)


KIND_SHORT = {"wallet": "Own wallets", "inner": "Inner", "sub_inner": "Sub inner", "family": "Family"}


@register.filter
def kind_short(kind: str) -> str:
    """A short name for a transfer kind, for tables (the full label goes in a tooltip)."""
    return KIND_SHORT.get(str(kind), str(kind))


@register.filter
def destination(req: Any) -> str:
    """Where the money goes, in words (own wallet spot, UID 10000002, sub-account 10000003 · funding)."""
    return destination_text(req)


# One status vocabulary for the exchange's records, whatever the endpoint says: the inner-transfer
# records use numbers (spec §7: 4 pending review, 5 failed, 6 completed), the others words
# ("CONFIRMED", "SUCCESS", "PROCESSING", "FAILED"…). People read "completed", "pending" or "failed".
RECORD_STATUS_WORDS = {
    "6": "completed",
    "confirmed": "completed",
    "success": "completed",
    "succeeded": "completed",
    "completed": "completed",
    "finished": "completed",
    "4": "pending",
    "pending": "pending",
    "processing": "pending",
    "review": "pending",
    "5": "failed",
    "failed": "failed",
    "fail": "failed",
    "rejected": "failed",
    "cancelled": "failed",
    "canceled": "failed",
}


@register.filter
def record_status(status: Any) -> str:
    text = str(status or "").strip()
    return RECORD_STATUS_WORDS.get(text.lower(), text.lower()) or "—"


@register.simple_tag(takes_context=True)
def sort_header(context: Any, key: str, label: str, sortable: bool = True, css: str = "") -> SafeString:
    """A column header; when the list is sortable, a link that sorts by `key` (again: reversed).
    The view whitelists the keys (transfers.list_sorting), so an unknown one changes nothing."""
    klass = format_html(' class="{}"', css) if css else ""
    if not sortable:
        return format_html("<th{}>{}</th>", klass, label)
    request = context.get("request")
    params = request.GET.copy() if request is not None else None
    sort = context.get("sort")
    current = sort.param if sort is not None else ""
    if params is not None:
        params.pop("page", None)
        params["sort"] = f"-{key}" if current == key else key
    state, arrow = ("none", "")
    if current == key:
        state, arrow = ("ascending", " ▲")
    elif current == f"-{key}":
        state, arrow = ("descending", " ▼")
    query = params.urlencode() if params is not None else f"sort={key}"
    return format_html(
        '<th{} aria-sort="{}"><a class="sort" href="?{}">{}{}</a></th>', klass, state, query, label, arrow
    )
