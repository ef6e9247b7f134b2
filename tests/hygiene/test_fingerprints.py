import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import override_settings
from psycopg._copy_base import TextFormatter
from psycopg.adapt import Transformer

from hygiene.fingerprints import (
    fingerprint,
    fingerprint_from_sha1,
    location_key,
    redact,
    secret_location_key,
    sha1_of,
)
from hygiene.importers import Observation, Reference
from hygiene.services.staged_rows import (
    FINDING_COLUMNS,
    CopyText,
    StagedRows,
    _encode,
    _tool_ids_json,
)


def test_previews_show_what_the_credential_is_never_the_secret_part():
    assert redact("AKIAQYLPMN5HHHFPZAM2") == "AKIA…M2"
    assert redact("postgres://app:s3cr3tPassw0rd@db.internal:5432/payments") == (
        "postgres://app:…@db.internal"
    )
    # A user that is the password, or part of it, stays out too.
    assert redact("amqp://guest:guest@localhost:5672/") == "amqp://…:…@localhost"
    assert redact("postgres://postgres:postgres2024@db") == "postgres://…:…@db"
    assert redact("mysql://rootadmin:root@db") == "mysql://…:…@db"
    assert redact("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt") == (
        "OPENSSH PRIVATE KEY (PEM) …"
    )
    assert redact("hunter2hunter2") == "hun…"
    # A SAS URL: which account (and blob) it opens, not its signature.
    sas = (
        "https://acmelogs.blob.core.windows.net/logs/app.log?sv=2021-08-06&sr=b&sp=r"
        "&se=2026-01-12T00:00:00Z&spr=https&sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmc%3D"
    )
    assert redact(sas) == "https://acmelogs.blob.core.windows.net/logs/app.log?… (SAS)"
    assert redact("https://acme.blob.core.windows.net/?sv=1&sig=abc%3D") == (
        "https://acme.blob.core.windows.net/?… (SAS)"
    )
    assert redact("https://acme.blob.core.windows.net?sv=1&sig=abc%3D") == (
        "https://acme.blob.core.windows.net?… (SAS)"
    )
    assert redact("https://example.com/x?sig=abcdefghijklmnop") == "http…op"  # not Azure's
    assert redact("short") == "…"


def test_a_sha1_only_report_meets_the_same_fingerprint():
    value = "ghp_4Xr9sP0qLm2Nv8Bt6Yw1Zk3Jc5Hd7Fg9Ua0E"
    assert fingerprint(value) == fingerprint_from_sha1(sha1_of(value).upper())
    assert fingerprint(value + "\n") == fingerprint(value)
    assert fingerprint(value) != fingerprint(value[:-1])


@pytest.mark.parametrize(
    "parts",
    [
        ("f" * 64, "https://github.com/acme/api", "config/prod.env", 12, "a" * 40),
        ("f" * 64, "", "", None, ""),
        ("f" * 64, "acme/api", "src/ünïcode.py", 0, "abc"),
        ("f" * 64, None, None, None, None),
    ],
)
def test_the_import_hot_path_keys_findings_exactly_as_before(parts):
    # Findings already stored are matched by this key on every re-scan: the fast spelling
    # must give the generic one's digest, or every known finding would be created again.
    fp, repo, path, line, commit = parts
    assert secret_location_key(*parts) == location_key(fp, repo, path, line or "", commit)


def test_a_new_fingerprint_key_takes_effect_and_the_old_one_returns():
    # The keyed HMAC is built once and dropped when the setting changes (override_settings).
    value = "ghp_4Xr9sP0qLm2Nv8Bt6Yw1Zk3Jc5Hd7Fg9Ua0E"
    before = fingerprint(value)
    with override_settings(FINGERPRINT_KEY="another-key"):
        other = fingerprint(value)
        expected = hmac.new(b"another-key", digestmod=hashlib.sha256)
        expected.update(("secret:v1:" + hashlib.sha1(value.encode()).hexdigest()).encode())
        assert other == expected.hexdigest()
    assert other != before
    assert fingerprint(value) == before


@pytest.mark.parametrize(
    "tool_ids",
    [
        {"fingerprint": "abc:def:1"},
        {"number": 5, "url": "https://x"},
        {1: "x", "1": "y"},
        {'k\n"\\': 'v\u2028\x00"' + "é" * 400},
        {"a": "b", "c": "d" * 301},
    ],
)
def test_tool_ids_are_written_as_the_json_encoder_writes_them(tool_ids):
    assert _tool_ids_json(tool_ids) == _encode({str(k): str(v)[:300] for k, v in tool_ids.items()})


def test_copy_text_writes_dates_as_psycopg_does():
    utc = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    dates = [
        utc,
        utc,
        utc.astimezone(timezone(timedelta(hours=5, minutes=30))),  # equal to utc, other text
        datetime(2021, 2, 3, 4, 5, 6, 789, tzinfo=timezone(timedelta(hours=-7))),
        datetime(2021, 2, 3, 4, 5, 6),
        None,
    ]
    rows = [(1, f"key{i}", *[""] * 14, when, *[""] * 7, False) for i, when in enumerate(dates)]
    assert all(len(row) == len(FINDING_COLUMNS) for row in rows)
    expected = bytearray()
    formatter = TextFormatter(Transformer())
    for row in rows:
        expected += formatter.write_row(row)
    expected += formatter.end()
    assert CopyText().rows(rows) == bytes(expected)


def test_an_aws_key_id_the_importer_named_is_staged_once():
    obs = Observation(
        rule="aws-access-token",
        secret_type="aws-access-key",
        secret_value="AKIAQYLPMN5HHHFPZAM2",
        references=[Reference("aws-access-key-id", "AKIAQYLPMN5HHHFPZAM2")],
    )
    rows = StagedRows(1, 1, "gitleaks", datetime(2025, 7, 1, tzinfo=UTC))
    rows.add_observation(obs)
    assert [(kind, display) for _, _, kind, display, _ in rows.references] == [
        ("aws-access-key-id", "AKIA…ZAM2")
    ]


@pytest.mark.parametrize(
    ("tool_form", "preview"),
    [
        ("Xq7**********Z8k", "Xq7\u2026"),  # ggshield, 16 characters: 6 shown
        ("ghp_R4nd0m**********************AbCd12", "ghp_\u202612"),
        ("wJalrXUtnF****", "wJal\u2026"),
        # Within the policy already: the tool's own form.
        ("abcd...", "abcd..."),
        ("REDACTED", "REDACTED"),
        ("AKIA****************", "AKIA****************"),
        ("ghp_****", "ghp_****"),
        ("postgres://app:****@db.internal/app", "postgres://app:****@db.internal/app"),
    ],
)
def test_a_tools_redacted_form_shows_no_more_than_our_preview(tool_form, preview):
    from hygiene.fingerprints import tighten_redacted

    assert tighten_redacted(tool_form) == preview


def test_a_pem_key_is_one_secret_whatever_its_line_ends():
    """gitleaks reports a key as the file has it (CRLF on a Windows checkout, "\\n" escapes in
    an .env value), TruffleHog with LF: one key, one fingerprint (and the same SHA-1 a
    detect-secrets-style digest of it would be matched by)."""
    from hygiene.fingerprints import fingerprint, fingerprint_from_sha1, sha1_of

    body = ["MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu", "KUpRKfFLfRYC"]
    lf = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END RSA PRIVATE KEY-----"
    forms = [lf, lf + "\n", lf.replace("\n", "\r\n"), lf.replace("\n", "\\n")]
    assert len({fingerprint(form) for form in forms}) == 1
    assert {fingerprint_from_sha1(sha1_of(form)) for form in forms} == {fingerprint(lf)}
    # Not a PEM block: line ends are part of the value.
    assert fingerprint("a\r\nb-secret-value") != fingerprint("a\nb-secret-value")
