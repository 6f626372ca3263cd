from django.db import migrations

from campaign.lib.append_only import append_only


class Migration(migrations.Migration):
    """Vote history joins the other history tables: no UPDATE or DELETE, even by hand."""

    dependencies = [("voters", "0009_voter_ids_written_as_decimals")]
    operations = [append_only("voters_voterecord")]
