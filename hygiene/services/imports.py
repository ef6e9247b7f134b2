"""The one import path behind the API, the CLI, uploads and webhooks.

1. receive: spool the bytes (never stored), hash them for idempotency, enforce the size limit;
2. stage (in the caller's process): parse with the format's importer, fingerprint/redact/analyse
   each value while it is in memory, write staged rows in bulk — all in one transaction, so bad
   input leaves nothing but a failed ImportRun;
3. reconcile (an rq job for the API, inline for the CLI): set-based SQL folds the staged rows
   into secrets and findings, then rotation events and incident policy are applied.
The raw report is gone when step 2 returns: it never waits in Redis, the database or a file.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import tempfile
import time
import traceback
from typing import IO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from hygiene.importers import FORMATS, ImportFormatError, get_parser
from hygiene.models import (
    EventReference,
    ImportRun,
    ImportStatus,
    RotationEvent,
    SecretReference,
)
from hygiene.services.reconcile import Reconciler
from hygiene.services.staging import ChildFailed, stage_report

log = logging.getLogger(__name__)
_SPOOL_IN_MEMORY = 8 * 1024 * 1024
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class ImportRejected(Exception):
    """The request itself is unacceptable (HTTP status says why); nothing is recorded."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(message)


class ImportFailed(Exception):
    """The report was received but can't be read; a failed ImportRun records it."""

    def __init__(self, run: ImportRun, error: ImportFormatError):
        self.run = run
        self.error = error
        super().__init__(str(error))


def check_format(format_key: str | None, source) -> str:
    key = (format_key or source.default_format or "").strip()
    if not key:
        raise ImportRejected(400, "say which format the report is in (?format=KEY)")
    if key not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise ImportRejected(415, f"unknown format '{key[:40]}'; known formats: {known}")
    return key


def spool(stream: IO[bytes], limit: int | None = None) -> tuple[IO[bytes], str, int]:
    """Copy the report into an anonymous temporary file (memory first; on disk it has no name
    and vanishes when closed), hashing as it goes (the bytes as sent; UTF-16 is stored as
    UTF-8)."""
    limit = limit or settings.LEAKLINE_MAX_REPORT_BYTES
    out = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, dir=_spool_dir())  # noqa: SIM115
    digest = hashlib.sha256()
    size = 0
    utf16 = None
    try:
        while chunk := stream.read(1024 * 1024):
            if not size and len(chunk) < 2:
                chunk += stream.read(1)  # (a BOM's two bytes, if one comes)
            size += len(chunk)
            if size > limit:
                out.close()
                raise ImportRejected(413, f"the report is larger than the limit of {limit} bytes")
            digest.update(chunk)
            if size == len(chunk) and chunk.startswith(_UTF16_BOMS):
                # Windows PowerShell 5.1's "gitleaks detect ... > report.json" (and Out-File)
                # writes UTF-16 with a BOM: stored as UTF-8 for the importers, which read UTF-8.
                utf16 = codecs.getincrementaldecoder("utf-16")(errors="replace")
            if utf16 is not None:
                chunk = utf16.decode(chunk).encode()
            out.write(chunk)
        if utf16 is not None:
            out.write(utf16.decode(b"", final=True).encode())
        parallel = settings.LEAKLINE_PARALLEL_PARSE_BYTES
        if parallel and size >= parallel:
            out.rollover()  # on disk now: a second process reads it by its descriptor
    except OSError as exc:  # the spool directory is full or unwritable
        out.close()
        log.error("import spool: %s in %s", type(exc).__name__, _spool_dir() or "the temp dir")
        raise ImportRejected(507, "no room to receive the report; try again later") from None
    out.seek(0)
    return out, digest.hexdigest(), size


def _spool_dir() -> str | None:
    return settings.LEAKLINE_SPOOL_DIR or None


def import_report(
    *,
    source,
    format_key: str | None,
    stream: IO[bytes],
    via: str,
    token=None,
    user=None,
    full_scan: bool | None = None,
    background: bool = False,
) -> ImportRun:
    """Import one report. Returns the run (an earlier run for a report already imported, with
    ``run.duplicate = True``). Raises ImportRejected (nothing recorded) or ImportFailed (a failed
    run recorded). With ``background`` the reconcile step is queued (status stays "queued")."""
    key = check_format(format_key, source)
    full_scan = source.full_scan if full_scan is None else full_scan
    body, digest, size = spool(stream)
    with body:
        follows = _latest_run_id(source)
        # The same bytes read as another format, or now as a full scan (which marks what it
        # doesn't report), are another import.
        existing = _existing_run(source, digest, follows, format_key=key, full_scan=full_scan)
        if existing:
            return existing
        try:
            run = ImportRun.objects.create(
                source=source,
                format=key,
                via=via,
                token=token,
                created_by=user,
                payload_sha256=digest,
                follows_run=follows,
                payload_bytes=size,
                full_scan=full_scan,
                status=ImportStatus.RUNNING,
                started_at=timezone.now(),
            )
        except IntegrityError:  # the same report, sent twice at once
            return _existing_run(source, digest, follows)
        stage(run, get_parser(key), body)
    _reconcile_later_or_now(run, background)
    return run


def import_items(*, source, items: list, via: str, format_key: str, digest: str) -> ImportRun:
    """For webhooks: already-parsed items (one alert) through the same stage and reconcile.
    A delivery is an event, not a report of what is: delivered again (GitHub's "Redeliver",
    later), it is a duplicate whatever came since — applied again it would undo what the later
    deliveries did. So every delivery run follows run 0."""
    existing = _existing_run(source, digest, 0)
    if existing:
        return existing
    run = ImportRun.objects.create(
        source=source,
        format=format_key,
        via=via,
        payload_sha256=digest,
        follows_run=0,
        full_scan=False,
        status=ImportStatus.RUNNING,
        started_at=timezone.now(),
    )
    stage(run, lambda _stream: iter(items), None)
    _reconcile_later_or_now(run, background=True)
    return run


def _latest_run_id(source) -> int:
    """The source's latest run that did not fail (0 for none)."""
    latest = (
        ImportRun.objects.filter(source=source)
        .exclude(status=ImportStatus.FAILED)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return latest or 0


def _existing_run(
    source, digest: str, follows: int, *, format_key: str = "", full_scan: bool | None = None
) -> ImportRun | None:
    """The run of this very report when it is the source's latest (``follows``), or came in
    at the same time after the same run: the report is a duplicate. After another report it
    is imported again (what it says may have changed back). With ``format_key`` and
    ``full_scan``, only a run that read it so."""
    runs = ImportRun.objects.filter(source=source, payload_sha256=digest)
    if format_key:
        runs = runs.filter(format=format_key)
    if full_scan is not None:
        runs = runs.filter(full_scan=full_scan)
    run = (
        runs.exclude(status=ImportStatus.FAILED)
        .filter(Q(pk=follows) | Q(follows_run=follows))
        .order_by("pk")
        .first()
    )
    if run:
        run.duplicate = True
    return run


def stage(run: ImportRun, parse, body) -> None:
    started = time.monotonic()
    try:
        with transaction.atomic():
            counts = stage_report(run, parse, body, run.started_at)
    except ImportFormatError as exc:
        _fail(run, exc.message, exc.location)
        raise ImportFailed(run, exc) from None
    except Exception as exc:
        # An importer bug must not leak input into logs: log where, not the message.
        if isinstance(exc, ChildFailed):  # in the process that parsed the report's second half
            error, where = exc.error, exc.where
        else:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            error, where = type(exc).__name__, f"{frame.filename}:{frame.lineno}"
        log.error("import #%s: %s at %s", run.pk, error, where)
        error = ImportFormatError("the report could not be read (unexpected structure)")
        _fail(run, error.message, "")
        raise ImportFailed(run, error) from None
    run.received = counts.received
    run.passed = counts.passed
    run.events = counts.events
    run.parse_ms = int((time.monotonic() - started) * 1000)
    run.status = ImportStatus.QUEUED
    run.save(update_fields=["received", "passed", "events", "parse_ms", "status"])


def _fail(run: ImportRun, message: str, location: str) -> None:
    run.status = ImportStatus.FAILED
    run.error = message[:500]
    run.error_location = location[:200]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "error_location", "finished_at"])


def _reconcile_later_or_now(run: ImportRun, background: bool) -> None:
    if background:
        from hygiene.jobs import enqueue

        enqueue("hygiene.services.imports.reconcile_job", run.pk, queue="imports")
    else:
        reconcile(run)


def reconcile_job(run_id: int) -> dict:
    """rq job: takes the run's id, never the report."""
    run = ImportRun.objects.select_related("source").get(pk=run_id)
    if run.status != ImportStatus.QUEUED:
        return {"status": run.status}
    reconcile(run)
    return {"status": run.status, "created": run.created}


def reconcile(run: ImportRun) -> ImportRun:
    started = time.monotonic()
    claimed = ImportRun.objects.filter(pk=run.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING
    )
    if not claimed:
        run.refresh_from_db()
        return run
    reconciler = Reconciler(run, run.started_at)
    try:
        with transaction.atomic():
            counts = reconciler.run_all()
            _after_reconcile(run, counts)
            reconciler.cleanup()
            run.created, run.updated, run.unchanged = (
                counts.created,
                counts.updated,
                counts.unchanged,
            )
            run.reopened, run.resolved = counts.reopened, counts.resolved
            run.missing, run.dismissed = counts.missing, counts.dismissed
            run.status = ImportStatus.SUCCEEDED
            run.finished_at = timezone.now()
            run.reconcile_ms = int((time.monotonic() - started) * 1000)
            run.save()
    except Exception as exc:
        log.exception("import #%s: reconcile failed", run.pk)
        with transaction.atomic():
            reconciler.cleanup()
            _fail(run, f"reconcile failed ({type(exc).__name__}); nothing was changed", "")
        raise
    return run


def _after_reconcile(run: ImportRun, counts) -> None:
    """Timeline for regressions, rotation events, incident policy — in the same transaction."""
    from incidents.models import TimelineEvent

    label = f"{run.format} import #{run.pk}"
    reopened = {
        "reported": "Reopened: reported again after it was resolved",
        "tool": "Reopened in the reporting tool",
    }
    TimelineEvent.objects.bulk_create(
        [
            TimelineEvent(
                finding_id=finding_id,
                secret_id=secret_id,
                kind="finding.reopened",
                actor_label=label,
                message=reopened[how],
            )
            for finding_id, secret_id, how in counts.reopened_ids
        ]
        + [
            TimelineEvent(
                finding_id=finding_id,
                secret_id=secret_id,
                kind="finding.dismissed" if resolution != "fixed" else "finding.status",
                actor_label=label,
                message=(
                    "Resolved in the reporting tool"
                    if resolution == "fixed"
                    else f"Dismissed in the reporting tool: {resolution.replace('_', ' ')}"
                ),
            )
            for finding_id, secret_id, resolution in counts.dismissed_ids
        ]
    )
    apply_events()
    if counts.secret_ids:
        from incidents.services import incidents_auto_open  # incidents builds on hygiene

        incidents_auto_open(secret_ids=counts.secret_ids, actor_label=label)
        apply_events()


# A reference kind that names one credential: an event naming one is about that credential
# only. An IAM event also names the key's user (ARN, user name), who may have other keys: a
# secret known by another key id is not the one the event is about.
IDENTIFYING_KINDS = ("aws-access-key-id",)
# Events whose Vault path reference is a prefix: they revoke every lease under it.
PREFIX_EVENTS = ("revoke-prefix", "revoke-force")


def apply_events() -> int:
    """Match unmatched rotation events to secrets through their references, then apply each
    matched, unapplied event to its secret's open incident. Events that match nothing stay
    listed, and are claimed as soon as a matching reference appears.

    A reference of an identifying kind (an access key id) is preferred over the others, and
    vetoes secrets known by another identifier of that kind. A Vault revoke-prefix event
    matches the leases under its prefix."""
    from django.db import connection

    kinds = ", ".join(f"'{k}'" for k in IDENTIFYING_KINDS)
    match = f"""
        SELECT sr.secret_id FROM hygiene_eventreference er
        JOIN hygiene_secretreference sr ON sr.value_hash = er.value_hash
        WHERE er.event_id = hygiene_rotationevent.id
          AND NOT EXISTS (
              SELECT 1 FROM hygiene_eventreference ek
              JOIN hygiene_secretreference sk
                ON sk.secret_id = sr.secret_id AND sk.kind = ek.kind
              WHERE ek.event_id = hygiene_rotationevent.id AND ek.kind IN ({kinds})
                AND NOT EXISTS (SELECT 1 FROM hygiene_secretreference same
                                WHERE same.secret_id = sr.secret_id
                                  AND same.kind = ek.kind AND same.value_hash = ek.value_hash))
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE hygiene_rotationevent SET secret_id = (
                {match} ORDER BY CASE WHEN er.kind IN ({kinds}) THEN 0 ELSE 1 END, sr.id LIMIT 1)
            WHERE secret_id IS NULL AND applied_at IS NULL AND EXISTS ({match})
            """
        )
    _match_vault_prefixes()
    from incidents.services import rotation_event_apply

    pending = (
        RotationEvent.objects.filter(
            secret__isnull=False,
            applied_at__isnull=True,
            secret__incidentsecret__active=True,
        )
        .select_related("secret", "source")
        .order_by("occurred_at", "id")
    )
    applied = 0
    for event in pending[:1000]:
        rotation_event_apply(event=event)
        applied += 1
    return applied


def _match_vault_prefixes() -> None:
    """Unmatched revoke-prefix events and the secrets with a Vault path under their prefix
    (a leaked lease of ``database/creds/readonly/<id>`` is revoked by a revoke-prefix of
    ``database/creds/readonly``). Paths are not secret: their display is the path. Leads add
    these references by hand, so there are few. An event has one secret: with several under
    its prefix, the one referenced first (as for any other reference)."""
    events = list(
        EventReference.objects.filter(
            kind="vault-path",
            event__secret__isnull=True,
            event__applied_at__isnull=True,
            event__action="revoked",
            event__event_name__in=PREFIX_EVENTS,
        ).values_list("event_id", "display")[:10_000]
    )
    if not events:
        return
    leases = [
        (display.strip("/"), secret_id)
        for secret_id, display in SecretReference.objects.filter(kind="vault-path")
        .order_by("id")
        .values_list("secret_id", "display")
    ]
    claimed: dict[int, int] = {}
    for event_id, prefix in events:
        prefix = prefix.strip("/")
        if not prefix or event_id in claimed:
            continue
        for path, secret_id in leases:
            if path == prefix or path.startswith(prefix + "/"):
                claimed[event_id] = secret_id
                break
    RotationEvent.objects.bulk_update(
        [RotationEvent(pk=event, secret_id=secret) for event, secret in claimed.items()],
        ["secret"],
        batch_size=1000,
    )
