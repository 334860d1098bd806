from django.urls import include, path

from transfers import views

app_name = "transfers"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("transfers/new/", views.request_new, name="request_new"),
    path("transfers/new/available/", views.request_available, name="request_available"),
    path("transfers/queue/", views.queue, name="queue"),
    path("transfers/history/", views.history, name="history"),
    path("transfers/<int:pk>/", views.request_detail, name="request_detail"),
    path("transfers/<int:pk>/status/", views.request_status, name="request_status"),
    path("transfers/<int:pk>/approve/", views.request_approve, name="request_approve"),
    path("transfers/<int:pk>/reject/", views.request_reject, name="request_reject"),
    path("transfers/<int:pk>/cancel/", views.request_cancel, name="request_cancel"),
    path("recipients/", views.recipients, name="recipients"),
    path("recipients/<int:pk>/approve/", views.recipient_approve, name="recipient_approve"),
    path("recipients/<int:pk>/reject/", views.recipient_reject, name="recipient_reject"),
    path("recipients/<int:pk>/remove/", views.recipient_remove, name="recipient_remove"),
    path("policy/", views.policy, name="policy"),
    path("policy/rules/new/", views.policy_rule_edit, name="policy_rule_new"),
    path("policy/rules/<int:pk>/", views.policy_rule_edit, name="policy_rule_edit"),
    path("policy/rules/<int:pk>/delete/", views.policy_rule_delete, name="policy_rule_delete"),
    path("policy/limits/", views.policy_limit_edit, name="policy_limit_edit"),
    path("policy/limits/<int:pk>/delete/", views.policy_limit_delete, name="policy_limit_delete"),
    path("policy/changes/<int:pk>/approve/", views.policy_change_approve, name="policy_change_approve"),
    path("policy/changes/<int:pk>/reject/", views.policy_change_reject, name="policy_change_reject"),
    path("policy/changes/<int:pk>/cancel/", views.policy_change_cancel, name="policy_change_cancel"),
    path("audit/", views.audit_log, name="audit_log"),
    # `transfers:reconciliation` (and `transfers:reconciliation_sync`) are the execution engineer's,
    # defined in transfers/urls_reconciliation.py.
    path("", include("transfers.urls_reconciliation")),
]
