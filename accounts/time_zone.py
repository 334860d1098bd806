"""Each person sees times in their own zone (PersonPreferences.time_zone, default settings.TIME_ZONE):
`PersonTimeZoneMiddleware` activates it for the request. The zone is read on first use, so a request
that shows no time (the live status poll, an export of plain ids) costs no query."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """The zone of that IANA name; settings.TIME_ZONE for an unknown or empty one."""
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


class PersonZone(dt.tzinfo):
    """A person's zone, looked up on first use and then behaving exactly as that ZoneInfo."""

    def __init__(self, user_id: int) -> None:
        self._user_id = user_id
        self._zone: zoneinfo.ZoneInfo | None = None

    def zone(self) -> zoneinfo.ZoneInfo:
        if self._zone is None:
            from accounts.models import PersonPreferences

            name = (
                PersonPreferences.objects.filter(user_id=self._user_id)
                .values_list("time_zone", flat=True)
                .first()
            )
            self._zone = zone_named(name or "")
        return self._zone

    @property
    def key(self) -> str:
        return self.zone().key

    def utcoffset(self, moment: dt.datetime | None) -> dt.timedelta | None:
        return self.zone().utcoffset(moment)

    def dst(self, moment: dt.datetime | None) -> dt.timedelta | None:
        return self.zone().dst(moment)

    def tzname(self, moment: dt.datetime | None) -> str | None:
        return self.zone().tzname(moment)

    def fromutc(self, moment: dt.datetime) -> dt.datetime:
        zone = self.zone()
        return zone.fromutc(moment.replace(tzinfo=zone)).replace(tzinfo=self)

    def __repr__(self) -> str:
        return f"PersonZone(user={self._user_id})"


class PersonTimeZoneMiddleware:
    """Activate the signed-in person's time zone for this request (after AuthenticationMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(PersonZone(user.pk))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
