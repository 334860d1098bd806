from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.keyset_list, name="keyset_list"),
    path("add/", views.keyset_add, name="keyset_add"),
    path("balances/", views.balances, name="balances"),
    path("<int:pk>/", views.keyset_detail, name="keyset_detail"),
    path("<int:pk>/edit/", views.keyset_edit, name="keyset_edit"),
    path("<int:pk>/replace-secret/", views.keyset_replace_secret, name="keyset_replace_secret"),
    path("<int:pk>/activate/", views.keyset_activate, name="keyset_activate"),
    path("<int:pk>/deactivate/", views.keyset_deactivate, name="keyset_deactivate"),
    path("<int:pk>/verify/", views.keyset_verify, name="keyset_verify"),
    path("<int:pk>/refresh/", views.keyset_refresh, name="keyset_refresh"),
    path("<int:pk>/refresh/progress/", views.keyset_refresh_progress, name="keyset_refresh_progress"),
    path("<int:pk>/discover/", views.keyset_discover, name="keyset_discover"),
    path("<int:pk>/grants/", views.keyset_grants, name="keyset_grants"),
    path("<int:pk>/grants/<int:grant_id>/revoke/", views.keyset_grant_revoke, name="keyset_grant_revoke"),
]
