"""/account/preferences/: a person's own notification choices, time zone and theme."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import PersonPreferences
from accounts.preferences import (
    EMAIL_FIELDS,
    PreferencesRefused,
    preferences_for,
    preferences_update,
    time_zone_choices,
)
from accounts.preferences_models import Theme
from accounts.web import client_ip, request_user


class PreferencesForm(forms.Form):
    time_zone = forms.ChoiceField(label="Time zone", help_text="Times on pages and in emails use it.")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        zone = self.fields["time_zone"]
        assert isinstance(zone, forms.ChoiceField)
        zone.choices = [(z, z) for z in time_zone_choices()]
        self.fields["theme"] = forms.ChoiceField(
            label="Colours",
            choices=Theme.choices,
            widget=forms.RadioSelect,
            required=False,  # a form without it keeps the saved theme
            help_text="Light or dark pages; “follow my device” uses your system's setting.",
        )
        for name in EMAIL_FIELDS:
            label = str(getattr(PersonPreferences._meta.get_field(name), "verbose_name", name))
            self.fields[name] = forms.BooleanField(required=False, label=label)


@require_http_methods(["GET", "POST"])
def preferences_edit(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    prefs = preferences_for(user=user)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                preferences_update(
                    user=user,
                    time_zone=data["time_zone"],
                    emails={f: bool(data[f]) for f in EMAIL_FIELDS},
                    theme=data["theme"] or None,
                    ip=client_ip(request),
                )
            except PreferencesRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Your preferences were saved.")
                return redirect("preferences:edit")
        return render(request, "accounts/preferences.html", {"form": form}, status=400)
    emails = {f: getattr(prefs, f) for f in EMAIL_FIELDS}
    initial = {"time_zone": prefs.time_zone, "theme": prefs.theme, **emails}
    return render(request, "accounts/preferences.html", {"form": PreferencesForm(initial=initial)})
