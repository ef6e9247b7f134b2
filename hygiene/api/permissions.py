from ninja.errors import HttpError

from hygiene.api.auth import Principal


def require_user(request, perm: str | None = None):
    """The person behind a user token, with ``perm`` if given. Source tokens may only import."""
    principal: Principal = request.auth
    user = principal.user if principal else None
    if user is None:
        raise HttpError(403, "this token can only import reports; use a personal API token")
    if perm and not user.has_perm(perm):
        raise HttpError(403, f"your role does not allow this ({perm})")
    return user
