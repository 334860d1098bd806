"""Forms: parse and pre-check input for the pages. The services check everything again."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from accounts.access import Capability, key_sets_for
from accounts.audit_access import AuditFilters
from accounts.models import ApiKeySet, User, Wallet
from transfers import selectors
from transfers.amounts import AmountTextError, amount_parse_text
from transfers.filters import AssetFilterField, FilterDateField, date_range_clean
from transfers.models import RecipientType, Status, TransferKind
from transfers.payload import (
    AMOUNT_DECIMALS,
    FAMILY_ACCOUNT_TYPES,
    FAMILY_MEMBER_TYPES,
    WALLET_TYPES,
    PayloadError,
    amount_clean,
    asset_clean,
)
from transfers.recipients import RecipientRefused, recipient_clean


class KeySetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ApiKeySet) -> str:
        return f"{obj.label} [sandbox]" if obj.is_sandbox else obj.label


class RequestForm(forms.Form):
    """Shared fields of every kind; subclasses add the kind's source and destination."""

    kind: str = ""
    kind_fields: tuple[str, ...] = ()

    key_set = KeySetChoiceField(queryset=ApiKeySet.objects.none(), empty_label=None)
    asset = forms.CharField(
        max_length=20,
        initial="USDT",
        help_text="Pick one BingX lists as transferable (see “Available on the exchange”).",
        widget=forms.TextInput(attrs={"list": "transferable-assets", "autocomplete": "off"}),
    )
    amount = forms.CharField(
        max_length=40,
        strip=False,  # " 25 " is refused with a message, never silently trimmed
        help_text=f"Digits and one decimal point, at most {AMOUNT_DECIMALS} decimal places: no spaces, "
        "separators or exponent.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    balance_override = forms.BooleanField(
        required=False,
        label="Submit above the available balance",
        help_text="Only when you know more money arrives before execution; approvers see your reason.",
    )
    balance_override_reason = forms.CharField(
        max_length=300, required=False, label="Reason for going above the available balance"
    )
    note = forms.CharField(max_length=300, required=False, help_text="For people; not sent to BingX.")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["key_set"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = selectors.key_sets_requestable(user=user, kind=self.kind)
        # Field order: key set, kind fields, asset, amount, the balance override, note.
        self.order_fields(
            [
                "key_set",
                *self.kind_fields,
                "asset",
                "amount",
                "balance_override",
                "balance_override_reason",
                "note",
            ]
        )

    def clean_asset(self) -> str:
        try:
            return asset_clean(self.cleaned_data.get("asset"))
        except PayloadError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_amount(self) -> Decimal:
        try:
            return amount_clean(amount_parse_text(self.cleaned_data.get("amount")))
        except (AmountTextError, PayloadError) as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_balance_override_reason(self) -> str:
        reason = (self.cleaned_data.get("balance_override_reason") or "").strip()
        if self.cleaned_data.get("balance_override") and not reason:
            raise forms.ValidationError("Say why the amount may be above the available balance.")
        return reason

    def override_reason(self) -> str:
        """The override reason when the box is ticked, else "" (an unticked box overrides nothing)."""
        if not self.cleaned_data.get("balance_override"):
            return ""
        return str(self.cleaned_data.get("balance_override_reason") or "")

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.kind_fields}


class WalletRequestForm(RequestForm):
    kind = TransferKind.WALLET
    kind_fields = ("from_wallet", "to_wallet")
    from_wallet = forms.ChoiceField(choices=Wallet.choices, initial=Wallet.FUND)
    to_wallet = forms.ChoiceField(choices=Wallet.choices, initial=Wallet.SPOT)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("from_wallet") and data.get("from_wallet") == data.get("to_wallet"):
            self.add_error("to_wallet", "Source and destination wallets must differ.")
        return data


class InnerRequestForm(RequestForm):
    kind = TransferKind.INNER
    kind_fields = ("wallet_type", "recipient_type", "recipient_account", "calling_code")
    wallet_type = forms.TypedChoiceField(
        choices=list(WALLET_TYPES.items()), coerce=int, initial=1, label="Pay from wallet"
    )
    recipient_type = forms.TypedChoiceField(
        choices=RecipientType.choices, coerce=int, initial=RecipientType.UID, label="Recipient is a"
    )
    recipient_account = forms.CharField(
        max_length=120,
        label="Recipient",
        help_text="UID (digits), email, or phone digits. Own accounts or address-book entries only.",
        widget=forms.TextInput(attrs={"list": "known-recipients", "autocomplete": "off"}),
    )
    calling_code = forms.CharField(max_length=5, required=False, help_text="Phone only, e.g. 1 or 44.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("recipient_type") and data.get("recipient_account"):
            try:
                clean = recipient_clean(
                    recipient_type=data["recipient_type"],
                    account=data["recipient_account"],
                    calling_code=data.get("calling_code") or "",
                )
            except RecipientRefused as exc:
                self.add_error("recipient_account", str(exc))
            else:
                data["recipient_account"], data["calling_code"] = clean.account, clean.calling_code
        return data


class SubInnerRequestForm(InnerRequestForm):
    kind = TransferKind.SUB_INNER


def _uid_input() -> forms.TextInput:
    return forms.TextInput(attrs={"list": "family-uids", "inputmode": "numeric", "autocomplete": "off"})


class FamilyRequestForm(RequestForm):
    kind = TransferKind.FAMILY
    kind_fields = (
        "from_uid",
        "from_type",
        "from_account_type",
        "to_uid",
        "to_type",
        "to_account_type",
        "remark",
    )
    _uid = {
        "widget": forms.TextInput(
            attrs={"list": "family-uids", "inputmode": "numeric", "autocomplete": "off"}
        )
    }
    from_uid = forms.IntegerField(min_value=1, label="From UID", widget=_uid_input())
    from_type = forms.TypedChoiceField(
        choices=list(FAMILY_MEMBER_TYPES.items()), coerce=int, label="From account"
    )
    from_account_type = forms.TypedChoiceField(
        choices=list(FAMILY_ACCOUNT_TYPES.items()), coerce=int, label="From wallet"
    )
    to_uid = forms.IntegerField(min_value=1, label="To UID", widget=_uid_input())
    to_type = forms.TypedChoiceField(
        choices=list(FAMILY_MEMBER_TYPES.items()), coerce=int, initial=2, label="To account"
    )
    to_account_type = forms.TypedChoiceField(
        choices=list(FAMILY_ACCOUNT_TYPES.items()), coerce=int, label="To wallet"
    )
    remark = forms.CharField(
        max_length=100, required=False, help_text="BingX requires one; we add the client id if blank."
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        a = (data.get("from_uid"), data.get("from_account_type"))
        if all(a) and a == (data.get("to_uid"), data.get("to_account_type")):
            self.add_error("to_uid", "Source and destination must differ.")
        return data


REQUEST_FORMS: dict[str, type[RequestForm]] = {
    TransferKind.WALLET: WalletRequestForm,
    TransferKind.INNER: InnerRequestForm,
    TransferKind.SUB_INNER: SubInnerRequestForm,
    TransferKind.FAMILY: FamilyRequestForm,
}


class DecisionForm(forms.Form):
    """The comment; the second factor comes in the step-up fields (templates/accounts/_stepup.html)."""

    comment = forms.CharField(
        max_length=500,
        required=False,  # required to reject: the service says so (transfer_request_reject)
        label="Comment (your reason, required to reject)",
        widget=forms.TextInput(attrs={"size": 40}),
    )


class QueueFilterForm(forms.Form):
    key_set = KeySetChoiceField(queryset=ApiKeySet.objects.none(), required=False, empty_label="All key sets")
    kind = forms.ChoiceField(choices=[("", "All kinds"), *TransferKind.choices], required=False)
    asset = AssetFilterField()
    include_decided = forms.BooleanField(required=False, label="Include ones I decided")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["key_set"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = key_sets_for(user=user, capability=Capability.APPROVE).order_by("label")


class HistoryFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "All statuses"), *Status.choices], required=False)
    kind = forms.ChoiceField(choices=[("", "All kinds"), *TransferKind.choices], required=False)
    key_set = KeySetChoiceField(queryset=ApiKeySet.objects.none(), required=False, empty_label="All key sets")
    asset = AssetFilterField()
    requester = forms.CharField(
        max_length=150, required=False, label="Requester contains", help_text="Part of a username or name."
    )
    date_from = FilterDateField()
    date_to = FilterDateField()

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["key_set"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = key_sets_for(user=user, capability=Capability.VIEW).order_by("label")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        date_range_clean(data)
        return data

    def filters(self) -> selectors.HistoryFilters:
        if not self.is_valid():
            return selectors.HistoryFilters()
        d = self.cleaned_data
        return selectors.HistoryFilters(
            status=d.get("status") or "",
            kind=d.get("kind") or "",
            key_set_id=d["key_set"].pk if d.get("key_set") else None,
            asset=d.get("asset") or "",
            requester=d.get("requester") or "",
            date_from=d.get("date_from"),
            date_to=d.get("date_to"),
        )


class AuditFilterForm(forms.Form):
    """The audit page's and the exports' filters; `verbs` are the actions the person's events contain."""

    actor = forms.CharField(max_length=150, required=False, help_text="Username, or system.")
    action = forms.MultipleChoiceField(choices=(), required=False, help_text="One or more.")
    object = forms.CharField(
        max_length=100,
        required=False,
        label="Object",
        help_text="type:id (e.g. accounts.apikeyset:3), id or text.",
    )
    date_from = FilterDateField(label="From (UTC)")
    date_to = FilterDateField(label="To (UTC)")

    def __init__(self, *args: Any, verbs: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["action"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(v, v) for v in verbs]
        field.widget.attrs["size"] = str(min(8, max(2, len(verbs))))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        date_range_clean(data)
        return data

    def filters(self) -> AuditFilters:
        d = self.cleaned_data
        return AuditFilters(
            actor=(d.get("actor") or "").strip(),
            verbs=tuple(d.get("action") or ()),
            object_text=(d.get("object") or "").strip(),
            date_from=d.get("date_from"),
            date_to=d.get("date_to"),
        )


class NormalisedDecimalField(forms.DecimalField):
    """A decimal whose trailing zeros do not count as decimal places ("10000.000000000000000000" is
    10000: the 18-place form a stored amount takes is accepted, not refused for having > 8 places)."""

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # stubs: IntegerField's
        number = super().to_python(value)
        if number is None or not number.is_finite():
            return number
        return number.normalize() if number != 0 else Decimal(0)


class PolicyRuleForm(forms.Form):
    position = forms.IntegerField(min_value=0, initial=100, help_text="Lower runs first.")
    name = forms.CharField(max_length=100)
    key_set = KeySetChoiceField(queryset=ApiKeySet.objects.all(), required=False, empty_label="Any key set")
    kind = forms.ChoiceField(choices=[("", "Any kind"), *TransferKind.choices], required=False)
    asset = forms.CharField(max_length=20, required=False, help_text="Blank: any asset.")
    min_amount = NormalisedDecimalField(
        required=False,
        min_value=Decimal(0),
        decimal_places=8,
        max_digits=30,
        help_text="Applies at or above.",
    )
    required_approvals = forms.IntegerField(min_value=1, max_value=20, initial=1)
    passkey_required_above = NormalisedDecimalField(
        required=False,
        min_value=Decimal(0),
        decimal_places=8,
        max_digits=30,
        label="Passkey-signed approvals only above",
        help_text="Blank: TOTP approvals count too. Above this amount only passkey-signed approvals count.",
    )
    is_active = forms.BooleanField(required=False, initial=True)


class DailyLimitForm(forms.Form):
    key_set = KeySetChoiceField(queryset=ApiKeySet.objects.all(), empty_label=None)
    asset = forms.CharField(max_length=20, initial="USDT")
    limit = NormalisedDecimalField(min_value=Decimal("0.00000001"), decimal_places=8, max_digits=30)


class RecipientForm(forms.Form):
    label = forms.CharField(max_length=100)
    recipient_type = forms.TypedChoiceField(choices=RecipientType.choices, coerce=int, label="Type")
    account = forms.CharField(max_length=120, help_text="UID digits, email, or phone digits.")
    calling_code = forms.CharField(max_length=5, required=False, help_text="Phone only.")


class BatchForm(forms.Form):
    """A batch's legs as CSV, pasted or uploaded (docs/workflow.md "Batch requests")."""

    csv_text = forms.CharField(
        required=False,
        label="Legs (CSV)",
        widget=forms.Textarea(attrs={"rows": 10, "cols": 100, "spellcheck": "false"}),
        help_text="First line: the header. One leg per line.",
    )
    csv_file = forms.FileField(required=False, label="…or upload a CSV file")
    note = forms.CharField(max_length=300, required=False, help_text="For people; not sent to BingX.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("csv_file")
        if upload:
            if upload.size > 512 * 1024:
                raise forms.ValidationError("The file is larger than 512 KiB.")
            try:
                data["csv_text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        if not (data.get("csv_text") or "").strip():
            raise forms.ValidationError("Paste the legs or upload a CSV file.")
        return data
