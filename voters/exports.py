"""The audited CSV export of voters (the voter list's "Export selected voters" action).

Who may export which columns is the caller's rule (`voters.admin`); here the selection is read,
audited once per campaign with its row count, and written as CSV lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable

from django.db import transaction
from django.db.models import QuerySet

from campaign.lib import spreadsheet_csv
from campaign.models import AuditAction, Role
from campaign.services import record_audit_event
from voters.models import Voter

EXPORT_FIELDS = (
    "voter_id", "first_name", "middle_name", "last_name", "suffix", "birth_year", "gender",
    "race", "ethnicity", "party", "registered_on", "status", "address", "city", "state", "zip5",
    "county", "precinct", "congressional_district", "state_senate_district",
    "state_house_district", "municipality", "ward",
)  # fmt: skip
# Phones and emails are the most sensitive columns (bought or matched, and what vendors contact),
# so only a campaign's admins export them; staff get the public voter-file columns.
CONTACT_EXPORT_FIELDS = ("phone", "email")
CONTACT_EXPORT_ROLES = frozenset({Role.ADMIN})
EXPORT_CHUNK = 2_000


class _Echo:
    def write(self, value: str) -> str:
        return value


def _export_rows(pks: list[int], fields: tuple[str, ...]) -> Iterable[str]:
    # The product's one CSV writer: cells a spreadsheet would run as formulas are escaped.
    writer = spreadsheet_csv.writer(_Echo())
    yield writer.writerow(fields)
    for start in range(0, len(pks), EXPORT_CHUNK):
        chunk = pks[start : start + EXPORT_CHUNK]
        rows = Voter.objects.filter(pk__in=chunk).order_by("pk").values_list(*fields)
        for row in rows:
            yield writer.writerow(row)


def export_voters(
    *,
    queryset: QuerySet[Voter],
    user,
    client_ip: str | None,
    contact_campaign_ids: Collection[int] | None,
) -> Iterable[str] | None:
    """The selected voters as CSV lines, after one audit event per campaign with its row count;
    None if the selection is empty.

    Phones and emails are included only if every campaign of the selection is in
    `contact_campaign_ids` (None: any campaign). The ids are read first, so the audited count is
    exactly the rows written even if an import changes the selection meanwhile (voters are never
    deleted).
    """
    rows = list(queryset.order_by("pk").values_list("pk", "campaign_id"))
    if not rows:
        return None
    per_campaign = Counter(campaign_id for _, campaign_id in rows)
    with_contact = contact_campaign_ids is None or set(per_campaign) <= set(contact_campaign_ids)
    fields = EXPORT_FIELDS + (CONTACT_EXPORT_FIELDS if with_contact else ())
    with transaction.atomic():
        for campaign_id, count in sorted(per_campaign.items()):
            record_audit_event(
                action=AuditAction.EXPORT, campaign=campaign_id, user=user,
                object_type="voters.voter", row_count=count, client_ip=client_ip,
                detail={"format": "csv", "with_contact": with_contact},
            )  # fmt: skip
    return _export_rows([pk for pk, _ in rows], fields)
