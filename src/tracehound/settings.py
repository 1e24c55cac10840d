"""All settings, from environment variables. Every variable is documented in README.md.

Bad values fail at start with a message naming the variable (ImproperlyConfigured).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from tracehound.accounts.mail import email_settings as _email_settings


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be <= {maximum}, got {value}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name) or default
    if raw.upper() not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw.upper()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def database_from_url(url: str, data_dir: Path) -> dict[str, object]:
    if not url:
        # SQLite in the data dir is the zero-setup default: one file, no server to run.
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(data_dir / "tracehound.sqlite3"),
            "OPTIONS": {
                # WAL lets readers run beside the single writer; IMMEDIATE takes the write
                # lock at BEGIN so concurrent writers queue on busy_timeout instead of failing.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                # auto_vacuum only takes effect before the first table: new databases
                # give freed pages back (the worker runs incremental_vacuum).
                "init_command": (
                    "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL;"
                    " PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                    " PRAGMA cache_size=-16000; PRAGMA temp_store=MEMORY;"
                ),
            },
            "TEST": {"NAME": str(data_dir / "test-tracehound.sqlite3")},
        }
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// or postgresql://, got {parts.scheme!r}"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured(
            "DATABASE_URL must name a database, e.g. postgres://host/tracehound"
        )
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }


def load_secret_key(data_dir: Path) -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    # Generated once and kept beside the data, so sessions survive restarts.
    path = data_dir / "secret_key"
    if not path.exists():
        # Written 0600 from the start into a file of our own, then linked into place:
        # link fails if another first start won, and then its complete key is read.
        tmp = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"the secret key file {str(path)!r} is empty")
    return key


HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"]


def env_host(name: str, default: str) -> str:
    raw = env_str(name, default)
    try:
        ipaddress.ip_address(raw.strip("[]"))
        return raw.strip("[]")
    except ValueError:
        pass
    if not HOST_NAME.match(raw):
        raise ImproperlyConfigured(f"{name} must be an IP address or a host name, got {raw!r}")
    return raw


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def default_base_url(host: str, port: int) -> str:
    # A wildcard bind has no address to put in a URL: this machine's loopback stands in.
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{url_host(host)}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


DATA_DIR = Path(env_str("TRACEHOUND_DATA_DIR", "./data")).resolve()
try:
    # Only the owner may read the database and the secret key (`tracehound` also sets a
    # 0o077 umask, so SQLite's -wal and -shm files are private too).
    DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(
        f"TRACEHOUND_DATA_DIR {str(DATA_DIR)!r} is not usable: {exc}"
    ) from None

# Where `serve`/`web` listen (their --host/--port override these).
TRACEHOUND_HOST = env_host("TRACEHOUND_HOST", "127.0.0.1")
TRACEHOUND_PORT = env_int("TRACEHOUND_PORT", 8000, minimum=1, maximum=65535)
# Unset, the public URL is the address the server listens on, so DSNs match its port.
BASE_URL_IS_SET = bool(os.environ.get("BASE_URL"))
BASE_URL = env_str("BASE_URL", "").rstrip("/") or default_base_url(TRACEHOUND_HOST, TRACEHOUND_PORT)
_base = urlsplit(BASE_URL)
try:
    _base.port  # noqa: B018 - raises on a bad port
except ValueError:
    raise ImproperlyConfigured(f"BASE_URL has a bad port: {BASE_URL!r}") from None
if _base.scheme not in ("http", "https") or not _base.hostname:
    raise ImproperlyConfigured(f"BASE_URL must be an http(s) URL, got {BASE_URL!r}")
IS_HTTPS = _base.scheme == "https"

SECRET_KEY = load_secret_key(DATA_DIR)
# Old keys still accepted for signatures and for secrets at rest (lib/secrets_box.py).
SECRET_KEY_FALLBACKS = [
    k.strip() for k in env_str("TRACEHOUND_SECRET_KEY_FALLBACKS", "").split(",") if k.strip()
]
DEBUG = env_bool("TRACEHOUND_DEBUG", False)
_base_host = url_host(_base.hostname)
ALLOWED_HOSTS = [
    h.strip()
    for h in env_str(
        "TRACEHOUND_ALLOWED_HOSTS",
        ",".join(LOOPBACK_NAMES if is_loopback(_base.hostname) else [_base_host]),
    ).split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]

TRACEHOUND_WEB_WORKERS = env_int("TRACEHOUND_WEB_WORKERS", 1, minimum=1)
TRACEHOUND_WEB_THREADS = env_int("TRACEHOUND_WEB_THREADS", 4, minimum=1)
# Ingest limits (bytes, after decompression) and the default per-project rate limit.
TRACEHOUND_MAX_ENVELOPE_SIZE = env_int(
    "TRACEHOUND_MAX_ENVELOPE_SIZE", 20 * 1024 * 1024, minimum=1024
)
TRACEHOUND_MAX_EVENT_SIZE = env_int("TRACEHOUND_MAX_EVENT_SIZE", 1024 * 1024, minimum=1024)
TRACEHOUND_MAX_ATTACHMENT_SIZE = env_int(
    "TRACEHOUND_MAX_ATTACHMENT_SIZE", 10 * 1024 * 1024, minimum=1024
)
TRACEHOUND_RATE_LIMIT = env_int(
    "TRACEHOUND_RATE_LIMIT", 0
)  # events per minute per project; 0 = off


def env_networks(name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    raw = os.environ.get(name, "")
    try:
        return tuple(ipaddress.ip_network(p.strip()) for p in raw.split(",") if p.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be IP addresses or networks: {exc}") from None


# Ingest deadlines (seconds): reading a request body (slower senders get 408), and
# any one wait on the database (connect, statement, group commit; then 503).
TRACEHOUND_BODY_TIMEOUT = env_int("TRACEHOUND_BODY_TIMEOUT", 30, minimum=1)
TRACEHOUND_INGEST_DB_TIMEOUT = env_int("TRACEHOUND_INGEST_DB_TIMEOUT", 10, minimum=1)
# Request-body bytes one web worker holds at once (the event loop reads bodies before
# any thread is free, so nothing else bounds them); past it, 503 with Retry-After.
TRACEHOUND_BODY_MEMORY = env_int(
    "TRACEHOUND_BODY_MEMORY",
    max(256 * 1024 * 1024, 2 * TRACEHOUND_MAX_ENVELOPE_SIZE),
    minimum=TRACEHOUND_MAX_ENVELOPE_SIZE,
)
# Attachment bytes per minute per project; 0 = off. Attachment items also count against
# the project's rate limit (as many attachments as events per minute).
TRACEHOUND_ATTACHMENT_RATE_LIMIT_BYTES = env_int("TRACEHOUND_ATTACHMENT_RATE_LIMIT_BYTES", 0)


# Reverse proxies whose X-Forwarded-For is believed, for the client IP ({{auto}}).
TRACEHOUND_TRUSTED_PROXIES = env_networks("TRACEHOUND_TRUSTED_PROXIES")
TRACEHOUND_DIGEST_BATCH = env_int("TRACEHOUND_DIGEST_BATCH", 200, minimum=1)
# How long a claimed queue row stays with its worker before another may take it.
TRACEHOUND_CLAIM_SECONDS = env_int("TRACEHOUND_CLAIM_SECONDS", 60, minimum=1)
# Processes a worker uses to digest a backlog (started on demand, stopped when idle).
TRACEHOUND_DIGEST_PROCESSES = env_int(
    "TRACEHOUND_DIGEST_PROCESSES", min(os.cpu_count() or 1, 4), minimum=1
)
# CPU priority the worker lowers itself by (nice), with its digest processes and
# delivery thread: on a shared machine, ingest answers first and digest catches up.
TRACEHOUND_WORKER_NICE = env_int("TRACEHOUND_WORKER_NICE", 10, minimum=0, maximum=19)
# Days events are kept (a project's retention_days overrides it). The worker deletes
# older events in small slices, with their attachments and feedback.
TRACEHOUND_RETENTION_DAYS = env_int("TRACEHOUND_RETENTION_DAYS", 30, minimum=1, maximum=36500)
# Events stored per issue at most: the first, the latest this many, and one per hour
# before those; counters stay exact. 0 = no cap.
TRACEHOUND_ISSUE_EVENT_CAP = env_int("TRACEHOUND_ISSUE_EVENT_CAP", 10000)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's session list
    "tracehound.projects",
    "tracehound.accounts",
    "tracehound.queue",
    "tracehound.issues",
    "tracehound.events",
    "tracehound.alerts",
    "tracehound.web",
    # After our apps, so our templates override allauth's.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tracehound.web.middleware.content_security_policy",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Records each session (address, browser, last seen) so it can be listed and ended.
    "allauth.usersessions.middleware.UserSessionsMiddleware",
]

ROOT_URLCONF = "tracehound.urls"
WSGI_APPLICATION = "tracehound.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": database_from_url(env_str("DATABASE_URL", ""), DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# argon2id for new and changed passwords; older hashes still verify and are upgraded at
# the next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Local accounts (django-allauth; see accounts/adapter.py and docs in README.md).
# allauth's backend logs in by username or email; Django's stays for logins made by
# code (single sign-on logs its users in with it).
AUTHENTICATION_BACKENDS = [
    "allauth.account.auth_backends.AuthenticationBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ACCOUNT_ADAPTER = "tracehound.accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "tracehound.accounts.forms.LoginForm",
    "signup": "tracehound.accounts.forms.SignupForm",
    "reset_password": "tracehound.accounts.forms.ResetPasswordForm",
    "set_password": "tracehound.accounts.forms.SetPasswordForm",
    "reset_password_from_key": "tracehound.accounts.forms.ResetPasswordKeyForm",
}
USERSESSIONS_ADAPTER = "tracehound.accounts.adapter.UserSessionsAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Sign-ups (by invitation or from an allowed email domain) must prove their address;
# accounts made by `tracehound user create` or SSO have no unverified address to prove.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_LOGOUT_REDIRECT_URL = "login"
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
# A reset request for an unknown address sends nothing and looks the same.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Tracehound] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if IS_HTTPS else "http"
# Failed log-ins are limited in the database (accounts/throttle.py), shared by every
# web process; allauth's own per-process limits stay for emails it sends.
ACCOUNT_RATE_LIMITS = {"login": None, "login_failed": None}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# The limit above also turns off allauth's on wrong codes: ours counts them instead.
MFA_FORMS = {
    "authenticate": "tracehound.accounts.forms.MfaAuthenticateForm",
    "reauthenticate": "tracehound.accounts.forms.MfaReauthenticateForm",
}
MFA_TOTP_ISSUER = "Tracehound"
MFA_RECOVERY_CODE_COUNT = 10
USERSESSIONS_TRACK_ACTIVITY = True
TRACEHOUND_INVITATION_DAYS = env_int("TRACEHOUND_INVITATION_DAYS", 7, minimum=1, maximum=90)

# Outgoing email (invitations, verification, password reset): accounts/mail.py.
_email = _email_settings(env_str("TRACEHOUND_EMAIL_URL", ""))
EMAIL_BACKEND: str = _email["EMAIL_BACKEND"]
EMAIL_HOST: str = _email["EMAIL_HOST"]
EMAIL_PORT: int = _email["EMAIL_PORT"]
EMAIL_HOST_USER: str = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD: str = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS: bool = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL: bool = _email["EMAIL_USE_SSL"]
EMAIL_TIMEOUT: int = _email["EMAIL_TIMEOUT"]
DEFAULT_FROM_EMAIL = env_str("TRACEHOUND_EMAIL_FROM", "tracehound@localhost")
if "@" not in DEFAULT_FROM_EMAIL or "\n" in DEFAULT_FROM_EMAIL:
    raise ImproperlyConfigured(
        f"TRACEHOUND_EMAIL_FROM must be an email address, got {DEFAULT_FROM_EMAIL!r}"
    )
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SESSION_COOKIE_HTTPONLY = True
# With an https BASE_URL, TLS usually ends at a reverse proxy that says so in
# X-Forwarded-Proto (it must overwrite the header clients send).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if IS_HTTPS else None
SESSION_COOKIE_SECURE = IS_HTTPS
CSRF_COOKIE_SECURE = IS_HTTPS
TRACEHOUND_HSTS_SECONDS = env_int("TRACEHOUND_HSTS_SECONDS", 31536000 if IS_HTTPS else 0)
SECURE_HSTS_SECONDS = TRACEHOUND_HSTS_SECONDS
# Off by default: the proxy in front usually redirects, and /health/ probes speak http.
SECURE_SSL_REDIRECT = env_bool("TRACEHOUND_SSL_REDIRECT", False)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"  # unused until collectstatic; whitenoise serves app dirs
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True

TRACEHOUND_LOG_LEVEL = env_choice(
    "TRACEHOUND_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": TRACEHOUND_LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}


# OpenID Connect single sign-on (accounts/sso.py): one provider from the environment,
# shown first on the login page as /sso/oidc/…; more can be added per organization.
# Outbound HTTP (alert backends, SSO): CIDRs allowed although private, loopback or
# link-local (e.g. a Jira Server inside the network), comma-separated.
def _networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for part in env_str(name, "").split(","):
        if part.strip():
            try:
                nets.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ImproperlyConfigured(f"{name}: {part.strip()!r} is not a CIDR") from None
    return nets


TRACEHOUND_OUTBOUND_ALLOW = _networks("TRACEHOUND_OUTBOUND_ALLOW")

# Alert delivery (alerts.delivery): a channel failing this many days in a row is
# disabled; finished notifications are kept this long; attempts before giving up; how
# long a worker holds a claimed notification before another may take it.
TRACEHOUND_ALERT_DISABLE_AFTER_DAYS = env_int("TRACEHOUND_ALERT_DISABLE_AFTER_DAYS", 3, minimum=1)
TRACEHOUND_ALERT_KEEP_DAYS = env_int("TRACEHOUND_ALERT_KEEP_DAYS", 30, minimum=1)
TRACEHOUND_ALERT_MAX_ATTEMPTS = env_int("TRACEHOUND_ALERT_MAX_ATTEMPTS", 30, minimum=1)
TRACEHOUND_ALERT_LEASE_SECONDS = env_int("TRACEHOUND_ALERT_LEASE_SECONDS", 300, minimum=10)

TRACEHOUND_OIDC_ISSUER = env_str("TRACEHOUND_OIDC_ISSUER", "").rstrip("/")
TRACEHOUND_OIDC_CLIENT_ID = env_str("TRACEHOUND_OIDC_CLIENT_ID", "")
TRACEHOUND_OIDC_CLIENT_SECRET = env_str("TRACEHOUND_OIDC_CLIENT_SECRET", "")
TRACEHOUND_OIDC_NAME = env_str("TRACEHOUND_OIDC_NAME", "") or "Single sign-on"
TRACEHOUND_OIDC_SCOPES = " ".join(
    env_str("TRACEHOUND_OIDC_SCOPES", "").split() or ["openid", "email", "profile", "groups"]
)
TRACEHOUND_OIDC_GROUPS_CLAIM = env_str("TRACEHOUND_OIDC_GROUPS_CLAIM", "").strip() or "groups"
TRACEHOUND_OIDC_TOKEN_AUTH = (
    env_str("TRACEHOUND_OIDC_TOKEN_AUTH", "").strip() or "client_secret_basic"
)
# Link an existing local account by email (only when the provider says email_verified).
TRACEHOUND_OIDC_TRUSTED_EMAIL = env_bool("TRACEHOUND_OIDC_TRUSTED_EMAIL", False)
# Members of this group are superusers (granted and taken away at every login).
TRACEHOUND_OIDC_ADMIN_GROUP = env_str("TRACEHOUND_OIDC_ADMIN_GROUP", "").strip()
if TRACEHOUND_OIDC_ISSUER:
    _oidc = urlsplit(TRACEHOUND_OIDC_ISSUER)
    if _oidc.scheme not in ("http", "https") or not _oidc.hostname or _oidc.query:
        raise ImproperlyConfigured(
            f"TRACEHOUND_OIDC_ISSUER must be an http(s) URL, got {TRACEHOUND_OIDC_ISSUER!r}"
        )
    if not TRACEHOUND_OIDC_CLIENT_ID:
        raise ImproperlyConfigured(
            "TRACEHOUND_OIDC_CLIENT_ID must be set with TRACEHOUND_OIDC_ISSUER"
        )
    if "openid" not in TRACEHOUND_OIDC_SCOPES.split():
        raise ImproperlyConfigured(
            f"TRACEHOUND_OIDC_SCOPES must include openid, got {TRACEHOUND_OIDC_SCOPES!r}"
        )
if TRACEHOUND_OIDC_TOKEN_AUTH not in ("client_secret_basic", "client_secret_post"):
    raise ImproperlyConfigured(
        "TRACEHOUND_OIDC_TOKEN_AUTH must be client_secret_basic or client_secret_post,"
        f" got {TRACEHOUND_OIDC_TOKEN_AUTH!r}"
    )
