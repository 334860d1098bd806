from django.test import RequestFactory

from accounts.web import client_ip


def test_audit_address_is_the_peer_when_not_behind_a_proxy(settings):
    settings.BEHIND_PROXY = False
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert client_ip(request) == "10.1.2.3"  # a client-set header is not trusted


def test_behind_the_proxy_the_address_is_the_one_the_proxy_appended(settings):
    settings.BEHIND_PROXY = True
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "203.0.113.7"  # the forged first entry is ignored
