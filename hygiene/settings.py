"""Leakline settings. Everything comes from the environment; see README "Configuration"."""

import sys
from importlib.util import find_spec
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from hygiene.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
_DEV_SECRET = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"
SECRET_KEY = env_secret("SECRET_KEY") or (_DEV_SECRET if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is not set (required when DEBUG is off)")
FINGERPRINT_KEY = env_secret("LEAKLINE_FINGERPRINT_KEY") or (
    "dev-only-fingerprint-key" if DEBUG else None
)
if not FINGERPRINT_KEY:
    raise ImproperlyConfigured("LEAKLINE_FINGERPRINT_KEY is not set (required when DEBUG is off)")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "hygiene",
    "incidents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "hygiene.middleware.RejectNulCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "hygiene.middleware.NoStoreMiddleware",  # after auth: it asks who the user is
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "hygiene.middleware.HtmxMiddleware",  # sees the login redirect below
    "hygiene.middleware.LoginRequiredMiddleware",
    "hygiene.middleware.ContentSecurityPolicyMiddleware",
]

# django-ninja is not an installed app: as one it was imported (with pydantic) by every process,
# 0.12 s of each CLI import's start-up, where only the API needs it. The API docs page takes
# Swagger UI from its static files and template (the CSP allows no CDN): both directories are
# found without importing the package (hygiene.api.LocalSwagger).
NINJA_DIR = Path(find_spec("ninja").submodule_search_locations[0])

ROOT_URLCONF = "hygiene.urls"
WSGI_APPLICATION = "hygiene.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", NINJA_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hygiene.roles.role_context",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'leakline.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the embedded worker thread read while a request writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif sys.argv[1:2] in (["runserver"], ["serve"]):
    # The dev server (also under `serve`) runs each request in a thread of its own: a kept
    # connection would outlive its thread, one more per request, until PostgreSQL refuses
    # every client. gunicorn and the rq workers keep theirs.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Background work. Without REDIS_URL, jobs run in-process after the transaction commits.
REDIS_URL = env_str("REDIS_URL")
RQ_QUEUES = {
    name: {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 900}
    for name in ("default", "imports", "notifications")
}
RQ = {"COMMIT_MODE": "on_db_commit"}
# The cache holds short-lived counters (failed logins: hygiene.login_throttle), shared by every
# web process through Redis; embedded, the one process keeps them in memory.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "leakline",
            # A hung Redis must not hang logins: the throttle then lets them through.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
AUTHENTICATION_BACKENDS = ["hygiene.login_throttle.ThrottledModelBackend"]
# How many reverse proxies in front append to X-Forwarded-For (1 behind production's
# TLS-terminating one): the login and reset limits count the client's address, not the proxy's.
LEAKLINE_TRUSTED_PROXIES = env_int("LEAKLINE_TRUSTED_PROXIES", 0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
CSRF_FAILURE_VIEW = "hygiene.middleware.csrf_failure"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static", NINJA_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "hygiene.staticfinders.PlotlyJsFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Email (password reset, notifications). Without EMAIL_HOST, mail is dropped: the console
# backend would print every password-reset link to the log (gunicorn's stdout), so only the
# DEBUG demo gets it; the reset page then says e-mail isn't configured, and `check --deploy`
# warns (hygiene.login_throttle.check_email).
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.dummy.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Leakline <leakline@localhost>")

# Security. Production (DEBUG off) is strict; `manage.py check --deploy` is clean.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; object-src 'none'"
)

# Leakline.
LEAKLINE_MAX_REPORT_BYTES = env_int("LEAKLINE_MAX_REPORT_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
LEAKLINE_SPOOL_DIR = env_str("LEAKLINE_SPOOL_DIR", "")  # "" = system temp dir
# An upload too large for memory goes to a file without a name in LEAKLINE_SPOOL_DIR (Django's
# own handler writes a named one, left behind if the worker is killed): hygiene/uploads.py.
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "hygiene.uploads.AnonymousFileUploadHandler",
]
# Reports at least this large, in a format that can be cut, are parsed by two processes
# (PostgreSQL only). 0 turns it off.
LEAKLINE_PARALLEL_PARSE_BYTES = env_int("LEAKLINE_PARALLEL_PARSE_BYTES", 16 * 1024 * 1024)
LEAKLINE_NAG_PERIOD_MINUTES = env_int("LEAKLINE_NAG_PERIOD_MINUTES", 60)
LEAKLINE_WEBHOOK_SIGNING_KEY = env_secret("LEAKLINE_WEBHOOK_SIGNING_KEY", "") or ""

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
