from django.db import migrations

from campaign.lib.append_only import append_only


class Migration(migrations.Migration):
    dependencies = [("campaign", "0002_audit_vendor_keys")]
    operations = [append_only("campaign_auditevent")]
