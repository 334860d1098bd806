"""/account/: the login's second step, enrolment, one's own second factors."""

from django.urls import path

from accounts import second_factor_views as views

app_name = "second_factor"

urlpatterns = [
    path("second-factor/", views.second_factor_verify, name="verify"),
    path("second-factor/setup/", views.second_factor_enrol, name="enrol"),
    path("security/", views.second_factor_manage, name="manage"),
    path("security/recovery-codes/", views.recovery_codes_regenerate, name="recovery_regenerate"),
    path("security/passkeys/<int:pk>/delete/", views.passkey_delete, name="passkey_delete"),
]
