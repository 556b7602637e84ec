from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import SimpleRouter

from . import api, views
from .accounts import views as account_views
from .spreadsheets import api as upload_api
from .spreadsheets import views as upload_views

uploads = SimpleRouter()
uploads.register("uploads", upload_api.UploadJobViewSet, basename="upload")

handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page links: the portal's own icon.
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", account_views.login_view, name="login"),
    path("accounts/logout/", account_views.logout_view, name="logout"),
    path("accounts/2fa/", account_views.totp_verify_view, name="totp_verify"),
    path("accounts/2fa/setup/", account_views.totp_setup_view, name="totp_setup"),
    path("accounts/password/", account_views.password_change_view, name="password_change"),
    path("accounts/security/", account_views.account_security_view, name="account_security"),
    path("organisations/", views.organisation_list, name="organisation_list"),
    path("organisations/new/", views.organisation_create, name="organisation_create"),
    path("organisations/<int:pk>/", views.organisation_detail, name="organisation_detail"),
    path("organisations/<int:pk>/edit/", views.organisation_edit, name="organisation_edit"),
    path(
        "organisations/<int:org_pk>/users/new/", views.user_create, name="organisation_user_create"
    ),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_edit, name="user_edit"),
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/<int:pk>/", views.audit_detail, name="audit_detail"),
    path("calendar/", views.calendar_index, name="calendar_index"),
    path("calendar/seed/", views.calendar_seed, name="calendar_seed"),
    path("calendar/upload/", views.calendar_upload, name="calendar_upload"),
    path("calendar/<int:year>/", views.calendar_year, name="calendar_year"),
    path("calendar/day/<str:day>/", views.calendar_day, name="calendar_day"),
    path("uploads/<int:pk>/", upload_views.upload_detail, name="upload_detail"),
    path("uploads/<int:pk>/progress/", upload_views.upload_progress, name="upload_progress"),
    path("uploads/<int:pk>/errors.xlsx", upload_views.upload_error_report, name="upload_errors"),
    path("api/", include(uploads.urls)),
    path("api/me/", api.MeView.as_view(), name="api_me"),
    path("api/deadlines/", api.DeadlinesView.as_view(), name="api_deadlines"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api_docs",
    ),
    path("admin/", admin.site.urls),
    path("", include("registry.urls")),
]
