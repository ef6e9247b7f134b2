"""The contract every importer keeps.

An importer is a pure function of the report's bytes: ``parse(stream) -> Iterator[Item]``.
It never touches the database. It yields ``Observation`` (a secret or posture finding) or
``RotationEvent`` (a rotator/auditor event proving a step) items. The raw secret value travels
in ``Observation.secret_value`` only in memory; the pipeline fingerprints and redacts it and then
drops it. Bad input raises ``ImportFormatError`` with a message that says what is wrong and
where (line, byte or JSON path) and never quotes the input (it may hold a secret).
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from typing import IO, Any

import ijson


class ImportFormatError(ValueError):
    """The report can't be read. ``location`` says where: "line 12", "$[3].File", "byte 512"."""

    def __init__(self, message: str, location: str = ""):
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


# What a JSON \u escape (or a CSV cell) can hold and PostgreSQL text can't: NUL, and half of
# a UTF-16 surrogate pair (which has no UTF-8 encoding at all, so no digest either).
SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` as PostgreSQL can store it: each NUL and each lone surrogate as U+FFFD (the
    replacement character, shown as such), the rest as it is."""
    return _UNSTORABLE.sub("\ufffd", text) if "\x00" in text or not text.isascii() else text


def unstorable(text: str) -> bool:
    return "\x00" in text or (not text.isascii() and SURROGATE.search(text) is not None)


@dataclass(slots=True)
class Reference:
    """A non-secret identifier of a credential: AWS access key id, ARN, account id, Vault path,
    storage account. Used to match rotator events and audits to a leaked secret."""

    kind: str  # aws-access-key-id | arn | aws-account | vault-path | storage-account | url | other
    value: str


@dataclass(slots=True)
class Observation:
    rule: str  # the tool's own rule / detector / check id
    secret_type: str  # a hygiene.taxonomy.SecretType value
    category: str = "secret"  # "secret" (a leaked value) | "posture" (a hygiene problem)
    # Exactly one of these identifies a leaked secret: the raw value (memory only!) or its
    # SHA-1 hex digest when the tool gives only that (detect-secrets' hashed_secret).
    secret_value: str | None = None
    secret_sha1: str | None = None
    redacted: str = ""  # the tool's own redacted form, used when we have no value to redact
    repo: str = ""  # repository (URL or owner/name) or other container (bucket, host)
    path: str = ""
    line: int | None = None
    commit: str = ""
    url: str = ""  # link to the place (blob URL, alert URL, console URL)
    author: str = ""  # "Name <email>" or login
    committed_at: datetime | None = None
    validity: str = "unknown"  # valid | invalid | unknown (the tool's verification)
    severity: str | None = None  # taxonomy Severity value, None = derive from type
    title: str = ""  # short human label (posture: the check title)
    description: str = ""  # non-secret text only (posture: remediation); NEVER the match/line
    resource: str = ""  # cloud resource id/ARN (posture)
    account: str = ""  # cloud account / subscription
    region: str = ""
    passed: bool = False  # auditors: a PASS result, which resolves earlier findings
    # The tool's own triage: "false_positive", "used_in_tests", "wont_fix", "revoked",
    # "accepted_risk" (dismissed) or "resolved"; "" = open.
    tool_resolution: str = ""
    references: list[Reference] = field(default_factory=list)
    tool_ids: dict[str, str] = field(default_factory=dict)  # tool's own ids (alert number...)


EVENT_ID_MAX = 200  # hygiene.models.RotationEvent.event_id


@dataclass(slots=True)
class RotationEvent:
    action: str  # rotated | revoked | rotation_failed | rotation_started | created | verified
    references: list[Reference]
    occurred_at: datetime | None
    actor: str = ""
    event_name: str = ""  # e.g. "RotationSucceeded", "UpdateAccessKey"
    event_id: str = ""  # the tool's id of the event (dedup)
    evidence_url: str = ""
    detail: str = ""  # non-secret summary

    def __post_init__(self):
        # Stored as they are (an event holds no secret value): what PostgreSQL can store.
        for name in ("action", "actor", "event_name", "event_id", "evidence_url", "detail"):
            value = getattr(self, name)
            if value.__class__ is str and unstorable(value):
                setattr(self, name, storable(value))
        for ref in self.references:
            if ref.value.__class__ is str and unstorable(ref.value):
                ref.value = storable(ref.value)
        event_id = self.event_id
        if event_id.__class__ is str and len(event_id) > EVENT_ID_MAX:
            # Cut to the column, two events whose ids differ only past it (the key and time
            # after a long IAM user path or Azure resource group) were one, and the second was
            # dropped as a repeat of the first: the start, then a digest of the whole.
            digest = hashlib.sha256(event_id.encode()).hexdigest()
            self.event_id = f"{event_id[: EVENT_ID_MAX - len(digest) - 1]}~{digest}"


Item = Observation | RotationEvent


@dataclass(frozen=True, slots=True)
class Format:
    key: str
    label: str
    kind: str  # scanner | auditor | rotator
    module: str  # hygiene.importers.<module> with a parse(stream) function
    description: str = ""
    split: str = ""  # how a large report may be cut for two processes (importers.split)


# --- helpers for importers --------------------------------------------------------------


def parse_datetime(value: Any, where: str = "") -> datetime | None:
    """ISO 8601 (with Z), RFC 3339, epoch seconds/ms; None for empty. Aware UTC."""
    if value in (None, "", "N/A", "n/a", "no_information", "not_supported"):
        return None
    if isinstance(value, bool):
        raise ImportFormatError("not a date/time (a boolean)", where)
    if isinstance(value, int | float):
        try:
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise ImportFormatError("timestamp out of range", where) from None
    if isinstance(value, dict | list):
        raise ImportFormatError(f"not a date/time ({type_name(value)})", where)
    text = str(value).strip()
    try:
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        # gitleaks v7 and git log dates: "2021-08-25 17:26:13 +0100 CET" etc.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%a %b %d %H:%M:%S %Y %z"):
            try:
                parsed = datetime.strptime(" ".join(text.split()[:3]), fmt)
                break
            except ValueError:
                continue
        else:
            raise ImportFormatError("not a date/time", where) from None
    if parsed.year <= 1:
        return None  # Go's zero time ("0001-01-01T00:00:00Z"): the tool had no date
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


MAX_JSON_DEPTH = 2048


class DepthGuard(io.RawIOBase):
    """A pass-through reader that counts the bytes read, so that JSON errors can say where they
    happened without quoting the input, and rejects JSON nested deeper than ``max_depth``.

    ijson's item builder needs memory quadratic in the nesting depth (100,000 ``[`` take tens
    of GB), so streamed JSON goes through this first. Brackets inside strings don't count: a
    report of 3,000 findings whose matched line ends with ``[`` is three levels deep, not 3,000.
    Strings and escapes are tracked across chunks with C-level bytes operations only: 64 ms
    per 37 MB gitleaks report (50,000 findings; the escape regex takes 42 of them), which
    parses in 480 ms. Counting every bracket, strings or not, took 27 ms."""

    _ESCAPE = re.compile(rb"\\.", re.S)
    _KEEP_ONLY = bytes(sorted(set(range(256)) - set(b'"[]{}')))
    _SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")

    def __init__(self, stream: IO[bytes], max_depth: int = MAX_JSON_DEPTH):
        self.stream = stream
        self.max_depth = max_depth
        self.pos = 0  # bytes scanned
        self.depth = 0
        self.in_string = False
        self.escape = False  # the last byte scanned is a backslash that escapes the next one

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if n:
            self.scan(data)
        return n

    def scan(self, data: bytes) -> None:
        """Take in the next bytes of the document (ImportFormatError if they go too deep)."""
        s = data[1:] if self.escape else data  # the previous chunk ended inside an escape
        escape = False
        if b"\\" in s:
            s = self._ESCAPE.sub(b"", s)
            if s.endswith(b"\\"):
                escape = True
                s = s[:-1]
        s = s.translate(None, self._KEEP_ONLY)
        if self.in_string:
            s = b'"' + s
        # Dropping two adjacent quotes keeps the open/close parity of the others.
        s = s.replace(b'""', b"")
        in_string = False
        if b'"' in s:
            parts = s.split(b'"')
            in_string = len(parts) % 2 == 0
            s = b"".join(parts[0::2])
        if s:
            signs = array("b", s.translate(self._SIGNS))
            # The opening brackets alone rule out nearly every chunk before the running depth.
            if (
                self.depth + s.count(b"[") + s.count(b"{") > self.max_depth
                and max(accumulate(signs, initial=self.depth)) > self.max_depth
            ):
                # The exact byte, walked to from the state before this chunk (once).
                # (0 would only mean walk and scan disagree: never StopIteration under ijson.)
                at = next((i for i, _, d in self.walk(data) if d > self.max_depth), 0)
                raise ImportFormatError(
                    f"JSON nested deeper than {self.max_depth} levels", f"near byte {self.pos + at}"
                )
            self.depth += sum(signs)
        self.pos += len(data)
        self.in_string, self.escape = in_string, escape

    def walk(self, data: bytes) -> Iterator[tuple[int, int, int]]:
        """The next bytes, read as ``scan`` reads them but one by one from the current state
        (without taking them in): (offset, byte, depth after it) for each bracket and comma
        outside strings. Python speed, about 50 ms per MB: for the chunk of an error and the
        few KB json_array_cut reads past its target, not for whole reports."""
        depth, in_string, escape = self.depth, self.in_string, self.escape
        for i, byte in enumerate(data):
            if escape:
                escape = False
            elif byte == 0x5C:  # backslash; outside strings too, as scan's regex reads it
                escape = True
            elif byte == 0x22:  # "
                in_string = not in_string
            elif in_string:
                pass
            elif byte == 0x5B or byte == 0x7B:  # [ {
                depth += 1
                yield i, byte, depth
            elif byte == 0x5D or byte == 0x7D:  # ] }
                depth -= 1
                yield i, byte, depth
            elif byte == 0x2C:  # ,
                yield i, byte, depth


EMPTY = "the report is empty"
# JSON-lines tools write nothing at all when they find nothing: the way to say "a scan that
# found nothing" (which marks what it no longer reports) is an empty list.
EMPTY_LINES = EMPTY + " (a scan that found nothing writes no lines: send [] to import it)"


# What a gzip-compressed log (CloudTrail's files, a rotated Vault log) may decompress to: the
# size limit applies to what was sent, and a few MB of gzip can hold terabytes of nothing.
MAX_INFLATED_BYTES = 4 * 1024**3


class _Inflated(io.RawIOBase):
    def __init__(self, stream: IO[bytes], limit: int):
        self.gzip = gzip.GzipFile(fileobj=stream, mode="rb")
        self.limit = limit
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.gzip.readinto(buffer)
        self.total += n
        if self.total > self.limit:
            raise ImportFormatError(
                f"the report decompresses to more than {self.limit:,} bytes; send it in parts",
                f"byte {self.limit} of the decompressed report",
            )
        return n


def gunzip(stream: IO[bytes]) -> IO[bytes]:
    """A gzip-compressed report's bytes, read as they are decompressed, up to
    MAX_INFLATED_BYTES (then ImportFormatError). Corrupt data raises what gzip raises (OSError,
    EOFError, zlib.error)."""
    return io.BufferedReader(_Inflated(stream, MAX_INFLATED_BYTES), 65536)


# Reports sent packed, as a CI job's artifact often is: said so, not "binary".
_PACKED = (
    (b"\x1f\x8b", "the report is gzip-compressed; decompress it (gunzip) and send the report"),
    (b"PK\x03\x04", "the report is a zip archive; unzip it and send the report inside"),
)


def _check_text_start(stream: IO[bytes], empty: str = EMPTY) -> tuple[IO[bytes], bytes]:
    """Peek at the first bytes: empty and binary input get their own clear errors."""
    # A buffer as large as the peek: the default 8 KB would show the format sniffers less
    # than the 64 KB they look at (a report after 10 KB of log lines went to the wrong reader).
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream, 65536)
    head = buffered.peek(4096)[:4096]
    if len(head) == 4096 and not head.strip():
        # Blank lines first (a CI job's log before the report): the report starts further on.
        head = buffered.peek(65536)
    if not head.removeprefix(codecs.BOM_UTF8).strip():  # nothing, or a BOM and blank lines
        raise ImportFormatError(empty, "byte 0")
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        raise ImportFormatError("the report is UTF-16; save it as UTF-8", "byte 0")
    for magic, what in _PACKED:
        if head.startswith(magic):
            raise ImportFormatError(what, "byte 0")
    nul = head.find(b"\x00")
    if nul >= 0:
        sample = head[:64]
        if len(sample) >= 8 and (not any(sample[1::2]) or not any(sample[0::2])):
            # ASCII text as UTF-16 without a BOM: every other byte is 0.
            raise ImportFormatError("the report is UTF-16; save it as UTF-8", "byte 0")
        raise ImportFormatError("the report is binary, not text", f"byte {nul}")
    return buffered, head


def first_char(stream: IO[bytes], empty: str = EMPTY) -> tuple[IO[bytes], str]:
    """The stream (rewrapped) and its first non-space character, after empty/binary checks
    (``empty``: the message for an empty report)."""
    buffered, head = _check_text_start(stream, empty)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return buffered, chr(stripped[0]) if stripped else ""


def iter_json_array(
    stream: IO[bytes],
    prefix: str = "item",
    what: str = "findings",
    max_depth: int = MAX_JSON_DEPTH,
) -> Iterator[tuple[str, Any]]:
    """Stream the objects of a JSON array (or of the array at ``prefix``) as (path, object).

    Raises ImportFormatError with the byte offset for malformed/truncated JSON and for JSON
    nested deeper than ``max_depth``, and when the document is not shaped as expected."""
    if not hasattr(stream, "peek"):
        stream = io.BufferedReader(stream)  # type: ignore[arg-type]
    if stream.peek(3)[:3] == b"\xef\xbb\xbf":  # type: ignore[attr-defined]
        stream.read(3)  # a UTF-8 BOM (Windows tools, PowerShell's Out-File): yajl refuses it
    guard = DepthGuard(stream, max_depth)
    reader = io.BufferedReader(guard, 65536)
    base = "$" if prefix == "item" else "$." + prefix.removesuffix(".item")
    index = -1
    try:
        for index, obj in enumerate(ijson.items(reader, prefix, use_float=True)):
            yield f"{base}[{index}]", obj
    except ijson.JSONError as exc:
        raise ImportFormatError(
            "malformed or truncated JSON" + _json_reason(exc),
            f"near byte {guard.pos}" + (f" (after {base}[{index}])" if index >= 0 else ""),
        ) from None
    except RecursionError:
        raise ImportFormatError("JSON nested too deeply", f"near byte {guard.pos}") from None
    except UnicodeDecodeError:
        # yajl lets bytes that aren't UTF-8 (and a lone low surrogate escape, \udc00, which it
        # decodes to such bytes) through to the str it builds.
        raise ImportFormatError(
            "not UTF-8 text (or a \\u escape of half a surrogate pair)",
            f"near byte {guard.pos}" + (f" (after {base}[{index}])" if index >= 0 else ""),
        ) from None


def _json_reason(exc: Exception) -> str:
    # yajl's messages quote the input around the error; keep only the first clause.
    text = str(exc).split("\n", 1)[0]
    if "integer overflow" in text:
        return " (a number too large to read)"
    text = text.split(":", 1)[0] if "parse error" in text else text
    return f" ({text[:60]})" if text and len(text) < 200 and '"' not in text else ""


def load_json(stream: IO[bytes], max_depth: int = 64) -> Any:
    """Load a whole (small) JSON document, with the same errors as iter_json_array."""
    data = stream.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError("not UTF-8 text", f"byte {exc.start}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"malformed JSON: {exc.msg}", f"line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError:  # an integer of more digits than Python converts (4,300)
        raise ImportFormatError("a number in the JSON is too long", "$") from None
    except RecursionError:
        raise ImportFormatError("JSON nested too deeply", "$") from None
    _check_depth(doc, max_depth)
    return doc


def _check_depth(doc: Any, max_depth: int) -> None:
    stack = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise ImportFormatError(f"JSON nested deeper than {max_depth} levels", "$")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


# The longest line a line-based format reads (one finding, one event: a few KB, a key's PEM a few
# more). A line is held whole, and copied by the JSON reader: without a cap, a gzip-compressed
# log of a few MB (CloudTrail, Vault) held gigabytes as one line.
MAX_LINE_BYTES = 16 * 1024 * 1024


def read_lines(stream: IO[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The lines of a binary stream, each at most ``limit`` bytes (else ImportFormatError)."""
    lineno = 0
    while raw := stream.readline(limit + 1):
        lineno += 1
        if len(raw) > limit:
            raise ImportFormatError(f"a line longer than {limit // 2**20} MB", f"line {lineno}")
        yield raw


def pretty_printed(stream: IO[bytes]) -> bool:
    """Whether JSON lines were shown through jq (``jq .``): objects one after another, each
    over many lines. Its first line is a lone "{", which no JSON line is. (``stream`` has
    ``peek``: first_char's.)"""
    head = stream.peek(4096)[:4096]  # type: ignore[attr-defined]
    if len(head) == 4096 and not head.strip():
        head = stream.peek(65536)  # blank lines first, as _check_text_start allows
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].strip() == b"{"


def iter_json_documents(
    stream: IO[bytes], *, array: bool = False, what: str = "an object"
) -> Iterator[tuple[str, Any]]:
    """Objects one after another, however each is laid out (``jq .``'s output), as
    ("object N", object); or, with ``array``, the objects of one array (``jq -s``), as
    ("$[i]", object). Streamed: one object in memory at a time."""
    from .leakline import stream_json  # (leakline builds on this module)

    target = "item" if array else ""
    count = 0
    for kind, _prefix, value in stream_json(
        stream, {target}, watch={target}, multiple_values=not array
    ):
        where = f"$[{count}]" if array else f"object {count + 1}"
        if kind == "begin":
            if value != "an object":
                raise ImportFormatError(f"expected {what}, found {value}", where)
            continue
        count += 1
        yield where, value


def iter_json_lines(stream: IO[bytes], max_depth: int = 64) -> Iterator[tuple[str, Any]]:
    """JSON lines: yields ("line N", object) for each non-blank line (``stream`` a binary
    stream, or lines already read: read_lines)."""
    lines = read_lines(stream) if hasattr(stream, "readline") else stream
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"line {lineno}"
        try:
            text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFormatError("not UTF-8 text", f"{where} byte {exc.start}") from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"malformed JSON: {exc.msg}", f"{where}:{exc.colno}") from None
        except ValueError:  # an integer of more digits than Python converts (4,300)
            raise ImportFormatError("a number in the JSON is too long", where) from None
        except RecursionError:
            raise ImportFormatError("JSON nested too deeply", where) from None
        _check_depth(obj, max_depth)
        yield where, obj


def expect_dict(obj: Any, where: str, what: str = "an object") -> dict:
    if not isinstance(obj, dict):
        raise ImportFormatError(f"expected {what}, found {type_name(obj)}", where)
    return obj


def get_str(obj: dict, key: str, where: str, *, required: bool = False, default: str = "") -> str:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise ImportFormatError(f"missing required field '{key}'", where)
        return default
    if isinstance(value, bool | dict | list):
        raise ImportFormatError(f"'{key}' should be a string, found {type_name(value)}", where)
    return str(value)


def get_int(obj: dict, key: str, where: str, *, required: bool = False) -> int | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise ImportFormatError(f"missing required field '{key}'", where)
        return None
    if isinstance(value, bool):
        raise ImportFormatError(f"'{key}' should be a number, found a boolean", where)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise ImportFormatError(f"'{key}' should be a whole number", f"{where}.{key}") from None


def type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


# Where CI services check a repository out: a path under one is a path in the repository.
# GitHub container actions (/github/workspace), GitHub-hosted runners
# (/home/runner/work/<repo>/<repo>, D:\a\<repo>\<repo>), Azure Pipelines
# (/home/vsts/work/<n>/s, D:\a\<n>\s); GitLab runners: CI_PROJECT_DIR, /builds/<group>/<project>
# (Docker and Kubernetes executors), /builds/<short token>/<n>/<group>/<project> (Kubernetes
# since runner 14, a host-bound /builds), a shell executor's
# /home/gitlab-runner/builds/<short token>/<n>/<group>/<project> and a Windows runner's
# C:\GitLab-Runner\builds\<short token>\<n>\<group>\<project> (the short token is the runner
# token's first 8 characters, 9 for a glrt- one; <n> the concurrent job's number): a project
# in a subgroup (/builds/group/subgroup/project/) can't be told from a directory of a
# group's project, so one namespace level is taken off, as for most projects; and gitleaks'
# documented Docker run, which mounts the repository at /path (docker run -v
# <repo>:/path zricethezav/gitleaks … --source=/path).
# The short token has an upper-case letter or a digit (none in 8 random characters of 64: 1 in
# 750): a group named like a word ("frontend") with a project named by a year is no job.
_GITLAB_JOB = r"(?=[a-z_-]{0,8}[A-Z0-9])[A-Za-z0-9_-]{8,9}/\d+/"
_GITLAB_PROJECT = r"[^/!]+/[^/!]+/"
CI_CHECKOUT = re.compile(
    r"/path/"
    r"|/github/workspace/"
    r"|/home/runner/work/([^/]+)/\1/"
    r"|/?[A-Za-z]:/a/([^/]+)/\2/"
    r"|/home/vsts/work/\d+/s/"
    r"|/?[A-Za-z]:/a/\d+/s/"
    rf"|/builds/(?:{_GITLAB_JOB})?{_GITLAB_PROJECT}"
    rf"|/home/gitlab-runner/builds/{_GITLAB_JOB}{_GITLAB_PROJECT}"
    rf"|/?[A-Za-z]:/(?i:GitLab-Runner)/builds/{_GITLAB_JOB}{_GITLAB_PROJECT}"
)
# gitleaks' separator between an archive's path and the path of a file inside it
# (build/dist.zip!config/app.env; nested archives: a.zip!b.tar!c.env).
ARCHIVE_SEPARATOR = "!"


def path_in_checkout(path: str) -> str:
    """A path under a CI checkout as the path in the repository (/github/workspace/app/.env:
    app/.env); any other path as it is. A scanner run on Windows writes backslashes
    (``config\\.env``, ``D:\\a\\repo\\repo\\config\\.env``): read with slashes, as git and the
    ownership rules write paths, when the path is plainly Windows' (a drive letter, a share,
    or no slash at all); a POSIX name may hold a backslash, and one with a slash keeps it.
    For a file inside an archive (gitleaks' ``build\\dist.zip!config/app.env``) the archive's
    path, before the first "!", tells: the path inside the archive has slashes wherever the
    archive was made."""
    if "\\" in path:
        outer = path.partition(ARCHIVE_SEPARATOR)[0]
        if "/" not in outer or outer[1:3] == ":\\" or outer[:2] == "\\\\":
            path = path.replace("\\", "/")
    if len(path) > 5 and (path[0] == "/" or path[1] == ":"):
        match = CI_CHECKOUT.match(path)
        if match and len(path) > match.end():
            return path[match.end() :]
    return path
