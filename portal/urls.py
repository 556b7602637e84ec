from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import SimpleRouter

from . import api
from .accounts import views as account_views
from .spreadsheets import api as upload_api
from .spreadsheets import views as upload_views
from .views import audit, calendar, dashboard, errors, notices, organisations, tokens

uploads = SimpleRouter()
uploads.register("uploads", upload_api.UploadJobViewSet, basename="upload")

handler400 = "portal.views.errors.error_400"
handler403 = "portal.views.errors.error_403"
handler404 = "portal.views.errors.error_404"
handler500 = "portal.views.errors.error_500"

urlpatterns = [
    path("", include("oversight.public.urls")),  # first: the busiest URLs (see there)
    path("", dashboard.home, name="home"),
    path("healthz", errors.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page links: the portal's own icon.
    path("favicon.ico", dashboard.favicon, name="favicon"),
    path("accounts/login/", account_views.login_view, name="login"),
    path("accounts/logout/", account_views.logout_view, name="logout"),
    path("accounts/2fa/", account_views.totp_verify_view, name="totp_verify"),
    path("accounts/2fa/setup/", account_views.totp_setup_view, name="totp_setup"),
    path("accounts/password/", account_views.password_change_view, name="password_change"),
    path("accounts/security/", account_views.account_security_view, name="account_security"),
    path("organisations/", organisations.organisation_list, name="organisation_list"),
    path("organisations/new/", organisations.organisation_create, name="organisation_create"),
    path("organisations/<int:pk>/", organisations.organisation_detail, name="organisation_detail"),
    path("organisations/<int:pk>/edit/", organisations.organisation_edit, name="organisation_edit"),
    path(
        "organisations/<int:pk>/scope/", organisations.organisation_scope, name="organisation_scope"
    ),
    path(
        "organisations/<int:org_pk>/users/new/",
        organisations.user_create,
        name="organisation_user_create",
    ),
    path("users/", organisations.user_list, name="user_list"),
    path("users/new/", organisations.user_create, name="user_create"),
    path("users/<int:pk>/", organisations.user_edit, name="user_edit"),
    path("tokens/", tokens.token_list, name="token_list"),
    path("tokens/<int:pk>/revoke/", tokens.token_revoke, name="token_revoke"),
    path("notices/", notices.notice_list, name="notice_list"),
    path("notices/read-all/", notices.notice_read_all, name="notice_read_all"),
    path("notices/<int:pk>/open/", notices.notice_open, name="notice_open"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("audit/<int:pk>/", audit.audit_detail, name="audit_detail"),
    path("calendar/", calendar.calendar_index, name="calendar_index"),
    path("calendar/seed/", calendar.calendar_seed, name="calendar_seed"),
    path("calendar/upload/", calendar.calendar_upload, name="calendar_upload"),
    path("calendar/<int:year>/", calendar.calendar_year, name="calendar_year"),
    path("calendar/day/<str:day>/", calendar.calendar_day, name="calendar_day"),
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
    path("", include("oversight.urls")),
    path("", include("filings.urls")),
]
