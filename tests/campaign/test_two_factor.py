"""Two-factor sign-in to the admin (REQUIRE_2FA) and the lockout after failed logins."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
ENROL = "/account/two-factor/"


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


@pytest.fixture
def two_factor(settings):
    settings.REQUIRE_2FA = True


@pytest.fixture
def enrolled(staff_user):
    return TOTPDevice.objects.create(user=staff_user, name="phone", confirmed=True)


def login(client, username: str, password: str = PASSWORD, **extra):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password, **extra}
    )


# -- two factors -------------------------------------------------------------------------------


def test_without_require_2fa_a_password_opens_the_admin(client, staff_user):
    response = login(client, "staffer")

    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_unverified_session_is_kept_out_of_the_admin(client, two_factor, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("admin:voters_voter_changelist"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_user_without_a_device_is_sent_to_enrol_one(client, two_factor, staff_user):
    signed_in = login(client, "staffer")
    index = client.get(reverse("admin:index"))
    login_page = client.get(index.url)

    assert signed_in.status_code == 302
    assert index.status_code == 302
    assert login_page.status_code == 302
    assert login_page.url == ENROL


def test_enrolment_page_carries_the_products_name(client, two_factor, staff_user):
    client.force_login(staff_user)

    page = client.get(ENROL)

    body = page.content.decode()
    assert "<title>Set up two-factor sign-in | Segment One</title>" in body
    assert '<a href="/admin/">Segment One</a>' in body
    assert "Django" not in body


def test_sign_in_with_a_code_carries_the_products_name(client, two_factor):
    page = client.get(reverse("admin:login"))

    body = page.content.decode()
    assert "<title>Log in | Segment One</title>" in body
    assert "Django" not in body


def test_enrolment_shows_a_qr_code_and_confirms_with_a_code(
    client, two_factor, settings, staff_user
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code otherwise delays the next try
    client.force_login(staff_user)

    page = client.get(ENROL)
    device = TOTPDevice.objects.get(user=staff_user)
    wrong = client.post(ENROL, {"token": "000000" if code(device) != "000000" else "111111"})
    right = client.post(ENROL, {"token": code(device)})

    assert page.status_code == 200
    assert b"<svg" in page.content
    assert page.context["secret"] in page.content.decode()
    assert wrong.status_code == 200
    assert wrong.context["form"].errors
    assert right.status_code == 302
    assert right.url == reverse("admin:index")
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get(reverse("admin:index")).status_code == 200


def test_reloading_the_enrolment_page_keeps_the_same_secret(client, two_factor, staff_user):
    client.force_login(staff_user)

    first = client.get(ENROL).context["secret"]
    second = client.get(ENROL).context["secret"]

    assert first == second
    assert TOTPDevice.objects.filter(user=staff_user).count() == 1


def test_enrolled_user_cannot_enrol_another_device_unverified(
    client, two_factor, staff_user, enrolled
):
    client.force_login(staff_user)

    response = client.get(ENROL)

    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=staff_user).count() == 1


def test_enrolled_user_needs_the_code_to_sign_in(client, two_factor, staff_user, enrolled):
    without = login(client, "staffer")
    assert without.status_code == 200  # the form again
    assert client.get(reverse("admin:index")).status_code == 302

    with_code = login(
        client, "staffer", otp_device=enrolled.persistent_id, otp_token=code(enrolled)
    )

    assert with_code.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_wrong_code_is_refused(client, two_factor, staff_user, enrolled):
    wrong = "000000" if code(enrolled) != "000000" else "111111"

    response = login(client, "staffer", otp_device=enrolled.persistent_id, otp_token=wrong)

    assert response.status_code == 200
    assert client.get(reverse("admin:index")).status_code == 302


def test_unverified_session_does_not_open_the_api(client, two_factor, staff_user):
    client.force_login(staff_user)

    response = client.get("/api/v1/voters")

    assert response.status_code == 401


def test_verified_session_opens_the_api(client, two_factor, staff_user, enrolled):
    login(client, "staffer", otp_device=enrolled.persistent_id, otp_token=code(enrolled))

    response = client.get("/api/v1/voters")

    assert response.status_code == 200


def test_non_staff_user_cannot_enrol(client, two_factor, campaign):
    client.force_login(UserFactory(username="volunteer", is_staff=False))

    assert client.get(ENROL).status_code == 403


# -- lockout -----------------------------------------------------------------------------------


@pytest.fixture
def axes_on(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5


def test_five_failed_logins_lock_the_account_out(client, axes_on, staff_user):
    failures = [login(client, "staffer", "wrong").status_code for _ in range(5)]

    locked = login(client, "staffer")

    assert failures == [200, 200, 200, 200, 429]
    assert locked.status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302


def test_four_failures_then_success_resets_the_count(client, axes_on, staff_user):
    for _ in range(4):
        login(client, "staffer", "wrong")

    assert login(client, "staffer").status_code == 302
    client.logout()
    for _ in range(4):
        login(client, "staffer", "wrong")
    assert login(client, "staffer").status_code == 302


def test_lockout_lifts_after_an_hour(client, axes_on, staff_user):
    from axes.models import AccessAttempt

    for _ in range(5):
        login(client, "staffer", "wrong")
    assert login(client, "staffer").status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(hours=1, minutes=1))

    assert login(client, "staffer").status_code == 302


def test_failure_limit_is_configurable(client, axes_on, settings, staff_user):
    settings.AXES_FAILURE_LIMIT = 2

    codes = [login(client, "staffer", "wrong").status_code for _ in range(2)]

    assert codes == [200, 429]
    assert login(client, "staffer").status_code == 429


def test_a_token_is_no_way_around_the_second_factor(client, two_factor, staff_user):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=staff_user)
    header = {"HTTP_AUTHORIZATION": f"Token {token.key}"}

    refused = client.get("/api/v1/voters", **header)
    TOTPDevice.objects.create(user=staff_user, name="phone", confirmed=True)
    accepted = client.get("/api/v1/voters", **header)

    assert refused.status_code == 401
    assert "two-factor" in refused.json()["detail"]
    assert accepted.status_code == 200
