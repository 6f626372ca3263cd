from django.db import migrations

SUPPORT_OPTIONS = (
    ("1", "Strong support"),
    ("2", "Lean support"),
    ("3", "Undecided"),
    ("4", "Lean oppose"),
    ("5", "Strong oppose"),
)


def add_support_question(apps, schema_editor):
    """Campaigns created before the survey tables get their built-in support question."""
    Campaign = apps.get_model("campaign", "Campaign")
    SurveyQuestion = apps.get_model("voters", "SurveyQuestion")
    SurveyOption = apps.get_model("voters", "SurveyOption")
    for campaign in Campaign.objects.all():
        question, _ = SurveyQuestion.objects.get_or_create(
            campaign=campaign,
            slug="support",
            defaults={"text": "How likely are you to support our candidate?", "kind": "support"},
        )
        for position, (code, label) in enumerate(SUPPORT_OPTIONS):
            SurveyOption.objects.get_or_create(
                question=question, code=code, defaults={"label": label, "position": position}
            )


class Migration(migrations.Migration):
    dependencies = [("voters", "0004_history_append_only"), ("campaign", "0003_audit_append_only")]
    operations = [migrations.RunPython(add_support_question, migrations.RunPython.noop)]
