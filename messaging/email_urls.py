"""/email/: unsubscribe pages, the mailto's inbound endpoint and providers' event webhooks
(messaging.email_views)."""

from django.urls import path

from messaging import email_views

app_name = "email"

urlpatterns = [
    path("unsubscribe/<str:token>/", email_views.unsubscribe_page, name="unsubscribe"),
    path("inbound/", email_views.inbound_unsubscribe, name="inbound"),
    path(
        "webhooks/sendgrid/<slug:campaign_slug>/",
        email_views.sendgrid_events,
        name="sendgrid_events",
    ),
]
