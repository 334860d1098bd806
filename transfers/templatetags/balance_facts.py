"""`{% load balance_facts %}`: balance facts of requests for the queue and the approval page
(transfers.balance_selectors, templates/transfers/_balance_flag.html), and the "Submit again" offer
(transfers.resubmit, templates/transfers/_submit_again.html)."""

from __future__ import annotations

from typing import Any

from django import template

from transfers.balance_selectors import BalanceFacts, balance_facts_one, over_balance_among
from transfers.resubmit import SubmitAgain, submit_again_for

register = template.Library()


def _user(context: template.Context) -> Any:
    request = context.get("request")
    return getattr(request, "user", None)


@register.simple_tag(takes_context=True)
def balance_facts(context: template.Context, req: Any) -> BalanceFacts | None:
    """`{% balance_facts req as b %}`: one request's balance at submission, now and after."""
    user = _user(context)
    if user is None or not user.is_authenticated or req is None:
        return None
    return balance_facts_one(user=user, req=req)


@register.simple_tag(takes_context=True)
def balance_flags(context: template.Context, rows: Any) -> list[BalanceFacts]:
    """`{% balance_flags rows as flagged %}`: the rows above the available balance."""
    user = _user(context)
    if user is None or not user.is_authenticated or not rows:
        return []
    return over_balance_among(user=user, requests=rows)


@register.simple_tag(takes_context=True)
def submit_again(context: template.Context, req: Any) -> SubmitAgain | None:
    """`{% submit_again req as again %}`: the "Submit again" offer for a stale, expired or failed request."""
    user = _user(context)
    if user is None or not user.is_authenticated or req is None:
        return None
    return submit_again_for(user=user, req=req)
