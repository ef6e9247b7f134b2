"""Turn parsed items into staged rows: fingerprint, redact and analyse while the raw value is in
memory, then write in bulk (COPY on PostgreSQL). The raw value goes no further than this module.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn

from django.conf import settings
from django.db import connection
from psycopg._copy_base import TextFormatter  # internal, but psycopg is pinned (pyproject.toml)
from psycopg.adapt import Transformer

from hygiene.fingerprints import (
    fingerprint,
    fingerprint_from_sha1,
    fingerprint_of_place,
    location_key,
    redact,
    redact_identifier,
    reference_hash,
    secret_location_key,
)
from hygiene.importers import FORMATS, ImportFormatError, Observation, RotationEvent, split
from hygiene.models import EventReference
from hygiene.models import RotationEvent as RotationEventRow
from hygiene.secretinfo import analyse, raise_severity
from hygiene.taxonomy import DEFAULT_SEVERITY, SEVERITY_RANK, SecretType, Severity

BATCH = 5000
_READ_BUFFER = 1024 * 1024
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_GENERIC = {SecretType.GENERIC_SECRET, SecretType.GENERIC_PASSWORD, SecretType.API_KEY}
_BUMP = {"low": "medium", "medium": "high", "high": "critical", "critical": "critical"}
_VALIDITY = {"valid", "invalid", "unknown", "revoked"}
_RESOLUTIONS = {
    "false_positive",
    "used_in_tests",
    "accepted_risk",
    "revoked",
    "wont_fix",
    "resolved",
    "reopened",  # a webhook says the tool reopened it: undo the tool's earlier dismissal
}

FINDING_COLUMNS = [
    "run_id",
    "location_key",
    "fingerprint",
    "category",
    "rule",
    "secret_type",
    "severity",
    "validity",
    "preview",
    "analysis",
    "repo",
    "path",
    "line",
    "commit",
    "url",
    "author",
    "committed_at",
    "title",
    "description",
    "resource",
    "account",
    "region",
    "tool_ids",
    "tool_resolution",
    "passed",
]
REFERENCE_COLUMNS = ["run_id", "fingerprint", "kind", "display", "value_hash"]
_FINDING_COLUMNS = ", ".join(f'"{c}"' for c in FINDING_COLUMNS)


def _clip(value: str | None, n: int) -> str:
    return (value or "")[:n]


def _display(kind: str, value: str) -> str:
    # An AWS key id is an identifier, but often it is also the very value a scanner reported:
    # show it the way we show secrets.
    return redact_identifier(value) if kind == "aws-access-key-id" else _clip(value, 300)


def _repo(value: str) -> str:
    if not value:
        return ""
    value = value.strip()
    return value[:-4] if value.endswith(".git") else value.rstrip("/")


@dataclass
class StageCounts:
    received: int = 0
    findings: int = 0
    passed: int = 0
    events: int = 0
    event_ids: list[int] = field(default_factory=list)


class Stager:
    """Collects rows for one run and flushes them in batches."""

    def __init__(self, run, now: datetime, sink: Callable[[list, list], None] | None = None):
        self.run = run
        # With a sink (a child process parsing half a report) rows go to it, not the database.
        self.sink = sink
        self.now = now
        self.findings: list[tuple] = []
        self.references: list[tuple] = []
        self.events: list[RotationEvent] = []
        self.counts = StageCounts()
        self.pg = connection.vendor == "postgresql"
        # A report may list the same finding twice; keep the first so that SQL needn't dedupe.
        self.seen_keys: set[str] = set()
        # On PostgreSQL the staged findings go down one COPY that stays open while the report
        # is parsed: the server stores each batch while Python reads the next (on another
        # core), instead of Python waiting for it batch after batch. Closed before any other
        # statement on the connection (references, events) and at the end.
        self._copy = None
        self._copy_contexts: ExitStack | None = None

    def add_all(self, items: Iterable, other_half: OtherHalf | None = None) -> StageCounts:
        """Stage every item; with ``other_half``, also the rows a child process staged from the
        rest of the report (taken as they arrive, and all of them before the COPY ends)."""
        try:
            for n, item in enumerate(items, 1):
                self.add(item)
                if other_half is not None and n % BATCH == 0:
                    other_half.take_arrived(self)
            if other_half is not None:
                other_half.take_rest(self)
            self.flush()
        except BaseException:
            # The COPY must end (CopyFail) before the transaction can roll back.
            self._end_copy(*sys.exc_info())
            raise
        self._end_copy()
        return self.counts

    def add(self, item) -> None:
        self.counts.received += 1
        if isinstance(item, RotationEvent):
            self.events.append(item)
            self.counts.events += 1
        elif isinstance(item, Observation):
            self._add_observation(item)
        if len(self.findings) >= BATCH or len(self.events) >= BATCH:
            self.flush()

    def _add_observation(self, obs: Observation) -> None:
        run = self.run
        repo = _repo(obs.repo)
        facts: dict = {}
        preview = ""
        secret_type = obs.secret_type or SecretType.GENERIC_SECRET
        refs = [(r.kind, r.value, _display(r.kind, r.value)) for r in obs.references if r.value]
        floor = None
        if obs.category == "posture":
            fp = ""
            key = location_key("posture", obs.rule, obs.resource, obs.account, obs.region)
            severity = obs.severity or Severity.MEDIUM
        else:
            if obs.secret_value:
                fp = fingerprint(obs.secret_value)
                preview = redact(obs.secret_value)
                analysis = analyse(obs.secret_value, now=self.now)
                facts = analysis.facts
                floor = analysis.severity
                refs.extend(analysis.references)
                if analysis.secret_type and (
                    secret_type in _GENERIC or analysis.secret_type == SecretType.AZURE_SAS
                ):
                    secret_type = analysis.secret_type
            elif obs.secret_sha1:
                fp = fingerprint_from_sha1(obs.secret_sha1)
            else:
                fp = fingerprint_of_place(
                    run.source_id, obs.rule, obs.repo, obs.path, obs.line, obs.commit
                )
            if not preview and obs.redacted and len(obs.redacted) <= 80:
                preview = obs.redacted
            alert = (obs.tool_ids or {}).get("number")
            if alert and run.format == "github-secret-scanning":
                # One GitHub alert is one finding, whether it came from the REST list (with the
                # value) or a webhook delivery (without it).
                key = location_key("github-alert", repo, alert)
            else:
                key = secret_location_key(fp, repo, obs.path, obs.line, obs.commit)
            if floor and secret_type == SecretType.AZURE_SAS:
                # What a SAS grants (scope, rights, expiry) is its severity, whatever the rule.
                severity = floor
            else:
                severity = obs.severity or DEFAULT_SEVERITY.get(secret_type, Severity.MEDIUM)
                severity = raise_severity(severity, floor)
            if obs.validity == "valid":
                severity = _BUMP.get(severity, severity)
            for kind, value, display in refs:
                self.references.append(
                    (run.pk, fp, kind, _clip(display, 300), reference_hash(kind, value))
                )
        if severity not in SEVERITY_RANK:
            severity = Severity.MEDIUM
        if key in self.seen_keys:
            return
        self.seen_keys.add(key)
        if obs.passed:
            self.counts.passed += 1
        else:
            self.counts.findings += 1
        resolution = obs.tool_resolution if obs.tool_resolution in _RESOLUTIONS else ""
        line = obs.line
        self.findings.append(
            (
                run.pk,
                key,
                fp,
                "posture" if obs.category == "posture" else "secret",
                (obs.rule or "unknown")[:200],
                secret_type[:40],
                severity,
                obs.validity if obs.validity in _VALIDITY else "unknown",
                preview[:80],
                _encode(facts) if facts else "{}",
                repo[:300],
                (obs.path or "")[:1000],
                line if line is None or -(2**31) < line < 2**31 else None,
                (obs.commit or "")[:64],
                (obs.url or "")[:1000],
                (obs.author or "")[:300],
                obs.committed_at,
                (obs.title or "")[:300],
                obs.description or "",
                (obs.resource or "")[:500],
                (obs.account or "")[:100],
                (obs.region or "")[:50],
                _encode({str(k): str(v)[:300] for k, v in obs.tool_ids.items()})
                if obs.tool_ids
                else "{}",
                resolution,
                bool(obs.passed),
            )
        )

    def merge(self, keys: list[tuple[str, bool]], data: bytes, references: list[tuple]) -> None:
        """Rows another process staged for this run, as COPY text (``keys`` are their location
        keys and passed flags, in order): written as they are unless a key repeats ours."""
        seen = self.seen_keys
        if not seen.isdisjoint(key for key, _ in keys):
            kept_keys, kept_lines = [], []
            # One line per row: COPY text escapes the newlines within values.
            for (key, passed), line in zip(keys, data.split(b"\n"), strict=False):
                if key not in seen:
                    seen.add(key)
                    kept_keys.append((key, passed))
                    kept_lines.append(line + b"\n")
            keys, data = kept_keys, b"".join(kept_lines)
        passed = sum(1 for _, p in keys if p)
        self.counts.passed += passed
        self.counts.findings += len(keys) - passed
        seen.update(key for key, _ in keys)
        if data:
            self._findings_copy().write(data)
        self.references.extend(references)

    def flush(self) -> None:
        if self.sink is not None:
            if self.events:
                raise RuntimeError("rotation events are staged by the main process only")
            if self.findings or self.references:
                self.sink(self.findings, self.references)
                self.findings, self.references = [], []
            return
        if self.findings:
            if self.pg:
                copy = self._findings_copy()
                for row in self.findings:
                    copy.write_row(row)
            else:
                self._write("hygiene_stagedfinding", FINDING_COLUMNS, self.findings)
            self.findings = []
        if self.references:
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
        # A log file read twice (or overlapping exports) repeats events: keep each once.
        ids = {e.event_id for e in events if e.event_id}
        seen = set(
            RotationEventRow.objects.filter(
                source_id=self.run.source_id, event_id__in=ids
            ).values_list("event_id", "action")
        )
        unique = []
        for e in events:
            key = (_clip(e.event_id, 200), _clip(e.action, 24))
            if e.event_id and key in seen:
                continue
            seen.add(key)
            unique.append(e)
        events = unique
        rows = [
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
        created = RotationEventRow.objects.bulk_create(rows)
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


# -- two processes for a large report ---------------------------------------------------------


def stage_report(run, parse, body, now: datetime) -> StageCounts:
    """Stage a report: a large one whose format can be cut (importers.split) is parsed by this
    process and a forked child, half each; anything else by this process alone."""
    cut = _cut(run.format, body)
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
        or not hasattr(os, "fork")
    ):
        return None
    size = body.seek(0, os.SEEK_END)
    body.seek(0)
    if size < threshold:
        return None
    # The parent also writes the child's rows to the database: it takes a little less.
    return split.json_array_cut(body.fileno(), size, int(size * 0.5))


def _stage_in_two(run, parse, body, now: datetime, cut: int) -> StageCounts:
    fd = body.fileno()
    size = os.fstat(fd).st_size
    first = io.BufferedReader(split.ByteRange(fd, 0, cut, suffix=b"]"), _READ_BUFFER)
    second = io.BufferedReader(split.ByteRange(fd, cut + 1, size, prefix=b"["), _READ_BUFFER)
    receiving, sending = multiprocessing.Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:  # the child: parse the second half, send its rows, never touch the database
        receiving.close()
        _child(run, now, parse, second, sending)
    sending.close()
    other_half = OtherHalf(receiving, cut)
    try:
        return Stager(run, now).add_all(parse(first), other_half)
    finally:
        other_half.stop(pid)


def _child(run, now: datetime, parse, stream, sending) -> NoReturn:
    try:
        formatter = CopyText()

        def sink(rows: list[tuple], references: list[tuple]) -> None:
            keys = [(row[1], row[-1]) for row in rows]
            sending.send(("rows", keys, formatter.rows(rows), references))

        stager = Stager(run, now, sink=sink)
        counts = stager.add_all(parse(stream))
        sending.send(("done", counts.received))
    except ImportFormatError as exc:
        sending.send(("error", exc.message, exc.location))
    except BaseException as exc:  # reported to the parent, which logs it
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        sending.send(("failed", type(exc).__name__, f"{frame.filename}:{frame.lineno}"))
    finally:
        # No atexit handlers, no finalizers: the database connection is the parent's.
        os._exit(0)


class CopyText:
    """Rows as PostgreSQL COPY text, formatted the way ``Copy.write_row`` does (psycopg's C
    formatter, without a connection: the child process must not use the parent's)."""

    def __init__(self):
        self._formatter = TextFormatter(Transformer())

    def rows(self, rows: list[tuple]) -> bytes:
        out = bytearray()
        write_row = self._formatter.write_row
        for row in rows:
            out += write_row(row)
        out += self._formatter.end()
        return bytes(out)


class OtherHalf:
    """The child's messages, received by a thread (so the child never waits on a full pipe)
    and folded into the parent's Stager between its own batches."""

    def __init__(self, receiving, cut: int):
        self.cut = cut
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.received: int | None = None
        self.error: tuple | None = None
        self._receiving = receiving
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        try:
            while True:
                message = self._receiving.recv()
                self.inbox.put(message)
                if message[0] != "rows":
                    return
        except (EOFError, OSError):
            self.inbox.put(("failed", "EOFError", "the child process ended early"))
        except BaseException as exc:  # the parent must not wait forever
            self.inbox.put(("failed", type(exc).__name__, "receiving the child's rows"))

    def take_arrived(self, stager: Stager) -> None:
        while self.error is None and self.received is None and not self.inbox.empty():
            self._take(stager, self.inbox.get())

    def take_rest(self, stager: Stager) -> None:
        items_before = stager.counts.received
        while self.error is None and self.received is None:
            self._take(stager, self.inbox.get())
        if self.error:
            kind, *detail = self.error
            if kind == "error":
                message, location = detail
                raise ImportFormatError(message, split.relocate(location, items_before, self.cut))
            raise ChildFailed(*detail)
        stager.counts.received += self.received

    def _take(self, stager: Stager, message: tuple) -> None:
        kind = message[0]
        if kind == "rows":
            stager.merge(*message[1:])
        elif kind == "done":
            self.received = message[1]
        else:
            self.error = message

    def stop(self, pid: int) -> None:
        """The child is done or no longer needed (the parent's half failed): end it."""
        if self.received is None and self.error is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # already reaped (SIGCHLD ignored)
            os.waitpid(pid, 0)
        self._thread.join()
        self._receiving.close()


class ChildFailed(Exception):
    """The child parsing the second half failed unexpectedly (``where`` names the code)."""

    def __init__(self, error: str, where: str):
        self.error = error
        self.where = where
        super().__init__(f"{error} at {where}")
