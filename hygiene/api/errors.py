"""The API's error: what went wrong and where (answered as {"detail", "location"})."""

from ninja.errors import HttpError


class ApiError(HttpError):
    """An error of the API, with where it is (``location``: a parameter as ``query.NAME``,
    ``header.NAME``, ``body``…): answered as {"detail", "location"}."""

    def __init__(self, status_code: int, message: str, location: str = ""):
        super().__init__(status_code, message)
        self.location = location
