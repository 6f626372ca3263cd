"""Voter ids an earlier import stored as written in decimal form ("123.0") become the integer
they are ("123"), so that re-importing the same file, now read as "123", updates those voters
instead of adding each of them a second time. An id whose integer form is already taken in its
campaign is left as it is (two voters would clash; staff see both and can decide).
"""

from django.db import migrations

WHOLE_DECIMAL = r"^[+-]?[0-9]+\.0+$"

POSTGRES = r"""
UPDATE voters_voter AS v
   SET voter_id = regexp_replace(v.voter_id, '\.0+$', '')
 WHERE v.voter_id ~ '^[+-]?[0-9]+\.0+$'
   AND NOT EXISTS (
       SELECT 1 FROM voters_voter AS taken
        WHERE taken.campaign_id = v.campaign_id
          AND taken.voter_id = regexp_replace(v.voter_id, '\.0+$', '')
   )
"""


def rewrite_decimal_voter_ids(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES)
        return
    # SQLite (the demo): no regexp_replace; the rows are few, so one update per row.
    voter_model = apps.get_model("voters", "Voter")
    for pk, campaign_id, voter_id in voter_model.objects.filter(
        voter_id__regex=WHOLE_DECIMAL
    ).values_list("pk", "campaign_id", "voter_id"):
        whole = voter_id.split(".", 1)[0]
        if not voter_model.objects.filter(campaign_id=campaign_id, voter_id=whole).exists():
            voter_model.objects.filter(pk=pk).update(voter_id=whole)


class Migration(migrations.Migration):
    dependencies = [
        ("voters", "0008_importrun_field_counts"),
    ]

    operations = [
        migrations.RunPython(rewrite_decimal_voter_ids, migrations.RunPython.noop, elidable=True),
    ]
