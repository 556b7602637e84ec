"""One settings module, driven by environment variables (healthchecks' habit).

Embedded default: SQLite in ``var/``, Celery on kombu's SQLAlchemy transport over a SQLite
file (no broker server), media in ``var/media``. Production sets ``DATABASE_URL``,
``CELERY_BROKER_URL``, ``SECRET_KEY``, ``AUDIT_HMAC_KEY``, ``DEBUG=0`` and ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded SQLite database and broker live here


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


MIN_RETENTION_DAYS = 730  # 2 years: the rules say "at least"


def retention_days(value: str | None) -> int:
    """``RETENTION_DAYS``: how long uploads and reports are kept; default 731 days, never
    under 2 years (000 §二(一)2; 001 第十二条: records kept at least 2 years)."""
    if value is None or not value.strip():
        return 731
    try:
        days = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"RETENTION_DAYS 应为整数天数，而不是 {value!r}") from None
    if days < MIN_RETENTION_DAYS:
        raise ImproperlyConfigured(
            f"RETENTION_DAYS 不能少于 {MIN_RETENTION_DAYS} 天（{days}）：记录至少保存 2 年"
            "（000 §二(一)2；001 第十二条）"
        )
    return days


PREPARE_ONLY_WHEN_ASKED = 2**31 - 1  # psycopg prepares after this many runs: never


def database_from_url(url: str) -> dict:
    """Parse ``sqlite:///path`` or ``postgres://user:pass@host:port/name?opt=v``."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        name = unquote(parts.path[1:] if parts.path.startswith("//") else parts.path[1:])
        return sqlite_database(name or str(VAR_DIR / "portal.sqlite3"))
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        # Django's own cursors bind on the client and never prepare; Django would open the
        # connection with preparing off altogether (None). A threshold no statement reaches
        # lets a statement that asks for it be prepared: the public number check's lookup
        # (oversight/public/check.py), planned once per connection instead of per request.
        options.setdefault("prepare_threshold", PREPARE_ONLY_WHEN_ASKED)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": int(os.environ.get("CONN_MAX_AGE", "60")),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(f"DATABASE_URL 的协议不受支持: {parts.scheme!r}")


def sqlite_database(name: str) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        "OPTIONS": {
            # IMMEDIATE serialises writers up front, so the audit chain and the import
            # merges never meet a "database is locked" half-way through a transaction.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
            ),
        },
        "TEST": {"NAME": os.environ.get("SQLITE_TEST_NAME") or None},
    }


# The embedded default (make run): one machine, plain HTTP on 127.0.0.1, demo data. It runs
# with DEBUG off, so users see the portal's own Chinese 403/404/500 pages and no technical
# page listing the URL patterns, but keeps the demo's conveniences: development keys, no
# HTTPS redirect, no secure-only cookies (issue 10 §5). Never for production.
EMBEDDED = env_bool("EMBEDDED", False)
DEBUG = env_bool("DEBUG", not EMBEDDED)
DEMO = DEBUG or EMBEDDED  # development keys and demo helpers (load_demo, demo_totp) allowed
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEMO:
        raise ImproperlyConfigured("生产环境必须设置 SECRET_KEY 环境变量")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105

AUDIT_KEY_MIN_LENGTH = 32
DEV_AUDIT_HMAC_KEY = "dev-only-insecure-audit-key-do-not-use-in-production-0123456789"  # noqa: S105


def audit_hmac_keys(
    key: str, key_id: str, old_keys: str, *, debug: bool
) -> tuple[str, dict[str, str]]:
    """The audit chain's HMAC keys (portal/audit.py), from the environment only, never the
    database: ``AUDIT_HMAC_KEY`` signs new events and checkpoints under ``AUDIT_HMAC_KEY_ID``;
    ``AUDIT_HMAC_OLD_KEYS`` (``id:key,id:key``, oldest first) keeps retired keys for
    verifying what they signed. Returns (current id, {id: key} oldest first)."""
    if not key:
        if not debug:
            raise ImproperlyConfigured(
                "生产环境必须设置 AUDIT_HMAC_KEY 环境变量（审计日志哈希链的密钥，不存数据库）"
            )
        key, key_id = DEV_AUDIT_HMAC_KEY, "dev"
    key_id = key_id or "1"
    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in old_keys.split(","))):
        old_id, colon, old_key = item.partition(":")
        if not colon or not old_id.strip() or not old_key.strip():
            raise ImproperlyConfigured(
                "AUDIT_HMAC_OLD_KEYS 的格式应为“编号:密钥,编号:密钥”（从最早的密钥起）"
            )
        keys[old_id.strip()] = old_key.strip()
    if key_id in keys:
        raise ImproperlyConfigured(
            f"AUDIT_HMAC_KEY_ID“{key_id}”已在 AUDIT_HMAC_OLD_KEYS 中：轮换时请换一个新编号"
        )
    keys[key_id] = key
    for name, value in keys.items():
        if not debug and len(value) < AUDIT_KEY_MIN_LENGTH:
            raise ImproperlyConfigured(
                f"审计日志密钥“{name}”太短（AUDIT_HMAC_KEY / AUDIT_HMAC_OLD_KEYS 至少 "
                f"{AUDIT_KEY_MIN_LENGTH} 个字符）"
            )
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", name):
            raise ImproperlyConfigured(
                f"审计日志密钥编号“{name}”只能含字母、数字、- 和 _，至多 16 个字符"
            )
    return key_id, keys


AUDIT_HMAC_KEY_ID, AUDIT_HMAC_KEYS = audit_hmac_keys(
    os.environ.get("AUDIT_HMAC_KEY", ""),
    os.environ.get("AUDIT_HMAC_KEY_ID", ""),
    os.environ.get("AUDIT_HMAC_OLD_KEYS", ""),
    debug=DEMO,
)
# Signed checkpoints of the audit trail, one JSON line each, appended (portal/audit.py).
AUDIT_CHECKPOINT_FILE = Path(
    os.environ.get("AUDIT_CHECKPOINT_FILE") or VAR_DIR / "audit-checkpoints.jsonl"
)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
USE_X_FORWARDED_FOR = env_bool("USE_X_FORWARDED_FOR", False)
CSRF_FAILURE_VIEW = "portal.views.errors.csrf_failure"

INSTALLED_APPS = [
    # The admin's default site is the portal's (OTP-verified staff only, login through the
    # portal's login page): portal/admin_site.py.
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "import_export",
    # Second factor (TOTP devices) and login lockout: maintained libraries, not our own.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_ratelimit",
    "portal",
    "registry",
    "filings",
    "oversight",
]

MIDDLEWARE = [
    "portal.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): True once the session passed a TOTP device.
    "django_otp.middleware.OTPMiddleware",
    # Before the session limits: they tell the user why they were logged out.
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.NoStoreMiddleware",
    "portal.middleware.SessionTimeoutMiddleware",
    # A session of an account that needs the second factor but has not passed it ends.
    "portal.accounts.middleware.SecondFactorRequiredMiddleware",
    "portal.middleware.PasswordChangeRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: it sees the response of the login views (lockout state set by axes).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "portal.User"
# axes first: it refuses a locked-out username or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# A new password may not be any of the last N (only their hashes are kept).
PASSWORD_HISTORY_COUNT = int(os.environ.get("PASSWORD_HISTORY_COUNT", "5"))
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "portal.accounts.passwords.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "portal.accounts.passwords.NotUsernameValidator"},
    {
        "NAME": "portal.accounts.passwords.PasswordHistoryValidator",
        "OPTIONS": {"count": PASSWORD_HISTORY_COUNT},
    },
    # zxcvbn's estimate, 0..4: 3 means "safely unguessable" (about 10^8 guesses and more).
    {"NAME": "portal.accounts.passwords.StrengthValidator", "OPTIONS": {"min_score": 3}},
]

# Login security (GB/T 22239 level 2): lockout and session limits.
TOTP_ISSUER = os.environ.get("TOTP_ISSUER", "金融营销催收号码备案与比对平台")
LOGIN_LOCKOUT_FAILURES = 5
LOGIN_LOCKOUT_WINDOW_SECONDS = 15 * 60
# Per client address, beside the per-account limit: password spraying (one try on each of
# many accounts) locks the address. A whole office behind one NAT address shares it, so it
# is well above the per-account limit.
LOGIN_LOCKOUT_IP_FAILURES = int(os.environ.get("LOGIN_LOCKOUT_IP_FAILURES", "20"))

# django-axes does the counting (portal/accounts/lockout.py: the two limits, messages).
AXES_HANDLER = "portal.accounts.lockout.PortalAxesHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # counted apart, each with its limit
AXES_FAILURE_LIMIT = LOGIN_LOCKOUT_FAILURES
AXES_COOLOFF_TIME = dt.timedelta(seconds=LOGIN_LOCKOUT_WINDOW_SECONDS)
AXES_USERNAME_CALLABLE = "portal.accounts.lockout.username_key"
AXES_CLIENT_IP_CALLABLE = "portal.middleware.client_ip"
AXES_RESET_ON_SUCCESS = True  # a successful login (both factors) starts the count afresh
# A try while locked is refused and does not restart the 15 minutes.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "portal.accounts.lockout.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure kept (with the audit trail's own)
AXES_SENSITIVE_PARAMETERS = ["password", "code", "current_code", "csrfmiddlewaretoken"]
AXES_VERBOSE = False

# django-otp: TOTP devices (RFC 6238, 30 s, 6 digits, one step of drift either way).
OTP_TOTP_ISSUER = TOTP_ISSUER
# No per-device back-off: a wrong code counts toward the axes lockout (5 in 15 minutes),
# which is stricter and says how long; a back-off would refuse the right code too.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
SESSION_IDLE_TIMEOUT_SECONDS = int(os.environ.get("SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60))
SESSION_ABSOLUTE_TIMEOUT_SECONDS = int(
    os.environ.get("SESSION_ABSOLUTE_TIMEOUT_SECONDS", 12 * 3600)
)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT_SECONDS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
# API tokens (issue 16 item 6): issued by an organisation's 管理员 on /tokens/, valid this many
# days, revoked when the user's password changes or the account is deactivated.
API_TOKEN_DAYS = int(os.environ.get("API_TOKEN_DAYS", "90"))
if not 1 <= API_TOKEN_DAYS <= 366:
    raise ImproperlyConfigured(f"API_TOKEN_DAYS 应在 1–366 天之间（{API_TOKEN_DAYS}）")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEMO
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# The demo serves static files straight from the app folders (no collectstatic needed);
# production serves the collected, hashed, compressed copies.
WHITENOISE_USE_FINDERS = DEMO
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served directly: downloads go through views that check tenancy

# Uploads: the importer refuses anything larger before reading it.
UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", 50 * 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The spreadsheet reader runs in a child process with these limits (sandbox.py): a file
# that needs more fails its job with a message, the worker lives on.
IMPORT_READER_MAX_MEMORY_MB = int(os.environ.get("IMPORT_READER_MAX_MEMORY_MB", 2048))
IMPORT_READER_MAX_CPU_SECONDS = int(os.environ.get("IMPORT_READER_MAX_CPU_SECONDS", 600))
# A job whose attempts were lost this many times (its worker died) fails instead of being
# redelivered again; a queued or running job silent for this long no longer blocks a new
# upload of the same file.
IMPORT_MAX_LOST_ATTEMPTS = int(os.environ.get("IMPORT_MAX_LOST_ATTEMPTS", 2))
IMPORT_STALE_SECONDS = int(os.environ.get("IMPORT_STALE_SECONDS", 15 * 60))
# COMPLAINED_REGISTERED: complaints per registered number per quarter (issue 13).
COMPLAINT_THRESHOLD = int(os.environ.get("COMPLAINT_THRESHOLD", 3))


def _working_days(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    try:
        days = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} 应为工作日天数，而不是 {value!r}") from None
    if not 1 <= days <= 60:
        raise ImproperlyConfigured(f"{name} 应在 1–60 个工作日之间（{days}）")
    return days


# Disposal (issue 14 §2–3): the carrier acts within these working days of the order; an
# appeal is lodged within these of the order (002); a reversed number is restored within.
DISPOSAL_WORKING_DAYS = _working_days("DISPOSAL_WORKING_DAYS", 5)
APPEAL_WORKING_DAYS = _working_days("APPEAL_WORKING_DAYS", 15)
RESTORE_WORKING_DAYS = _working_days("RESTORE_WORKING_DAYS", 3)
# Records are kept at least 2 years (000 §二(一)2; 001 第十二条).
RETENTION_DAYS = retention_days(os.environ.get("RETENTION_DAYS"))

# Bulk-SMS filings (filings/checks.py, issue 12 §3): which check codes stop a submission
# (the rest are warnings the regulator sees), and the hours when collection SMS may not be
# sent (000 §二(一)2: 22:00–08:00), by province ("" = everywhere else), e.g.
# SMS_FILING_QUIET_HOURS="22:00-08:00;某省=21:30-08:30".
SMS_FILING_BLOCKING_CHECKS = env_list(
    "SMS_FILING_BLOCKING_CHECKS",
    "LATE,CALENDAR_MISSING,PORT_UNREGISTERED,SENDER_UNAUTHORISED,BAD_PERIOD",
)


def quiet_hours(text: str) -> dict[str, tuple[str, str]]:
    hours = {"": ("22:00", "08:00")}
    for part in text.split(";"):
        province, _, span = part.strip().rpartition("=")
        if "-" in span:
            start, end = (piece.strip() for piece in span.split("-", 1))
            hours[province.strip()] = (start, end)
    return hours


SMS_FILING_QUIET_HOURS = quiet_hours(os.environ.get("SMS_FILING_QUIET_HOURS", "22:00-08:00"))

# Security headers. HTTPS-only settings switch on when DEBUG is off.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEMO:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# E-mail (the notice centre, portal/notices.py). The embedded default and development write
# each message as a file to var/mail/; production sends by SMTP with settings from the
# environment (EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
# EMAIL_USE_TLS / EMAIL_USE_SSL); EMAIL_BACKEND overrides either.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if DEMO
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "portal@localhost")
# The portal's own address, for links in e-mails.
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000")

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The token first: its 401 names the scheme (WWW-Authenticate: Token).
        "portal.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.permissions.PasswordChanged"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/min"),
        "user": os.environ.get("API_THROTTLE_USER", "600/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["portal.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "portal.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "金融营销催收号码备案与比对平台 API",
    "DESCRIPTION": "机构号码备案、运营商报送、比对处置的接口。所有数据按调用者所属单位隔离。",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema (and the docs page, login_required in portal/urls.py) for logged-in users
    # and tokens only (issue 16 item 8).
    "SERVE_PERMISSIONS": ["portal.permissions.PasswordChanged"],
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui",  # spectacular appends "/swagger-ui-….js"
    "SWAGGER_UI_FAVICON_HREF": "/static/portal/favicon.svg",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status" or "kind"; name their choice sets apart.
    "ENUM_NAME_OVERRIDES": {
        "NumberStatusEnum": "registry.models.Status",
        "ImportStatusEnum": "registry.models.ImportStatus",
        "NumberKindEnum": "registry.models.NumberKindField",
        "PurposeEnum": "registry.models.Purpose",
        "ImportModeEnum": "registry.models.ImportMode",
        "FilingCheckCodeEnum": "filings.checks.CODE_CHOICES",
        "FilingStatusEnum": "filings.models.FilingStatus",
        "SmsPurposeEnum": "filings.models.SmsPurpose",
        "FilingQualificationEnum": "filings.models.Qualification",
        "FilingDecisionEnum": "filings.serializers.DECISIONS",
        "DisposalActionEnum": "oversight.cases.DisposalAction",
        "CaseStatusEnum": "oversight.cases.CaseStatus",
        "AppealStatusEnum": "oversight.cases.AppealStatus",
        "FindingReviewEnum": "oversight.cases.Review",
        "FindingDecisionInputEnum": "oversight.case_api.REVIEW_DECISIONS",
        # What a write accepts: the code or its Chinese label (registry/serializers.py).
        "PurposeInputEnum": "registry.serializers.PURPOSE_CHOICES",
        "NumberKindInputEnum": "registry.serializers.NUMBER_KIND_CHOICES",
        "OrganisationKindEnum": "portal.models.OrgKind",
        "RoleEnum": "portal.models.Role",
        "ReportStatusEnum": "registry.models.ReportStatus",
        "ObjectMatchEnum": "registry.models.ObjectMatch",
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "portal",
    }
}
# The public pages' rate limits (issue 15) count in a cache shared by every process with an
# atomic increment: Redis in production (django-redis at CACHE_URL or REDIS_URL), the
# database cache (table portal_ratelimit_cache, made by `createcachetable`) in the embedded
# default, whose increment portal.cache makes atomic.
CACHES["ratelimit"] = {
    "BACKEND": "portal.cache.AtomicDatabaseCache",
    "LOCATION": "portal_ratelimit_cache",
    "OPTIONS": {"MAX_ENTRIES": 100_000},
}
CACHE_URL = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL")
if CACHE_URL:
    CACHES["default"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": CACHE_URL,
    }
    CACHES["ratelimit"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "ratelimit",
    }
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_FAIL_OPEN = False  # the cache unreachable: the public pages refuse, never unlimited
# django_ratelimit's check knows the stock DatabaseCache is not atomic; ours is.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]

# The public side (issue 15): per client IP (USE_X_FORWARDED_FOR behind the proxy).
PUBLIC_RATE_LIMIT_ENABLED = env_bool("PUBLIC_RATE_LIMIT_ENABLED", True)
PUBLIC_RATE_LIMIT_MINUTE = int(os.environ.get("PUBLIC_RATE_LIMIT_MINUTE", "30"))
PUBLIC_RATE_LIMIT_DAY = int(os.environ.get("PUBLIC_RATE_LIMIT_DAY", "300"))
# Checks are counted per client per day in memory and written every N seconds (one upsert).
PUBLIC_CHECK_FLUSH_SECONDS = float(os.environ.get("PUBLIC_CHECK_FLUSH_SECONDS", "5"))
PUBLIC_HEAVY_CALLER_CHECKS = int(os.environ.get("PUBLIC_HEAVY_CALLER_CHECKS", "100"))
# Abnormal complaints (003): near-identical texts, one contact at many institutions, bursts.
ABNORMAL_TEXT_MIN_GROUP = int(os.environ.get("ABNORMAL_TEXT_MIN_GROUP", "5"))
ABNORMAL_CONTACT_MIN_INSTITUTIONS = int(os.environ.get("ABNORMAL_CONTACT_MIN_INSTITUTIONS", "3"))
ABNORMAL_BURST_COUNT = int(os.environ.get("ABNORMAL_BURST_COUNT", "5"))
ABNORMAL_BURST_WINDOW_MINUTES = int(os.environ.get("ABNORMAL_BURST_WINDOW_MINUTES", "60"))

# Celery: embedded broker by default; Redis or RabbitMQ in production.
CELERY_BROKER_URL = os.environ.get(
    "CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}"
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "portal")
# Workers keep Django's LOGGING (JSON lines with request ids) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# kombu's SQLAlchemy transport passes its transport options to create_engine(), which
# refuses unknown keywords (architecture.md): the embedded broker gets none.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {}
    if CELERY_BROKER_URL.startswith("sqla+")
    # Redis only: how long before a task whose worker vanished is handed to another one; it
    # must exceed the longest import (a 1M-row register takes well under a minute).
    else {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600"))}
)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Carriers that have not submitted: 3 working days before the deadline and on the day,
    # each reminder once (registry.services.service_report_reminders_send).
    "report-reminders": {
        "task": "registry.tasks.send_report_reminders",
        "schedule": 3600,
    },
    "end-expired-partner-numbers": {
        "task": "registry.tasks.end_expired_partner_numbers",
        "schedule": 3600,
    },
    # Daily; idempotent, so a missed or repeated run changes nothing but the timing.
    "purge-expired-imports": {
        "task": "registry.tasks.purge_expired_imports",
        "schedule": 24 * 3600,
    },
    # Daily; starts the quarter's cross-match on the working day after its report deadline
    # (once per quarter: a second tick that day finds the run and does nothing).
    "scheduled-reconciliation": {
        "task": "oversight.tasks.scheduled_reconciliation",
        "schedule": 3 * 3600,
    },
    # Hourly; flags overdue disposal cases and reminds each carrier once a day per case
    # (oversight.casework.overdue_remind: one ReminderSent per case and day).
    "case-overdue-reminders": {
        "task": "oversight.tasks.case_overdue_reminders",
        "schedule": 3600,
    },
    # Daily signed checkpoint of the audit trail (file and log), after verifying it.
    "audit-checkpoint": {
        "task": "portal.tasks.write_audit_checkpoint",
        "schedule": 24 * 3600,
    },
}

LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEMO else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "portal.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "INFO"},
        # Signed audit checkpoints must reach the log whatever LOG_LEVEL says.
        "portal.audit.checkpoint": {"level": "INFO"},
        # axes logs every attempt at INFO; failures (WARNING) and the audit trail suffice.
        "axes": {"level": "WARNING"},
    },
}
