"""Variants are versioned: a used version is never edited, in the services or the database."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from campaign.models import AuditEvent
from messaging.models import MessageVariant
from messaging.services import (
    create_variant,
    delete_variant,
    mark_variant_used,
    revise_variant,
    sample_voters,
)
from tests.factories import (
    MessageVariantFactory,
    ScoringRunFactory,
    UserFactory,
    VoterFactory,
    VoterScoreFactory,
)

pytestmark = pytest.mark.django_db

SMS = "Hi {{ voter.first_name }}, it's {{ sender.name }}. Reply STOP to opt out."
FIELDS = ("name", "version", "is_current", "channel", "subject", "body", "html_body", "tags")


def stored(variant: MessageVariant) -> dict:
    return dict(
        zip(FIELDS, MessageVariant.objects.values_list(*FIELDS).get(pk=variant.pk), strict=True)
    )


def test_create_variant_writes_an_unused_current_version_1(campaign):
    author = UserFactory(username="writer")

    variant = create_variant(
        campaign=campaign,
        name=" gotv-sms ",
        channel="sms",
        body=SMS,
        tags=[" young", "gotv", ""],
        by=author,
    )

    assert stored(variant) == {
        "name": "gotv-sms", "version": 1, "is_current": True, "channel": "sms", "subject": "",
        "body": SMS, "html_body": "", "tags": ["young", "gotv"],
    }  # fmt: skip
    assert (variant.is_used, variant.created_by_id) == (False, author.pk)


def test_create_variant_refuses_a_name_the_campaign_has(campaign, other_campaign):
    MessageVariantFactory(campaign=campaign, name="doors")
    MessageVariantFactory(campaign=other_campaign, name="doors-2")

    with pytest.raises(ValidationError) as caught:
        create_variant(campaign=campaign, name="doors", channel="door", body="Hello")
    create_variant(campaign=other_campaign, name="doors", channel="door", body="Hello")

    assert caught.value.message_dict == {
        "name": ["This campaign already has a variant named 'doors'."]
    }
    assert MessageVariant.objects.filter(campaign=campaign).count() == 1


def test_email_needs_a_subject_and_other_channels_have_none(campaign):
    campaign.email_from_name, campaign.email_from_address = "Home", "news@home.example"
    campaign.postal_address = "1 Main St, Durham NC 27701"
    campaign.save()
    with pytest.raises(ValidationError) as email:
        create_variant(campaign=campaign, name="e", channel="email", body="Hi")
    with pytest.raises(ValidationError) as sms:
        create_variant(campaign=campaign, name="s", channel="sms", body="Hi", html_body="<p>Hi</p>")

    assert email.value.message_dict == {"subject": ["An email needs a subject."]}
    assert sms.value.message_dict == {
        "html_body": ["Only an email has a subject and an HTML body."]
    }
    assert MessageVariant.objects.count() == 0


def test_revising_an_unused_variant_edits_it_in_place(campaign):
    variant = MessageVariantFactory(campaign=campaign, name="doors", tags=["a"])

    revised = revise_variant(variant=variant, body="Hello {{ voter.first_name }}", tags=["b"])

    assert revised.pk == variant.pk
    assert stored(revised) == {
        "name": "doors", "version": 1, "is_current": True, "channel": "door", "subject": "",
        "body": "Hello {{ voter.first_name }}", "html_body": "", "tags": ["b"],
    }  # fmt: skip
    assert MessageVariant.objects.count() == 1


def test_revising_a_used_variant_writes_the_next_version_and_keeps_the_used_one(campaign):
    variant = MessageVariantFactory(campaign=campaign, name="doors", body="Old words", tags=["a"])
    mark_variant_used(variant=variant)
    used_at = MessageVariant.objects.get(pk=variant.pk).used_at
    editor = UserFactory(username="editor")

    revised = revise_variant(variant=variant, body="New words", by=editor)

    assert revised.pk != variant.pk
    assert stored(revised) == {
        "name": "doors", "version": 2, "is_current": True, "channel": "door", "subject": "",
        "body": "New words", "html_body": "", "tags": ["a"],
    }  # fmt: skip
    assert (revised.used_at, revised.created_by_id) == (None, editor.pk)
    assert stored(variant) == {
        "name": "doors", "version": 1, "is_current": False, "channel": "door", "subject": "",
        "body": "Old words", "html_body": "", "tags": ["a"],
    }  # fmt: skip
    assert MessageVariant.objects.get(pk=variant.pk).used_at == used_at


def test_revising_goes_by_the_stored_version_not_a_stale_copy(campaign):
    stale = MessageVariantFactory(campaign=campaign, name="doors", body="Pinned")
    mark_variant_used(variant=MessageVariant.objects.get(pk=stale.pk))  # pinned meanwhile

    revised = revise_variant(variant=stale, body="Revised")

    assert stale.used_at is None
    assert list(
        MessageVariant.objects.order_by("version").values_list("version", "is_current", "body")
    ) == [(1, False, "Pinned"), (2, True, "Revised")]
    assert revised.version == 2


def test_revising_with_the_same_words_writes_nothing(campaign):
    variant = MessageVariantFactory(campaign=campaign, used=True, tags=["a"])

    same = revise_variant(variant=variant, body=variant.body, tags=["a", "b"])

    assert same.pk == variant.pk
    assert MessageVariant.objects.count() == 1
    assert stored(variant)["tags"] == ["a", "b"]  # labels change in place, even when used


def test_an_old_version_cannot_be_revised(campaign):
    first = MessageVariantFactory(campaign=campaign, name="doors", used=True)
    revise_variant(variant=first, body="v2")

    with pytest.raises(ValidationError, match="doors v1 is an old version"):
        revise_variant(variant=first, body="v3")

    assert sorted(MessageVariant.objects.values_list("version", "body")) == [
        (1, first.body),
        (2, "v2"),
    ]


def test_a_used_variant_keeps_its_channel(campaign):
    draft = MessageVariantFactory(campaign=campaign, name="draft")
    used = MessageVariantFactory(campaign=campaign, name="used", used=True)

    revise_variant(variant=draft, channel="phone", body=draft.body)
    with pytest.raises(ValidationError) as caught:
        revise_variant(variant=used, channel="phone", body="Other")

    assert caught.value.message_dict == {
        "channel": ["A variant that has been used keeps its channel; make a new one."]
    }
    assert dict(MessageVariant.objects.values_list("name", "channel")) == {
        "draft": "phone",
        "used": "door",
    }


def test_marking_a_variant_used_is_idempotent(campaign):
    variant = MessageVariantFactory(campaign=campaign)

    first = mark_variant_used(variant=variant).used_at
    again = mark_variant_used(variant=MessageVariant.objects.get(pk=variant.pk)).used_at

    assert first is not None
    assert again == first


def test_the_database_refuses_to_edit_or_delete_a_used_version(campaign):
    variant = MessageVariantFactory(campaign=campaign, used=True, body="Pinned words")
    before = stored(variant)

    for change in ({"body": "Edited"}, {"channel": "sms"}, {"used_at": None}, {"version": 7}):
        with (
            pytest.raises(IntegrityError, match="has been used: edit refused"),
            transaction.atomic(),
        ):
            MessageVariant.objects.filter(pk=variant.pk).update(**change)
    with pytest.raises(IntegrityError, match="has been used: DELETE refused"), transaction.atomic():
        MessageVariant.objects.filter(pk=variant.pk).delete()

    assert stored(variant) == before


def test_the_database_lets_a_used_version_be_retired_and_retagged(campaign):
    variant = MessageVariantFactory(campaign=campaign, used=True, tags=["a"])

    MessageVariant.objects.filter(pk=variant.pk).update(is_current=False, tags=["b"])

    assert (stored(variant)["is_current"], stored(variant)["tags"]) == (False, ["b"])


def test_the_database_lets_an_unused_version_be_edited_and_deleted(campaign):
    variant = MessageVariantFactory(campaign=campaign)

    MessageVariant.objects.filter(pk=variant.pk).update(body="Edited")
    assert stored(variant)["body"] == "Edited"
    MessageVariant.objects.filter(pk=variant.pk).delete()

    assert MessageVariant.objects.count() == 0


def test_the_database_keeps_one_current_version_per_name(campaign):
    MessageVariantFactory(campaign=campaign, name="doors")

    with pytest.raises(IntegrityError, match="uniq_current_variant"), transaction.atomic():
        MessageVariantFactory(campaign=campaign, name="doors", version=2)

    assert MessageVariant.objects.count() == 1


def test_deleting_an_unused_revision_makes_the_used_version_current_again(campaign):
    first = MessageVariantFactory(campaign=campaign, name="doors", used=True)
    second = revise_variant(variant=first, body="Second words")

    delete_variant(variant=second)

    assert list(MessageVariant.objects.values_list("version", "is_current")) == [(1, True)]


def test_a_used_version_cannot_be_deleted(campaign):
    first = MessageVariantFactory(campaign=campaign, name="doors", used=True)

    with pytest.raises(ValidationError, match="doors v1 has been used or replaced"):
        delete_variant(variant=first)

    assert MessageVariant.objects.count() == 1


# -- the context of the preview ------------------------------------------------------------------


def test_sample_voters_carry_name_polling_place_and_latest_reasons(campaign, other_campaign):
    shouting = VoterFactory(
        campaign=campaign, voter_id="A1", first_name="MARY-JANE", extra={"polling_place": "Gym"}
    )
    VoterFactory(campaign=campaign, voter_id="A2", first_name="Luis", extra={})
    VoterFactory(campaign=campaign, voter_id="A3", first_name="", extra={})  # no name: skipped
    VoterFactory(campaign=campaign, voter_id="A4", first_name="Old", removed=True)
    VoterFactory(campaign=other_campaign, voter_id="B1", first_name="Other")
    older = ScoringRunFactory(campaign=campaign, finished_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    VoterScoreFactory(run=older, voter=shouting, reasons={"turnout": [["stale reason", 0.9]]})
    latest = ScoringRunFactory(
        campaign=campaign, finished_at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    )
    VoterScoreFactory(
        run=latest,
        voter=shouting,
        reasons={
            "turnout": [["voted in 1 of the last 4 primaries", -0.12], ["age 23", 0.02]],
            "support": [["age 23", 0.05], ["registered dem", 0.30], ["rents", 0.01]],
        },
    )

    samples = sample_voters(campaign=campaign, limit=3)

    assert samples == [
        (
            "A1",
            {
                "voter": {
                    "first_name": "Mary-Jane",
                    "polling_place": "Gym",
                    "talking_points": (
                        "registered dem",
                        "voted in 1 of the last 4 primaries",
                        "age 23",
                    ),
                },
                "sender": {"name": "Home campaign"},
            },
        ),
        (
            "A2",
            {
                "voter": {"first_name": "Luis", "polling_place": "", "talking_points": ()},
                "sender": {"name": "Home campaign"},
            },
        ),
    ]


@pytest.mark.django_db(transaction=True)
def test_two_creations_of_one_name_at_once_give_one_variant_and_a_clear_error(campaign):
    # Given a first creation whose row is written but not yet committed
    written, errors = threading.Event(), []

    def first() -> None:
        with transaction.atomic():
            create_variant(campaign=campaign, name="Doors", channel="door", body="first")
            written.set()
            # Held open while the second creation checks the name (and finds nothing committed)
            # and then waits on the unique index.
            threading.Event().wait(0.5)
        connection.close()

    def second() -> None:
        written.wait(5)
        try:
            create_variant(campaign=campaign, name="Doors", channel="door", body="second")
        except ValidationError as error:
            errors.append(error.message_dict)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    # Then one variant exists, the first, and the second heard why
    assert list(MessageVariant.objects.values_list("name", "body")) == [("Doors", "first")]
    assert errors == [{"name": ["This campaign already has a variant named 'Doors'."]}]


def test_every_write_of_a_variant_is_audited_with_its_version(campaign, staff_user):
    # Given a variant created, edited while unused, used, revised, and its new version deleted
    first = create_variant(
        campaign=campaign, name="Doors", channel="door", body="one", by=staff_user
    )
    revise_variant(variant=first, body="two", by=staff_user)
    mark_variant_used(variant=first)
    second = revise_variant(variant=first, body="three", by=staff_user)
    revise_variant(variant=second, body="three", by=staff_user)  # the same words: no write
    delete_variant(variant=second, by=staff_user)

    # Then each write is one audit event naming the version, by the staff member
    events = AuditEvent.objects.order_by("pk").values_list(
        "action", "object_type", "object_id", "user_id", "detail"
    )
    assert list(events) == [
        ("variant_create", "messaging.messagevariant", str(first.pk), staff_user.pk,
         {"version": 1}),
        ("variant_revise", "messaging.messagevariant", str(first.pk), staff_user.pk,
         {"version": 1, "in_place": True}),
        ("variant_revise", "messaging.messagevariant", str(second.pk), staff_user.pk,
         {"version": 2, "in_place": False}),
        ("variant_delete", "messaging.messagevariant", str(second.pk), staff_user.pk,
         {"version": 2}),
    ]  # fmt: skip


def test_an_email_variant_needs_the_campaign_s_sender_and_postal_address(campaign):
    with pytest.raises(ValidationError) as caught:
        create_variant(campaign=campaign, name="e", channel="email", subject="Hi", body="Hi")

    assert list(caught.value.message_dict) == ["channel"]
    assert MessageVariant.objects.count() == 0
