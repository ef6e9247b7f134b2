from hygiene.api.auth import Principal
from hygiene.api.errors import ApiError

# What a refusal is about: the token the call was made with.
_WHERE = "header.Authorization"


def require_user(request, perm: str | None = None):
    """The person behind a user token, with ``perm`` if given. Source tokens may only import."""
    principal: Principal = request.auth
    user = principal.user if principal else None
    if user is None:
        raise ApiError(403, "this token can only import reports; use a personal API token", _WHERE)
    if perm and not user.has_perm(perm):
        raise ApiError(403, f"your role does not allow this ({perm})", _WHERE)
    return user
