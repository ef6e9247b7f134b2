"""Receiving a report's bytes: request bodies sent without a Content-Length, and multipart
uploads spooled to a file with no name.

- Django reads a WSGI request's body through a stream cut at CONTENT_LENGTH, 0 when there is
  none: a chunked body (``curl -T -``, a generator in Python requests, Go's streamed bodies)
  reads as empty. gunicorn (the production server) decodes chunked bodies and says so with
  ``wsgi.input_terminated`` (the input ends where the body does), which Django ignores:
  ``body_stream`` reads such a body to its end. A server that can't (Django's runserver) hands
  the chunked body over undecoded, cut at 0: ``LengthRequired`` (answer 411), rather than read
  the report as empty.
- Django's default handler writes an upload over FILE_UPLOAD_MAX_MEMORY_SIZE to a *named* file
  (``/tmp/tmpXXXX.upload.json``) that stays behind when the worker is killed mid-request.
  ``AnonymousFileUploadHandler`` (FILE_UPLOAD_HANDLERS, so for every upload) spools it to a
  file without a name in LEAKLINE_SPOOL_DIR (or the temp dir), as the import does: nothing to
  find, nothing left behind.
"""

from __future__ import annotations

import tempfile

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class LengthRequired(Exception):
    """A body without a Content-Length that this server can't read to its end."""


class UploadTooLarge(RequestDataTooBig):
    """An uploaded file larger than LEAKLINE_MAX_REPORT_BYTES (a SuspiciousOperation: where
    not caught, Django answers 400)."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"the report is larger than the limit of {limit} bytes")


def length_unknown(request) -> bool:
    return not request.META.get("CONTENT_LENGTH")


def body_stream(request):
    """The request, readable to the end of its body also when it came without a Content-Length
    (``request.read()``, ``request.FILES``). Raises LengthRequired when the server can't."""
    meta = request.META
    if not length_unknown(request):
        return request
    if meta.get("wsgi.input_terminated") and "wsgi.input" in meta:
        # gunicorn: the input ends with the body (chunked bodies decoded). Read it all, not
        # the 0 bytes Django's stream allows without a Content-Length.
        if not request._read_started:
            request._stream = meta["wsgi.input"]
        return request
    if meta.get("HTTP_TRANSFER_ENCODING", "").strip():
        raise LengthRequired()
    return request  # no Content-Length and no Transfer-Encoding: there is no body


def request_files(request):
    """``request.FILES``, parsed also when the multipart body came without a Content-Length
    (through ``body_stream``; Django's parser takes a missing length for an empty body)."""
    if not length_unknown(request) or hasattr(request, "_files"):
        return request.FILES
    body_stream(request)
    # The parser reads to the end of the stream whatever the length says; the length only
    # tells the in-memory handler to step aside (the anonymous file takes it, with its limit).
    meta = {**request.META, "CONTENT_LENGTH": str(_file_limit() + 1)}
    try:
        request._post, request._files = request.parse_file_upload(meta, request)
    except Exception:
        request._mark_post_parse_error()
        raise
    return request._files


def _file_limit() -> int:
    return settings.LEAKLINE_MAX_REPORT_BYTES


def spool_dir() -> str | None:
    return settings.LEAKLINE_SPOOL_DIR or None


class AnonymousUploadedFile(UploadedFile):
    """An uploaded file in a temporary file that has no name (O_TMPFILE on Linux, else unlinked
    at once): gone when closed, or when the process dies."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        file = tempfile.TemporaryFile(dir=spool_dir())  # noqa: SIM115 (closed with the upload)
        super().__init__(file, name, content_type, size, charset, content_type_extra)


class AnonymousFileUploadHandler(FileUploadHandler):
    """Uploads too large for memory go to an anonymous file (not a named one as with Django's
    TemporaryFileUploadHandler), at most LEAKLINE_MAX_REPORT_BYTES (else UploadTooLarge)."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.file = AnonymousUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )

    def receive_data_chunk(self, raw_data, start):
        limit = _file_limit()
        if start + len(raw_data) > limit:
            self.file.close()
            raise UploadTooLarge(limit)
        self.file.write(raw_data)

    def file_complete(self, file_size):
        self.file.seek(0)
        self.file.size = file_size
        return self.file

    def upload_interrupted(self):
        if hasattr(self, "file"):
            self.file.close()
