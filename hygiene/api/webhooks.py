"""GitHub secret scanning webhooks: POST /api/v1/webhooks/github/{source}. Authenticated by the
X-Hub-Signature-256 HMAC with the source's webhook secret (not a bearer token)."""

import hashlib
import hmac
import json
from urllib.parse import parse_qs

from django.http import JsonResponse
from ninja import Router

from hygiene.api.imports import length_required
from hygiene.importers import ImportFormatError
from hygiene.models import Source
from hygiene.services.imports import import_items
from hygiene.uploads import LengthRequired, body_stream

router = Router()
MAX_DELIVERY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB


# An alert's deliveries, and those of a new place its secret was found in.
ALERT_EVENTS = ("secret_scanning_alert", "secret_scanning_alert_location")


def _json_of(request, body: bytes) -> bytes | str:
    """The delivery's JSON: the body, or its ``payload`` field when the webhook was set up with
    the content type application/x-www-form-urlencoded (the signature covers the raw body)."""
    if request.content_type == "application/x-www-form-urlencoded":
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
        return (fields.get("payload") or [""])[0]
    return body


def _error(status: int, detail: str, location: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "location": location}, status=status)


class _TooLarge(Exception):
    pass


def _read_delivery(request) -> bytes:
    """The delivery's body, read as a stream up to MAX_DELIVERY_BYTES (``request.body`` would
    refuse anything over DATA_UPLOAD_MAX_MEMORY_SIZE, 5 MB; GitHub sends up to 25 MB), also
    when it came without a Content-Length (chunked, under gunicorn)."""
    stream = body_stream(request)
    parts, size = [], 0
    while chunk := stream.read(1024 * 1024):
        size += len(chunk)
        if size > MAX_DELIVERY_BYTES:
            raise _TooLarge()
        parts.append(chunk)
    return b"".join(parts)


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


@router.post("/github/{source_slug}", auth=None, summary="GitHub secret_scanning_alert webhook")
def github_webhook(request, source_slug: str):
    source = Source.objects.filter(slug=source_slug, is_active=True).first()
    if source is None:
        return _error(404, "no such source", "path.source_slug")
    if not source.webhook_secret:
        return _error(403, "this source has no webhook secret configured", "path.source_slug")
    too_large = f"the delivery is larger than {MAX_DELIVERY_BYTES} bytes"
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_DELIVERY_BYTES:
        return _error(413, too_large, "body")
    try:
        body = _read_delivery(request)
    except LengthRequired:
        return length_required()
    except _TooLarge:
        return _error(413, too_large, "body")
    if not signature_ok(
        source.webhook_secret, body, request.headers.get("X-Hub-Signature-256", "")
    ):
        return _error(401, "missing or invalid X-Hub-Signature-256", "header.X-Hub-Signature-256")
    event = request.headers.get("X-GitHub-Event", "")
    if event == "ping":
        return JsonResponse({"ok": True, "event": "ping"})
    if event not in ALERT_EVENTS:
        return JsonResponse({"ok": True, "ignored": event or "unknown event"}, status=202)
    # Where the JSON breaks, as the importers say it ("line 1 column 9"), in the form's
    # `payload` field for a form-encoded delivery.
    within = "payload, " if request.content_type == "application/x-www-form-urlencoded" else ""
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
    run = import_items(
        source=source,
        items=[observation],
        via="webhook",
        format_key="github-secret-scanning",
        digest=hashlib.sha256(body).hexdigest(),
    )
    return JsonResponse({"ok": True, "action": action, "import_id": run.pk}, status=202)
