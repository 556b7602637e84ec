from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api, views

router = SimpleRouter()
router.register("filings", api.FilingViewSet, basename="filing")

urlpatterns = [
    path("filings/", views.filing_list, name="filing_list"),
    path("filings/new/", views.filing_create, name="filing_create"),
    path("filings/check/", views.filing_check, name="filing_check"),
    path("filings/review/", views.review_queue, name="filing_review_queue"),
    path("filings/calendar/", views.filing_calendar, name="filing_calendar"),
    path("filings/export.xlsx", views.filing_export, name="filing_export"),
    path("filings/template.xlsx", views.filing_template, name="filing_template"),
    path("filings/upload/", views.filing_upload, name="filing_upload"),
    path("filings/upload/<int:job_pk>/submit/", views.job_submit, name="filing_job_submit"),
    path("filings/<int:pk>/", views.filing_detail, name="filing_detail"),
    path("filings/<int:pk>/edit/", views.filing_edit, name="filing_edit"),
    path(
        "filings/<int:pk>/<str:action>/",
        views.filing_action,
        name="filing_action",
    ),
    path("api/", include(router.urls)),
]
