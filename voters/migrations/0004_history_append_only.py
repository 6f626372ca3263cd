from django.db import migrations

from campaign.lib.append_only import append_only


class Migration(migrations.Migration):
    dependencies = [("voters", "0003_contacts_surveys_consent")]
    operations = [
        append_only("voters_contactattempt"),
        append_only("voters_surveyresponse"),
        append_only("voters_consentevent"),
        append_only("voters_assignment"),
    ]
