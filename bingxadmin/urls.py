from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from bingxadmin.health import health

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/preferences/", include("accounts.preferences_urls")),
    path("account/", include("accounts.second_factor_urls")),
    path("health", health, name="health"),
    path("admin/", admin.site.urls),
    path("keys/", include("accounts.urls")),
    path("people/", include("accounts.people.urls")),
    path("api/v1/", include("api.urls")),
    path("", include("api.web_urls")),
    path("", include("transfers.urls")),
]

# 403 and 404: Django's handlers with templates/403.html, 404.html; 500 without a request (docs/frontend.md).
handler500 = "bingxadmin.errors.server_error"
