from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from campaign.views import two_factor_enrol

# Under /api/v1/, a path that matches no route and a request refused before any view (too many
# form fields, say) answer JSON like the API does; the pages keep their HTML.
handler400 = "campaign.views.bad_request"
handler404 = "campaign.views.not_found"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("account/two-factor/", two_factor_enrol, name="two_factor_enrol"),
    path("api/", include("campaign.api_urls")),
    # The organizer's phone pages; included by name, so campaign imports no later app.
    path("field/", include("messaging.field_urls")),
    # Recipients' unsubscribe pages and the mailto's inbound endpoint.
    path("email/", include("messaging.email_urls")),
]
