"""AWS IAM credential report (``aws iam get-credential-report``, the decoded CSV).

For each user row the importer evaluates these rules and yields a posture Observation per
rule and user ARN, ``passed=True`` when the rule holds now (so earlier findings resolve):

* ``iam_access_key_1_rotation`` / ``iam_access_key_2_rotation`` (key-rotation, medium): the
  key is active and ``access_key_N_last_rotated`` is more than ``max_key_age_days`` ago.
* ``iam_access_key_1_unused`` / ``iam_access_key_2_unused`` (unused-credential, medium): the
  key is active and was last used ``unused_days`` or more ago, or was never used and is at
  least ``unused_days`` old (a key created an hour ago has had no chance to be used).
* ``iam_root_access_key`` (root-credential, critical): ``<root_account>`` has an active key.
* ``iam_console_mfa`` (missing-mfa; high, critical for the root account): the user can sign
  in with a password and ``mfa_active`` is false. Root can unless its ``password_enabled`` is
  ``false`` (its password deleted, e.g. by centralized root access; older reports always say
  ``not_supported`` for root, read as a password).

It also yields RotationEvents (event_name ``CredentialReport``) that let the pipeline verify
the revocation of a leaked key of the user, referenced by the user's ARN:

* ``revoked`` (occurred_at None: the report does not say when) for a key slot that holds an
  inactive key;
* ``rotated`` with ``occurred_at = access_key_N_last_rotated`` for an active key: the key now
  in that slot was created then.

``now``: the report's CSV carries no generation time (GetCredentialReport returns it beside
the content). Pass it; by default the latest timestamp in the report is used, a lower bound
of the generation time, so ages are never overestimated; with no timestamp at all, the
current time.

The ``aws iam get-credential-report`` JSON output itself (``{"Content": "<base64 CSV>",
"ReportFormat": "text/csv", "GeneratedTime": ...}``) is read too: ``Content`` is decoded and
``GeneratedTime`` is ``now`` unless one is passed. So is its text output (``--output text``:
``<base64>\t<GeneratedTime>\ttext/csv``) and the bare base64 of ``--query Content --output
text`` (the report not yet piped through ``base64 -d``).
See docs/formats/aws-iam-credential-report.md.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO

from .base import (
    ImportFormatError,
    Item,
    Observation,
    Reference,
    RotationEvent,
    first_char,
    get_str,
    load_json,
)
from .prowler import safe_datetime

ROOT_USER = "<root_account>"
EMPTY = {"", "n/a", "no_information", "not_supported"}
REQUIRED_COLUMNS = [
    "user",
    "arn",
    "password_enabled",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_2_active",
    "access_key_2_last_rotated",
]
# Added to the report in 2015 (with ..._last_used_region / _service): reports written before,
# still printed in AWS's own examples (Get-IAMCredentialReport -AsTextArray), have 16 columns
# and no last use of a key. Without them the unused-key rules are not evaluated.
LAST_USED_COLUMNS = ["access_key_1_last_used_date", "access_key_2_last_used_date"]
_DATE_COLUMNS = [
    "user_creation_time",
    "password_last_used",
    "password_last_changed",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "cert_1_last_rotated",
    "cert_2_last_rotated",
]

REMEDIATION = {
    "rotation": (
        "Create a new access key, move its users to it, deactivate the old key, check nothing "
        "breaks, then delete it. Prefer roles and short-lived credentials over user keys."
    ),
    "unused": "Deactivate and then delete access keys that are not used.",
    "root": (
        "Delete the root user's access keys; use IAM roles or users with least privilege instead."
    ),
    "mfa": "Enable MFA for every user who can sign in to the console, and for the root user.",
}


def _bool(row: dict[str, str], column: str, where: str) -> bool | None:
    value = row.get(column, "").strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    if value in EMPTY:
        return None
    raise ImportFormatError(f"'{column}' should be true or false", f"{where}, column {column}")


def _date(row: dict[str, str], column: str, where: str) -> datetime | None:
    value = row.get(column, "").strip()
    if value.lower() in EMPTY:
        return None
    return safe_datetime(value, f"{where}, column {column}")


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _read_rows(stream: IO[bytes]) -> list[tuple[str, dict[str, str]]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    rows: list[tuple[str, dict[str, str]]] = []
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise ImportFormatError("the report is empty") from None
        columns = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        last_used = [c for c in LAST_USED_COLUMNS if c in columns]
        if last_used and len(last_used) < len(LAST_USED_COLUMNS):
            missing += [c for c in LAST_USED_COLUMNS if c not in columns]
        if missing:
            raise ImportFormatError(
                "not an IAM credential report: missing column(s) " + ", ".join(missing),
                "line 1",
            )
        for values in reader:
            where = f"line {reader.line_num}"
            if not any(v.strip() for v in values):
                continue
            if [v.strip().lower() for v in values] == columns:
                continue  # reports of several accounts concatenated, each with its header
            if len(values) != len(columns):
                raise ImportFormatError(
                    f"row has {len(values)} fields, the header has {len(columns)}", where
                )
            rows.append((where, dict(zip(columns, values, strict=True))))
    except UnicodeDecodeError:
        raise ImportFormatError("not UTF-8 text", f"line {reader.line_num + 1}") from None
    except csv.Error as exc:
        reason = "a field is too large" if "field larger" in str(exc) else "malformed CSV"
        raise ImportFormatError(reason, f"line {reader.line_num}") from None
    finally:
        text.detach()
    return rows


def _cli_json(stream: IO[bytes]) -> tuple[IO[bytes] | None, datetime | None]:
    """The CSV and GeneratedTime of ``aws iam get-credential-report`` JSON output. No CSV
    (None) for the output as the AWS CLI reference prints it, with ``GeneratedTime`` and
    ``ReportFormat`` but the ``Content`` left out: a report of no users."""
    # The usual depth limit: a deeper document is other JSON (said below), not "too deep".
    doc = load_json(stream)
    if isinstance(doc, dict) and "State" in doc and set(doc) <= {"State", "Description"}:
        raise ImportFormatError(
            "this is the output of generate-credential-report (it starts the report): import "
            "the output of get-credential-report, or its decoded Content",
            "$.State",
        )
    if isinstance(doc, dict) and "Content" not in doc and set(doc) == _CLI_KEYS_WITHOUT_CONTENT:
        safe_datetime(doc.get("GeneratedTime"), "$.GeneratedTime")
        return None, None
    if not isinstance(doc, dict) or "Content" not in doc:
        raise ImportFormatError(
            "expected the credential report CSV (or the get-credential-report JSON with its "
            "Content), found other JSON",
            "byte 0",
        )
    report_format = get_str(doc, "ReportFormat", "$")
    if report_format and report_format != "text/csv":
        raise ImportFormatError("unsupported ReportFormat (expected text/csv)", "$.ReportFormat")
    content = doc["Content"]
    if not isinstance(content, str) or not content.strip():
        raise ImportFormatError("expected the base64-encoded report", "$.Content")
    try:
        data = base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ImportFormatError(
            "not base64 (the CLI prints the report base64-encoded)", "$.Content"
        ) from None
    generated = safe_datetime(doc.get("GeneratedTime"), "$.GeneratedTime")
    decoded, char = first_char(io.BytesIO(data))  # empty / binary content: clear errors
    if char in "[{":
        raise ImportFormatError("expected the report CSV, found JSON", "$.Content")
    return decoded, generated


_BASE64_TOKEN = re.compile(r"^[A-Za-z0-9+/]{16,}={0,2}$")


def _cli_text(stream: IO[bytes], head: bytes) -> tuple[IO[bytes], datetime | None] | None:
    """The CSV and GeneratedTime of ``get-credential-report --output text`` (tab-separated
    Content, GeneratedTime, ReportFormat) or of the bare base64 Content; None when the first
    line is not that (it is then read as the CSV)."""
    first_line = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    try:
        tokens = first_line.decode("ascii").split()
    except UnicodeDecodeError:
        return None
    if not tokens or not _BASE64_TOKEN.match(tokens[0]):
        return None
    if len(tokens) > 1 and tokens[-1] != "text/csv":
        return None
    # Each base64 line decodes on its own only if it is a multiple of 4 long: join them all.
    data = stream.read()
    text = data.decode("ascii", "replace").split()
    content = "".join(text[:1] if len(tokens) > 1 else text)
    try:
        decoded = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise ImportFormatError(
            "not base64, nor a credential report CSV (the CLI prints the report base64-encoded)",
            "line 1",
        ) from None
    generated = safe_datetime(tokens[1], "line 1, GeneratedTime") if len(tokens) > 2 else None
    csv_stream, char = first_char(io.BytesIO(decoded))
    if char in "[{":
        raise ImportFormatError("expected the report CSV, found JSON", "line 1 (decoded)")
    return csv_stream, generated


# The example output of the AWS CLI reference ("aws iam get-credential-report").
_CLI_KEYS_WITHOUT_CONTENT = {"GeneratedTime", "ReportFormat"}


def _latest_timestamp(rows: list[tuple[str, dict[str, str]]]) -> datetime | None:
    latest = None
    for where, row in rows:
        for column in _DATE_COLUMNS:
            if column in row:
                value = _date(row, column, where)
                if value and (latest is None or value > latest):
                    latest = value
    return latest


def parse(
    stream: IO[bytes],
    *,
    now: datetime | None = None,
    max_key_age_days: int = 90,
    unused_days: int = 90,
) -> Iterator[Item]:
    stream, char = first_char(stream)
    if char in "[{":
        csv_stream, generated = _cli_json(stream)
        if csv_stream is None:
            return
        stream = csv_stream
        if now is None:
            now = generated
    else:
        head = stream.peek(4096)[:4096]  # type: ignore[attr-defined]
        text_output = _cli_text(stream, head)
        if text_output is not None:
            stream, generated = text_output
            if now is None:
                now = generated
    rows = _read_rows(stream)
    if now is None:
        now = _latest_timestamp(rows) or datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    max_age = timedelta(days=max_key_age_days)
    unused_age = timedelta(days=unused_days)
    for where, row in rows:
        yield from _user_items(row, where, now, max_age, unused_age)


def _user_items(
    row: dict[str, str],
    where: str,
    now: datetime,
    max_age: timedelta,
    unused_age: timedelta,
) -> Iterator[Item]:
    user = row["user"].strip()
    arn = row["arn"].strip()
    if not user:
        raise ImportFormatError("missing user", f"{where}, column user")
    if not arn.startswith("arn:"):
        raise ImportFormatError("'arn' is not an ARN", f"{where}, column arn")
    # "<root_account>"; also by its ARN (arn:aws:iam::123456789012:root), which AWS's
    # published examples keep where a renderer ate the "<...>" of the name.
    is_root = user == ROOT_USER or (arn.endswith(":root") and ":iam::" in arn)
    account = _account_of(arn)
    refs = [Reference("arn", arn)] + ([Reference("aws-account", account)] if account else [])

    def obs(rule: str, secret_type: str, severity: str, title: str, fix: str, ok: bool):
        return Observation(
            rule=rule,
            secret_type=secret_type,
            category="posture",
            severity=severity,
            title=title,
            description=REMEDIATION[fix],
            resource=arn,
            account=account,
            passed=ok,
            references=list(refs),
            tool_ids={"user": user},
        )

    created = _date(row, "user_creation_time", where)
    any_active = False
    for n in (1, 2):
        active = _bool(row, f"access_key_{n}_active", where)
        rotated = _date(row, f"access_key_{n}_last_rotated", where)
        used = _date(row, f"access_key_{n}_last_used_date", where)
        knows_use = f"access_key_{n}_last_used_date" in row
        any_active = any_active or bool(active)

        too_old = bool(active) and rotated is not None and now - rotated > max_age
        yield obs(
            f"iam_access_key_{n}_rotation",
            "key-rotation",
            "medium",
            f"Access key {n} not rotated in {max_age.days} days",
            "rotation",
            not too_old,
        )
        if used is not None:
            unused = bool(active) and now - used >= unused_age
        else:
            # Never used: unused once it is old enough. A key without a creation date is no
            # older than its user (a key created yesterday is not "unused" yet).
            since = rotated or created
            unused = bool(active) and since is not None and now - since >= unused_age
        if knows_use:  # a pre-2015 report does not say whether a key was used: no verdict
            yield obs(
                f"iam_access_key_{n}_unused",
                "unused-credential",
                "medium",
                f"Access key {n} unused for {unused_age.days} days or more",
                "unused",
                not unused,
            )
        yield from _key_events(arn, user, n, active, rotated)

    if is_root:
        yield obs(
            "iam_root_access_key",
            "root-credential",
            "critical",
            "Root account has an active access key",
            "root",
            not any_active,
        )
    password = _bool(row, "password_enabled", where)
    mfa = _bool(row, "mfa_active", where)
    # Root: the report said "not_supported" (root always had a password); since centralized
    # root access (2024) it says true or false, false once the root password was deleted.
    console = password is not False if is_root else bool(password)
    yield obs(
        "iam_console_mfa",
        "missing-mfa",
        "critical" if is_root else "high",
        "Root account without MFA" if is_root else "Console user without MFA",
        "mfa",
        not (console and not mfa),
    )


def _key_events(
    arn: str, user: str, n: int, active: bool | None, rotated: datetime | None
) -> Iterator[RotationEvent]:
    if rotated is None:
        return  # no key in this slot
    stamp = rotated.isoformat()
    if active:
        yield RotationEvent(
            action="rotated",
            references=[Reference("arn", arn)],
            occurred_at=rotated,
            event_name="CredentialReport",
            event_id=f"credential-report:{arn}:key{n}:active:{stamp}",
            detail=f"access key {n} of {user} is active, created {stamp}",
        )
    elif active is False:
        yield RotationEvent(
            action="revoked",
            references=[Reference("arn", arn)],
            occurred_at=None,
            event_name="CredentialReport",
            event_id=f"credential-report:{arn}:key{n}:inactive:{stamp}",
            detail=f"access key {n} of {user} (created {stamp}) is inactive",
        )
