from django.db import migrations

from campaign.lib.append_only import append_only


class Migration(migrations.Migration):
    """Vote history joins the other history tables: no UPDATE or DELETE, even by hand."""

    dependencies = [("voters", "0007_voters_partitioned_by_campaign")]
    operations = [append_only("voters_voterecord")]
