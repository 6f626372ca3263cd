"""/field/: the organizer's phone pages (messaging.field_views)."""

from django.urls import path

from messaging import field_views

app_name = "field"

urlpatterns = [
    path("", field_views.home, name="home"),
    path("login/", field_views.FieldLoginView.as_view(), name="login"),
    path("logout/", field_views.field_logout, name="logout"),
    path("turfs/<int:turf_id>/", field_views.turf_page, name="turf"),
    path("turfs/<int:turf_id>/data.json", field_views.turf_json, name="turf_json"),
    path("results/", field_views.post_result, name="results"),
    path("<str:name>", field_views.asset, name="asset"),
]
