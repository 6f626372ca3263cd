"""Contact-history imports (generic and VAN): counts equal the delta, re-imports add nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from voters import layouts
from voters.contact_importers import load_contact_codes
from voters.contacts import contact_dedupe_key
from voters.importers import ImportFailed
from voters.models import (
    RESULTS_BY_CHANNEL,
    Assignment,
    CodeMapping,
    ConsentEvent,
    ContactAttempt,
    ImportRun,
    Program,
    ProgramArm,
    RejectedRow,
    SurveyResponse,
    Voter,
)
from voters.services import import_contact_history, import_program_assignments, import_voter_file

UTC = dt.UTC
VOTER_HEADER = "voter_id,first_name,last_name,address,city,zip,phone,email,VANID"
VOTERS = [
    "A1,Ann,Lee,12 Oak St,Durham,27701,919-555-0101,ann@example.org,101",
    "A2,Bob,Lee,12 Oak St,Durham,27701,,,102",
    "A3,Cy,Diaz,5 Elm Ave,Durham,27705,919-555-0103,CY@Example.org,103",
]
CONTACT_HEADER = "voter_id,occurred_at,channel,result,program,arm,variant,question,answer,canvasser"
CONTACTS = [
    "A1,2024-10-05 14:00,door,contacted,Fall GOTV,Control,,support,1 - Strong support,Pat",
    "A2,10/05/2024,phone,not_home,,,,,,",
    "A3,2024-10-06T09:30:00-04:00,sms,opted_out,Fall GOTV,early-vote,early-vote,,,",
    "ZZ9,2024-10-05,door,contacted,,,,,,",
]
VAN_CONTACT_HEADER = [
    "Voter File VANID", "Contact Name", "Date Canvassed", "Result", "Contact Type",
    "Canvassed By", "Created By", "Date Created", "Input Type Name", "MiniVAN Campaign",
]  # fmt: skip
VAN_SURVEY_HEADER = [
    "Voter File VANID", "Contact Name", "Date Canvassed", "Survey Response",
    "Survey Question Name", "Survey Question Type", "Canvassed By", "Contact Type",
]  # fmt: skip
SECRET_NAME = "Zebulon Quixote"


def write(tmp_path: Path, name: str, header: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def write_van(tmp_path: Path, name: str, header: list[str], rows: list[list[str]], **kw) -> Path:
    """A VAN report export: tab-separated UTF-16 with a BOM and CRLF, named .xls."""
    path = tmp_path / name
    text = "".join("\t".join(cells) + "\r\n" for cells in [header, *rows])
    path.write_bytes(text.encode(kw.get("encoding", "utf-16")))
    return path


def contacts(campaign) -> list[tuple]:
    return list(
        ContactAttempt.objects.filter(campaign=campaign)
        .order_by("voter__voter_id", "occurred_at", "channel")
        .values_list(
            "voter__voter_id", "channel", "occurred_at", "result", "result_raw", "program__name",
            "arm__name", "variant", "canvasser", "source",
        )
    )  # fmt: skip


def responses(campaign) -> list[tuple]:
    return list(
        SurveyResponse.objects.filter(campaign=campaign)
        .order_by("voter__voter_id", "answered_at")
        .values_list(
            "voter__voter_id", "question__slug", "option__code", "answered_at",
            "contact_attempt__channel", "contact_attempt__result", "source",
        )
    )  # fmt: skip


def opt_outs(campaign) -> list[tuple]:
    return list(
        ConsentEvent.objects.filter(campaign=campaign)
        .order_by("channel", "address")
        .values_list("channel", "address", "kind", "source", "voter__voter_id", "occurred_at")
    )


def table_counts(campaign) -> dict[str, int]:
    return {
        "contacts": ContactAttempt.objects.filter(campaign=campaign).count(),
        "responses": SurveyResponse.objects.filter(campaign=campaign).count(),
        "consent": ConsentEvent.objects.filter(campaign=campaign).count(),
        "programs": Program.objects.filter(campaign=campaign).count(),
        "arms": ProgramArm.objects.filter(program__campaign=campaign).count(),
        "assignments": Assignment.objects.filter(campaign=campaign).count(),
    }


NOTHING = {"contacts": 0, "responses": 0, "consent": 0, "programs": 0, "arms": 0, "assignments": 0}


@pytest.fixture
def voters(campaign, other_campaign, tmp_path):
    path = write(tmp_path, "voters.csv", VOTER_HEADER, VOTERS)
    import_voter_file(campaign=campaign, paths=[path])
    # The rival campaign has the same voter ids: nothing imported into ours may reach it.
    import_voter_file(campaign=other_campaign, paths=[path])
    return path


@pytest.fixture
def contact_file(tmp_path):
    return write(tmp_path, "contacts.csv", CONTACT_HEADER, CONTACTS)


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Generic files
# --------------------------------------------------------------------------------------------


def test_generic_import_adds_contacts_responses_programs_and_opt_outs(
    campaign, other_campaign, voters, contact_file
):
    run = import_contact_history(campaign=campaign, paths=[contact_file])

    assert (run.status, run.kind, run.rows_read, run.created, run.duplicates) == (
        "succeeded", "contacts", 4, 3, 0,
    )  # fmt: skip
    assert (run.orphaned, run.rejected) == (1, 0)
    assert run.counts == {
        "contacts_created": 3, "contacts_on_record": 0, "responses_created": 1,
        "responses_on_record": 0, "opt_outs_created": 1, "opt_outs_without_address": 0,
        "programs_created": 1, "arms_created": 2,
    }  # fmt: skip
    # Naive times are in the campaign's zone (New York, EDT in October); a bare date is midnight.
    assert contacts(campaign) == [
        ("A1", "door", at(2024, 10, 5, 18), "contacted", "contacted", "Fall GOTV", "control",
         None, "Pat", "import"),
        ("A2", "phone", at(2024, 10, 5, 4), "not_home", "not_home", None, None, None, None,
         "import"),
        ("A3", "sms", at(2024, 10, 6, 13, 30), "opted_out", "opted_out", "Fall GOTV",
         "early-vote", "early-vote", None, "import"),
    ]  # fmt: skip
    assert responses(campaign) == [
        ("A1", "support", "1", at(2024, 10, 5, 18), "door", "contacted", "import")
    ]
    program = Program.objects.get(campaign=campaign, name="Fall GOTV")
    assert sorted(program.arms.values_list("name", "is_control")) == [
        ("control", True), ("early-vote", False),
    ]  # fmt: skip
    assert opt_outs(campaign) == [
        ("sms", "+19195550103", "opt_out", "import", "A3", at(2024, 10, 6, 13, 30))
    ]
    assert list(Voter.objects.for_campaign(campaign).contactable("sms").order_by("voter_id")
                .values_list("voter_id", flat=True)) == ["A1"]  # fmt: skip
    assert run.summary() == (
        "4 rows read: 3 contacts and 1 survey responses added, 0 already on record, "
        "1 for unknown voters, 0 rejected; 1 opt-outs, 1 new programs, 2 new arms"
    )
    assert table_counts(other_campaign) == NOTHING


def test_imported_contacts_share_the_dedupe_key_of_contacts_recorded_by_hand(
    campaign, voters, contact_file
):
    import_contact_history(campaign=campaign, paths=[contact_file])

    for contact in ContactAttempt.objects.filter(campaign=campaign):
        assert contact.dedupe_key == contact_dedupe_key(
            voter_id=contact.voter_id, channel=contact.channel, occurred_at=contact.occurred_at,
            result=contact.result, program_id=contact.program_id, arm_id=contact.arm_id,
            variant=contact.variant or "", canvasser=contact.canvasser or "",
        )  # fmt: skip


def test_reimport_of_the_same_contacts_adds_nothing(campaign, voters, contact_file):
    import_contact_history(campaign=campaign, paths=[contact_file])
    before = (contacts(campaign), responses(campaign), opt_outs(campaign), table_counts(campaign))

    run = import_contact_history(campaign=campaign, paths=[contact_file])

    assert (run.rows_read, run.created, run.duplicates, run.orphaned) == (4, 0, 4, 1)
    assert run.counts == {
        "contacts_created": 0, "contacts_on_record": 3, "responses_created": 0,
        "responses_on_record": 1, "opt_outs_created": 0, "opt_outs_without_address": 0,
        "programs_created": 0, "arms_created": 0,
    }  # fmt: skip
    after = (contacts(campaign), responses(campaign), opt_outs(campaign), table_counts(campaign))
    assert after == before


def test_counts_equal_the_database_delta_when_a_file_overlaps_the_last(
    campaign, voters, contact_file, tmp_path
):
    import_contact_history(campaign=campaign, paths=[contact_file])
    before = table_counts(campaign)
    more = write(
        tmp_path,
        "more.csv",
        CONTACT_HEADER,
        [
            *CONTACTS[:2],  # on record
            # New arm; "do not contact" at the door closes every channel A2 has an address on.
            "A2,2024-10-07 10:00,door,opted_out,Fall GOTV,late,,,,",
            "A1,2024-10-07 10:00,email,opted_out,,,,,,",  # email opt-out, lower-cased
            # The same line twice: two attempts, each with its opt-out (issue 11).
            "A1,2024-10-07 10:00,email,opted_out,,,,,,",
            "A2,2024-10-08 10:00,sms,opted_out,,,,,,",  # no phone: nothing to opt out
        ],
    )

    run = import_contact_history(campaign=campaign, paths=[more])

    after = table_counts(campaign)
    assert after["contacts"] - before["contacts"] == run.created == 4
    assert after["consent"] - before["consent"] == run.counts["opt_outs_created"] == 4
    assert after["arms"] - before["arms"] == run.counts["arms_created"] == 1
    # A2 has no phone or email: the door opt-out's sms, phone and email, and the sms line.
    assert (run.counts["contacts_on_record"], run.counts["opt_outs_without_address"]) == (2, 4)
    a2 = Voter.objects.get(campaign=campaign, voter_id="A2")
    ledger = ConsentEvent.objects.filter(campaign=campaign).values_list("channel", "address")
    assert sorted(ledger) == [
        ("door", f"voter:{a2.pk}"), ("email", "ann@example.org"), ("email", "ann@example.org"),
        ("mail", f"voter:{a2.pk}"), ("sms", "+19195550103"),
    ]  # fmt: skip
    assert not Voter.objects.for_campaign(campaign).contactable("door").filter(pk=a2.pk).exists()


def test_a_survey_only_row_links_to_the_contact_of_that_voter_day_and_channel(
    campaign, voters, contact_file, tmp_path
):
    import_contact_history(campaign=campaign, paths=[contact_file])
    answers = write(
        tmp_path,
        "answers.csv",
        "voter_id,occurred_at,channel,question,answer",
        [
            "A1,10/05/2024 9:15 PM,door,support,Lean support",  # same local day as the knock
            "A1,2024-10-06,door,support,2",  # the next day: no contact
            "A2,2024-10-05 11:00,phone,support,3",  # a not-home call that day
        ],
    )

    run = import_contact_history(campaign=campaign, paths=[answers])

    assert (run.created, run.counts["responses_created"]) == (0, 3)
    assert responses(campaign) == [
        ("A1", "support", "1", at(2024, 10, 5, 18), "door", "contacted", "import"),
        ("A1", "support", "2", at(2024, 10, 6, 1, 15), "door", "contacted", "import"),
        ("A1", "support", "2", at(2024, 10, 6, 4), None, None, "import"),
        ("A2", "support", "3", at(2024, 10, 5, 15), "phone", "not_home", "import"),
    ]


BAD_ROWS = [
    (",2024-10-05,door,contacted,,,,,,", "voter_id", "required"),
    ("A1,,door,contacted,,,,,,", "occurred_at", "required"),
    ("A1,yesterday,door,contacted,,,,,,", "occurred_at",
     "unrecognized date or time 'yesterday' (expected YYYY-MM-DD or MM/DD/YYYY, optionally with a "
     "time)"),
    ("A1,2024-02-30,door,contacted,,,,,,", "occurred_at", "impossible date or time '2024-02-30'"),
    ("A1,2024-03-10 02:30,door,contacted,,,,,,", "occurred_at",
     "'2024-03-10 02:30' does not exist in America/New_York (the clocks went forward)"),
    ("A1,2024-10-05,fax,contacted,,,,,,", "channel",
     "unknown channel 'fax'; expected one of door, email, mail, phone, sms"),
    ("A1,2024-10-05,door,maybe,,,,,,", "result",
     "unknown result 'maybe'; expected one of bounced, contacted, deceased, delivered, failed, "
     "inaccessible, moved, not_home, opted_out, refused, replied, wrong_number"),
    ("A1,2024-10-05,email,not_home,,,,,,", "result",
     "result 'not_home' is not allowed on channel 'email'"),
    ("A1,2024-10-05,door,,,,,,,", "result", "required (or a survey question and answer)"),
    ("A1,2024-10-05,door,contacted,,,,favorite-color,blue,", "question",
     "unknown survey question 'favorite-color'"),
    ("A1,2024-10-05,door,contacted,,,,support,7,", "answer",
     "'7' is not an answer to survey question 'support'"),
    ("A1,2024-10-05,door,contacted,,,,support,,", "answer", "required with a question"),
    ("A1,2024-10-05,door,contacted,,control,,,,", "program", "required with an arm"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "field", "reason"), BAD_ROWS)
def test_strict_import_with_a_bad_row_commits_nothing(campaign, voters, tmp_path, line, field,
                                                      reason):  # fmt: skip
    path = write(tmp_path, "bad.csv", CONTACT_HEADER, [CONTACTS[0], line])

    with pytest.raises(ImportFailed) as failure:
        import_contact_history(campaign=campaign, paths=[path])

    [reject] = failure.value.rejects
    assert (reject.line_number, reject.raw, [(e.field, e.reason) for e in reject.errors]) == (
        3, line, [(field, reason)],
    )  # fmt: skip
    assert table_counts(campaign) == NOTHING
    run = ImportRun.objects.get(kind="contacts")
    assert (run.status, run.rejected) == ("failed", 1)
    assert run.error == "1 bad row in a strict import; nothing was imported"


@pytest.mark.parametrize(("line", "field", "reason"), BAD_ROWS)
def test_quarantine_import_keeps_good_rows_and_the_bad_ones_reason(
    campaign, voters, tmp_path, line, field, reason
):
    path = write(tmp_path, "bad.csv", CONTACT_HEADER, [CONTACTS[0], line])

    run = import_contact_history(campaign=campaign, paths=[path], mode="quarantine")

    assert (run.status, run.rows_read, run.created, run.rejected) == ("succeeded", 2, 1, 1)
    assert list(RejectedRow.objects.filter(import_run=run).values_list(
        "file_name", "line_number", "raw", "errors")) == [
        ("bad.csv", 3, line, [{"field": field, "reason": reason}])
    ]  # fmt: skip
    assert table_counts(campaign)["contacts"] == 1


def test_a_missing_required_column_fails_the_whole_file(campaign, voters, tmp_path):
    path = write(tmp_path, "bad.csv", "voter_id,channel,result", ["A1,door,contacted"])

    with pytest.raises(ImportFailed, match=r"bad\.csv, line 1: required column 'occurred_at'"):
        import_contact_history(campaign=campaign, paths=[path])

    assert table_counts(campaign) == NOTHING


def test_tsv_in_latin_1_with_header_aliases(campaign, voters, tmp_path):
    path = tmp_path / "contacts.tsv"
    text = (
        "VoterID\tContact Date\tType\tOutcome\tNotes\r\nA1\t2024-10-05\tCall\tNo Answer\tCafé\r\n"
    )
    path.write_bytes(text.encode("latin-1"))

    run = import_contact_history(campaign=campaign, paths=[path])

    assert run.created == 1
    contact = ContactAttempt.objects.get(campaign=campaign)
    assert (contact.channel, contact.result, contact.result_raw, contact.note) == (
        "phone", "not_home", "No Answer", "Café",
    )  # fmt: skip


def test_voter_reimport_leaves_history_consent_and_assignments_untouched(
    campaign, voters, contact_file, tmp_path
):
    import_contact_history(campaign=campaign, paths=[contact_file])
    arms = write(tmp_path, "arms.csv", "voter_id,arm", ["A1,control", "A3,early-vote"])
    import_program_assignments(campaign=campaign, program="Fall GOTV", paths=[arms])
    history = (
        contacts(campaign), responses(campaign), opt_outs(campaign),
        list(Assignment.objects.order_by("id").values_list("voter__voter_id", "arm__name",
                                                            "assigned_at")),
        table_counts(campaign),
    )  # fmt: skip
    changed = write(
        tmp_path,
        "voters2.csv",
        VOTER_HEADER,
        ["A1,Ann,Lee,9 New Rd,Durham,27701,919-555-0199,new@example.org,101", VOTERS[2]],
    )

    run = import_voter_file(campaign=campaign, paths=[changed], full=True)

    assert (run.updated, run.removed) == (1, 1)
    assert (
        contacts(campaign), responses(campaign), opt_outs(campaign),
        list(Assignment.objects.order_by("id").values_list("voter__voter_id", "arm__name",
                                                            "assigned_at")),
        table_counts(campaign),
    ) == history  # fmt: skip


# --------------------------------------------------------------------------------------------
# VAN exports
# --------------------------------------------------------------------------------------------


def van_contact_row(vanid, day, result, kind, by="Pat Canvasser", name=SECRET_NAME) -> list[str]:
    return [vanid, name, day, result, kind, by, "Staffer", day, "MiniVAN", "Fall Doors"]


def van_survey_row(vanid, day, answer, question="Support ID", kind="Walk") -> list[str]:
    return [vanid, SECRET_NAME, day, answer, question, "Candidate", "Pat Canvasser", kind]


@pytest.fixture
def van_files(tmp_path):
    history = write_van(
        tmp_path,
        "ContactHistory.xls",
        VAN_CONTACT_HEADER,
        [
            van_contact_row("101", "10/5/2024", "Canvassed", "Walk"),
            van_contact_row("102", "10/5/2024 3:05 PM", "Not Home", "Paid Walk"),
            van_contact_row("103", "10/6/2024", "Do Not Text", "SMS Text"),
            van_contact_row("999", "10/6/2024", "Canvassed", "Walk"),  # not our voter
        ],
    )
    survey = write_van(
        tmp_path,
        "SurveyResponses.xls",
        VAN_SURVEY_HEADER,
        [
            van_survey_row("101", "10/5/2024", "1 - Strong Support"),
            van_survey_row("103", "10/7/2024", "Undecided", kind="Phone"),
        ],
    )
    return history, survey


def test_van_reports_import_by_vanid(campaign, other_campaign, voters, van_files):
    run = import_contact_history(campaign=campaign, paths=list(van_files), layout="van")

    assert (run.rows_read, run.created, run.orphaned, run.rejected) == (6, 3, 1, 0)
    assert (run.counts["responses_created"], run.counts["opt_outs_created"]) == (2, 1)
    assert contacts(campaign) == [
        ("A1", "door", at(2024, 10, 5, 4), "contacted", "Canvassed", None, None, None,
         "Pat Canvasser", "import"),
        ("A2", "door", at(2024, 10, 5, 19, 5), "not_home", "Not Home", None, None, None,
         "Pat Canvasser", "import"),
        ("A3", "sms", at(2024, 10, 6, 4), "opted_out", "Do Not Text", None, None, None,
         "Pat Canvasser", "import"),
    ]  # fmt: skip
    assert responses(campaign) == [
        ("A1", "support", "1", at(2024, 10, 5, 4), "door", "contacted", "import"),
        ("A3", "support", "3", at(2024, 10, 7, 4), None, None, "import"),
    ]
    assert opt_outs(campaign) == [
        ("sms", "+19195550103", "opt_out", "import", "A3", at(2024, 10, 6, 4))
    ]
    assert table_counts(other_campaign) == NOTHING


def test_van_reimport_adds_nothing(campaign, voters, van_files):
    import_contact_history(campaign=campaign, paths=list(van_files), layout="van")
    before = (contacts(campaign), responses(campaign), opt_outs(campaign))

    run = import_contact_history(campaign=campaign, paths=list(van_files), layout="van")

    assert (run.created, run.duplicates, run.orphaned) == (0, 5, 1)
    assert (run.counts["responses_created"], run.counts["opt_outs_created"]) == (0, 0)
    assert (contacts(campaign), responses(campaign), opt_outs(campaign)) == before


def test_van_contact_name_is_never_stored(campaign, voters, tmp_path):
    path = write_van(
        tmp_path,
        "ContactHistory.xls",
        VAN_CONTACT_HEADER,
        [
            van_contact_row("101", "10/5/2024", "Canvassed", "Walk"),
            van_contact_row("102", "10/5/2024", "Canvassed", "Carrier Pigeon"),
            van_contact_row("103", "10/5/2024", "Canvassed", "Walk")[:4],  # a short line
        ],
    )

    run = import_contact_history(campaign=campaign, paths=[path], layout="van", mode="quarantine")

    assert (run.created, run.rejected) == (1, 2)
    rejected = list(RejectedRow.objects.filter(import_run=run).values_list("line_number", "raw"))
    assert rejected == [
        (3, "102\t\t10/5/2024\tCanvassed\tCarrier Pigeon\tPat Canvasser\tStaffer\t10/5/2024\t"
            "MiniVAN\tFall Doors"),
        (4, "(line withheld: it may hold a contact name)"),
    ]  # fmt: skip
    stored = [
        *ContactAttempt.objects.values_list("result_raw", "canvasser", "note", "variant"),
        *RejectedRow.objects.values_list("raw", "errors"),
        *ImportRun.objects.values_list("error", "counts"),
    ]
    assert SECRET_NAME not in repr(stored)


def test_an_unknown_van_name_is_rejected_until_a_code_mapping_is_added(campaign, voters, tmp_path):
    path = write_van(
        tmp_path,
        "ContactHistory.xls",
        VAN_CONTACT_HEADER,
        [van_contact_row("101", "10/5/2024", "Strongly Agreed", "Relational")],
    )

    with pytest.raises(ImportFailed) as failure:
        import_contact_history(campaign=campaign, paths=[path], layout="van")

    assert [(e.field, e.reason) for e in failure.value.rejects[0].errors] == [
        ("Contact Type",
         "unknown Contact Type 'Relational'; add it under code mappings (VAN, contact type) in "
         "the admin"),
        ("Result",
         "unknown Result 'Strongly Agreed'; add it under code mappings (VAN, result) in the "
         "admin"),
    ]  # fmt: skip
    assert table_counts(campaign) == NOTHING

    CodeMapping.objects.create(
        campaign=campaign, kind="contact_type", source_name="relational", code="phone"
    )
    CodeMapping.objects.create(
        campaign=campaign, kind="result", source_name="STRONGLY AGREED", code="contacted"
    )
    run = import_contact_history(campaign=campaign, paths=[path], layout="van")

    assert run.created == 1
    assert contacts(campaign)[0][:5] == (
        "A1", "phone", at(2024, 10, 5, 4), "contacted", "Strongly Agreed",
    )  # fmt: skip


def test_an_edited_code_mapping_takes_effect_on_the_next_import(campaign, voters, tmp_path):
    rows = [van_contact_row("101", "10/5/2024", "Hostile", "Walk")]
    path = write_van(tmp_path, "ContactHistory.xls", VAN_CONTACT_HEADER, rows)
    CodeMapping.objects.filter(campaign=campaign, kind="result", source_name="Hostile").update(
        code="opted_out"
    )

    run = import_contact_history(campaign=campaign, paths=[path], layout="van")

    assert contacts(campaign)[0][3] == "opted_out"
    a1 = Voter.objects.get(campaign=campaign, voter_id="A1")
    assert run.counts["opt_outs_created"] == 5  # said at the door: every channel
    assert opt_outs(campaign) == [
        (channel, address, "opt_out", "import", "A1", at(2024, 10, 5, 4))
        for channel, address in (
            ("door", f"voter:{a1.pk}"), ("email", "ann@example.org"), ("mail", f"voter:{a1.pk}"),
            ("phone", "+19195550101"), ("sms", "+19195550101"),
        )
    ]  # fmt: skip


def test_a_mapping_to_a_result_not_allowed_on_the_channel_is_rejected(campaign, voters, tmp_path):
    rows = [van_contact_row("101", "10/5/2024", "Bounced", "Walk")]
    path = write_van(tmp_path, "ContactHistory.xls", VAN_CONTACT_HEADER, rows)

    run = import_contact_history(campaign=campaign, paths=[path], layout="van", mode="quarantine")

    assert run.rejected == 1
    assert RejectedRow.objects.get(import_run=run).errors == [
        {"field": "Result", "reason": "result 'bounced' is not allowed on channel 'door'"}
    ]


def test_van_matches_on_the_state_voter_id_when_the_campaign_says_so(campaign, voters, tmp_path):
    campaign.van_id_column = "voter_id"
    campaign.save()
    rows = [van_contact_row("A2", "10/5/2024", "Canvassed", "Walk"),
            van_contact_row("101", "10/5/2024", "Canvassed", "Walk")]  # fmt: skip
    path = write_van(tmp_path, "ContactHistory.xls", VAN_CONTACT_HEADER, rows)

    run = import_contact_history(campaign=campaign, paths=[path], layout="van")

    assert (run.created, run.orphaned) == (1, 1)
    assert contacts(campaign)[0][0] == "A2"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-8-sig", "utf-8"])
def test_van_files_without_a_utf16_bom_are_read_too(campaign, voters, tmp_path, encoding):
    rows = [van_contact_row("101", "10/5/2024", "Canvassed", "Walk")]
    path = write_van(tmp_path, "export.xls", VAN_CONTACT_HEADER, rows, encoding=encoding)

    run = import_contact_history(campaign=campaign, paths=[path], layout="van")

    assert (run.created, run.rejected) == (1, 0)


def test_a_file_that_is_no_van_report_fails(campaign, voters, tmp_path):
    path = write_van(tmp_path, "x.xls", ["Voter File VANID", "Date Canvassed", "Contact Type"], [])

    with pytest.raises(ImportFailed, match="no 'Result' or 'Survey Response' column"):
        import_contact_history(campaign=campaign, paths=[path], layout="van")


def test_an_unknown_layout_is_refused(campaign, voters, contact_file):
    with pytest.raises(ImportFailed, match="unknown layout 'nc'"):
        import_contact_history(campaign=campaign, paths=[contact_file], layout="nc")


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def test_command_prints_a_summary(campaign, voters, contact_file, capsys):
    call_command("import_contacts", "--campaign", "home", str(contact_file))

    out = capsys.readouterr().out
    assert "4 rows read: 3 contacts and 1 survey responses added" in out


def test_command_reports_file_line_field_and_reason(campaign, voters, tmp_path, capsys):
    path = write(tmp_path, "bad.csv", CONTACT_HEADER, ["A1,2024-10-05,fax,contacted,,,,,,"])

    with pytest.raises(CommandError, match="1 bad row in a strict import"):
        call_command("import_contacts", "--campaign", "home", str(path))

    err = capsys.readouterr().err
    assert "bad.csv, line 2: channel: unknown channel 'fax'" in err
    assert table_counts(campaign) == NOTHING


def test_command_reads_van_exports(campaign, voters, van_files, capsys):
    call_command("import_contacts", "--campaign", "home", "--layout", "van", *map(str, van_files))

    assert "6 rows read: 3 contacts and 2 survey responses added" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# The parser alone (no database)
# --------------------------------------------------------------------------------------------


CODES = layouts.ContactCodes(
    results_by_channel=RESULTS_BY_CHANNEL,
    questions={"support": "support"},
    answers={"support": {"1": "1", "strong support": "1", "2": "2", "lean support": "2"}},
    option_codes={"support": {"1": "1", "2": "2"}},
)


def parse(path: Path, layout: str = "generic", time_zone: str = "America/Chicago", **kw):
    batches = list(
        layouts.read_contact_batches(path, layout=layout, codes=CODES, time_zone=time_zone, **kw)
    )
    rows = [r for b in batches for r in b.rows.iter_rows(named=True)]
    return rows, [r for b in batches for r in b.rejects]


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2024-10-05", "2024-10-05 05:00:00"),
        ("10/5/2024", "2024-10-05 05:00:00"),
        ("2024-10-05 13:07", "2024-10-05 18:07:00"),
        ("2024-10-05T13:07:09", "2024-10-05 18:07:09"),
        ("2024-10-05T13:07:09.5", "2024-10-05 18:07:09.500000"),
        ("2024-10-05T13:07:09Z", "2024-10-05 13:07:09"),
        ("2024-10-05T13:07:09+02:00", "2024-10-05 11:07:09"),
        ("10/05/2024 1:07 PM", "2024-10-05 18:07:00"),
        ("10/05/2024 12:07 am", "2024-10-05 05:07:00"),
        ("2024-11-03 01:30", "2024-11-03 06:30:00"),  # the repeated hour: its first time
    ],
)
def test_parser_reads_times_in_the_campaign_zone(tmp_path, value, utc):
    path = write(
        tmp_path, "c.csv", "voter_id,occurred_at,channel,result", [f"A1,{value},door,refused"]
    )

    rows, rejects = parse(path)

    assert rejects == []
    assert rows[0]["occurred_at"] == utc


def test_parser_gives_the_local_day_of_a_time_with_an_offset(tmp_path):
    path = write(
        tmp_path, "c.csv", "voter_id,occurred_at,channel,result",
        ["A1,2024-10-06T02:00:00Z,door,refused"],  # 21:00 on the 5th in Chicago
    )  # fmt: skip

    rows, _ = parse(path)

    assert (rows[0]["day_start"], rows[0]["day_end"]) == (
        "2024-10-05 05:00:00", "2024-10-06 05:00:00",
    )  # fmt: skip


def test_parser_matches_answers_by_code_label_or_leading_code(tmp_path):
    path = write(
        tmp_path, "c.csv", "voter_id,occurred_at,channel,question,answer",
        ["A1,2024-10-05,door,SUPPORT,1", "A2,2024-10-05,door,support,Lean Support",
         "A3,2024-10-05,door,support,2 - whatever the label", "A4,2024-10-05,door,support,Nope"],
    )  # fmt: skip

    rows, rejects = parse(path)

    assert [(r["voter_key"], r["question"], r["answer"], r["result"]) for r in rows] == [
        ("A1", "support", "1", None), ("A2", "support", "2", None),
        ("A3", "support", "2", None),
    ]  # fmt: skip
    assert [(r.line_number, r.errors[0].reason) for r in rejects] == [
        (5, "'Nope' is not an answer to survey question 'support'")
    ]


def test_parser_never_puts_the_van_contact_name_in_a_row(tmp_path):
    path = write_van(
        tmp_path, "h.xls", VAN_CONTACT_HEADER, [van_contact_row("7", "10/5/2024", "x", "Walk")]
    )
    codes = layouts.ContactCodes(
        results_by_channel=RESULTS_BY_CHANNEL,
        van_results={"x": "contacted"},
        van_contact_types={"walk": "door"},
    )

    batches = list(layouts.read_contact_batches(path, layout="van", codes=codes, time_zone="UTC"))

    [row] = batches[0].rows.iter_rows(named=True)
    assert SECRET_NAME not in repr(row)
    assert (row["voter_key"], row["channel"], row["result"], row["canvasser"]) == (
        "7", "door", "contacted", "Pat Canvasser",
    )  # fmt: skip
    assert batches[-1].bytes_read == path.stat().st_size


def test_load_contact_codes_reads_the_campaign_tables(campaign):
    codes = load_contact_codes(campaign.pk)

    assert codes.van_results["do not contact"] == "opted_out"
    assert codes.van_contact_types["walk"] == "door"
    assert codes.van_questions["support id"] == "support"
    assert codes.answers["support"]["strong support"] == "1"
    assert codes.option_codes["support"] == {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5"}


def test_a_named_van_opt_out_closes_the_channel_it_names_whatever_the_contact_type(
    campaign, voters, tmp_path
):
    history = write_van(
        tmp_path,
        "ContactHistory.xls",
        VAN_CONTACT_HEADER,
        [
            van_contact_row("101", "10/5/2024", "Do Not Text", "Phone"),  # said on a call
            van_contact_row("103", "10/6/2024", "Do Not Contact", "Walk"),  # said at the door
        ],
    )

    run = import_contact_history(campaign=campaign, paths=[history], layout="van")

    a1, a3 = (Voter.objects.get(campaign=campaign, voter_id=v) for v in ("A1", "A3"))
    assert opt_outs(campaign) == [
        ("door", f"voter:{a3.pk}", "opt_out", "import", "A3", at(2024, 10, 6, 4)),
        ("email", "cy@example.org", "opt_out", "import", "A3", at(2024, 10, 6, 4)),
        ("mail", f"voter:{a3.pk}", "opt_out", "import", "A3", at(2024, 10, 6, 4)),
        ("phone", "+19195550103", "opt_out", "import", "A3", at(2024, 10, 6, 4)),
        ("sms", "+19195550101", "opt_out", "import", "A1", at(2024, 10, 5, 4)),
        ("sms", "+19195550103", "opt_out", "import", "A3", at(2024, 10, 6, 4)),
    ]
    assert run.counts["opt_outs_created"] == 6
    reachable = Voter.objects.filter(campaign=campaign)
    assert set(reachable.contactable("phone").values_list("voter_id", flat=True)) == {"A1"}
    assert set(reachable.contactable("sms").values_list("voter_id", flat=True)) == set()
    assert set(reachable.contactable("door").values_list("voter_id", flat=True)) == {"A1", "A2"}
    assert a1.pk != a3.pk
    # The same file again adds nothing, on any channel.
    import_contact_history(campaign=campaign, paths=[history], layout="van")
    assert len(opt_outs(campaign)) == 6
