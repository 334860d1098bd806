from django.urls import path

from accounts.people import views

app_name = "people"
urlpatterns = [
    path("", views.people_list, name="list"),
    path("new/", views.person_new, name="new"),
    path("<int:pk>/", views.person_detail, name="detail"),
    path("<int:pk>/propose/", views.person_propose, name="propose"),
    path("changes/<int:pk>/approve/", views.change_approve, name="change_approve"),
    path("changes/<int:pk>/reject/", views.change_reject, name="change_reject"),
    path("changes/<int:pk>/cancel/", views.change_cancel, name="change_cancel"),
    path("password/<uidb64>/<token>/", views.PasswordSetView.as_view(), name="password_set"),
]
