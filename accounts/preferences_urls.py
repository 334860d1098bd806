"""/account/preferences/: one's own preferences."""

from django.urls import path

from accounts import preferences_views as views

app_name = "preferences"

urlpatterns = [
    path("", views.preferences_edit, name="edit"),
]
