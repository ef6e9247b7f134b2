"""Write staged rows in bulk (COPY on PostgreSQL), in the caller's transaction. What a row holds
is built by services.staged_rows (the raw value goes no further than there).

A large report whose format can be cut is parsed by two processes: this one reads the first
half, a child program (services.parse_child) the second; see ``stage_report``.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import logging
import os
import pickle
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from contextlib import ExitStack
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When

from hygiene.fingerprints import reference_hash
from hygiene.importers import FORMATS, ImportFormatError, Observation, RotationEvent, split
from hygiene.models import EventReference, StagedFinding
from hygiene.models import RotationEvent as RotationEventRow
from hygiene.services.staged_rows import (
    _FINDING_COLUMNS,
    BATCH,
    BUMP,
    FINDING_COLUMNS,
    REFERENCE_COLUMNS,
    CopyText,
    StageCounts,
    StagedRows,
    _clip,
    _display,
    few_collections,
)

log = logging.getLogger(__name__)
_READ_BUFFER = 1024 * 1024
# Staged references wait in memory until the report is staged (or this many are held: ~20 MB):
# writing them ends the findings' COPY, and each end waits for the server to take in all that
# was sent. Written with every batch (a quarter of gitleaks' rules name an AWS key id), that
# was 20 waits, 0.4 s of a 100,000-finding report's parse, instead of the server storing the
# rows while Python reads the next ones.
REFERENCES_HELD = 50_000


class EventsRefused(ImportFormatError):
    """A rotation event from a secret scanner's source: an event completes revoke and rotate
    steps of any incident whose secret it names (an AWS key id, an ARN), so only the sources
    that watch rotations (rotators) and audit credentials (auditors) may send them. Scanner
    tokens sit in every CI job."""

    status = 403


# The kinds of source whose reports may hold rotation events.
EVENT_SOURCES = {"rotator", "auditor"}


class Stager(StagedRows):
    """Collects one run's rows and flushes them in batches."""

    def __init__(self, run, now: datetime):
        super().__init__(run.pk, run.source_id, run.format, now, run.source.repo)
        self.run = run
        self.events: list[RotationEvent] = []
        self.pg = connection.vendor == "postgresql"
        # On PostgreSQL the staged findings go down one COPY that stays open while the report
        # is parsed: the server stores each batch while Python reads the next (on another
        # core), instead of Python waiting for it batch after batch. Closed before any other
        # statement on the connection (references, events) and at the end.
        self._copy = None
        self._copy_contexts: ExitStack | None = None
        self._copy_text = CopyText()

    def add_all(self, items: Iterable, other_half: OtherHalf | None = None) -> StageCounts:
        """Stage every item, then (with ``other_half``) the rows the child staged from the rest
        of the report."""
        try:
            for item in items:
                self.add(item)
            if other_half is not None:
                other_half.take(self)
            self.flush()
        except BaseException:
            # The COPY must end (CopyFail) before the transaction can roll back.
            self._end_copy(*sys.exc_info())
            raise
        self._end_copy()
        if self.superseded_passes:
            # Passes a later FAIL of the same check overrode after they were written: one
            # statement for all (usually none).
            StagedFinding.objects.filter(
                run_id=self.run.pk, passed=True, location_key__in=sorted(self.superseded_passes)
            ).delete()
        if self.verified_repeats:
            # Places a later row verified (usually none): their staged rows become valid, and
            # as severe as a valid first row would have made them (one step up).
            StagedFinding.objects.filter(
                run_id=self.run.pk, passed=False, location_key__in=sorted(self.verified_repeats)
            ).exclude(validity="valid").update(
                validity="valid",
                severity=Case(
                    *(When(severity=old, then=Value(new)) for old, new in BUMP.items()),
                    default=F("severity"),
                ),
            )
        return self.counts

    def add(self, item) -> None:
        self.counts.received += 1
        if isinstance(item, RotationEvent):
            if self.run.source.kind not in EVENT_SOURCES:
                raise EventsRefused(
                    f"source '{self.run.source.slug}' is a secret scanner's: rotation events"
                    " complete incident steps, so they come from a rotator or auditor source"
                    " (send them with its token)",
                    f"event {self.counts.events + 1}",
                )
            self.events.append(item)
            self.counts.events += 1
        elif isinstance(item, Observation):
            self.add_observation(item)
        if len(self.findings) >= BATCH or len(self.events) >= BATCH:
            self.flush(final=False)

    def merge(
        self, keys: list[tuple[str, bool, bool]], data: bytes, references: list[tuple]
    ) -> None:
        """Rows the child staged, as COPY text (``keys``: their location keys, passed flags and
        whether they are valid, in order). The child's half comes after ours: a key we staged
        already keeps our row (verified if the child's was)."""
        seen = self.seen_keys
        if not seen.isdisjoint(key for key, _, _ in keys):
            lines = data.split(b"\n")  # one row per line: COPY text escapes newlines in values
            if lines[-1] == b"":
                lines.pop()
            kept_keys, kept_lines = [], []
            for (key, passed, valid), line in zip(keys, lines, strict=True):
                if key not in seen:
                    seen.add(key)
                    kept_keys.append((key, passed, valid))
                    kept_lines.append(line + b"\n")
                elif valid and not passed:
                    self.verified_repeats.add(key)
            keys, data = kept_keys, b"".join(kept_lines)
        passed = sum(1 for _, p, _ in keys if p)
        self.counts.passed += passed
        self.counts.findings += len(keys) - passed
        seen.update(key for key, _, _ in keys)
        if data:
            self._findings_copy().write(data)
        self.references.extend(references)
        if len(self.references) >= REFERENCES_HELD:
            self.flush(final=False)

    def flush(self, final: bool = True) -> None:
        """Write what is pending; references only when ``final`` or past REFERENCES_HELD
        (writing them ends the findings' COPY)."""
        if self.findings:
            if self.pg:
                # As text, as the child's rows come (merge): Copy.write_row would hold the
                # last rows in its buffer, and a write() of the child's rows would pass them.
                self._findings_copy().write(self._copy_text.rows(self.findings))
            else:
                self._write("hygiene_stagedfinding", FINDING_COLUMNS, self.findings)
            self.findings = []
        if self.references and (final or len(self.references) >= REFERENCES_HELD):
            self._end_copy()
            self._write("hygiene_stagedreference", REFERENCE_COLUMNS, self.references)
            self.references = []
        if self.events:
            self._end_copy()
            self._write_events(self.events)
            self.events = []

    def _findings_copy(self):
        if self._copy is None:
            contexts = ExitStack()
            cursor = contexts.enter_context(connection.cursor())
            # psycopg 3 cursor, inside Django's transaction.
            self._copy = contexts.enter_context(
                cursor.cursor.copy(f"COPY hygiene_stagedfinding ({_FINDING_COLUMNS}) FROM STDIN")
            )
            self._copy_contexts = contexts
        return self._copy

    def _end_copy(self, *exc_info) -> None:
        contexts, self._copy, self._copy_contexts = self._copy_contexts, None, None
        if contexts is not None:
            contexts.__exit__(*(exc_info or (None, None, None)))

    def _write(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        if self.pg:
            with connection.cursor() as cursor:
                raw = cursor.cursor  # psycopg 3 cursor, inside Django's transaction
                with raw.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        adapt = connection.ops.adapt_datetimefield_value
        prepared = [tuple(adapt(v) if isinstance(v, datetime) else v for v in row) for row in rows]
        marks = ", ".join(["%s"] * len(columns))
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", prepared)

    def _write_events(self, events: list[RotationEvent]) -> None:
        # A log file read twice (or overlapping exports) repeats events: keep each once. An
        # event without the tool's id is known by what it says (derived_event_id).
        for e in events:
            if not e.event_id:
                e.event_id = derived_event_id(e)
        events = self._unseen(events)
        try:
            with transaction.atomic():
                created = RotationEventRow.objects.bulk_create(self._event_rows(events))
        except IntegrityError:
            # Another import of the source stored some of them meanwhile (staging holds no
            # lock of the source: this insert waited for that import's commit): the others.
            events = self._unseen(events)
            created = RotationEventRow.objects.bulk_create(self._event_rows(events))
        refs = [
            EventReference(
                event=row,
                kind=r.kind,
                display=_display(r.kind, r.value),
                value_hash=reference_hash(r.kind, r.value),
            )
            for row, event in zip(created, events, strict=True)
            for r in event.references
            if r.value
        ]
        EventReference.objects.bulk_create(refs)
        self.counts.event_ids.extend(row.pk for row in created)

    def _unseen(self, events: list[RotationEvent]) -> list[RotationEvent]:
        """The events the source hasn't stored yet, each once."""
        ids = {_clip(e.event_id, 200) for e in events}
        seen = set(
            RotationEventRow.objects.filter(
                source_id=self.run.source_id, event_id__in=ids
            ).values_list("event_id", "action")
        )
        unique = []
        for e in events:
            key = (_clip(e.event_id, 200), _clip(e.action, 24))
            if key in seen:
                continue
            seen.add(key)
            unique.append(e)
        return unique

    def _event_rows(self, events: list[RotationEvent]) -> list[RotationEventRow]:
        return [
            RotationEventRow(
                source_id=self.run.source_id,
                import_run=self.run,
                action=_clip(e.action, 24),
                event_name=_clip(e.event_name, 80),
                event_id=_clip(e.event_id, 200),
                occurred_at=e.occurred_at,
                actor=_clip(e.actor, 300),
                evidence_url=_clip(e.evidence_url, 1000),
                detail=_clip(e.detail, 500),
            )
            for e in events
        ]


def derived_event_id(event: RotationEvent) -> str:
    """An id for an event its tool gave none (``id`` is optional in the leakline format): a
    digest of all it says — references as their keyed hashes (a reference's value may be a
    secret's identifier) — so that the same event sent again, in an overlapping feed, is kept
    once."""
    refs = sorted(
        f"{r.kind}\x1e{reference_hash(r.kind, r.value)}" for r in event.references if r.value
    )
    when = event.occurred_at.isoformat() if event.occurred_at else ""
    said = (event.event_name, event.actor, event.evidence_url, event.detail)
    facts = "\x1f".join((event.action, when, *(v or "" for v in said), *refs))
    return "derived:" + hashlib.sha256(facts.encode()).hexdigest()[:32]


# -- two processes for a large report ---------------------------------------------------------

# The program that parses the second half (tests replace it to see a crash or a hang).
CHILD_COMMAND = [sys.executable, "-m", "hygiene.services.parse_child"]
# Once this process has parsed its half, how long the child may still take: CHILD_GRACE seconds
# plus twice what our half took. Past it the child is stopped and this process parses the
# second half itself, as it does when the child fails.
CHILD_GRACE = 30.0
# The errors of a streamed JSON array that name the element they came after ("(after $[i])",
# importers.base.iter_json_array): at the second half's first element the child names none.
_AFTER_AN_ELEMENT = ("malformed", "not UTF-8 text")


def stage_report(run, parse, body, now: datetime) -> StageCounts:
    """Stage a report: a large one whose format can be cut (importers.split) is parsed by this
    process and a child program, half each; anything else by this process alone."""
    cut = _cut(run.format, body)
    with few_collections():
        if cut is None:
            return Stager(run, now).add_all(parse(body))
        return _stage_in_two(run, parse, body, now, cut)


def _cut(format_key: str, body) -> int | None:
    threshold = settings.LEAKLINE_PARALLEL_PARSE_BYTES
    fmt = FORMATS.get(format_key)
    if (
        body is None
        or not threshold
        or fmt is None
        or fmt.split != split.JSON_ARRAY
        or connection.vendor != "postgresql"  # SQLite is the embedded, single-process default
        or (os.cpu_count() or 1) < 2
    ):
        return None
    size = body.seek(0, os.SEEK_END)
    body.seek(0)
    if size < threshold:
        return None
    if getattr(body, "_rolled", True) is False:
        return None  # a SpooledTemporaryFile still in memory (imports.spool rolls it over)
    try:
        fd = body.fileno()
    except (OSError, ValueError):  # not a file
        return None
    return split.json_array_cut(fd, size, size // 2)


def _stage_in_two(run, parse, body, now: datetime, cut: int) -> StageCounts:
    fd = body.fileno()
    rows = None
    try:
        # The child's rows wait in an anonymous file (no name, gone when closed; staged rows
        # hold no raw value), not in either process's memory.
        rows = tempfile.TemporaryFile(dir=settings.LEAKLINE_SPOOL_DIR or None)  # noqa: SIM115
        # A new program, not a fork: nothing of this process (its threads' locks, its database
        # connection, its other descriptors) goes with it but these two descriptors. Its
        # stderr is dropped: a traceback could quote the report.
        child = subprocess.Popen(  # noqa: S603 - our own program, no input in the command
            CHILD_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=(fd, rows.fileno()),
            cwd=settings.BASE_DIR,
        )
    except OSError as exc:
        if rows is not None:
            rows.close()
        log.warning("import #%s: one process parses the report (%s)", run.pk, type(exc).__name__)
        return Stager(run, now).add_all(parse(body))
    other_half = OtherHalf(child, run, parse, fd, cut, rows)
    try:
        other_half.send_job(now)
        first = io.BufferedReader(split.ByteRange(fd, 0, cut, suffix=b"]"), _READ_BUFFER)
        return Stager(run, now).add_all(parse(first), other_half)
    finally:
        other_half.stop()
        rows.close()


class OtherHalf:
    """The child parsing the report's second half. It writes its rows to ``rows`` as it goes
    (("rows", keys, COPY text, references)… then ("end", verified repeats)) and, once its half
    is parsed, answers on stdout: ("done", items); or ("error", message, location) for bad input; or
    ("failed", exception type, code location) for a bug."""

    def __init__(self, child: subprocess.Popen, run, parse, fd: int, cut: int, rows):
        self.child = child
        self.run = run
        self.parse = parse
        self.fd = fd
        self.cut = cut
        self.rows = rows
        self.size = os.fstat(fd).st_size
        # Where the second half starts, as one process counts a report's bytes: from after a
        # UTF-8 BOM (iter_json_array skips it first; the first half's parse too).
        self.offset = cut - 3 if os.pread(fd, 3, 0) == codecs.BOM_UTF8 else cut
        self.started = time.monotonic()

    def send_job(self, now: datetime) -> None:
        job = {
            "format": self.run.format,
            "fd": self.fd,
            "start": self.cut + 1,
            "end": self.size,
            "rows_fd": self.rows.fileno(),
            "batch": BATCH,
            "parent": os.getpid(),
            "run_id": self.run.pk,
            "source_id": self.run.source_id,
            "source_repo": self.run.source.repo,
            "now": now,
            "fingerprint_key": settings.FINGERPRINT_KEY,
        }
        with contextlib.suppress(OSError):  # it died at once: take() parses its half here
            self.child.stdin.write(pickle.dumps(job))
            self.child.stdin.close()

    def take(self, stager: Stager) -> None:
        """Fold the child's rows into ``stager`` (called when our half is staged)."""
        items_before = stager.counts.received
        wait = CHILD_GRACE + 2 * (time.monotonic() - self.started)
        answer = self._answer(wait)
        if answer is None:
            self.stop()
            self._parse_here(stager, items_before)
            return
        if answer[0] == "error":
            _, message, location = answer
            raise ImportFormatError(message, self._relocate(message, location, items_before))
        # Our rows first: where the report repeats a secret, its first row (the lowest staged
        # id) gives the secret its type and preview, as in one process.
        stager.flush(final=False)
        self.rows.seek(0)
        try:
            # Pickles our own child wrote (it is trusted as this process is).
            while (message := pickle.load(self.rows))[0] == "rows":  # noqa: S301
                stager.merge(*message[1:])
            stager.verified_repeats.update(message[1])  # ("end", keys)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:  # a truncated file
            raise ChildFailed(
                type(exc).__name__, "OtherHalf.take, reading the second half's rows"
            ) from None
        stager.counts.received += answer[1]

    def _answer(self, wait: float) -> tuple | None:
        """The child's answer, or None when it failed or took too long."""
        poller = select.poll()
        poller.register(self.child.stdout, select.POLLIN | select.POLLHUP)
        ready = poller.poll(wait * 1000)
        message = None
        if ready:
            with contextlib.suppress(EOFError, OSError, pickle.UnpicklingError):
                message = pickle.load(self.child.stdout)  # noqa: S301 - our own child
        if message is not None and message[0] in ("done", "error"):
            return message
        why = "took too long" if not ready else "failed"
        if message is not None:
            why = f"failed: {message[1]} at {message[2]}"
        log.warning("import #%s: the second process %s; parsing its half here", self.run.pk, why)
        return None

    def _parse_here(self, stager: Stager, items_before: int) -> None:
        second = split.ByteRange(self.fd, self.cut + 1, self.size, prefix=b"[")
        try:
            for item in self.parse(io.BufferedReader(second, _READ_BUFFER)):
                stager.add(item)
        except ImportFormatError as exc:
            location = self._relocate(exc.message, exc.location, items_before)
            raise ImportFormatError(exc.message, location) from None

    def _relocate(self, message: str, location: str, items_before: int) -> str:
        location = split.relocate(location, items_before, self.offset)
        if message.startswith(_AFTER_AN_ELEMENT) and "(after" not in location and items_before:
            # Right after the cut: the element before is the first half's last.
            location += f" (after $[{items_before - 1}])"
        return location

    def stop(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()
        for pipe in (self.child.stdin, self.child.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


class ChildFailed(Exception):
    """The child's rows stopped coming in the middle (``where`` says what was going on)."""

    def __init__(self, error: str, where: str):
        self.error = error
        self.where = where
        super().__init__(f"{error} {where}")
