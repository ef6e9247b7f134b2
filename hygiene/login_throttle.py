"""Password guessing is slowed per account: after LOGIN_FAILURES wrong passwords for one
username within LOGIN_WINDOW, its password is not even checked until the window ends (the login
page says so, with 429). Counted in the cache (Redis in production, so every web process
shares the count), keyed by a hash of the lower-cased username: an attacker spread over many
addresses is held back as well as one. The lock is per account, not per address: behind a
reverse proxy every user shares one address, and a per-address lock would shut everyone out.

Enforced in the authentication backend, so the admin's login is held to it too."""

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
LOGIN_FAILURES = 10
LOGIN_WINDOW = 15 * 60  # seconds


def _key(username: str) -> str:
    name = (username or "").strip().lower().encode()
    return "login-failures:" + hashlib.sha256(name).hexdigest()


def locked(username: str) -> bool:
    try:
        return (cache.get(_key(username)) or 0) >= LOGIN_FAILURES
    except _CACHE_DOWN:
        # Redis unreachable: logins go on unthrottled (said in the log) rather than fail.
        log.warning("login throttle skipped: the cache is unreachable")
        return False


def _failed(username: str) -> None:
    key = _key(username)
    try:
        cache.add(key, 0, LOGIN_WINDOW)  # the window starts at the first failure
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.set(key, 1, LOGIN_WINDOW)
    except _CACHE_DOWN:
        log.warning("failed login not counted: the cache is unreachable")


def _succeeded(username: str) -> None:
    with contextlib.suppress(_CACHE_DOWN):
        cache.delete(_key(username))


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if username is None or password is None:
            return None
        if locked(username):
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            _failed(username)
        else:
            _succeeded(username)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


class LoginForm(AuthenticationForm):
    throttled = False

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and locked(username):
            self.throttled = True
            raise ValidationError(
                "Too many wrong passwords for this account: try again in %(minutes)d minutes, "
                "or reset the password.",
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
