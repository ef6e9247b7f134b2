"""Password guessing is held back: after LOGIN_FAILURES wrong passwords for one username from
one address within LOGIN_WINDOW, or ACCOUNT_FAILURES for the username from anywhere (a guesser
spread over many addresses), its password is not even checked until the window ends (the login
page says so, with 429). A lock per address and account first: one address guessing can't
lock the account for everyone else. Behind a reverse proxy every client has the proxy's
address: the account's own limit is then what holds.

Counted in the cache (Redis in production, so every web process shares the count), keyed by a
hash of the lower-cased username. An attempt is counted before its password is checked (a
burst of parallel guesses can't slip past the limit) and the counts go when the password is
right, or when it is set anew (a reset unlocks the account). Enforced in the authentication
backend, so the admin's login is held to it too. If the cache is unreachable, logins go on
unthrottled (said in the log) rather than fail."""

import contextlib
import hashlib
import logging

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
_CACHE_DOWN = (RedisError, OSError)
LOGIN_FAILURES = 10  # per username and address
ACCOUNT_FAILURES = 100  # per username, from anywhere
LOGIN_WINDOW = 15 * 60  # seconds


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


def _address(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "-") if request is not None else "-"


def locked(username: str, request=None) -> bool:
    try:
        here, anywhere = _keys(username, _address(request))
        counts = cache.get_many([here, anywhere])
    except _CACHE_DOWN:
        log.warning("login throttle skipped: the cache is unreachable")
        return False
    return counts.get(here, 0) >= LOGIN_FAILURES or counts.get(anywhere, 0) >= ACCOUNT_FAILURES


def _count(key: str) -> int:
    cache.add(key, 0, LOGIN_WINDOW)  # the window starts at the first attempt
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, LOGIN_WINDOW)
        return 1


def _attempt(username: str, request) -> bool:
    """Count an attempt before its password is checked; whether it may be (within both)."""
    try:
        here, anywhere = _keys(username, _address(request))
        return _count(here) <= LOGIN_FAILURES and _count(anywhere) <= ACCOUNT_FAILURES
    except _CACHE_DOWN:
        log.warning("login throttle skipped: the cache is unreachable")
        return True


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
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


class LoginForm(AuthenticationForm):
    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and locked(username, self.request):
            self.throttled = True
            raise ValidationError(
                "Too many wrong passwords for this account: try again within %(minutes)d "
                "minutes, or reset the password.",
                code="throttled",
                params={"minutes": LOGIN_WINDOW // 60},
            )
        return super().clean()


class ThrottledLoginView(LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = 429
        return response
