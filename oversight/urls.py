from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api, case_api, case_views, exchange_api, exchange_views, views

router = SimpleRouter()
router.register("complaints", api.ComplaintViewSet, basename="oversight-complaint")
router.register("findings", case_api.FindingViewSet, basename="oversight-finding")
router.register("cases", case_api.CaseViewSet, basename="oversight-case")
router.register("appeals", case_api.AppealViewSet, basename="oversight-appeal")
router.register(
    "exchange-packages", exchange_api.ExchangePackageViewSet, basename="oversight-exchange"
)

urlpatterns = [
    path("oversight/complaints/", views.complaint_list, name="complaint_list"),
    path("oversight/complaints/new/", views.complaint_create, name="complaint_create"),
    path("oversight/complaints/import/", views.complaint_import, name="complaint_import"),
    path("oversight/complaints/template.xlsx", views.complaint_template, name="complaint_template"),
    path("oversight/complaints/<int:pk>/", views.complaint_detail, name="complaint_detail"),
    path("oversight/complaints/<int:pk>/reveal/", views.complaint_reveal, name="complaint_reveal"),
    path("oversight/complaints/<int:pk>/status/", views.complaint_status, name="complaint_status"),
    path("oversight/public-checks/", views.public_checks, name="public_checks"),
    path("oversight/abnormal/", views.abnormal_list, name="abnormal_list"),
    path("oversight/abnormal/detect/", views.abnormal_detect, name="abnormal_detect"),
    path("oversight/abnormal/<int:pk>/", views.abnormal_detail, name="abnormal_detail"),
    path("oversight/runs/", views.run_list, name="run_list"),
    path("oversight/runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("oversight/runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
    path("oversight/runs/<int:pk>/report.xlsx", views.run_report, name="run_report"),
    path("oversight/findings/", views.finding_list, name="finding_list"),
    path("oversight/findings/<int:pk>/", views.finding_detail, name="finding_detail"),
    path("oversight/findings/review/", case_views.finding_review_bulk, name="finding_review_bulk"),
    path("oversight/findings/<int:pk>/review/", case_views.finding_review, name="finding_review"),
    path("oversight/findings/<int:pk>/order/", case_views.finding_order, name="finding_order"),
    path("oversight/findings/<int:pk>/appeal/", case_views.finding_appeal, name="finding_appeal"),
    path("oversight/cases/", case_views.case_list, name="case_list"),
    path("oversight/cases/<int:pk>/", case_views.case_detail, name="case_detail"),
    path("oversight/cases/<int:pk>/report/", case_views.case_report, name="case_report"),
    path("oversight/cases/<int:pk>/dispute/", case_views.case_dispute, name="case_dispute"),
    path("oversight/cases/<int:pk>/restore/", case_views.case_restore, name="case_restore"),
    path("oversight/cases/<int:pk>/verify/", case_views.case_verify, name="case_verify"),
    path("oversight/cases/<int:pk>/answer/", case_views.case_answer, name="case_answer"),
    path("oversight/cases/<int:pk>/appeal/", case_views.case_appeal, name="case_appeal"),
    path("oversight/cases/<int:pk>/evidence/", case_views.case_evidence, name="case_evidence"),
    path("oversight/appeals/", case_views.appeal_list, name="appeal_list"),
    path("oversight/appeals/<int:pk>/", case_views.appeal_detail, name="appeal_detail"),
    path("oversight/appeals/<int:pk>/decide/", case_views.appeal_decide, name="appeal_decide"),
    path(
        "oversight/appeals/<int:pk>/document/", case_views.appeal_document, name="appeal_document"
    ),
    path("oversight/exchange/", exchange_views.exchange_list, name="exchange_list"),
    path(
        "oversight/exchange/generate/",
        exchange_views.exchange_generate,
        name="exchange_generate",
    ),
    path("oversight/exchange/<int:pk>/", exchange_views.exchange_detail, name="exchange_detail"),
    path("oversight/exchange/<int:pk>/sent/", exchange_views.exchange_sent, name="exchange_sent"),
    path(
        "oversight/exchange/<int:pk>/download.xlsx",
        exchange_views.exchange_download,
        name="exchange_download",
    ),
    path("api/oversight/", include(router.urls)),
]
