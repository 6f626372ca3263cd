"""/email/: unsubscribe pages and the mailto's inbound endpoint (messaging.email_views)."""

from django.urls import path

from messaging import email_views

app_name = "email"

urlpatterns = [
    path("unsubscribe/<str:token>/", email_views.unsubscribe_page, name="unsubscribe"),
    path("inbound/", email_views.inbound_unsubscribe, name="inbound"),
]
