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
