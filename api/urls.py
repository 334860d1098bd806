"""/api/v1/: the API's operations (each wrapped: idempotent POSTs, problem details for every error),
then a catch-all so an unknown path is a problem too, not an HTML page."""

from django.urls import URLPattern, include, path, re_path

from api.v1.api import api
from api.v1.idempotency import idempotent
from api.v1.problems import not_found, problem_wrap

_patterns, _app, _namespace = api.urls
for _pattern in _patterns:
    assert isinstance(_pattern, URLPattern)  # ninja's urls are flat
    _pattern.callback = problem_wrap(idempotent(_pattern.callback))

urlpatterns = [
    path("", include((_patterns, _app), namespace=_namespace)),
    re_path(r"^.*$", not_found),
]
