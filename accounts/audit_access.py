"""Who reads which audit events, and the audit page's filters (selectors; issue 11).

An *auditor* (the role, or a superuser) reads the whole trail. Everyone else reads the events about
key sets they may view (accounts.access.key_sets_for: administrators view every key set) and about
their own account: logins, failed logins and lockouts on their username, their second factors, people
changes that target them. What an event is about is decided when it is written (accounts.audit_scope).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from django.db.models import Q, QuerySet

from accounts.access import Capability, key_sets_for
from accounts.models import AuditEvent, User

AUDITOR_GROUP = "auditor"


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    verbs: tuple[str, ...] = field(default_factory=tuple)
    object_text: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_dict(self) -> dict[str, object]:
        """What an export records about the filters it used."""
        return {
            "actor": self.actor,
            "verbs": list(self.verbs),
            "object": self.object_text,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }


def audit_reads_everything(*, user: User) -> bool:
    return bool(user.is_active and (user.is_superuser or user.groups.filter(name=AUDITOR_GROUP).exists()))


def audit_events_visible(*, user: User) -> QuerySet[AuditEvent]:
    """Newest first. Nothing for an inactive person."""
    events = AuditEvent.objects.order_by("-seq")
    if not user.is_active:
        return events.none()
    if audit_reads_everything(user=user):
        return events
    key_sets = key_sets_for(user=user, capability=Capability.VIEW).values("pk")
    return events.filter(Q(key_set_id__in=key_sets) | Q(subject_id=user.pk))


def audit_verbs_known(*, events: QuerySet[AuditEvent]) -> list[str]:
    """The actions that occur among `events`: the choices of the action filter."""
    return sorted(set(events.order_by().values_list("verb", flat=True).distinct()))


def _object_filter(text: str) -> Q:
    """`type:id` (as the page shows it, e.g. `transfers.transferrequest:12`), an id, or text in the name."""
    kind, sep, ident = text.partition(":")
    if sep and "." in kind and ident:
        return Q(object_type=kind.lower(), object_id=ident)
    return Q(object_repr__icontains=text) | Q(object_id=text)


def audit_events_filter(*, events: QuerySet[AuditEvent], filters: AuditFilters) -> QuerySet[AuditEvent]:
    if filters.actor:
        events = events.filter(actor_label__iexact=filters.actor)
    if filters.verbs:
        events = events.filter(verb__in=filters.verbs)
    if filters.object_text:
        events = events.filter(_object_filter(filters.object_text))
    if filters.date_from:
        events = events.filter(at__gte=datetime.combine(filters.date_from, time.min, tzinfo=UTC))
    if filters.date_to:  # the whole last day; time.max, not the next midnight, so 9999-12-31 cannot overflow
        events = events.filter(at__lte=datetime.combine(filters.date_to, time.max, tzinfo=UTC))
    return events
