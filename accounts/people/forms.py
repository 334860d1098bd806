"""Forms for the people pages. They shape input; the people-change services check and decide."""

from __future__ import annotations

from django import forms


class PersonCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(
        label="Their own email address",
        help_text="The one-time link to set a password goes there, to nobody else.",
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
