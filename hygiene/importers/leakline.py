"""Leakline's own JSON format: findings and rotation events from any tool we have no importer for.

The format and its JSON Schema are documented in docs/formats.md. A document is::

    {"version": 1, "findings": [...], "events": [...]}

Findings become ``Observation`` items, events become ``RotationEvent`` items. The findings and
events arrays are streamed (either may come first, both may be long). When the stream is
seekable a cheap first pass checks the JSON syntax, the version and the document's shape before
anything is yielded; on an unseekable stream those errors can surface after earlier items.

This module also holds the small streaming and validation helpers the other scanner importers
(github, gitlab, sarif, noseyparker) share: ``stream_json`` walks a JSON document with a bounded
depth (ijson's own prefix machinery is quadratic in the nesting depth), ``whole_number``,
``to_datetime``, ``redaction_ok`` and ``mentions``.
"""

from __future__ import annotations

import codecs
import io
import math
import re
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from typing import IO, Any

import ijson

from hygiene.taxonomy import (
    POSTURE_TYPES,
    SecretType,
    Severity,
    guess_secret_type,
    guess_secret_type_from_value,
)

from .base import (
    ImportFormatError,
    Item,
    Observation,
    Reference,
    RotationEvent,
    first_char,
    parse_datetime,
    type_name,
)

MAX_DEPTH = 64

# --- shared helpers ---------------------------------------------------------------------------


class _Counter(io.RawIOBase):
    """Counts the bytes read so JSON errors can say where they happened without quoting input."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


_SCALARS = {"null", "boolean", "integer", "double", "number", "string"}
_KIND = {
    "start_map": "an object",
    "start_array": "an array",
    "null": "null",
    "boolean": "a boolean",
    "integer": "a number",
    "double": "a number",
    "number": "a number",
    "string": "a string",
}
_SAFE_REASON = re.compile(r"^(parse|lexical) error: [a-z ()-]{1,60}\.?$")


def _reason(exc: Exception) -> str:
    # yajl quotes the input around the error on its later lines; keep a known-safe first clause.
    first = str(exc).split("\n", 1)[0].strip()
    return f" ({first.rstrip('.')})" if _SAFE_REASON.match(first) else ""


def stream_json(
    stream: IO[bytes],
    targets: Collection[str],
    watch: Collection[str] = (),
    max_depth: int = MAX_DEPTH,
    multiple_values: bool = False,
) -> Iterator[tuple[str, str, Any]]:
    """Walk a JSON document once, in constant memory apart from the values asked for
    (with ``multiple_values``, documents one after another: each starts at prefix ``""``).

    Prefixes are ijson's: ``""`` is the document, ``"findings.item"`` each element of the
    top-level ``findings`` array, ``"runs.item.tool"`` each run's tool object. Yields
    ``("value", prefix, value)`` for each complete value found at a prefix in ``targets``, and
    ``("begin", prefix, kind)`` when a value starts at a prefix in ``watch`` (kind is
    "an object", "an array", "a string"... as in error messages). Raises ImportFormatError for
    malformed or truncated JSON ("near byte N") and for nesting deeper than ``max_depth``.
    """
    counting = _Counter(stream)
    reader = io.BufferedReader(counting, 65536)
    if reader.peek(3)[:3] == codecs.BOM_UTF8:
        reader.read(3)
    path: list[str | None] = []
    builder: ijson.ObjectBuilder | None = None
    depth = 0  # depth inside the value being built
    build_prefix = ""
    events = ijson.basic_parse(reader, use_float=True, multiple_values=multiple_values)
    while True:
        try:
            event, value = next(events)
        except StopIteration:
            return
        except ijson.JSONError as exc:
            raise ImportFormatError(
                "malformed or truncated JSON" + _reason(exc), f"near byte {counting.count}"
            ) from None
        except (ValueError, OverflowError, UnicodeDecodeError):
            raise ImportFormatError(
                "malformed JSON (a value can't be read)", f"near byte {counting.count}"
            ) from None
        if builder is not None:
            builder.event(event, value)
            if event in ("start_map", "start_array"):
                depth += 1
                if len(path) + depth > max_depth:
                    raise _too_deep(max_depth, counting.count)
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth == 0:
                    built, builder = builder.value, None
                    yield "value", build_prefix, built
            continue
        if event == "map_key":
            path[-1] = value
            continue
        if event in ("end_map", "end_array"):
            path.pop()
            continue
        prefix = ".".join(path)  # type: ignore[arg-type]  # None never remains when joined
        if prefix in watch:
            yield "begin", prefix, _KIND[event]
        if event in _SCALARS:
            if prefix in targets:
                yield "value", prefix, value
            continue
        # start_map / start_array
        if prefix in targets:
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            depth = 1
            build_prefix = prefix
            if len(path) + 1 > max_depth:
                raise _too_deep(max_depth, counting.count)
            continue
        path.append(None if event == "start_map" else "item")
        if len(path) > max_depth:
            raise _too_deep(max_depth, counting.count)


def arrays_in_turn(stream: IO[bytes], what: str, part: str) -> Iterator[tuple[str, Any]]:
    """The items of JSON arrays written one after another (``gh api --paginate``'s pages, a
    loop over subscriptions), streamed: (where, item), "$[i]" in the first array and
    "<part> N $[i]" in the Nth. ``what`` names the next array for the error when something
    else follows ("another page of alerts (an array)")."""
    number = index = 0
    for kind, _prefix, value in stream_json(stream, {"item"}, watch={""}, multiple_values=True):
        if kind == "begin":  # a document: the first array (the caller saw "["), or another
            if value != "an array":
                raise ImportFormatError(
                    f"expected {what} after the first, found {value}", f"after {part} {number}"
                )
            number, index = number + 1, 0
            continue
        yield (f"$[{index}]" if number == 1 else f"{part} {number} $[{index}]"), value
        index += 1


def _too_deep(max_depth: int, count: int) -> ImportFormatError:
    return ImportFormatError(f"JSON nested deeper than {max_depth} levels", f"near byte {count}")


def rewindable(stream: IO[bytes]) -> int | None:
    """The current position if the stream can be read twice (seek back to it), else None."""
    try:
        if stream.seekable():
            return stream.tell()
    except (OSError, ValueError, AttributeError):
        return None
    return None


def whole_number(value: Any, where: str, *, minimum: int | None = 0) -> int | None:
    """An integer from a JSON number (or a digit string); None for null/"". Bools, fractions,
    NaN/Infinity and other types raise "should be a whole number"."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ImportFormatError("should be a whole number, found a boolean", where)
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise ImportFormatError("should be a whole number", where)
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d{1,18}", text):
            raise ImportFormatError("should be a whole number", where)
        value = int(text)
    elif not isinstance(value, int):
        raise ImportFormatError(f"should be a whole number, found {type_name(value)}", where)
    if minimum is not None and value < minimum:
        raise ImportFormatError(f"should be at least {minimum}", where)
    if abs(value) > 2**53:
        raise ImportFormatError("number out of range", where)
    return value


_LEAP_SECOND = re.compile(r"(?<=\d[Tt ])(\d\d:\d\d):60(?=[.,Zz+-]|$)")


def to_datetime(value: Any, where: str, *, strict: bool = True) -> datetime | None:
    """An aware UTC datetime from RFC 3339 / ISO 8601 text (its "t" and "z" in either case) or
    epoch seconds/ms.

    Non-strict (third-party metadata such as a commit date): an unreadable value gives None
    rather than failing the whole import. The zero dates some tools write ("0001-01-01") → None.
    """
    if isinstance(value, bool | dict | list):
        if strict:
            raise ImportFormatError(f"should be a date/time, found {type_name(value)}", where)
        return None
    if isinstance(value, float) and not math.isfinite(value):
        if strict:
            raise ImportFormatError("not a date/time", where)
        return None
    if isinstance(value, str) and value.rstrip().endswith("z"):
        # RFC 3339 (5.6) allows "t" and "z" in lower case, as JSON Schema's date-time does;
        # Python reads a lower-case "t", not a "z".
        value = value.rstrip()[:-1] + "Z"
    if isinstance(value, str):
        # RFC 3339 allows a leap second ("23:59:60Z", JSON Schema's date-time too); Python has
        # no second 60: read it as the second before.
        value = _LEAP_SECOND.sub(r"\1:59", value, count=1)
    try:
        parsed = parse_datetime(value, where)
    except ImportFormatError:
        if strict:
            raise
        return None
    except (ValueError, OverflowError, OSError):
        if strict:
            raise ImportFormatError("not a date/time (out of range)", where) from None
        return None
    if parsed is not None and parsed.year <= 1:
        return None  # Go's zero time, written by tools that have no date
    return parsed


def epoch_with_offset(value: Any) -> datetime | None:
    """git's raw "1685495256 +0000" timestamps (Nosey Parker); None when unreadable."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"\s*(-?\d{1,12})(?:\s+[+-]\d{4})?\s*", value)
    if not match:
        return to_datetime(value, "", strict=False)
    try:
        return datetime.fromtimestamp(int(match.group(1)), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


_MASK_CHARS = set("*•…·#xX.-_ ")


def redaction_ok(text: str) -> bool:
    """A tool's redacted form is kept only if it reveals at most 4 leading characters."""
    if not text:
        return False
    body = re.sub(r"(?i)\[?redacted\]?", "", text)
    stripped = body.lstrip()
    # Leading characters that are not masks are "revealed"; the rest must all be masks.
    revealed = 0
    for index, char in enumerate(stripped):
        if char in "*•…#" or stripped[index:].startswith("..."):
            rest = stripped[index:]
            return revealed <= 4 and all(c in _MASK_CHARS for c in rest)
        revealed += 1
        if revealed > 4:
            return False
    return revealed == 0 and body != text  # only the word REDACTED (and nothing else)


MIN_SECRET_LEN = 8  # shorter "secrets" ("secret", "Password") are placeholders, not credentials


def mentions(text: str, *secrets: str | None) -> bool:
    """Does ``text`` contain any of the secrets (8+ characters)? Used to drop unsafe text."""
    if not text:
        return False
    return any(secret and len(secret) >= MIN_SECRET_LEN and secret in text for secret in secrets)


def clean(text: str, *secrets: str | None) -> str:
    """``text`` unless it contains a secret, then ""."""
    return "" if mentions(text, *secrets) else text


def object_at(value: Any, where: str, what: str = "an object") -> dict:
    if not isinstance(value, dict):
        raise ImportFormatError(f"should be {what}, found {type_name(value)}", where)
    return value


def text_at(obj: dict, key: str, where: str, *, required: bool = False) -> str:
    """A string field; numbers are accepted as text, other types are errors."""
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise ImportFormatError("missing required field", f"{where}.{key}")
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ImportFormatError(f"should be a string, found {type_name(value)}", f"{where}.{key}")


def list_at(obj: dict, key: str, where: str) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ImportFormatError(f"should be an array, found {type_name(value)}", f"{where}.{key}")
    return value


def dict_at(obj: dict, key: str, where: str) -> dict:
    value = obj.get(key)
    if value is None:
        return {}
    return object_at(value, f"{where}.{key}")


# --- the Leakline format ----------------------------------------------------------------------

SECRET_TYPES = [t.value for t in SecretType]
LEAKED_TYPES = [t for t in SECRET_TYPES if t not in POSTURE_TYPES]
POSTURE_ONLY_TYPES = [t for t in SECRET_TYPES if t in POSTURE_TYPES]
SEVERITIES = [s.value for s in Severity]
VALIDITIES = ["valid", "invalid", "unknown"]
CATEGORIES = ["secret", "posture"]
RESOLUTIONS = [
    "false_positive",
    "used_in_tests",
    "wont_fix",
    "revoked",
    "accepted_risk",
    "resolved",
]
REFERENCE_KINDS = [
    "aws-access-key-id",
    "arn",
    "aws-account",
    "vault-path",
    "storage-account",
    "url",
    "other",
]
ACTIONS = ["rotated", "revoked", "rotation_failed", "rotation_started", "created", "verified"]

_FINDING_KEYS = {
    "rule",
    "secret_type",
    "category",
    "secret",
    "secret_sha1",
    "redacted",
    "location",
    "validity",
    "severity",
    "title",
    "description",
    "resource",
    "account",
    "region",
    "passed",
    "resolution",
    "references",
    "ids",
}
_LOCATION_KEYS = {"repo", "path", "line", "commit", "url", "author", "committed_at"}
_EVENT_KEYS = {
    "ref",
    "refs",
    "action",
    "at",
    "actor",
    "name",
    "evidence_url",
    "id",
    "detail",
}


def parse(stream: IO[bytes]) -> Iterator[Item]:
    stream, char = first_char(stream)
    if char != "{":
        raise ImportFormatError(
            "not a Leakline report: expected a JSON object with 'version' and 'findings'"
        )
    start = rewindable(stream)
    if start is not None:
        _check_document(stream_json(stream, {"version"}, {"", "findings", "events"}))
        stream.seek(start)
    yield from _read(stream)


def _check_document(parts: Iterator[tuple[str, str, Any]]) -> None:
    for _ in _document_items(parts):
        pass


def _read(stream: IO[bytes]) -> Iterator[Item]:
    parts = stream_json(
        stream, {"version", "findings.item", "events.item"}, {"", "findings", "events"}
    )
    yield from _document_items(parts)


def _document_items(parts: Iterator[tuple[str, str, Any]]) -> Iterator[Item]:
    version_seen = False
    sections = 0
    counters = {"findings.item": 0, "events.item": 0}
    for kind, prefix, value in parts:
        if kind == "begin":
            if prefix == "" and value != "an object":
                raise ImportFormatError(f"expected an object, found {value}", "$")
            if prefix in ("findings", "events"):
                sections += 1
                if value != "an array":
                    raise ImportFormatError(f"should be an array, found {value}", f"$.{prefix}")
            continue
        if prefix == "version":
            if isinstance(value, bool) or value != 1:
                raise ImportFormatError(
                    "unsupported version; this importer reads version 1", "$.version"
                )
            version_seen = True
            continue
        index = counters[prefix]
        counters[prefix] += 1
        if prefix == "findings.item":
            yield finding(value, f"$.findings[{index}]")
        else:
            yield event(value, f"$.events[{index}]")
    if not version_seen:
        raise ImportFormatError(
            "not a Leakline report: missing 'version' (should be 1)", "$.version"
        )
    if not sections:
        raise ImportFormatError("not a Leakline report: no 'findings' or 'events' array", "$")


# A name an error may quote: a word, as field names are (a misspelt "titel"). Anything else
# (a token pasted as a key) is not quoted: errors are shown on pages and stored with the run.
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z_.\-]{0,39}")


def _unknown_keys(obj: dict, allowed: set[str], where: str) -> None:
    for key in obj:
        if key not in allowed and not str(key).startswith("x-"):
            allowed_text = "allowed: " + ", ".join(sorted(allowed)) + " (or x-*)"
            if _FIELD_NAME.fullmatch(str(key)):
                raise ImportFormatError(f"unknown field; {allowed_text}", f"{where}.{key}")
            raise ImportFormatError(
                f"an unknown field whose name isn't shown (it may be a value); {allowed_text}",
                where,
            )


def _choice(obj: dict, key: str, where: str, choices: list[str], default: str = "") -> str:
    value = text_at(obj, key, where)
    if not value:
        return default
    if value not in choices:
        raise ImportFormatError("should be one of: " + ", ".join(choices), f"{where}.{key}")
    return value


def _references(value: Any, where: str) -> list[Reference]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ImportFormatError(f"should be an array, found {type_name(value)}", where)
    return [_reference(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _reference(value: Any, where: str) -> Reference:
    ref = object_at(value, where)
    _unknown_keys(ref, {"kind", "value"}, where)
    kind = _choice(ref, "kind", where, REFERENCE_KINDS)
    if not kind:
        raise ImportFormatError("missing required field", f"{where}.kind")
    return Reference(kind=kind, value=text_at(ref, "value", where, required=True))


def finding(value: Any, where: str) -> Observation:
    """One finding object → Observation (``where`` is its JSON path, for errors)."""
    obj = object_at(value, where)
    _unknown_keys(obj, _FINDING_KEYS, where)
    rule = text_at(obj, "rule", where, required=True)
    category = _choice(obj, "category", where, CATEGORIES, "secret")

    secret = obj.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise ImportFormatError(f"should be a string, found {type_name(secret)}", f"{where}.secret")
    secret = secret or None
    sha1 = text_at(obj, "secret_sha1", where).lower() or None
    if sha1 is not None and not re.fullmatch(r"[0-9a-f]{40}", sha1):
        raise ImportFormatError(
            "should be 40 hexadecimal characters (a SHA-1 digest)", f"{where}.secret_sha1"
        )
    if secret and sha1:
        raise ImportFormatError("give either 'secret' or 'secret_sha1', not both", where)
    if category == "posture" and (secret or sha1):
        # A posture finding is about a resource's settings: the value would be dropped
        # unseen, and the leak never tracked.
        raise ImportFormatError(
            "a posture finding (an auditor's check) carries no secret; to track a leaked value,"
            " report it as a finding of category 'secret'",
            f"{where}.{'secret' if secret else 'secret_sha1'}",
        )
    redacted = text_at(obj, "redacted", where)
    if redacted and (mentions(redacted, secret) or not redaction_ok(redacted)):
        raise ImportFormatError(
            "reveals too much: show at most the first 4 characters, mask the rest with *",
            f"{where}.redacted",
        )

    type_value = text_at(obj, "secret_type", where)
    title = text_at(obj, "title", where)
    if type_value:
        if type_value not in SECRET_TYPES:
            raise ImportFormatError(
                "unknown secret_type; accepted values: " + ", ".join(SECRET_TYPES),
                f"{where}.secret_type",
            )
        allowed = POSTURE_ONLY_TYPES if category == "posture" else LEAKED_TYPES
        if type_value not in allowed:
            raise ImportFormatError(
                f"a {category} finding's secret_type should be one of: "
                + ", ".join(allowed)
                + (
                    " (a posture type needs category 'posture')"
                    if category == "secret"
                    else " (a leaked value's type needs category 'secret')"
                ),
                f"{where}.secret_type",
            )
        secret_type = type_value
    elif category == "posture":
        secret_type = SecretType.POSTURE_OTHER.value
    else:
        guessed = guess_secret_type_from_value(secret) or guess_secret_type(rule, title)
        secret_type = guessed.value

    location = dict_at(obj, "location", where)
    loc_where = f"{where}.location"
    _unknown_keys(location, _LOCATION_KEYS, loc_where)
    passed = obj.get("passed", False)
    if passed is None:
        passed = False
    if not isinstance(passed, bool):
        raise ImportFormatError(
            f"should be true or false, found {type_name(passed)}", f"{where}.passed"
        )
    if passed and category != "posture":
        raise ImportFormatError(
            "only a posture finding (an auditor's check) can pass; a secret finding reports a"
            " leaked value: leave 'passed' out, or make it category 'posture'",
            f"{where}.passed",
        )
    ids = dict_at(obj, "ids", where)
    tool_ids: dict[str, str] = {}
    for key in ids:
        tool_ids[str(key)] = text_at(ids, key, f"{where}.ids")

    observation = Observation(
        rule=rule,
        secret_type=secret_type,
        category=category,
        secret_value=secret,
        secret_sha1=sha1,
        redacted=redacted,
        repo=text_at(location, "repo", loc_where),
        path=text_at(location, "path", loc_where),
        line=whole_number(location.get("line"), f"{loc_where}.line"),
        commit=text_at(location, "commit", loc_where),
        url=text_at(location, "url", loc_where),
        author=text_at(location, "author", loc_where),
        committed_at=to_datetime(location.get("committed_at"), f"{loc_where}.committed_at"),
        validity=_choice(obj, "validity", where, VALIDITIES, "unknown"),
        severity=_choice(obj, "severity", where, SEVERITIES) or None,
        title=title,
        description=text_at(obj, "description", where),
        resource=text_at(obj, "resource", where),
        account=text_at(obj, "account", where),
        region=text_at(obj, "region", where),
        passed=passed,
        tool_resolution=_choice(obj, "resolution", where, RESOLUTIONS),
        references=_references(obj.get("references"), f"{where}.references"),
        tool_ids=tool_ids,
    )
    if secret:
        _secret_only_in_secret(observation, secret, where)
    return observation


def _secret_only_in_secret(obs: Observation, secret: str, where: str) -> None:
    fields = {
        "rule": obs.rule,
        "title": obs.title,
        "description": obs.description,
        "resource": obs.resource,
        "account": obs.account,
        "region": obs.region,
        "location.repo": obs.repo,
        "location.path": obs.path,
        "location.commit": obs.commit,
        "location.url": obs.url,
        "location.author": obs.author,
    }
    fields.update({f"ids.{k}"[:60]: v for k, v in obs.tool_ids.items()})
    fields.update({f"references[{i}].value": r.value for i, r in enumerate(obs.references)})
    for name, text in fields.items():
        if mentions(text, secret):
            raise ImportFormatError(
                "contains the secret; only 'secret' may hold it", f"{where}.{name}"
            )


def event(value: Any, where: str) -> RotationEvent:
    """One rotation event object → RotationEvent."""
    obj = object_at(value, where)
    _unknown_keys(obj, _EVENT_KEYS, where)
    action = _choice(obj, "action", where, ACTIONS)
    if not action:
        raise ImportFormatError("missing required field", f"{where}.action")
    references: list[Reference] = []
    if obj.get("ref") is not None:
        references.append(_reference(obj["ref"], f"{where}.ref"))
    references.extend(_references(obj.get("refs"), f"{where}.refs"))
    if not references:
        raise ImportFormatError(
            "an event needs 'ref' or 'refs' naming the credential (kind and value)", where
        )
    occurred_at = to_datetime(obj.get("at"), f"{where}.at")
    if occurred_at is None:
        given = obj.get("at") not in (None, "")
        raise ImportFormatError(
            "should be a date/time (a placeholder such as N/A or 0001-01-01 says nothing of when)"
            if given
            else "missing required field",
            f"{where}.at",
        )
    return RotationEvent(
        action=action,
        references=references,
        occurred_at=occurred_at,
        actor=text_at(obj, "actor", where),
        event_name=text_at(obj, "name", where),
        event_id=text_at(obj, "id", where),
        evidence_url=text_at(obj, "evidence_url", where),
        detail=text_at(obj, "detail", where),
    )
