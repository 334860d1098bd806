"""A faithful fake BingX exchange (WSGI) for tests and demos — pure stdlib, no Django, no ``bingx`` client;
it shares only the endpoint table :mod:`bingx.endpoints` with the client.

Use in-process::

    from bingx.sandbox import SandboxServer
    with SandboxServer(seed="bingx/sandbox/seeds/demo.json") as sx:
        sx.base_url            # "http://127.0.0.1:54321"
        sx.add_fault("/openApi/api/asset/v1/transfer", "http_504_after_apply")

or as a process: ``python -m bingx.sandbox --port 8100 --seed bingx/sandbox/seeds/demo.json``.
Control API: see :mod:`bingx.sandbox.control`. Behaviour follows /work/shared/reference/bingx-api.md.

Seed format (JSON object; the state file written by ``--state`` uses the same format)::

    {
      "prices": {"USDT": "1", "BTC": "60000"},          # optional, USDT value for asset overviews
      "precision": {"USDT": 8, "BTC": 8},               # optional, decimal places an amount may have
                                                        # per asset (default 8); more → 80014
      "accounts": [{
        "uid": 10000001,                                # int
        "email": "demo@example.com", "phone": "5550100001", "calling_code": "1",   # payee lookup
        "is_master": true, "master_uid": null,          # sub-accounts: is_master false + master_uid
        "sub_account_string": "demosub1", "note": "", "freeze": false, "create_time": 1700847351000,
        "wallets": {                                     # fund | spot | stdFutures | USDTMPerp | coinMPerp
          "fund": {"USDT": "1000", "BTC": {"free": "0.5", "locked": "0.1"}}
        },
        "api_keys": [{"api_key": "...", "secret": "...", "permissions": [2, 4, 5],
                      "ip_whitelist": [], "note": ""}]
      }],
      "authorised_subs": [10000002],                    # subs allowed to transfer sub → sub (§6.13)
      "records": {                                      # optional history (no balance effect)
        "asset":  [{"uid", "tran_id", "transfer_id", "asset", "amount", "from_account", "to_account",
                    "timestamp", "status"?}],
        "inner":  [{"id", "kind": "inner"|"sub_inner", "coin", "amount", "from_uid", "to_uid",
                    "wallet", "time", "transfer_client_id"?, "status"?}],
        "family": [{"tran_id", "master_uid", "asset", "amount", "from_uid", "from_type",
                    "from_account", "to_uid", "to_type", "to_account", "timestamp", "remark"?}]
      }
    }

Permission codes (§6.18): 1 spot trading, 2 read, 3 contract trading, 4 universal transfer,
5 withdraw (main inner transfer), 7 sub-account inner transfer (``bingx.endpoints.PERMISSION_NAMES``).
Which endpoint needs which, and each endpoint's per-UID rate limit: :mod:`bingx.endpoints`.
"""

from .app import SandboxApp, make_app
from .server import SandboxServer
from .state import SandboxState

__all__ = ["SandboxApp", "SandboxServer", "SandboxState", "make_app"]
