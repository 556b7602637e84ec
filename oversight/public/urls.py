"""The public side's URLs (issue 15): no login. portal/urls.py lists them first, so that
the number check, the busiest URL of the site, is resolved in a few pattern matches rather
than after every portal page (URL resolution tries the patterns in order: resolving the
check after the whole portal took 0.5 ms of its 1.9 ms)."""

from django.urls import path

from . import api, views

urlpatterns = [
    path(
        "api/public/number-check/",
        api.NumberCheckView.as_view(),
        name="api_public_number_check",
    ),
    path("public/", views.check_page, name="public_check"),
    path("public/complaint/", views.complaint_page, name="public_complaint"),
    path("public/track/", views.track_page, name="public_track"),
    path("public/agencies/", views.agencies_page, name="public_agencies"),
]
