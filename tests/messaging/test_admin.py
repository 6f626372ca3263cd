"""Message variants in the admin: tenancy, writes through the services, the preview."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from messaging.models import MessageVariant
from messaging.services import mark_variant_used
from tests.factories import (
    MessageVariantFactory,
    ScoringRunFactory,
    VoterFactory,
    VoterScoreFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:messaging_messagevariant_changelist")
ADD = reverse("admin:messaging_messagevariant_add")
# session, user, memberships, the capped count, the page of rows with their campaigns, and the
# user's Django permissions (user, group), which the sidebar asks for the auth app's models
CHANGELIST_QUERIES = 7
OPT_OUT_WARNING = (
    "This text opens a conversation but does not say how to opt out: add e.g. "
    "'Reply STOP to opt out'."
)


def change_url(variant: MessageVariant) -> str:
    return reverse("admin:messaging_messagevariant_change", args=[variant.pk])


def form_data(**values) -> dict:
    data = {"channel": "door", "subject": "", "body": "", "html_body": "", "tags": ""}
    data.update(values)
    return data


def test_another_campaigns_variant_is_a_404_and_never_listed(
    staff_client, campaign, other_campaign
):
    own = MessageVariantFactory(campaign=campaign)
    foreign = MessageVariantFactory(campaign=other_campaign, sms=True)

    listed = staff_client.get(CHANGELIST)

    assert [v.pk for v in listed.context["cl"].result_list] == [own.pk]
    assert staff_client.get(change_url(foreign)).status_code == 404
    assert staff_client.post(change_url(foreign), form_data(body="Hijack")).status_code == 404
    assert (
        staff_client.post(
            reverse("admin:messaging_messagevariant_delete", args=[foreign.pk]), {"post": "yes"}
        ).status_code
        == 404
    )
    assert MessageVariant.objects.get(pk=foreign.pk).body == foreign.body


def test_a_staff_member_cannot_add_a_variant_to_another_campaign(staff_client, other_campaign):
    response = staff_client.post(
        ADD, form_data(campaign=other_campaign.pk, name="sneaky", body="Hi")
    )

    assert response.status_code == 200
    assert "campaign" in response.context["adminform"].form.errors
    assert MessageVariant.objects.count() == 0


def test_the_changelist_costs_the_same_queries_for_many_variants(
    staff_client, campaign, django_assert_num_queries
):
    MessageVariantFactory.create_batch(5, campaign=campaign)

    with django_assert_num_queries(CHANGELIST_QUERIES):
        response = staff_client.get(CHANGELIST)

    assert len(response.context["cl"].result_list) == 5


def test_staff_add_a_variant_through_the_service(staff_client, staff_user, campaign):
    response = staff_client.post(
        ADD,
        form_data(
            campaign=campaign.pk,
            name="gotv",
            channel="sms",
            body="Hi {{ voter.first_name }}! Reply STOP to opt out.",
            is_first_message="on",
            tags="gotv, young, gotv",
        ),
    )

    variant = MessageVariant.objects.get()
    assert response.status_code == 302
    assert (variant.name, variant.version, variant.channel, variant.tags, variant.created_by) == (
        "gotv",
        1,
        "sms",
        ["gotv", "young"],
        staff_user,
    )


def test_a_template_reaching_outside_its_context_is_a_form_error(staff_client, campaign):
    response = staff_client.post(
        ADD, form_data(campaign=campaign.pk, name="leak", body="Key:\n{{ settings.SECRET_KEY }}")
    )

    errors = response.context["adminform"].form.errors
    assert response.status_code == 200
    assert errors["body"] == [
        "variant 'leak', body line 2: {{ settings.SECRET_KEY }} is not in the message context; "
        "a template sees only voter.first_name, voter.polling_place, voter.talking_points, "
        "sender.name"
    ]
    assert MessageVariant.objects.count() == 0


def test_editing_an_unused_variant_changes_it_in_place(staff_client, campaign):
    variant = MessageVariantFactory(campaign=campaign, name="doors")

    response = staff_client.post(change_url(variant), form_data(body="New script", tags="a"))

    assert response.status_code == 302
    assert list(MessageVariant.objects.values_list("pk", "version", "body", "tags")) == [
        (variant.pk, 1, "New script", ["a"])
    ]


def test_editing_a_used_variant_makes_version_2_and_leaves_version_1(staff_client, campaign):
    variant = MessageVariantFactory(campaign=campaign, name="doors", body="Pinned")
    mark_variant_used(variant=variant)

    response = staff_client.post(change_url(variant), {"body": "Revised", "tags": ""})

    new = MessageVariant.objects.get(is_current=True)
    assert response.status_code == 302
    assert response["Location"] == change_url(new)
    assert list(
        MessageVariant.objects.order_by("version").values_list("version", "is_current", "body")
    ) == [
        (1, False, "Pinned"),
        (2, True, "Revised"),
    ]


def test_an_old_version_is_read_only(staff_client, campaign):
    first = MessageVariantFactory(campaign=campaign, name="doors", body="Pinned", used=True)
    staff_client.post(change_url(first), {"body": "Revised", "tags": ""})

    page = staff_client.get(change_url(first))
    again = staff_client.post(change_url(first), {"body": "Again", "tags": ""})

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert again.status_code == 403
    assert sorted(MessageVariant.objects.values_list("version", "body")) == [
        (1, "Pinned"),
        (2, "Revised"),
    ]


def test_a_viewer_reads_but_cannot_edit(client, campaign, make_member):
    variant = MessageVariantFactory(campaign=campaign, sms=True)
    client.force_login(make_member(campaign, "viewer"))

    page = client.get(change_url(variant))
    edit = client.post(change_url(variant), form_data(channel="sms", body="Changed"))

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert edit.status_code == 403
    assert MessageVariant.objects.get().body == variant.body


def test_preview_renders_for_an_example_and_sample_voters_with_their_reasons(
    staff_client, campaign
):
    voter = VoterFactory(
        campaign=campaign, voter_id="NC1", first_name="ROSA", phone="+19195550100",
        email="rosa@example.org", extra={"polling_place": "Fire Station 4"},
    )  # fmt: skip
    run = ScoringRunFactory(campaign=campaign)
    VoterScoreFactory(run=run, voter=voter, reasons={"turnout": [["age 23", 0.04]]})
    variant = MessageVariantFactory(
        campaign=campaign,
        body="Hi {{ voter.first_name }} at {{ voter.polling_place }}: "
        "{{ voter.talking_points|join:'; ' }}",
    )

    html = staff_client.get(change_url(variant)).content.decode()

    assert (
        "Hi Alex at Lincoln Elementary School, 200 Oak St: "
        "voted in 3 of the last 4 general elections; age 34" in html
    )
    assert "Hi Rosa at Fire Station 4: age 23" in html
    assert "NC1" in html
    assert "+19195550100" not in html
    assert "rosa@example.org" not in html


def test_preview_of_a_text_shows_length_encoding_segments_and_the_opt_out_warning(
    staff_client, campaign
):
    variant = MessageVariantFactory(
        campaign=campaign, channel="sms", body="Hi {{ voter.first_name }}, vote Tuesday! 🗳"
    )

    response = staff_client.get(change_url(variant))
    html = response.content.decode()

    # The example voter "Alex": 24 characters, the ballot box (an emoji) two UTF-16 units.
    assert "<td>24 (25 UTF-16 units)</td><td>UCS-2</td><td>1 (of 70 each)</td>" in html
    assert escape(OPT_OUT_WARNING) in html
    assert "Characters outside GSM-7 (🗳) send the text as UCS-2" in html


def test_a_text_with_opt_out_language_has_no_warning(staff_client, campaign):
    variant = MessageVariantFactory(campaign=campaign, sms=True)

    html = staff_client.get(change_url(variant)).content.decode()

    assert escape(OPT_OUT_WARNING) not in html
    assert "No warnings." in html
    assert "<td>GSM-7</td>" in html


def test_saving_a_first_text_without_opt_out_language_warns(staff_client, campaign):
    response = staff_client.post(
        ADD,
        form_data(
            campaign=campaign.pk, name="t", channel="sms", body="Vote!", is_first_message="on"
        ),
        follow=True,
    )

    url = change_url(MessageVariant.objects.get())
    assert [m.message for m in response.context["messages"]] == [
        OPT_OUT_WARNING,
        f'The message variant “<a href="{url}">t v1</a>” was added successfully.',
    ]


def test_preview_of_an_email_shows_subject_text_and_sandboxed_html(staff_client, campaign):
    variant = MessageVariantFactory(campaign=campaign, email=True)

    html = staff_client.get(change_url(variant)).content.decode()

    assert "<td>Alex, your polling place</td>" in html
    assert "Vote at Lincoln Elementary School, 200 Oak St." in html
    assert (
        '<iframe sandbox srcdoc="&lt;p&gt;Vote at Lincoln Elementary School, 200 Oak St.&lt;/p&gt;"'
        in html
    )


def test_a_used_version_cannot_be_deleted_in_the_admin(staff_client, campaign):
    variant = MessageVariantFactory(campaign=campaign, used=True)
    delete = reverse("admin:messaging_messagevariant_delete", args=[variant.pk])

    response = staff_client.post(delete, {"post": "yes"})

    assert response.status_code == 403
    assert MessageVariant.objects.count() == 1


def test_the_preview_shows_markup_in_a_template_as_text(staff_client, campaign):
    script = MessageVariantFactory(campaign=campaign, body="<script>alert(1)</script>")
    email = MessageVariantFactory(
        campaign=campaign, email=True, html_body='<a href="https://x.example">"Vote"</a>'
    )

    script_page = staff_client.get(change_url(script)).content.decode()
    email_page = staff_client.get(change_url(email)).content.decode()

    assert "<script>alert(1)</script>" not in script_page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</pre>" in script_page
    assert (
        '<iframe sandbox srcdoc="&lt;a href=&quot;https://x.example&quot;&gt;&quot;Vote&quot;'
        '&lt;/a&gt;"' in email_page
    )
