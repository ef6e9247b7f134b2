"""AWS CloudTrail events about secret rotation and access key revocation -> RotationEvents.

Accepts:

* CloudTrail log files, ``{"Records": [...]}`` (streamed), also gzip-compressed as delivered
  to S3;
* EventBridge events (``detail-type`` "AWS Service Event via CloudTrail" / "AWS API Call via
  CloudTrail", ``detail`` = the CloudTrail record): one object, an array or JSON lines;
* bare CloudTrail records (an array or JSON lines), and ``aws cloudtrail lookup-events``
  output (``{"Events": [{"CloudTrailEvent": "<record as a JSON string>"}]}``);
* a trail's CloudWatch Logs group: ``aws logs get-log-events`` / ``filter-log-events`` output
  (``{"events": [{"timestamp": ..., "message": "<record as a JSON string>"}]}``), a
  subscription filter's decoded payload (``{"messageType": "DATA_MESSAGE", "logEvents":
  [...]}``) and the files of an export to S3 (``create-export-task``: one
  ``<ISO timestamp> <record>`` per line);
* a trail bucket's digest files (``..._CloudTrail-Digest_...json.gz``, next to the log
  files): read as holding no events, so that a bucket can be imported file by file.

CloudTrail Lake ``get-query-results`` output is refused with its own message: its rows hold
only the columns a query selected.

Recognised events (everything else is skipped silently; a log file holds many):

=========================================  =========================
Secrets Manager RotationSucceeded          rotated
Secrets Manager RotationFailed/Abandoned   rotation_failed
Secrets Manager RotationStarted            rotation_started
Secrets Manager RotateSecret               rotation_started (rotation_failed on errorCode)
Secrets Manager PutSecretValue             rotated (skipped when staged without AWSCURRENT)
Secrets Manager UpdateSecret (new value)   rotated
Secrets Manager UpdateSecretVersionStage   rotated (only AWSCURRENT moved to a version)
IAM UpdateAccessKey status Inactive        revoked (Active: skipped)
IAM DeleteAccessKey                        revoked
IAM CreateAccessKey                        created
=========================================  =========================

A failed API call (``errorCode`` set) did not happen: skipped, except RotateSecret.
UpdateSecretVersionStage counts only when it moves ``AWSCURRENT`` (``versionStage``) onto a
version (``moveToVersionId``): the finishSecret step of a rotation, or a manual one, makes that
version's value the current one. Other labels (AWSPENDING, custom ones) and removals of a label
(no ``moveToVersionId``) change no current value: skipped.

Only named, non-secret fields are read. ``responseElements.accessKey.secretAccessKey`` (the
new key's secret in a CreateAccessKey response) and secret values are never read.
See docs/formats/aws-cloudtrail.md.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from typing import IO, Any

from .base import (
    ImportFormatError,
    Item,
    Reference,
    RotationEvent,
    expect_dict,
    first_char,
    get_str,
    iter_json_array,
    iter_json_lines,
    load_json,
    type_name,
)
from .prowler import safe_datetime

SECRETS_MANAGER = "secretsmanager.amazonaws.com"
IAM = "iam.amazonaws.com"
SECRETS_ACTIONS = {
    "RotationSucceeded": "rotated",
    "RotationFailed": "rotation_failed",
    "RotationAbandoned": "rotation_failed",
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


def console_url(region: str, event_id: str) -> str:
    """CloudTrail console link to one event (Event history > event details)."""
    if not region or not event_id:
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


def _gunzip(stream: IO[bytes]) -> IO[bytes]:
    return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]


def _items(stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    if not isinstance(stream, io.BufferedReader):
        stream = io.BufferedReader(stream)  # type: ignore[arg-type]
    if stream.peek(2)[:2] == b"\x1f\x8b":
        stream = _gunzip(stream)
    stream, char = first_char(stream)
    head = stream.peek(4096)[:4096]  # type: ignore[attr-defined]
    if char == "[":
        yield from iter_json_array(stream, "item", "events")
    elif char == "{":
        start = _RECORDS_START.match(head.lstrip(b"\xef\xbb\xbf"))
        first_line = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].strip()
        # A one-line document may be the first of several JSON lines (but a log file is one).
        if start and (start.group(1) == b"Records" or not first_line.endswith(b"}")):
            key = start.group(1).decode()
            if not start.group(2):
                raise ImportFormatError("expected an array", f"$.{key}")
            yield from iter_json_array(stream, f"{key}.item", "records")
            return
        if first_line.endswith(b"}"):
            for where, obj in iter_json_lines(stream):
                yield from _expand(obj, where)
            return
        yield from _expand(load_json(stream), "$")
    elif _EXPORT_LINE.match(head):
        for where, obj in iter_json_lines(_export_records(stream)):
            yield from _expand(obj, where)
    else:
        raise ImportFormatError(
            "expected CloudTrail or EventBridge JSON (an object or an array)", "byte 0"
        )


def _export_records(stream: IO[bytes]) -> Iterator[bytes]:
    """The records of a CloudWatch Logs export, each line without its timestamp (a line that
    has none is passed on as it is, to be read, or rejected, as a JSON line)."""
    for raw in stream:
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
        return expect_dict(record, mwhere, "a CloudTrail record"), mwhere, "", ""
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
