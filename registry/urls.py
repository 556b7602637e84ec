from django.urls import include, path
from rest_framework.routers import SimpleRouter

from portal.spreadsheets import views as upload_views

from . import api, report_api, report_views, views

router = SimpleRouter()
router.register("numbers", api.NumberViewSet, basename="registry-number")
router.register("partners", api.PartnerViewSet, basename="registry-partner")
router.register("imports", api.ImportJobViewSet, basename="registry-import")
reports = SimpleRouter()
reports.register("reports", report_api.ServiceReportViewSet, basename="service-report")

urlpatterns = [
    path("registry/numbers/", views.number_list, name="registry_number_list"),
    path("registry/numbers/export.xlsx", views.number_export, name="registry_number_export"),
    path("registry/numbers/new/", views.number_create, name="registry_number_create"),
    path("registry/numbers/<int:pk>/", views.number_detail, name="registry_number_detail"),
    path("registry/numbers/<int:pk>/edit/", views.number_edit, name="registry_number_edit"),
    path("registry/numbers/<int:pk>/end/", views.number_end, name="registry_number_end"),
    path("registry/partners/", views.partner_list, name="registry_partner_list"),
    path("registry/partners/new/", views.partner_create, name="registry_partner_create"),
    path("registry/partners/<int:pk>/edit/", views.partner_edit, name="registry_partner_edit"),
    path(
        "registry/partners/<int:pk>/public-contact/",
        views.partner_public_contact,
        name="registry_partner_public_contact",
    ),
    path(
        "registry/partners/<int:pk>/document/",
        views.partner_document,
        name="registry_partner_document",
    ),
    path("registry/imports/", views.import_list, name="registry_import_list"),
    path("registry/imports/new/", views.import_create, name="registry_import_create"),
    # The engine's job pages (one set for every form), at the register's old addresses too.
    path("registry/imports/<int:pk>/", upload_views.upload_detail, name="registry_import_detail"),
    path(
        "registry/imports/<int:pk>/progress/",
        upload_views.upload_progress,
        name="registry_import_progress",
    ),
    path(
        "registry/imports/<int:pk>/errors.xlsx",
        upload_views.upload_error_report,
        name="registry_import_errors",
    ),
    path("registry/signatures/", views.signature_list, name="registry_signature_list"),
    path(
        "registry/signatures/<int:pk>/remove/",
        views.signature_remove,
        name="registry_signature_remove",
    ),
    path("registry/template.xlsx", views.register_template, name="registry_template"),
    path("api/registry/", include(router.urls)),
    path("reports/", report_views.report_list, name="service_report_list"),
    path("reports/new/", report_views.report_create, name="service_report_create"),
    path("reports/upload/", report_views.report_upload, name="service_report_upload"),
    path("reports/template.xlsx", report_views.report_template, name="service_report_template"),
    path("reports/<int:pk>/", report_views.report_detail, name="service_report_detail"),
    path("reports/<int:pk>/compare/", report_views.report_compare, name="service_report_compare"),
    path("reports/<int:pk>/submit/", report_views.report_submit, name="service_report_submit"),
    path("reports/<int:pk>/accept/", report_views.report_accept, name="service_report_accept"),
    path("reports/<int:pk>/return/", report_views.report_return, name="service_report_return"),
    path(
        "reports/<int:pk>/new-version/",
        report_views.report_new_version,
        name="service_report_new_version",
    ),
    path("reports/<int:pk>/lines/new/", report_views.line_edit, name="service_report_line_add"),
    path(
        "reports/<int:pk>/lines/<int:line_pk>/edit/",
        report_views.line_edit,
        name="service_report_line_edit",
    ),
    path(
        "reports/<int:pk>/lines/<int:line_pk>/end/",
        report_views.line_end,
        name="service_report_line_end",
    ),
    path(
        "reports/<int:pk>/lines/<int:line_pk>/delete/",
        report_views.line_delete,
        name="service_report_line_delete",
    ),
    path("api/", include(reports.urls)),
]
