"""An audit row for each audited action, and the read-only, campaign-scoped audit log admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaign.models import AuditEvent, Role
from campaign.services import (
    add_member,
    change_role,
    create_vendor_key,
    remove_member,
    revoke_vendor_key,
)
from tests.factories import AuditEventFactory, UserFactory, VoterFactory
from voters.consent import record_opt_in, record_opt_out

pytestmark = pytest.mark.django_db


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


# -- one row per audited action ----------------------------------------------------------------


def test_finished_import_is_audited_with_its_row_count(campaign, staff_user, tmp_path):
    from voters.services import import_voter_file

    path = tmp_path / "voters.csv"
    path.write_text("voter_id,last_name\nA1,Smith\nA2,Jones\n")

    run = import_voter_file(campaign=campaign, paths=[path], user=staff_user)

    event = AuditEvent.objects.get(action="import")
    assert (event.campaign_id, event.user, event.object_id, event.row_count) == (
        campaign.pk,
        staff_user,
        str(run.pk),
        2,
    )


def test_voter_export_is_audited(client, campaign, make_member):
    voters = VoterFactory.create_batch(3, campaign=campaign)
    user = make_member(campaign, Role.ADMIN)
    client.force_login(user)

    response = client.post(
        reverse("admin:voters_voter_changelist"),
        {"action": "export_csv", "_selected_action": [v.pk for v in voters]},
    )
    b"".join(response.streaming_content)

    event = AuditEvent.objects.get(action="export")
    assert (event.campaign_id, event.user, event.row_count, event.client_ip) == (
        campaign.pk,
        user,
        3,
        "127.0.0.1",
    )


def test_staff_consent_changes_are_audited(campaign, staff_user):
    voter = VoterFactory(campaign=campaign, phone="+19195550140")

    record_opt_out(
        campaign=campaign,
        channel="sms",
        address=voter.phone,
        source="staff",
        voter=voter,
        user=staff_user,
        client_ip="10.1.2.3",
    )
    record_opt_in(
        campaign=campaign,
        channel="sms",
        address=voter.phone,
        source="staff",
        voter=voter,
        user=staff_user,
        reason="asked on the phone to be texted again",
    )
    record_opt_out(campaign=campaign, channel="sms", address=voter.phone, source="stop_reply")

    events = AuditEvent.objects.order_by("id")
    assert [(e.action, e.user, e.detail["kind"]) for e in events] == [
        ("consent_change", staff_user, "opt_out"),
        ("consent_change", staff_user, "opt_in"),
    ]
    assert events[0].client_ip == "10.1.2.3"


def test_staff_consent_change_from_the_voter_page_is_audited(client, campaign, make_member):
    voter = VoterFactory(campaign=campaign, phone="+19195550141")
    url = reverse("admin:voters_voter_consent", args=[voter.pk])
    client.force_login(make_member(campaign, Role.STAFF))

    client.post(url, {"channel": "sms", "kind": "opt_out", "reason": "asked at the door"})

    event = AuditEvent.objects.get()
    assert (event.action, event.campaign_id, event.client_ip) == (
        "consent_change",
        campaign.pk,
        "127.0.0.1",
    )


def test_membership_add_change_and_remove_are_audited(campaign):
    boss = UserFactory(username="boss")
    membership = add_member(campaign=campaign, user=UserFactory(), role=Role.STAFF, by=boss)
    change_role(membership=membership, role=Role.ADMIN, by=boss)
    remove_member(membership=membership, by=boss)

    assert actions() == ["membership_add", "membership_change", "membership_remove"]
    assert set(AuditEvent.objects.values_list("user", flat=True)) == {boss.pk}


def test_vendor_key_create_and_revoke_are_audited(campaign):
    boss = UserFactory(username="boss")

    key, full_key = create_vendor_key(campaign=campaign, name="Acme", user=boss, client_ip="::1")
    revoke_vendor_key(key=key, user=boss)

    events = AuditEvent.objects.order_by("id")
    assert actions() == ["vendor_key_create", "vendor_key_revoke"]
    assert [(e.object_id, e.campaign_id, e.user) for e in events] == [
        (str(key.pk), campaign.pk, boss),
        (str(key.pk), campaign.pk, boss),
    ]
    assert events[0].client_ip == "::1"
    assert not any(full_key in str(e.detail) for e in events)


# -- the audit log in the admin ----------------------------------------------------------------


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def test_audit_log_is_read_only_even_for_a_superuser(superuser_client, campaign):
    event = AuditEventFactory(campaign=campaign)
    change_url = reverse("admin:campaign_auditevent_change", args=[event.pk])

    page = superuser_client.get(change_url)
    add = superuser_client.get(reverse("admin:campaign_auditevent_add"))
    post = superuser_client.post(change_url, {"action": "import"})
    delete = superuser_client.post(
        reverse("admin:campaign_auditevent_delete", args=[event.pk]), {"post": "yes"}
    )
    changelist = superuser_client.get(reverse("admin:campaign_auditevent_changelist"))

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert (add.status_code, post.status_code, delete.status_code) == (403, 403, 403)
    assert "delete_selected" not in changelist.context["cl"].model_admin.get_actions(
        changelist.wsgi_request
    )
    assert AuditEvent.objects.get(pk=event.pk).action == "export"


def test_campaign_admin_sees_only_own_campaigns_events(
    client, campaign, other_campaign, make_member
):
    own = AuditEventFactory(campaign=campaign)
    AuditEventFactory(campaign=other_campaign)
    AuditEventFactory(campaign=None)
    client.force_login(make_member(campaign, Role.ADMIN))

    response = client.get(reverse("admin:campaign_auditevent_changelist"))

    assert [e.pk for e in response.context["cl"].result_list] == [own.pk]


def test_audit_log_filters_by_action(superuser_client, campaign):
    export = AuditEventFactory(campaign=campaign, action="export")
    AuditEventFactory(campaign=campaign, action="import")

    response = superuser_client.get(
        reverse("admin:campaign_auditevent_changelist"), {"action__exact": "export"}
    )

    assert [e.pk for e in response.context["cl"].result_list] == [export.pk]


def test_audit_log_filters_by_date(superuser_client, campaign):
    import datetime as dt

    event = AuditEventFactory(campaign=campaign)
    day = event.at.date()
    url = reverse("admin:campaign_auditevent_changelist")

    same_day = superuser_client.get(
        url, {"at__year": day.year, "at__month": day.month, "at__day": day.day}
    )
    day_before = day - dt.timedelta(days=1)
    other_day = superuser_client.get(
        url,
        {"at__year": day_before.year, "at__month": day_before.month, "at__day": day_before.day},
    )

    assert [e.pk for e in same_day.context["cl"].result_list] == [event.pk]
    assert list(other_day.context["cl"].result_list) == []


def test_audit_changelist_query_count_does_not_grow_with_rows(
    client, campaign, make_member, django_assert_num_queries
):
    client.force_login(make_member(campaign, Role.ADMIN))
    url = reverse("admin:campaign_auditevent_changelist")
    AuditEventFactory(campaign=campaign, user=UserFactory())
    client.get(url)

    # session, user, memberships, count, two permission look-ups, rows with campaign and user,
    # and the date hierarchy's range and days
    with django_assert_num_queries(9):
        client.get(url)
    for _ in range(5):
        AuditEventFactory(campaign=campaign, user=UserFactory())
    with django_assert_num_queries(9):
        client.get(url)


def test_audit_log_list_shows_six_columns_that_fit_a_laptop(superuser_client, campaign):
    response = superuser_client.get(reverse("admin:campaign_auditevent_changelist"))

    headers = [h["text"] for h in response.context["result_headers"]]
    assert headers == ["at", "action", "who", "object", "rows", "campaign"]


def test_audit_log_names_object_types_in_words_and_counts_rows_with_separators(
    superuser_client, campaign
):
    AuditEventFactory(
        campaign=campaign, object_type="voters.voter", object_id="17", row_count=1234567
    )
    AuditEventFactory(campaign=campaign, object_type="voters.consentevent", object_id="3")
    AuditEventFactory(campaign=campaign, object_type="campaign.vendorapikey", object_id="9")
    AuditEventFactory(campaign=campaign, object_type="gone.model", object_id="4", row_count=None)

    response = superuser_client.get(reverse("admin:campaign_auditevent_changelist"))

    admin = response.context["cl"].model_admin
    events = response.context["cl"].result_list
    assert [admin.object(e) for e in events] == [
        "gone.model 4",
        "Vendor API key 9",
        "Consent event 3",
        "Voter 17",
    ]
    assert [admin.rows(e) for e in events] == ["", "10", "10", "1,234,567"]
    body = response.content.decode()
    assert "Consent event 3" in body
    assert "1,234,567" in body
    assert "voters.consentevent" not in body


def test_audit_event_page_names_the_object_in_words(superuser_client, campaign):
    event = AuditEventFactory(campaign=campaign, object_type="voters.voter", object_id="17")

    page = superuser_client.get(reverse("admin:campaign_auditevent_change", args=[event.pk]))

    body = page.content.decode()
    assert "Voter 17" in body
    assert "voters.voter" not in body
