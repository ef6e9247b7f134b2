"""POST /api/v1/imports — a source posts a report as the tool wrote it (or multipart `file`).
The report is parsed and staged within the request (the raw bytes go no further), then the
reconcile runs as an rq job; poll GET /api/v1/imports/{id}."""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse, StreamingHttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status

from hygiene.importers import FORMATS
from hygiene.models import ImportRun
from hygiene.services.imports import ImportFailed, ImportRejected, import_report
from hygiene.uploads import LengthRequired, UploadTooLarge, body_stream, request_files

router = Router()


class ImportRunOut(Schema):
    id: int
    url: str
    source: str
    format: str
    status: str
    duplicate: bool = False
    via: str
    received: int
    passed: int
    created: int
    updated: int
    unchanged: int
    reopened: int
    resolved: int
    missing: int
    dismissed: int
    events: int
    error: str
    error_location: str
    created_at: str
    finished_at: str | None
    parse_ms: int | None
    reconcile_ms: int | None


class ErrorOut(Schema):
    detail: str
    location: str = ""
    import_id: int | None = None


def run_out(run: ImportRun) -> dict:
    return {
        "id": run.pk,
        "url": f"/api/v1/imports/{run.pk}",
        "source": run.source.slug,
        "format": run.format,
        "status": run.status,
        "duplicate": getattr(run, "duplicate", False),
        "via": run.via,
        **{
            name: getattr(run, name)
            for name in (
                "received",
                "passed",
                "created",
                "updated",
                "unchanged",
                "reopened",
                "resolved",
                "missing",
                "dismissed",
                "events",
                "error",
                "error_location",
                "parse_ms",
                "reconcile_ms",
            )
        },
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


_BINARY = {"type": "string", "format": "binary"}
_REPORT_BODY = {
    "required": True,
    "description": "The report as the tool wrote it (JSON, JSON lines, CSV, SARIF… any content "
    "type is read as raw bytes), up to LEAKLINE_MAX_REPORT_BYTES; or multipart/form-data with "
    "the report in a field named `file`.",
    "content": {
        "application/octet-stream": {"schema": _BINARY},
        "application/json": {"schema": {"description": "A JSON report, as the tool wrote it."}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {**_BINARY, "description": "The report."}},
                "required": ["file"],
            }
        },
    },
}

# Where a rejected import went wrong, by status: the format parameter, or the body.
_PARAMETERS = ("format", "source", "full_scan")
_REJECTED_AT = {400: "query.format", 413: "body", 415: "query.format", 507: "body"}


def length_required() -> StreamingHttpResponse:
    """411: a body sent without a Content-Length that this server can't read to its end
    (Django's runserver takes it for an empty body; gunicorn reads it). Streamed, so that the
    response has no Content-Length and runserver closes the connection: the unread body must
    not be taken for the next request."""
    body = {
        "detail": "send a Content-Length: this server can't read a body sent without one "
        "(Transfer-Encoding: chunked); nothing was imported",
        "location": "header.Content-Length",
    }
    return StreamingHttpResponse(
        iter([json.dumps(body).encode()]), status=411, content_type="application/json"
    )


def error(status: int, detail: str, location: str = "", import_id: int | None = None):
    body = {"detail": detail}
    if location:
        body["location"] = location
    if import_id:
        body["import_id"] = import_id
    return JsonResponse(body, status=status)


@router.post(
    "",
    response={
        202: ImportRunOut,
        400: ErrorOut,
        403: ErrorOut,
        411: ErrorOut,
        413: ErrorOut,
        415: ErrorOut,
        507: ErrorOut,
    },
    summary="Import a report",
    description="The report exactly as the tool wrote it, as the body (any content type), or "
    "as `multipart/form-data` with the report in a field named `file`. It is parsed and staged "
    "within the request; the reconcile runs in the background: poll the run's `url`.",
    # The view reads the body itself (raw, or its multipart "file"): describe it for clients.
    openapi_extra={"requestBody": _REPORT_BODY},
)
def create_import(
    request,
    format: str | None = Query(
        None,
        description="The report's format (415 for another value): "
        + ", ".join(f"`{key}`" for key in sorted(FORMATS))
        + ". Default: the source's default format.",
        example="gitleaks",
    ),
    source: str | None = Query(
        None,
        description="The source's slug: if given, it must be the token's own source (else 403).",
    ),
    full_scan: bool | None = Query(
        None,
        description="Whether the report is a full scan: findings it no longer reports are marked "
        "missing, posture findings it no longer reports resolved. Default: the source's "
        "`full_scan` setting; `false` for a partial report.",
    ),
):
    principal = request.auth
    token = principal.source_token
    if token is None:
        return error(
            403, "imports need a source token (this is a personal token)", "header.Authorization"
        )
    for name in request.GET:
        if name not in _PARAMETERS:
            # Not ignored: "partial=1" (the CLI's --partial) ran a full scan that marked every
            # finding the partial report left out missing.
            hint = " (for a partial report: full_scan=false)" if "partial" in name.lower() else ""
            return error(
                422,
                f"unknown parameter '{name[:40]}'{hint}; known: {', '.join(_PARAMETERS)}",
                f"query.{name[:40]}",
            )
    for name in _PARAMETERS:
        # Given twice, one would win unsaid (full_scan=false&full_scan=true: a full scan that
        # marks what the report doesn't list).
        if len(request.GET.getlist(name)) > 1:
            return error(422, f"give {name} once (it was given more than once)", f"query.{name}")
    if source and source != token.source.slug:
        return error(
            403,
            f"this token belongs to source '{token.source.slug}', not '{source}'",
            "query.source",
        )
    length = request.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > settings.LEAKLINE_MAX_REPORT_BYTES + 65536:
        return error(
            413,
            f"the report is larger than {settings.LEAKLINE_MAX_REPORT_BYTES} bytes",
            "body",
        )
    try:
        body_stream(request)
    except LengthRequired:
        return length_required()
    content_type = request.content_type or ""
    if content_type.startswith("multipart/form-data"):
        try:
            upload = request_files(request).get("file")
        except UploadTooLarge as exc:
            return error(413, str(exc), "body")
        except MultiPartParserError as exc:
            return error(400, f"malformed multipart body: {exc}", "body")
        except (TooManyFieldsSent, TooManyFilesSent):
            return error(400, "malformed multipart body: too many fields or files", "body")
        except RequestDataTooBig:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return error(413, f"a form field other than 'file' is over {limit} bytes", "body")
        if upload is None:
            if not request.FILES and not request.POST:
                # Nothing parsed at all: another boundary than the Content-Type's, a body cut
                # short (no closing boundary), or no multipart body, whatever the header says.
                return error(
                    400,
                    "malformed multipart body: no part could be read (does its boundary match "
                    "the Content-Type's, and does it end with the closing one?)",
                    "body",
                )
            return error(
                400, "multipart requests need the report in a field named 'file'", "body.file"
            )
        stream = upload
    else:
        stream = request
    try:
        run = import_report(
            source=token.source,
            format_key=format,
            stream=stream,
            via="api",
            token=token,
            full_scan=full_scan,
            background=True,
        )
    except ImportRejected as exc:
        return error(exc.status, exc.message, _REJECTED_AT.get(exc.status, ""))
    except ImportFailed as exc:
        status = getattr(exc.error, "status", 400)  # 403: events from a scanner's source
        return error(status, exc.error.message, exc.error.location, exc.run.pk)
    return Status(202, run_out(run))


@router.get("/{run_id}", response=ImportRunOut, summary="An import's status and counts")
def get_import(request, run_id: int):
    principal = request.auth
    runs = ImportRun.objects.select_related("source")
    if principal.source_token:
        runs = runs.filter(source=principal.source_token.source)
    else:
        from hygiene.api.permissions import require_user

        require_user(request, "hygiene.view_importrun")
    return run_out(get_object_or_404(runs, pk=run_id))
