"""Query parameters of the list pages, each parsed by a form field: a bad value is a form error (400),
never a server error. Dates are bounded so a filter cannot overflow a datetime; ids are ASCII digits
within the database's integer range; assets are ASCII symbols (`payload.asset_clean`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from transfers.models import RecordSource, TransferKind
from transfers.payload import PayloadError, asset_clean

FILTER_DATE_MIN = dt.date(2000, 1, 1)
FILTER_DATE_MAX = dt.date(2099, 12, 31)
ID_MAX = 2**63 - 1  # BIGINT / SQLite INTEGER
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def ascii_int(value: Any) -> int | None:
    """Digits 0-9 only (`"²".isdigit()` is true and `int("²")` fails), within the database's range."""
    text = str(value if value is not None else "").strip()
    if not _ASCII_DIGITS.fullmatch(text) or int(text) > ID_MAX:
        return None
    return int(text)


class FilterDateField(forms.DateField):
    """A day between 2000-01-01 and 2099-12-31: the end of the last day still fits a datetime."""

    widget = forms.DateInput(attrs={"type": "date"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.validators.append(MinValueValidator(FILTER_DATE_MIN))
        self.validators.append(MaxValueValidator(FILTER_DATE_MAX))


class IdField(forms.CharField):
    """An object id in a query string: ASCII digits, at most the database's largest integer."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 19)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int | None:
        text = super().clean(value)
        if text in (None, ""):
            return None
        number = ascii_int(text)
        if number is None or number < 1:
            raise forms.ValidationError("Enter an id (digits 0-9).", code="invalid")
        return number


class AssetFilterField(forms.CharField):
    """Blank for any asset, else an ASCII symbol like USDT."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        if not text:
            return ""
        try:
            return asset_clean(text)
        except PayloadError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


def date_range_clean(data: dict[str, Any]) -> None:
    start, end = data.get("date_from"), data.get("date_to")
    if start and end and start > end:
        raise forms.ValidationError("The start date is after the end date.", code="date_range")


class ReconciliationFilterForm(forms.Form):
    key_set = IdField()
    source = forms.ChoiceField(choices=[("", "All sources"), *RecordSource.choices], required=False)


class SyncForm(forms.Form):
    key_set = IdField()


class AvailableQueryForm(forms.Form):
    """The request form's htmx "what can be moved" query; the kind's own fields are read by the selector."""

    kind = forms.ChoiceField(choices=TransferKind.choices)
    key_set = IdField(required=True)
