"""What every campaign starts with: the built-in support question and the VAN code table."""

from __future__ import annotations

from campaign.models import Campaign
from voters.models import (
    Channel,
    CodeMapping,
    CodeMappingKind,
    ContactResult,
    SurveyKind,
    SurveyOption,
    SurveyQuestion,
)

SUPPORT_TEXT = "How likely are you to support our candidate?"

# VAN 'Result' names (Contact History report) and our result codes. Staff extend this per campaign.
VAN_RESULTS = {
    "Canvassed": ContactResult.CONTACTED,
    "Contacted": ContactResult.CONTACTED,
    "Not Home": ContactResult.NOT_HOME,
    "No Answer": ContactResult.NOT_HOME,
    "Left Message": ContactResult.NOT_HOME,
    "Busy": ContactResult.NOT_HOME,
    "Come Back": ContactResult.NOT_HOME,
    "Refused": ContactResult.REFUSED,
    "Hostile": ContactResult.REFUSED,
    "Moved": ContactResult.MOVED,
    "Deceased": ContactResult.DECEASED,
    "Inaccessible": ContactResult.INACCESSIBLE,
    "Language Barrier": ContactResult.INACCESSIBLE,
    "Wrong Number": ContactResult.WRONG_NUMBER,
    "Disconnected": ContactResult.WRONG_NUMBER,
    "Do Not Contact": ContactResult.OPTED_OUT,
    "Do Not Call": ContactResult.OPTED_OUT,
    "Do Not Text": ContactResult.OPTED_OUT,
    "Texted": ContactResult.DELIVERED,
    "Text Sent": ContactResult.DELIVERED,
    "Text Failed": ContactResult.FAILED,
    "Replied": ContactResult.REPLIED,
    "Opted Out": ContactResult.OPTED_OUT,
    "Delivered": ContactResult.DELIVERED,
    "Bounced": ContactResult.BOUNCED,
    "Mailed": ContactResult.DELIVERED,
    "Returned Mail": ContactResult.MOVED,
}

# VAN 'Contact Type' names and our channels.
VAN_CONTACT_TYPES = {
    "Walk": Channel.DOOR,
    "Paid Walk": Channel.DOOR,
    "Door": Channel.DOOR,
    "Phone": Channel.PHONE,
    "Paid Phone": Channel.PHONE,
    "Volunteer Phone": Channel.PHONE,
    "Phone Bank": Channel.PHONE,
    "Auto Dial": Channel.PHONE,
    "Predictive Dialer": Channel.PHONE,
    "SMS Text": Channel.SMS,
    "Text": Channel.SMS,
    "SMS": Channel.SMS,
    "Peer to Peer Text": Channel.SMS,
    "Email": Channel.EMAIL,
    "Mail": Channel.MAIL,
    "Postcard": Channel.MAIL,
}

# VAN 'Survey Question Name's that mean our built-in support question.
VAN_SUPPORT_QUESTIONS = dict.fromkeys(
    ("Support", "Support ID", "Candidate Support", "Candidate ID", "Supporter ID"),
    SurveyQuestion.SUPPORT_SLUG,
)


def ensure_campaign_defaults(campaign: Campaign) -> None:
    """Create the support question and the default VAN mappings if missing (idempotent)."""
    ensure_support_question(campaign)
    _ensure_mappings(campaign, CodeMappingKind.RESULT, VAN_RESULTS)
    _ensure_mappings(campaign, CodeMappingKind.CONTACT_TYPE, VAN_CONTACT_TYPES)
    _ensure_mappings(campaign, CodeMappingKind.SURVEY_QUESTION, VAN_SUPPORT_QUESTIONS)


def ensure_support_question(campaign: Campaign) -> SurveyQuestion:
    question, _ = SurveyQuestion.objects.get_or_create(
        campaign=campaign,
        slug=SurveyQuestion.SUPPORT_SLUG,
        defaults={"text": SUPPORT_TEXT, "kind": SurveyKind.SUPPORT},
    )
    for position, (code, label) in enumerate(SurveyQuestion.SUPPORT_OPTIONS):
        SurveyOption.objects.get_or_create(
            question=question, code=code, defaults={"label": label, "position": position}
        )
    return question


def _ensure_mappings(campaign: Campaign, kind: str, table: dict[str, str]) -> None:
    existing = set(
        CodeMapping.objects.filter(campaign=campaign, layout="van", kind=kind).values_list(
            "source_name", flat=True
        )
    )
    existing = {name.lower() for name in existing}
    CodeMapping.objects.bulk_create(
        CodeMapping(campaign=campaign, layout="van", kind=kind, source_name=name, code=code)
        for name, code in table.items()
        if name.lower() not in existing
    )
