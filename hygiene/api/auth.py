from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from ninja.security import HttpBearer

from hygiene.api.errors import ApiError
from hygiene.models import SourceToken, UserToken
from hygiene.models.sources import hash_token

# Writing last_used_at on every call would make every API read a write; once a minute is enough.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass
class Principal:
    """Who is calling: a source (through one of its tokens) or a person."""

    source_token: SourceToken | None = None
    user_token: UserToken | None = None

    @property
    def source(self):
        return self.source_token.source if self.source_token else None

    @property
    def user(self):
        return self.user_token.user if self.user_token else None


def _touch(token) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        type(token).objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def authenticate_token(raw: str) -> Principal | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    digest = hash_token(raw)
    now = timezone.now()
    if raw.startswith(SourceToken.PREFIX):
        token = SourceToken.objects.select_related("source").filter(token_hash=digest).first()
        if token and token.is_usable(now) and token.source.is_active:
            _touch(token)
            return Principal(source_token=token)
    elif raw.startswith(UserToken.PREFIX):
        token = UserToken.objects.select_related("user").filter(token_hash=digest).first()
        if token and token.is_usable(now) and token.user.is_active:
            _touch(token)
            return Principal(user_token=token)
    return None


def refusal(raw: str) -> str:
    """Why a token is refused, for its holder (who has its value: nothing is given away)."""
    raw = (raw or "").strip()
    model = SourceToken if raw.startswith(SourceToken.PREFIX) else None
    if raw.startswith(UserToken.PREFIX):
        model = UserToken
    token = model.objects.filter(token_hash=hash_token(raw)).first() if model else None
    if token is None:
        return "unknown token"
    if token.revoked_at:
        return "this token was revoked"
    if not token.is_usable():
        return f"this token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC"
    if model is SourceToken:
        return f"this token's source ({token.source.slug}) is inactive"
    return "this token's account is disabled"


_WHERE = "header.Authorization"


class TokenAuth(HttpBearer):
    def __call__(self, request):
        header = request.headers.get(self.header, "")
        if not header.strip():
            raise ApiError(401, "no token: send one as Authorization: Bearer <token>", _WHERE)
        if header.split(" ", 1)[0].lower() != self.openapi_scheme:
            raise ApiError(401, "send the token as Authorization: Bearer <token>", _WHERE)
        return super().__call__(request)

    def authenticate(self, request, token):
        principal = authenticate_token(token)
        if principal is None:
            raise ApiError(401, refusal(token), _WHERE)
        return principal
