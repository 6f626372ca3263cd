from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Segment One"
admin.site.site_title = "Segment One"
admin.site.index_title = "Campaign console"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
