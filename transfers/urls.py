from django.http import HttpRequest, HttpResponse
from django.urls import path

app_name = "transfers"


def dashboard(request: HttpRequest) -> HttpResponse:  # placeholder until the workflow issue
    return HttpResponse("bingxadmin")


urlpatterns = [path("", dashboard, name="dashboard")]
