"""Routes of the reconciliation page, included into the `transfers` namespace by transfers/urls.py:

    path("", include("transfers.urls_reconciliation")),

No `app_name` here on purpose: the names resolve as `transfers:reconciliation` and
`transfers:reconciliation_sync` through the including urlconf's namespace.
"""

from django.urls import path

from transfers import views_reconciliation

urlpatterns = [
    path("reconciliation/", views_reconciliation.reconciliation, name="reconciliation"),
    path("reconciliation/sync/", views_reconciliation.reconciliation_sync, name="reconciliation_sync"),
]
