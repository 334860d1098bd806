"""Login needs a second factor for everyone who can act; enrolment on first login; recovery codes once."""

from __future__ import annotations

import pyotp
import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent, User
from accounts.second_factor import SESSION_KEY, recovery_codes_generate
from accounts.stepup import StepUpRefused, stepup_verify
from tests.factories import DEFAULT_PASSWORD, KeySetGrantFactory, UserFactory
from tests.stepup_support import mfa_enrol_totp_for_tests, totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def requester(main_key_set_db) -> User:
    user = UserFactory.create(username="rita")
    KeySetGrantFactory.create(key_set=main_key_set_db, user=user, can_request=True)
    return user


@pytest.fixture
def main_key_set_db(db: None):
    from tests.factories import ApiKeySetFactory

    return ApiKeySetFactory.create(label="Treasury main", base_url="http://127.0.0.1:9")


def password_login(client: Client, user: User) -> None:
    response = client.post(reverse("login"), {"username": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302


def test_login_without_a_second_factor_is_sent_to_enrolment(requester):
    c = Client()
    password_login(c, requester)
    response = c.get(reverse("transfers:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("second_factor:enrol"))
    assert c.get(reverse("transfers:history")).status_code == 302  # nothing else either
    # The enrolment page offers no menu to follow while only the password is done.
    page = c.get(reverse("second_factor:enrol")).content.decode()
    assert reverse("transfers:history") not in page
    assert 'id="nav-security"' not in page


def test_enrolment_confirms_the_app_and_shows_recovery_codes_once(requester):
    c = Client()
    password_login(c, requester)
    page = c.get(reverse("second_factor:enrol")).content.decode()
    secret = TOTPDevice.objects.get(user=requester, confirmed=False)
    assert "<svg" in page
    from accounts.second_factor import totp_secret_base32

    code = pyotp.TOTP(totp_secret_base32(device=secret)).now()
    wrong = c.post(reverse("second_factor:enrol"), {"action": "totp", "code": "000000"})
    assert wrong.status_code == 400
    done = c.post(reverse("second_factor:enrol"), {"action": "totp", "code": code})
    assert done.status_code == 200
    assert done.content.decode().count("<li><code>") == 10
    assert c.get(reverse("transfers:dashboard")).status_code == 200
    assert AuditEvent.objects.filter(actor=requester, verb="auth.totp_enrolled").exists()


def test_login_of_an_enrolled_person_needs_the_code(requester):
    mfa_enrol_totp_for_tests(requester)
    c = Client()
    password_login(c, requester)
    assert c.get(reverse("transfers:dashboard"))["Location"].startswith(reverse("second_factor:verify"))
    assert reverse("transfers:history") not in c.get(reverse("second_factor:verify")).content.decode()
    # A password-only session cannot add a factor of its own choosing.
    assert c.get(reverse("second_factor:enrol"))["Location"] == reverse("second_factor:verify")
    assert c.post(reverse("second_factor:verify"), {"stepup_code": "000000"}).status_code == 400
    assert c.get(reverse("transfers:dashboard")).status_code == 302
    ok = c.post(reverse("second_factor:verify"), {"stepup_code": totp_code(requester)})
    assert ok.status_code == 302
    assert c.get(reverse("transfers:dashboard")).status_code == 200
    assert c.session[SESSION_KEY] == "totp"


def test_a_viewer_needs_no_second_factor_unless_the_setting_says_so(main_key_set_db, settings):
    viewer = UserFactory.create(username="vera")
    KeySetGrantFactory.create(key_set=main_key_set_db, user=viewer)
    c = Client()
    password_login(c, viewer)
    assert c.get(reverse("transfers:dashboard")).status_code == 200
    settings.MFA_REQUIRED_FOR_VIEWERS = True
    assert c.get(reverse("transfers:dashboard")).status_code == 302


def test_a_recovery_code_works_once(requester):
    mfa_enrol_totp_for_tests(requester)
    codes = recovery_codes_generate(user=requester)
    proof = stepup_verify(user=requester, data={"stepup_code": codes[0].upper()}, purpose="login")
    assert proof.method == "recovery"
    with pytest.raises(StepUpRefused) as again:
        stepup_verify(user=requester, data={"stepup_code": codes[0]}, purpose="login")
    assert again.value.code == "wrong"
    assert stepup_verify(user=requester, data={"stepup_code": codes[1]}, purpose="login").method == "recovery"


def test_a_totp_code_works_once(requester):
    secret = mfa_enrol_totp_for_tests(requester)
    code = pyotp.TOTP(secret).now()
    stepup_verify(user=requester, data={"stepup_code": code}, purpose="login")
    with pytest.raises(StepUpRefused):
        stepup_verify(user=requester, data={"stepup_code": code}, purpose="login")


def test_no_factor_enrolled_is_refused_as_not_enrolled(requester):
    with pytest.raises(StepUpRefused) as refused:
        stepup_verify(user=requester, data={"stepup_code": "123456"}, purpose="login")
    assert refused.value.code == "not_enrolled"
