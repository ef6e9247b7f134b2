"""The API's error: what went wrong and where (answered as {"detail", "location"})."""

from django.http import JsonResponse
from ninja.errors import HttpError


class ApiError(HttpError):
    """An error of the API, with where it is (``location``: a parameter as ``query.NAME``,
    ``header.NAME``, ``body``…): answered as {"detail", "location"}."""

    def __init__(self, status_code: int, message: str, location: str = ""):
        super().__init__(status_code, message)
        self.location = location


def error_response(status: int, detail: str, location: str = "") -> JsonResponse:
    """The API's error shape, for answers made outside ninja's handlers (an unknown path, a
    CSRF failure under /api/)."""
    body = {"detail": detail}
    if location:
        body["location"] = location
    return JsonResponse(body, status=status)
