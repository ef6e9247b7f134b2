"""Password guessing is held back: after LOGIN_FAILURES wrong passwords for one username from
one address within LOGIN_WINDOW, or ACCOUNT_FAILURES for the username from anywhere (a guesser
spread over many addresses), its password is not even checked until the window ends (the login
page says so, with 429); after ADDRESS_FAILURES wrong passwords from one address for any
usernames (one guesser trying a password on many accounts), no login from that address is.
A lock per address and account first: one address guessing can't lock the account for
everyone else. The account's own limit, which a guesser with enough addresses can reach, does
not hold back a browser that signed in as that user before (a signed device cookie) unless
LOGIN_FAILURES wrong passwords came with that cookie: the user is not locked out by others.

The address is the client's: REMOTE_ADDR, or behind LEAKLINE_TRUSTED_PROXIES reverse proxies
(the TLS-terminating one production needs) the entry of X-Forwarded-For that the outermost
trusted proxy added. The entries left of it are whatever the client sent, never trusted.
Without the setting every client behind a proxy has the proxy's address: ten wrong passwords
from anyone then lock the account for everyone. An IPv6 address counts by its /64 (one
client's network: it has 2**64 addresses to step through).

Counted in the cache (Redis in production, so every web process shares the count), keyed by a
hash of the lower-cased username. An attempt is counted before its password is checked (a
burst of parallel guesses can't slip past the limit) and the counts go when the password is
right, or when it is set anew (a reset unlocks the account); an address's count is of wrong
passwords only, and stays for its window. Enforced in the authentication backend, so the
admin's login is held to it too. If the cache is unreachable, logins go on unthrottled (said
in the log) rather than fail."""

import contextlib
import hashlib
import ipaddress
import logging
import secrets

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core import checks, signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
_CACHE_DOWN = (RedisError, OSError)
LOGIN_FAILURES = 10  # per username and address
ACCOUNT_FAILURES = 100  # per username, from anywhere
ADDRESS_FAILURES = 50  # per address, for any usernames
LOGIN_WINDOW = 15 * 60  # seconds
# A browser that signed in as a user carries a signed cookie saying so: the account's limit
# from anywhere (which anyone with enough addresses can reach) does not hold it back.
DEVICE_COOKIE = "leakline_device"
DEVICE_AGE = 180 * 24 * 60 * 60  # seconds
_DEVICE_SALT = "hygiene.login_throttle.device"


def _name(username: str) -> str:
    return hashlib.sha256((username or "").strip().lower().encode()).hexdigest()


def _keys(username: str, address: str) -> tuple[str, str]:
    """The username's counts, from this address and from anywhere, in its current generation
    (a right or new password starts a new one: every count of the account goes at once)."""
    name = _name(username)
    generation = cache.get(f"login-generation:{name}", 0)
    return (
        f"login-failures:{name}:{generation}:{address}",
        f"login-failures:{name}:{generation}",
    )


def _from(address: str) -> str:
    return f"login-failures-from:{address}"


def _normal(address: str) -> str | None:
    """The address as counted (IPv6 by its /64), or None if it is no IP address."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or with LEAKLINE_TRUSTED_PROXIES = n proxies in front
    the n-th entry of X-Forwarded-For from the right (each proxy appends the address it was
    reached from; the nearest one is REMOTE_ADDR). An X-Forwarded-For with fewer entries, or
    one that is no IP address there, is not what the proxies send: REMOTE_ADDR then."""
    if request is None:
        return "-"
    remote = request.META.get("REMOTE_ADDR") or ""
    remote = _normal(remote) or remote or "-"
    proxies = getattr(settings, "LEAKLINE_TRUSTED_PROXIES", 0)
    if proxies <= 0:
        return remote
    entries = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(entries) < proxies:
        return remote
    return _normal(entries[-proxies]) or remote


_address = client_address  # also the password reset's count per address


def _addresses_are_clients() -> bool:
    """Whether the address counted is the client's: behind the TLS-terminating proxy that
    production assumes (SECURE_PROXY_SSL_HEADER) it is the proxy's unless
    LEAKLINE_TRUSTED_PROXIES says how to find the client's. Then a limit per address, for any
    usernames, would let one guesser hold back everyone's logins: it applies only when the
    address is the client's (check_proxies warns on `check --deploy`)."""
    return getattr(settings, "LEAKLINE_TRUSTED_PROXIES", 0) > 0 or not getattr(
        settings, "SECURE_PROXY_SSL_HEADER", None
    )


def _address_held(request, username: str, count: int) -> bool:
    """The per-address limit, which a browser that signed in as the user before passes."""
    return (
        count >= ADDRESS_FAILURES
        and _addresses_are_clients()
        and not _known_device(request, username)
    )


def locked(username: str, request=None) -> str:
    """Why logins as ``username`` from the request's address are held back ("account" or
    "address"), or "" when they are not."""
    address = client_address(request)
    try:
        here, anywhere = _keys(username, address)
        counts = cache.get_many([here, anywhere, _from(address)])
        if _address_held(request, username, counts.get(_from(address), 0)):
            return "address"
    except _CACHE_DOWN:
        log.warning("login throttle skipped: the cache is unreachable")
        return ""
    if counts.get(here, 0) >= LOGIN_FAILURES:
        return "account"
    if counts.get(anywhere, 0) >= ACCOUNT_FAILURES:
        with contextlib.suppress(*_CACHE_DOWN):
            if _known_device(request, username):
                return ""
        return "account"
    return ""


def _count(key: str, window: int = LOGIN_WINDOW) -> int:
    cache.add(key, 0, window)  # the window starts at the first attempt
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, window)
        return 1


def _attempt(username: str, request) -> bool:
    """Count an attempt before its password is checked; whether it may be (within all three)."""
    address = client_address(request)
    try:
        if _address_held(request, username, cache.get(_from(address), 0)):
            return False
        here, anywhere = _keys(username, address)
        if _count(here) > LOGIN_FAILURES:
            return False
        return _count(anywhere) <= ACCOUNT_FAILURES or _known_device(request, username)
    except _CACHE_DOWN:
        log.warning("login throttle skipped: the cache is unreachable")
        return True


def _failed(username: str, request) -> None:
    """A wrong password (or an unknown username) from the request's address, and browser."""
    with contextlib.suppress(*_CACHE_DOWN):
        _count(_from(client_address(request)))
        if device := _device(request, username):
            _count(f"login-failures-device:{device}")


def device_cookie(username: str) -> str:
    """The cookie of a browser that just signed in as ``username``: a random id (its wrong
    passwords are counted by it) and the username's hash, signed."""
    return signing.dumps({"u": _name(username), "n": secrets.token_urlsafe(12)}, salt=_DEVICE_SALT)


def _device(request, username: str) -> str | None:
    """The id of the request's device cookie, when it is one of ``username``'s."""
    raw = request.COOKIES.get(DEVICE_COOKIE) if request is not None else None
    if not raw:
        return None
    try:
        value = signing.loads(raw, salt=_DEVICE_SALT, max_age=DEVICE_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or value.get("u") != _name(username):
        return None
    return str(value.get("n") or "") or None


def _known_device(request, username: str) -> bool:
    """A browser that signed in as ``username`` before and has not since given LOGIN_FAILURES
    wrong passwords (a stolen cookie is not a way past the limit)."""
    device = _device(request, username)
    return bool(device) and cache.get(f"login-failures-device:{device}", 0) < LOGIN_FAILURES


def forget(username: str) -> None:
    """The right password, or a new one: every count of the account goes (a new generation)."""
    key = f"login-generation:{_name(username)}"
    with contextlib.suppress(*_CACHE_DOWN):
        cache.add(key, 0, None)
        cache.incr(key)


def password_set(sender, instance, **kwargs) -> None:
    """pre_save of a user whose password was just set (a reset, a change, an admin's)."""
    if getattr(instance, "_password", None) is not None and instance.pk:
        forget(instance.get_username())


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if username is None or password is None:
            return None
        if not _attempt(username, request):
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            forget(username)
        else:
            _failed(username, request)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


class LoginForm(AuthenticationForm):
    throttled = False
    _held_back = {
        "account": "Too many wrong passwords for this account: try again within %(minutes)d "
        "minutes, or reset the password.",
        "address": "Too many wrong passwords from your network: try again within %(minutes)d "
        "minutes.",
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        why = locked(username, self.request) if username else ""
        if why:
            self.throttled = True
            raise ValidationError(
                self._held_back[why], code="throttled", params={"minutes": LOGIN_WINDOW // 60}
            )
        return super().clean()


class ThrottledLoginView(LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "reset_by_email": email_delivers()}

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response

    def form_valid(self, form):
        response = super().form_valid(form)
        response.set_cookie(
            DEVICE_COOKIE,
            device_cookie(form.get_user().get_username()),
            max_age=DEVICE_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        return response


# ── password reset e-mails ────────────────────────────────────────────────────────────────────
# Each request for a reset link sends an e-mail: without a limit, anyone could fill a person's
# inbox with them (or hide a real one among them). RESET_PER_ADDRESS requests from one address
# within RESET_WINDOW, then that address is told to wait (429); RESET_PER_ACCOUNT e-mails to one
# account within the window, then further ones are silently not sent (the page says the same
# whether an account exists: that's not to be learnt from it).

RESET_PER_ADDRESS = 5
RESET_PER_ACCOUNT = 3
RESET_WINDOW = 60 * 60  # seconds
_DROPPING = {
    "django.core.mail.backends.dummy.EmailBackend": "drops every e-mail",
    "django.core.mail.backends.console.EmailBackend": "prints every e-mail to the log",
    "django.core.mail.backends.filebased.EmailBackend": "writes every e-mail to a file",
}


def email_delivers() -> bool:
    """Whether e-mail goes anywhere: not without EMAIL_HOST in production (settings: the dummy
    backend). The console backend of the DEBUG demo counts: its reader is the developer."""
    return settings.EMAIL_BACKEND != "django.core.mail.backends.dummy.EmailBackend"


def _reset_allowed(key: str, limit: int) -> bool:
    try:
        return _count(f"password-reset:{key}", RESET_WINDOW) <= limit
    except _CACHE_DOWN:
        log.warning("password reset throttle skipped: the cache is unreachable")
        return True


class ThrottledPasswordResetForm(PasswordResetForm):
    def get_users(self, email):
        for user in super().get_users(email):
            if _reset_allowed(f"user:{user.pk}", RESET_PER_ACCOUNT):
                yield user
            else:
                log.warning("password reset e-mail to user %s not sent: too many lately", user.pk)


class ThrottledPasswordResetView(PasswordResetView):
    """Django's reset page, held to the limits above, and not offered when e-mail goes
    nowhere (it would say a link is on its way that never comes)."""

    form_class = ThrottledPasswordResetForm

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "reset_by_email": email_delivers()}

    def post(self, request, *args, **kwargs):
        if not email_delivers():
            return self.get(request, *args, **kwargs)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        if not _reset_allowed(f"address:{_address(self.request)}", RESET_PER_ADDRESS):
            form.add_error(
                None,
                f"Too many reset requests from your address: try again within "
                f"{RESET_WINDOW // 60} minutes.",
            )
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().form_valid(form)


@checks.register(checks.Tags.security, deploy=True)
def check_proxies(app_configs=None, **kwargs):
    """`check --deploy`: behind the TLS proxy production assumes, without
    LEAKLINE_TRUSTED_PROXIES every login comes from the proxy's address."""
    if _addresses_are_clients():
        return []
    return [
        checks.Warning(
            "LEAKLINE_TRUSTED_PROXIES is 0 behind a TLS-terminating proxy: every login comes "
            "from the proxy's address, so ten wrong passwords for a user by anyone hold back "
            "that user's logins from everywhere, and the limit per address is off.",
            hint="Set LEAKLINE_TRUSTED_PROXIES to the number of proxies in front (usually 1).",
            id="leakline.W002",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_email(app_configs=None, **kwargs):
    """`check --deploy`: password resets and notifications need a mail server."""
    effect = _DROPPING.get(settings.EMAIL_BACKEND)
    if effect is None:
        return []
    return [
        checks.Warning(
            f"E-mail is not configured: EMAIL_BACKEND {effect}, so password resets and "
            "e-mail notifications don't reach anyone.",
            hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD).",
            id="leakline.W001",
        )
    ]
