from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        # The turf and SMS pages have modules of their own (admin.py holds the variants' and
        # programs'), and the admin's autodiscovery imports only admin.py: register them here.
        from messaging import email_admin, sms_admin, turf_admin  # noqa: F401
