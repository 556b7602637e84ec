from django.urls import include, path
from rest_framework.routers import SimpleRouter

from portal.spreadsheets import views as upload_views

from . import api, views

router = SimpleRouter()
router.register("numbers", api.NumberViewSet, basename="registry-number")
router.register("partners", api.PartnerViewSet, basename="registry-partner")
router.register("imports", api.ImportJobViewSet, basename="registry-import")

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
]
