"""Pages: one's own API tokens (under /account/), webhook endpoints and deliveries (administrators)."""

from django.urls import path

from api import views

app_name = "api"

urlpatterns = [
    path("account/api-tokens/", views.tokens, name="tokens"),
    path("account/api-tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("webhooks/", views.webhooks_list, name="webhooks"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:pk>/approve/", views.webhook_approve, name="webhook_approve"),
    path("webhooks/<int:pk>/reject/", views.webhook_reject, name="webhook_reject"),
    path("webhooks/<int:pk>/remove/", views.webhook_remove, name="webhook_remove"),
    path("webhooks/<int:pk>/resume/", views.webhook_resume, name="webhook_resume"),
    path("webhooks/deliveries/<int:pk>/redeliver/", views.webhook_redeliver, name="webhook_redeliver"),
]
