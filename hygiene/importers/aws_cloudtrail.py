"""AWS CloudTrail events about secret rotation and access key revocation -> RotationEvents.

Accepts:

* CloudTrail log files, ``{"Records": [...]}`` (streamed), also gzip-compressed as delivered
  to S3;
* EventBridge events (``detail-type`` "AWS Service Event via CloudTrail" / "AWS API Call via
  CloudTrail", ``detail`` = the CloudTrail record): one object, an array or JSON lines;
* bare CloudTrail records (an array or JSON lines), and ``aws cloudtrail lookup-events``
  output (``{"Events": [{"CloudTrailEvent": "<record as a JSON string>"}]}``);
* a trail's CloudWatch Logs group, or the log group an EventBridge rule sends its events to
  (each message then an EventBridge event): ``aws logs get-log-events`` / ``filter-log-events``
  output (``{"events": [{"timestamp": ..., "message": "<record as a JSON string>"}]}``), a
  subscription filter's decoded payload (``{"messageType": "DATA_MESSAGE", "logEvents":
  [...]}``; the subscription's ``CONTROL_MESSAGE`` holds no events), the objects a Firehose
  delivery stream puts in S3 (those payloads run together, see below) and the files of an
  export to S3 (``create-export-task``: one ``<ISO timestamp> <record>`` per line);
* a trail bucket's digest files (``..._CloudTrail-Digest_...json.gz``, next to the log
  files): read as holding no events, so that a bucket can be imported file by file;
* several of these documents one after another, with or without blanks between: ``zcat`` of a
  bucket's files (each log file is one line without a newline at its end), a gzip of several
  members, a Firehose object, pages of CLI output appended to one file, pretty-printed events
  pasted one after another. Each is read in turn; errors in the second and later say
  "document N".

CloudTrail Lake ``get-query-results`` output is refused with its own message: its rows hold
only the columns a query selected.

Recognised events (everything else is skipped silently; a log file holds many):

=========================================  =========================
Secrets Manager RotationSucceeded          rotated
Secrets Manager RotationFailed             rotation_failed
Secrets Manager RotationStarted            rotation_started
Secrets Manager RotateSecret               rotation_started (rotation_failed on errorCode;
                                           skipped when rotateImmediately is false)
Secrets Manager PutSecretValue             rotated (skipped when staged without AWSCURRENT)
Secrets Manager UpdateSecret (new value)   rotated
Secrets Manager UpdateSecretVersionStage   rotated (only AWSCURRENT moved to a version)
IAM UpdateAccessKey status Inactive        revoked (Active: skipped)
IAM DeleteAccessKey                        revoked
IAM CreateAccessKey                        created
=========================================  =========================

A failed API call (``errorCode`` set) did not happen: skipped, except RotateSecret.
RotationAbandoned is skipped: Secrets Manager logs it when a new version put by hand
(PutSecretValue, UpdateSecret) takes the place of a pending rotation's; that call is the
rotation, and the abandoned one is no failure to alert on.
UpdateSecretVersionStage counts only when it moves ``AWSCURRENT`` (``versionStage``) onto a
version (``moveToVersionId``): the finishSecret step of a rotation, or a manual one, makes that
version's value the current one. Other labels (AWSPENDING, custom ones) and removals of a label
(no ``moveToVersionId``) change no current value: skipped.

Only named, non-secret fields are read. ``responseElements.accessKey.secretAccessKey`` (the
new key's secret in a CreateAccessKey response) and secret values are never read.
See docs/formats/aws-cloudtrail.md.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Iterator
from typing import IO, Any

from .base import (
    DepthGuard,
    ImportFormatError,
    Item,
    Reference,
    RotationEvent,
    expect_dict,
    first_char,
    get_str,
    gunzip,
    iter_json_array,
    iter_json_lines,
    load_json,
    read_lines,
    type_name,
)
from .prowler import safe_datetime

SECRETS_MANAGER = "secretsmanager.amazonaws.com"
IAM = "iam.amazonaws.com"
SECRETS_ACTIONS = {
    "RotationSucceeded": "rotated",
    "RotationFailed": "rotation_failed",
    "RotationStarted": "rotation_started",
    "RotateSecret": "rotation_started",
    "PutSecretValue": "rotated",
    "UpdateSecret": "rotated",
    "UpdateSecretVersionStage": "rotated",
}
IAM_EVENTS = {"UpdateAccessKey", "DeleteAccessKey", "CreateAccessKey"}
ENVELOPE_TYPES = {"AWS Service Event via CloudTrail", "AWS API Call via CloudTrail"}

# A document whose first key is its list of records, streamed: a log file's "Records", and the
# "Events" of lookup-events and "events" of get-log-events / filter-log-events output (the AWS
# CLI writes them first; a large log group's output runs to hundreds of MB). Elsewhere in the
# document (a subscription filter's payload, at most a megabyte), it is loaded whole.
_RECORDS_START = re.compile(rb'^\s*\{\s*"(Records|Events|events|logEvents)"\s*:\s*(\[)?')
# A line of a CloudWatch Logs export: "2022-07-18T14:24:29.825Z {...}".
_EXPORT_LINE = re.compile(rb"^\s*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ")
_SECRET_ARN = re.compile(r"^arn:[\w-]+:secretsmanager:[\w-]*:\d*\w*:secret:(.+)$")
_ACCESS_KEY_ID = re.compile(r"^[A-Z0-9]{16,128}$")
# The eventSource of the records of S3, SQS, SNS, DynamoDB... event notifications ("aws:s3"); a
# CloudTrail record's is a service's host name ("iam.amazonaws.com").
_NOTIFICATION_SOURCE = re.compile(r"aws:[a-z0-9]+")


# A region name ("eu-west-1", "us-gov-west-1", "ap-southeast-5") and a CloudTrail event id (a
# UUID): what the console link is built of. The region goes into the link's host name.
_REGION = re.compile(r"[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}")
_EVENT_ID = re.compile(r"[A-Za-z0-9-]{1,128}")


def console_url(region: str, event_id: str) -> str:
    """CloudTrail console link to one event (Event history > event details); none unless
    the region and the id are shaped as AWS writes them (a record with anything else there,
    placeholders copied from documentation or a crafted one, would link to another host)."""
    if not _REGION.fullmatch(region) or not _EVENT_ID.fullmatch(event_id):
        return ""
    if region.startswith("cn-"):
        host = f"console.amazonaws.cn/cloudtrail/home?region={region}"
    elif region.startswith("us-gov-"):
        host = f"console.amazonaws-us-gov.com/cloudtrail/home?region={region}"
    else:
        host = f"{region}.console.aws.amazon.com/cloudtrail/home?region={region}"
    return f"https://{host}#/events/{event_id}"


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _sub(obj: dict, key: str, where: str) -> dict:
    value = obj.get(key)
    if value is None or value == "":
        return {}
    return expect_dict(value, f"{where}.{key}")


# --- reading the container ------------------------------------------------------------------


def _items(stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    if not isinstance(stream, io.BufferedReader):
        stream = io.BufferedReader(stream)  # type: ignore[arg-type]
    if stream.peek(2)[:2] == b"\x1f\x8b":
        stream = gunzip(stream)
    stream, char = first_char(stream)
    head = stream.peek(4096)[:4096]  # type: ignore[attr-defined]
    if char == "[":
        yield from _documents(stream)  # type: ignore[arg-type]
    elif char == "{":
        start = _RECORDS_START.match(head.lstrip(b"\xef\xbb\xbf"))
        first_line = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].strip()
        # A one-line document may be the first of several JSON lines (but a log file is one,
        # and the files of a bucket run together: see _documents).
        if first_line.endswith(b"}") and not (start and start.group(1) == b"Records"):
            yield from _json_lines(stream)
            return
        yield from _documents(stream)  # type: ignore[arg-type]
    elif _EXPORT_LINE.match(head):
        for where, obj in iter_json_lines(_export_records(stream)):
            yield from _expand(obj, where)
    else:
        raise ImportFormatError(
            "expected CloudTrail or EventBridge JSON (an object or an array)", "byte 0"
        )


# Where one document ends and the next begins is the only place where a closing bracket is
# followed by an opening one with nothing but blanks between (inside a document, a comma comes
# first), but for strings, which DepthGuard.walk tells apart. Looked for among the structural
# bytes alone (blanks and the rest deleted: C speed), a chunk in which none is found is passed
# on as it is.
_NOT_STRUCTURAL = bytes(sorted(set(range(256)) - set(b'{}[]",:')))
_BOUNDARIES = (b"}{", b"}[", b"]{", b"][")


class _Document(io.RawIOBase):
    """The bytes of the next JSON document of a stream that holds several, one after another:
    ``zcat`` of a trail bucket's files (each log file one line with no newline at its end, so
    "...]}{"Records": [...", and digest files among them), pages of CLI output appended to one
    file, pretty-printed events pasted one after another. Reads up to where the document ends
    and leaves the rest in ``source``. Scans as DepthGuard does (C-level bytes operations) and
    walks byte by byte only a chunk in which the document may end."""

    def __init__(self, source: io.BufferedReader):
        self.source = source
        self.state = DepthGuard(io.BytesIO())  # the depth and string state, fed what we pass
        self.started = False
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.done or (self.started and self.state.depth == 0):
            self.done = True
            return 0
        data = self.source.peek(len(buffer))[: len(buffer)]
        if not data:
            return 0
        end = len(data)
        structure = data.translate(None, _NOT_STRUCTURAL)
        if any(boundary in structure for boundary in _BOUNDARIES):
            for i, byte, depth in self.state.walk(data):
                if depth == 0 and byte in b"}]":
                    end = i + 1
                    break
        data = self.source.read(end)
        self.state.scan(data)  # nested too deeply: ImportFormatError
        self.started = self.started or bool(data.strip(b"\xef\xbb\xbf \t\r\n"))
        buffer[:end] = data
        return end


def _json_lines(stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """JSON lines, a line of which may hold several documents run together: a Firehose
    delivery of a CloudWatch Logs subscription to S3 is its records (each a DATA_MESSAGE, or a
    CONTROL_MESSAGE), gzipped one by one and put one after another, without newlines."""
    held: list[tuple[Any, str]] = []

    def lines() -> Iterator[bytes]:
        for lineno, raw in enumerate(read_lines(stream), start=1):
            pieces = _split_line(raw)
            if len(pieces) == 1:
                yield raw
                continue
            for number, piece in enumerate(pieces, start=1):
                where = f"line {lineno} document {number}"
                try:
                    held.append((load_json(io.BytesIO(piece)), where))
                except ImportFormatError as exc:
                    raise ImportFormatError(
                        exc.message, f"{where}{_located(exc.location)}"
                    ) from None
            yield b"\n"  # read above; a blank line still counts, so the next is numbered right

    for where, obj in iter_json_lines(lines()):
        while held:
            yield from _expand(*held.pop(0))
        yield from _expand(obj, where)
    while held:
        yield from _expand(*held.pop(0))


def _split_line(raw: bytes) -> list[bytes]:
    """The documents run together on one line (most often just the line)."""
    structure = raw.translate(None, _NOT_STRUCTURAL)
    if not any(boundary in structure for boundary in _BOUNDARIES):
        return [raw]
    ends = [
        i + 1
        for i, byte, depth in DepthGuard(io.BytesIO()).walk(raw)
        if depth == 0 and byte in b"}]"
    ]
    pieces = [raw[a:b] for a, b in zip([0, *ends], [*ends, len(raw)], strict=True)]
    return [piece for piece in pieces if piece.strip()] or [raw]


def _documents(stream: io.BufferedReader) -> Iterator[tuple[str, Any]]:
    """The items of one JSON document, or of several one after another (see _Document). A
    document whose first key is its list of records (a log file, large CLI output) is streamed;
    another is loaded whole and expanded."""
    number = 0
    offset = 0
    while True:
        head = stream.peek(4096)[:4096]
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if number and len(stripped) < len(head):  # blanks after a document
            offset += len(stream.read(len(head) - len(stripped)))
            continue
        if not head:
            return
        # (The first document's leading blanks are read with it: first_char saw it start.)
        head = stripped
        number += 1
        if number > 1 and head[:1] not in (b"{", b"["):
            raise ImportFormatError(
                "expected another JSON document after the previous one", f"byte {offset}"
            )
        document = _Document(stream)
        reader = io.BufferedReader(document, 65536)
        try:
            yield from _document(reader, head, number)
        except ImportFormatError as exc:
            if number == 1:
                raise
            raise ImportFormatError(
                exc.message, f"document {number} (from byte {offset})" + _located(exc.location)
            ) from None
        reader.read()  # what the reader left (blanks after the document)
        offset += document.state.pos


def _located(location: str) -> str:
    return f" {location}" if location else ""


def _document(reader: io.BufferedReader, head: bytes, number: int) -> Iterator[tuple[str, Any]]:
    prefix = "" if number == 1 else f"document {number} "
    if head[:1] == b"[":
        for where, obj in iter_json_array(reader, "item", "events"):
            yield prefix + where, obj
        return
    start = _RECORDS_START.match(head)
    if start:
        key = start.group(1).decode()
        if not start.group(2):
            raise ImportFormatError("expected an array", f"$.{key}")
        for where, obj in iter_json_array(reader, f"{key}.item", "records"):
            yield prefix + where, obj
        return
    yield from _expand(load_json(reader), prefix.strip() or "$")


def _export_records(stream: IO[bytes]) -> Iterator[bytes]:
    """The records of a CloudWatch Logs export, each line without its timestamp (a line that
    has none is passed on as it is, to be read, or rejected, as a JSON line)."""
    for raw in read_lines(stream):
        match = _EXPORT_LINE.match(raw)
        yield raw[match.end() :] if match else raw


# The fields every CloudTrail digest file has (log file integrity validation: delivered next to
# the log files, under AWSLogs/<account>/CloudTrail-Digest/).
_DIGEST_KEYS = {"digestStartTime", "digestEndTime", "digestS3Bucket", "logFiles"}


def _is_digest(doc: dict) -> bool:
    return doc.keys() >= _DIGEST_KEYS and "eventName" not in doc and "Records" not in doc


def _expand(doc: Any, where: str) -> Iterator[tuple[str, Any]]:
    """A log file, lookup-events or CloudWatch Logs document gives its records; a digest file
    gives none; anything else is one item."""
    if isinstance(doc, dict):
        if doc.get("messageType") == "CONTROL_MESSAGE":
            # CloudWatch Logs checking that a subscription's destination (Firehose) is there:
            # delivered among the DATA_MESSAGEs, with its own text as the one log event.
            return
        if _is_digest(doc):
            # A trail bucket's digest file lists the hour's log files and their hashes: no
            # events. Read as such (a bucket synced and imported file by file holds one per
            # hour and region), not refused.
            return
        if "QueryResultRows" in doc and "QueryStatus" in doc:
            raise ImportFormatError(
                "this is CloudTrail Lake query output (get-query-results), which holds only the "
                "columns the query selected, not CloudTrail records: send the trail's log files "
                '({"Records": [...]}), lookup-events output or EventBridge events instead',
                where,
            )
        for key in ("Records", "Events", "events", "logEvents"):
            if key in doc and ("eventName" not in doc and "detail" not in doc):
                items = doc[key]
                base = "$" if where == "$" else where + " $"
                if not isinstance(items, list):
                    raise ImportFormatError(
                        f"expected an array, found {type_name(items)}", f"{base}.{key}"
                    )
                for i, obj in enumerate(items):
                    yield f"{base}.{key}[{i}]", obj
                return
    yield where, doc


def _record(obj: Any, where: str) -> tuple[dict, str, str, str]:
    """(CloudTrail record, its location, envelope region, envelope id)."""
    obj = expect_dict(obj, where, "a CloudTrail record or EventBridge event")
    if "detail" in obj and ("detail-type" in obj or "source" in obj):
        detail_type = get_str(obj, "detail-type", where)
        if detail_type and detail_type not in ENVELOPE_TYPES:
            return {}, where, "", ""  # another EventBridge event: not CloudTrail, skip
        record = expect_dict(obj["detail"], f"{where}.detail")
        source = get_str(obj, "source", where)
        if not record.get("eventSource") and source.startswith("aws."):
            # Trimmed events (docs, tests) may drop detail.eventSource; the envelope's
            # "aws.secretsmanager" names the same service.
            record = {**record, "eventSource": f"{source[4:]}.amazonaws.com"}
        return record, f"{where}.detail", get_str(obj, "region", where), get_str(obj, "id", where)
    if "CloudTrailEvent" in obj:  # lookup-events
        raw = obj["CloudTrailEvent"]
        if not isinstance(raw, str):
            raise ImportFormatError("expected a JSON string", f"{where}.CloudTrailEvent")
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            raise ImportFormatError("malformed JSON string", f"{where}.CloudTrailEvent") from None
        except ValueError:  # an integer of more digits than Python converts (4,300)
            raise ImportFormatError(
                "a number in the record is too long", f"{where}.CloudTrailEvent"
            ) from None
        return expect_dict(record, f"{where}.CloudTrailEvent"), f"{where}.CloudTrailEvent", "", ""
    if "eventName" in obj or "eventSource" in obj:
        return obj, where, "", ""
    if "message" in obj and ("timestamp" in obj or "ingestionTime" in obj):  # CloudWatch Logs
        raw = obj["message"]
        mwhere = f"{where}.message"
        if not isinstance(raw, str):
            raise ImportFormatError(f"expected a JSON string, found {type_name(raw)}", mwhere)
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            raise ImportFormatError(
                "not a CloudTrail record (the log group holds other logs?)", mwhere
            ) from None
        except ValueError:
            raise ImportFormatError("a number in the record is too long", mwhere) from None
        record = expect_dict(record, mwhere, "a CloudTrail record")
        if "detail" in record and ("detail-type" in record or "source" in record):
            # An EventBridge rule's log group target (/aws/events/...): the event, whole.
            return _record(record, mwhere)
        return record, mwhere, "", ""
    raise ImportFormatError(
        "not a CloudTrail record or EventBridge event (no eventName or detail)", where
    )


# --- events ---------------------------------------------------------------------------------


def parse(stream: IO[bytes]) -> Iterator[Item]:
    try:
        for where, obj in _items(stream):
            record, rwhere, env_region, env_id = _record(obj, where)
            if record:
                event = _event(record, rwhere, env_region, env_id)
                if event is not None:
                    yield event
    except (OSError, EOFError, zlib.error):
        raise ImportFormatError("corrupt or truncated gzip data") from None


def _event(record: dict, where: str, env_region: str, env_id: str) -> RotationEvent | None:
    source = get_str(record, "eventSource", where)
    name = get_str(record, "eventName", where)
    if source == SECRETS_MANAGER and name in SECRETS_ACTIONS:
        builder = _secrets_manager
    elif source == IAM and name in IAM_EVENTS:
        builder = _iam
    elif _NOTIFICATION_SOURCE.fullmatch(source):
        # {"Records": [...]} of another AWS event: an S3 notification (of a new log file in the
        # trail's bucket, say) or the SQS batch a Lambda function is given. Not a log file.
        raise ImportFormatError(
            "an AWS event notification (S3, SQS...), not a CloudTrail record: "
            'send the trail\'s log files ({"Records": [...]}), lookup-events output or '
            "EventBridge events",
            where,
        )
    else:
        return None
    region = get_str(record, "awsRegion", where) or env_region
    event_id = get_str(record, "eventID", where) or env_id
    identity = _sub(record, "userIdentity", where)
    iwhere = f"{where}.userIdentity"
    actor = (
        get_str(identity, "arn", iwhere)
        or get_str(identity, "invokedBy", iwhere)
        or get_str(identity, "userName", iwhere)
    )
    error = get_str(record, "errorCode", where)
    built = builder(record, where, name, region, identity, bool(error))
    if built is None:
        return None
    action, refs, detail = built
    if not refs:
        return None
    return RotationEvent(
        action=action,
        references=refs,
        occurred_at=safe_datetime(record.get("eventTime"), f"{where}.eventTime"),
        actor=actor,
        event_name=name,
        event_id=event_id,
        evidence_url=console_url(region, event_id),
        detail=detail + (f" (error {error})" if error else ""),
    )


def _secret_refs(ids: list[str]) -> list[Reference]:
    refs: list[Reference] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, value: str) -> None:
        if value and (kind, value) not in seen:
            seen.add((kind, value))
            refs.append(Reference(kind, value))

    for value in ids:
        match = _SECRET_ARN.match(value)
        if match:
            add("arn", value)
            full = match.group(1)
            # Secrets Manager appends "-" and 6 random characters to the name in the ARN.
            add("other", re.sub(r"-[A-Za-z0-9]{6}$", "", full))
        else:
            add("other", value)
    return refs


def _secrets_manager(
    record: dict, where: str, name: str, region: str, identity: dict, failed: bool
) -> tuple[str, list[Reference], str] | None:
    request = _sub(record, "requestParameters", where)
    response = _sub(record, "responseElements", where)
    extra = _sub(record, "additionalEventData", where)
    service = _sub(record, "serviceEventDetails", where)
    if failed and name != "RotateSecret":
        return None
    if name == "UpdateSecret" and not ({"secretString", "secretBinary"} & set(request)):
        return None  # a description / KMS key change, no new value
    if (
        name == "RotateSecret"
        and not failed
        and request.get("rotateImmediately") in (False, "false")
    ):
        # Rotation set up (function, schedule) to start in the next window: nothing rotates now
        # (Secrets Manager only runs a Lambda rotation's testSecret step).
        return None
    stages = request.get("versionStages")
    staged = isinstance(stages, list) and bool(stages) and "AWSCURRENT" not in stages
    if name == "PutSecretValue" and staged:
        # A staged version (AWSPENDING: the createSecret step of every Lambda rotation) does
        # not replace the current value; RotationSucceeded / RotationFailed tell the outcome.
        return None
    if name == "UpdateSecretVersionStage" and not _makes_current(request, where):
        return None
    ids = [
        get_str(extra, "SecretId", f"{where}.additionalEventData"),
        get_str(extra, "secretId", f"{where}.additionalEventData"),
        get_str(service, "secretId", f"{where}.serviceEventDetails"),
        get_str(service, "SecretId", f"{where}.serviceEventDetails"),
        get_str(request, "secretId", f"{where}.requestParameters"),
        get_str(response, "arn", f"{where}.responseElements"),
        get_str(response, "aRN", f"{where}.responseElements"),
        get_str(response, "ARN", f"{where}.responseElements"),
        get_str(response, "name", f"{where}.responseElements"),
    ]
    refs = _secret_refs([i for i in ids if i])
    action = "rotation_failed" if failed else SECRETS_ACTIONS[name]
    label = next((r.value for r in refs if r.kind == "arn"), refs[0].value if refs else "")
    return action, refs, f"Secrets Manager {name} for {label}"


def _makes_current(request: dict, where: str) -> bool:
    """An UpdateSecretVersionStage that moves AWSCURRENT onto a version: that version's value
    becomes the current one (rotation's finishSecret step, or a manual rotation). Another label
    (AWSPENDING, a custom one), or a label only removed (no moveToVersionId), changes no current
    value."""
    rwhere = f"{where}.requestParameters"
    stage = get_str(request, "versionStage", rwhere)
    move_to = get_str(request, "moveToVersionId", rwhere)
    remove_from = get_str(request, "removeFromVersionId", rwhere)
    return stage == "AWSCURRENT" and bool(move_to) and move_to != remove_from


def _iam(
    record: dict, where: str, name: str, region: str, identity: dict, failed: bool
) -> tuple[str, list[Reference], str] | None:
    if failed:
        return None
    request = _sub(record, "requestParameters", where)
    response = _sub(record, "responseElements", where)
    rwhere = f"{where}.requestParameters"
    if name == "UpdateAccessKey":
        status = get_str(request, "status", rwhere).lower()
        if status != "inactive":
            return None  # reactivation: not a revocation (see docs)
        action = "revoked"
    elif name == "DeleteAccessKey":
        action = "revoked"
    else:
        action = "created"
    key_id = get_str(request, "accessKeyId", rwhere)
    user_name = get_str(request, "userName", rwhere)
    if name == "CreateAccessKey":
        # Only these two named fields of the response; never its secretAccessKey.
        new_key = _sub(response, "accessKey", f"{where}.responseElements")
        awhere = f"{where}.responseElements.accessKey"
        key_id = key_id or get_str(new_key, "accessKeyId", awhere)
        user_name = user_name or get_str(new_key, "userName", awhere)
    refs: list[Reference] = []
    if key_id and _ACCESS_KEY_ID.match(key_id):
        refs.append(Reference("aws-access-key-id", key_id))
    user_arn = _user_arn(record, where, region, identity, user_name)
    if user_arn:
        refs.append(Reference("arn", user_arn))
    if user_name:
        refs.append(Reference("other", user_name))
    verb = {"revoked": "deactivated" if name == "UpdateAccessKey" else "deleted"}.get(
        action, "created"
    )
    who = f" of user {user_name}" if user_name else ""
    # Shown as a secret's references show it (fingerprints.redact_identifier): a key id is
    # often the very value a scanner reported, and the detail is stored.
    key = f" {key_id[:4]}…{key_id[-4:]}" if key_id and _ACCESS_KEY_ID.match(key_id) else ""
    return action, refs, f"IAM access key{key}{who} {verb}"


def _user_arn(record: dict, where: str, region: str, identity: dict, user_name: str) -> str:
    """The key owner's ARN: the caller's when no userName is given (IAM acts on the caller),
    else built from the account id, assuming the default path "/" (CloudTrail does not give
    the user's path)."""
    iwhere = f"{where}.userIdentity"
    if not user_name:
        if get_str(identity, "type", iwhere) == "IAMUser":
            return get_str(identity, "arn", iwhere)
        return ""
    account = get_str(record, "recipientAccountId", where) or get_str(identity, "accountId", iwhere)
    if not re.fullmatch(r"\d{12}", account):
        return ""
    return f"arn:{_partition(region)}:iam::{account}:user/{user_name}"
