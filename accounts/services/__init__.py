"""Writes of the accounts app, one module per subdomain; import from the module itself:

    accounts.services.key_sets      KeySetRefused, key_set_create/update/replace_secret/activate/deactivate
    accounts.services.validation    base_url_for, credential_clean
    accounts.services.grants        grant_set, grant_revoke
    accounts.services.verification  key_set_verify
    accounts.services.sub_accounts  sub_accounts_discover, DiscoveryResult
    accounts.services.balances      balances_sync, SyncResult

(What the desk needs from a key — NEEDS, PERMISSION_NAMES, permission_report — is accounts.key_permissions;
ExchangeProblem is exchange.problems.)
"""

# shim: removed when transfers/ is restructured. The old flat `accounts.services` names, for callers
# outside accounts/ that still import them from here (tests/transfers/services/test_decisions.py). Nothing in
# accounts/ imports from this package's root.
from accounts.key_permissions import NEEDS, PERMISSION_NAMES, permission_report
from accounts.services.balances import SyncResult, balances_sync
from accounts.services.grants import grant_revoke, grant_set
from accounts.services.key_sets import (
    KeySetRefused,
    key_set_activate,
    key_set_create,
    key_set_deactivate,
    key_set_replace_secret,
    key_set_update,
)
from accounts.services.sub_accounts import DiscoveryResult, sub_accounts_discover
from accounts.services.validation import base_url_for, credential_clean
from accounts.services.verification import key_set_verify
from exchange.problems import ExchangeProblem

__all__ = [
    "NEEDS",
    "PERMISSION_NAMES",
    "DiscoveryResult",
    "ExchangeProblem",
    "KeySetRefused",
    "SyncResult",
    "balances_sync",
    "base_url_for",
    "credential_clean",
    "grant_revoke",
    "grant_set",
    "key_set_activate",
    "key_set_create",
    "key_set_deactivate",
    "key_set_replace_secret",
    "key_set_update",
    "key_set_verify",
    "permission_report",
    "sub_accounts_discover",
]
