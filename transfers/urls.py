from django.urls import path

from transfers.views import address_book, audit, batches, policy, reconciliation, requests

app_name = "transfers"

urlpatterns = [
    path("", requests.dashboard, name="dashboard"),
    path("transfers/new/", requests.request_new, name="request_new"),
    path("transfers/new/available/", requests.request_available, name="request_available"),
    path("transfers/queue/", requests.queue, name="queue"),
    path("transfers/history/", requests.history, name="history"),
    path("transfers/<int:pk>/", requests.request_detail, name="request_detail"),
    path("transfers/<int:pk>/status/", requests.request_status, name="request_status"),
    path("transfers/<int:pk>/state/", requests.request_state, name="request_state"),
    path("transfers/<int:pk>/approve/", requests.request_approve, name="request_approve"),
    path("transfers/<int:pk>/reject/", requests.request_reject, name="request_reject"),
    path("transfers/<int:pk>/cancel/", requests.request_cancel, name="request_cancel"),
    path("batches/new/", batches.batch_new, name="batch_new"),
    path("batches/<int:pk>/", batches.batch_detail, name="batch_detail"),
    path("batches/<int:pk>/progress/", batches.batch_progress, name="batch_progress"),
    path("batches/<int:pk>/state/", batches.batch_state, name="batch_state"),
    path("batches/<int:pk>/approve/", batches.batch_approve, name="batch_approve"),
    path("batches/<int:pk>/reject/", batches.batch_reject, name="batch_reject"),
    path("batches/<int:pk>/cancel/", batches.batch_cancel, name="batch_cancel"),
    path("recipients/", address_book.recipients, name="recipients"),
    path("recipients/<int:pk>/approve/", address_book.recipient_approve, name="recipient_approve"),
    path("recipients/<int:pk>/reject/", address_book.recipient_reject, name="recipient_reject"),
    path("recipients/<int:pk>/remove/", address_book.recipient_remove, name="recipient_remove"),
    path("policy/", policy.policy, name="policy"),
    path("policy/rules/new/", policy.policy_rule_edit, name="policy_rule_new"),
    path("policy/rules/<int:pk>/", policy.policy_rule_edit, name="policy_rule_edit"),
    path("policy/rules/<int:pk>/delete/", policy.policy_rule_delete, name="policy_rule_delete"),
    path("policy/limits/", policy.policy_limit_edit, name="policy_limit_edit"),
    path("policy/limits/<int:pk>/delete/", policy.policy_limit_delete, name="policy_limit_delete"),
    path("policy/changes/<int:pk>/approve/", policy.policy_change_approve, name="policy_change_approve"),
    path("policy/changes/<int:pk>/reject/", policy.policy_change_reject, name="policy_change_reject"),
    path("policy/changes/<int:pk>/cancel/", policy.policy_change_cancel, name="policy_change_cancel"),
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit/export/", audit.audit_export, name="audit_export"),
    path("reconciliation/", reconciliation.reconciliation, name="reconciliation"),
    path("reconciliation/sync/", reconciliation.reconciliation_sync, name="reconciliation_sync"),
]
