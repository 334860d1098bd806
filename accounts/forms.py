"""Forms for key-set pages. They parse and validate input; the services decide and record.

Secret inputs never render their value back (PasswordInput(render_value=False)).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from accounts.models import AccountKind, ApiKeySet, Environment, User
from accounts.services.validation import base_url_for, credential_clean

_DATE = forms.DateInput(attrs={"type": "date"})


def _secret_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=True,
        max_length=256,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class KeySetCreateForm(forms.Form):
    label = forms.CharField(max_length=100)
    environment = forms.ChoiceField(
        choices=Environment.choices,
        initial=Environment.BINGX,
        help_text="Real BingX unless you explicitly want the sandbox exchange.",
    )
    base_url = forms.CharField(
        label="Base URL",
        required=False,
        max_length=200,
        help_text="Leave empty for the default: https://open-api.bingx.com (or the configured sandbox).",
    )
    account_kind = forms.ChoiceField(label="Account", choices=AccountKind.choices, initial=AccountKind.MAIN)
    parent = forms.ModelChoiceField(
        label="Main account key set",
        queryset=ApiKeySet.objects.none(),
        required=False,
        help_text="Only for a sub-account key set.",
    )
    api_key = _secret_field("API key", "Only its last 4 characters are ever shown again.")
    secret = _secret_field("API secret", "Stored encrypted; never shown again.")
    rotate_by = forms.DateField(label="Rotate by", required=False, widget=_DATE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parent = cast(forms.ModelChoiceField, self.fields["parent"])
        parent.queryset = ApiKeySet.objects.filter(account_kind=AccountKind.MAIN).order_by("label")

    def clean_label(self) -> str:
        label = self.cleaned_data["label"].strip()
        if ApiKeySet.objects.filter(label__iexact=label).exists():
            raise ValidationError("A key set with this label already exists.")
        return label

    def clean_api_key(self) -> str:
        return credential_clean(value=self.cleaned_data["api_key"], what="API key")

    def clean_secret(self) -> str:
        return credential_clean(value=self.cleaned_data["secret"], what="API secret")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        environment = data.get("environment")
        if environment:
            try:
                data["base_url"] = base_url_for(environment=environment, base_url=data.get("base_url", ""))
            except ValidationError as exc:
                self.add_error("base_url", exc)
        kind, parent = data.get("account_kind"), data.get("parent")
        if kind == AccountKind.SUB and parent is None:
            self.add_error("parent", "A sub-account key set needs its main account's key set.")
        if kind == AccountKind.MAIN and parent is not None:
            self.add_error("parent", "A main-account key set has no parent; leave this empty.")
        if (
            kind == AccountKind.SUB
            and parent is not None
            and environment
            and parent.environment != environment
        ):
            self.add_error("parent", "The main account's key set uses a different exchange.")
        return data


class KeySetEditForm(forms.Form):
    label = forms.CharField(max_length=100)
    rotate_by = forms.DateField(label="Rotate by", required=False, widget=_DATE)

    def __init__(self, *args: Any, key_set: ApiKeySet, **kwargs: Any) -> None:
        self.key_set = key_set
        kwargs.setdefault("initial", {"label": key_set.label, "rotate_by": key_set.rotate_by})
        super().__init__(*args, **kwargs)

    def clean_label(self) -> str:
        label = self.cleaned_data["label"].strip()
        if ApiKeySet.objects.filter(label__iexact=label).exclude(pk=self.key_set.pk).exists():
            raise ValidationError("A key set with this label already exists.")
        return label


class ReplaceSecretForm(forms.Form):
    api_key = _secret_field("New API key", "BingX issues key and secret as a pair; enter both.")
    secret = _secret_field("New API secret", "Stored encrypted; never shown again.")
    rotate_by = forms.DateField(label="Rotate by", required=False, widget=_DATE)
    confirm = forms.BooleanField(
        label="I understand the key set stops working until a second administrator activates it, "
        "and its pending transfer requests become stale."
    )

    def clean_api_key(self) -> str:
        return credential_clean(value=self.cleaned_data["api_key"], what="API key")

    def clean_secret(self) -> str:
        return credential_clean(value=self.cleaned_data["secret"], what="API secret")


class GrantForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    group = forms.ModelChoiceField(queryset=Group.objects.none(), required=False)
    can_view = forms.BooleanField(label="View", required=False, initial=True)
    can_request = forms.BooleanField(label="Request transfers", required=False)
    can_approve = forms.BooleanField(label="Approve transfers", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["user"]).queryset = User.objects.filter(
            is_active=True
        ).order_by("username")
        cast(forms.ModelChoiceField, self.fields["group"]).queryset = Group.objects.order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("user")) == bool(data.get("group")):
            raise ValidationError("Choose either a user or a group.")
        if not (data.get("can_view") or data.get("can_request") or data.get("can_approve")):
            raise ValidationError("Choose at least one capability (to remove access, revoke the grant).")
        if (data.get("can_request") or data.get("can_approve")) and not data.get("can_view"):
            raise ValidationError("Requesting and approving need the view capability too.")
        return data
