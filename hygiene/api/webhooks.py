"""GitHub secret scanning webhooks: POST /api/v1/webhooks/github/{source}. Authenticated by the
X-Hub-Signature-256 HMAC with the source's webhook secret (not a bearer token).

Until the signature is checked, a caller is anyone: the body is hashed chunk by chunk as it is
spooled (never held whole in memory, at most 1 MB of it), and every unsigned delivery gets the
same 401, whether its source exists, is inactive or has no webhook secret. Signed deliveries
come in GitHub's two content types (the webhook's "Content type" setting): application/json,
or application/x-www-form-urlencoded with the JSON in the ``payload`` field; others get 415."""

import hashlib
import hmac
import json
import logging
import re
import secrets
import tempfile
from typing import IO
from urllib.parse import parse_qs

from django.http import JsonResponse
from ninja import Router

from hygiene.api.imports import length_required
from hygiene.importers import ImportFormatError
from hygiene.models import Source
from hygiene.services.imports import ImportFailed, import_items
from hygiene.uploads import LengthRequired, body_stream, spool_dir

log = logging.getLogger(__name__)

router = Router()
MAX_DELIVERY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
_CHUNK = 64 * 1024
_SPOOL_IN_MEMORY = 1024 * 1024  # a larger delivery goes on to a file without a name
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_NO_SECRET = secrets.token_bytes(32)  # hashes the body of a source without a webhook secret
# The content types GitHub delivers in (the webhook's "Content type" setting).
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


# An alert's deliveries, and those of a new place its secret was found in.
ALERT_EVENTS = ("secret_scanning_alert", "secret_scanning_alert_location")


def _json_of(request, body: IO[bytes]) -> bytes | str:
    """The delivery's JSON: the body, or its ``payload`` field when the webhook was set up with
    the content type application/x-www-form-urlencoded (the signature covers the raw body)."""
    if request.content_type == FORM:
        fields = parse_qs(body.read().decode("utf-8", "replace"), max_num_fields=10)
        return (fields.get("payload") or [""])[0]
    return body.read()


def _error(status: int, detail: str, location: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "location": location}, status=status)


def _unsigned() -> JsonResponse:
    """The one answer to a delivery without a valid signature, whether the source is unknown,
    inactive, without a webhook secret, or the signature is wrong: a caller without the secret
    learns nothing of which sources exist (the source's page says when its secret is missing)."""
    return _error(401, "missing or invalid X-Hub-Signature-256", "header.X-Hub-Signature-256")


class _TooLarge(Exception):
    pass


def _claimed(header: str) -> bytes | None:
    """The HMAC the X-Hub-Signature-256 header claims, or None when it is no sha256 digest."""
    match = _SIGNATURE.fullmatch(header.strip())
    return bytes.fromhex(match[1]) if match else None


def _receive(request, key: bytes) -> tuple[IO[bytes], bytes, str]:
    """The delivery's body spooled to a file without a name (memory first), with its HMAC under
    ``key`` and its sha256, both fed chunk by chunk as it is read: nothing is held whole before
    the signature is checked. Read as a stream up to MAX_DELIVERY_BYTES (``request.body`` would
    refuse anything over DATA_UPLOAD_MAX_MEMORY_SIZE, 5 MB; GitHub sends up to 25 MB), also
    when it came without a Content-Length (chunked, under gunicorn)."""
    stream = body_stream(request)
    out = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, dir=spool_dir())  # noqa: SIM115
    mac, digest, size = hmac.new(key, digestmod=hashlib.sha256), hashlib.sha256(), 0
    try:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > MAX_DELIVERY_BYTES:
                raise _TooLarge()
            mac.update(chunk)
            digest.update(chunk)
            out.write(chunk)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, mac.digest(), digest.hexdigest()


@router.post("/github/{source_slug}", auth=None, summary="GitHub secret_scanning_alert webhook")
def github_webhook(request, source_slug: str):
    too_large = f"the delivery is larger than {MAX_DELIVERY_BYTES} bytes"
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_DELIVERY_BYTES:
        return _error(413, too_large, "body")
    claimed = _claimed(request.headers.get("X-Hub-Signature-256", ""))
    if claimed is None:
        return _unsigned()
    source = Source.objects.filter(slug=source_slug, is_active=True).first()
    secret = source.webhook_secret if source is not None else ""
    # Without a secret the body is still read and hashed (under a key no one knows): an unknown
    # slug must not answer sooner than a known one.
    key = secret.encode() if secret else _NO_SECRET
    try:
        body, mac, digest = _receive(request, key)
    except LengthRequired:
        return length_required()
    except _TooLarge:
        return _error(413, too_large, "body")
    except OSError as exc:  # the spool directory is full or unwritable
        log.error("webhook spool: %s in %s", type(exc).__name__, spool_dir() or "the temp dir")
        return _error(507, "no room to receive the delivery; try again later", "body")
    with body:
        if not (hmac.compare_digest(mac, claimed) and secret):
            if source is not None and not secret:
                # Said to the operator, not the caller (the source's page says it to its lead).
                log.warning("webhook delivery to source %s refused: no webhook secret", source.pk)
            return _unsigned()
        return _delivered(request, source, body, digest)


def _delivered(request, source, body: IO[bytes], digest: str) -> JsonResponse:
    """A delivery signed with the source's secret."""
    if request.content_type not in (JSON, FORM):
        return _error(
            415,
            f"a delivery is {JSON} or {FORM} (the webhook's Content type in GitHub), "
            "not the Content-Type sent",
            "header.Content-Type",
        )
    event = request.headers.get("X-GitHub-Event", "")
    if event == "ping":
        return JsonResponse({"ok": True, "event": "ping"})
    if event not in ALERT_EVENTS:
        return JsonResponse({"ok": True, "ignored": event or "unknown event"}, status=202)
    # Where the JSON breaks, as the importers say it ("line 1 column 9"), in the form's
    # `payload` field for a form-encoded delivery.
    within = "payload, " if request.content_type == FORM else ""
    try:
        payload = json.loads(_json_of(request, body))
    except json.JSONDecodeError as exc:
        where = f"{within}line {exc.lineno} column {exc.colno}"
        return _error(400, f"the delivery is not valid JSON: {exc.msg}", where)
    except (ValueError, RecursionError):
        return _error(400, "the delivery is not valid JSON", within.rstrip(", ") or "body")
    from hygiene.importers.github import parse_webhook

    try:
        action, observation = parse_webhook(payload)
    except ImportFormatError as exc:
        return JsonResponse({"detail": exc.message, "location": exc.location}, status=400)
    if action == "reopened":
        observation.tool_resolution = "reopened"
    try:
        run = import_items(
            source=source,
            items=[observation],
            via="webhook",
            format_key="github-secret-scanning",
            digest=digest,
        )
    except ImportFailed as exc:  # staged rows refused: the failed run says why, as imports do
        body = {"detail": exc.error.message, "location": exc.error.location or "body"}
        return JsonResponse({**body, "import_id": exc.run.pk}, status=400)
    return JsonResponse({"ok": True, "action": action, "import_id": run.pk}, status=202)
