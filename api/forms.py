from __future__ import annotations

from typing import Any

from django import forms

from accounts.access import key_sets_for
from accounts.models import ApiKeySet, User
from api.models import EventType, TokenScope


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “nightly sweep”.")
    days = forms.IntegerField(min_value=1, max_value=366, initial=90, label="Valid for (days)")
    scope = forms.ChoiceField(choices=TokenScope.choices, initial=TokenScope.READ)
    key_sets = forms.ModelMultipleChoiceField(
        queryset=ApiKeySet.objects.none(),
        required=False,
        help_text="None chosen: every key set you may see. Your grants still decide what it may do.",
    )
    allowed_ips = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Allowed source addresses",
        help_text="One address or network per line (empty: any address).",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key_sets"].queryset = key_sets_for(user=user).order_by("label")  # type: ignore[attr-defined]


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=500, assume_scheme="https")
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)
