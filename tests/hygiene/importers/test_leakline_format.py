"""Leakline's own JSON format (docs/formats.md)."""

import copy
import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers import get_parser
from hygiene.importers.base import ImportFormatError, Observation, Reference, RotationEvent
from hygiene.importers.leakline import LEAKED_TYPES, SECRET_TYPES, parse
from hygiene.importers.leakline import POSTURE_ONLY_TYPES as POSTURE_TYPES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HERE = FIXTURES / "leakline"
FULL = HERE / "findings_and_events.json"
EVENTS_FIRST = HERE / "events_first.json"
EMPTY = HERE / "empty_report.json"
VAULT = "hvs.CAESIFakeVaultTokenForLeaklineTests0001"
GHP = "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def run(data) -> list:
    if isinstance(data, dict):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode()
    return list(parse(io.BytesIO(data)))


def doc() -> dict:
    return json.loads(FULL.read_text())


class Unseekable(io.RawIOBase):
    def __init__(self, data: bytes):
        self._inner = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, buffer):
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def texts_of(obs: Observation, skip=("secret_value", "secret_type", "category")):
    for f in dataclasses.fields(obs):
        if f.name in skip:
            continue
        value = getattr(obs, f.name)
        if isinstance(value, str):
            yield f.name, value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield f"{f.name}.{k}", f"{k} {v}"
        elif isinstance(value, list):
            for ref in value:
                yield f.name, f"{ref.kind} {ref.value}"


def assert_secret_only_in_value(items, secrets=()):
    for obs in items:
        if not isinstance(obs, Observation):
            continue
        candidates = [s for s in (obs.secret_value, *secrets) if s]
        for name, text in texts_of(obs):
            for secret in candidates:
                assert secret not in text, f"secret leaked into {name}"


def test_full_example():
    items = list(get_parser("leakline")(FULL.open("rb")))
    findings = [i for i in items if isinstance(i, Observation)]
    events = [i for i in items if isinstance(i, RotationEvent)]
    assert len(findings) == 5
    assert len(events) == 3
    vault, hashed, posture, passed, inferred = findings

    assert vault.rule == "vault-token-in-env"
    assert vault.secret_type == "api-key"
    assert vault.secret_value == VAULT
    assert vault.repo == "acme/payments"
    assert (vault.path, vault.line) == ("deploy/.env.production", 14)
    assert vault.commit == "5d41402abc4b2a76b9719d911017c592a1b2c3d4"
    assert vault.author == "Sam Doe <sam@example.com>"
    assert vault.committed_at == datetime(2024, 4, 2, 7, 15, tzinfo=UTC)
    assert vault.validity == "valid"
    assert vault.severity == "critical"
    assert vault.references == [Reference("vault-path", "auth/token/accessors/6vAFakeAccessor")]
    assert vault.tool_ids == {"finding": "F-1042", "scan": "77"}

    assert hashed.secret_value is None
    assert hashed.secret_sha1 == "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"
    assert hashed.redacted == "wJal****"
    assert hashed.tool_resolution == "revoked"
    assert [r.kind for r in hashed.references] == ["aws-access-key-id", "aws-account"]

    assert posture.category == "posture"
    assert posture.secret_type == "shared-key-access"
    assert posture.account == "0000-1111" and posture.region == "westeurope"
    assert posture.resource.endswith("/storageAccounts/acmelogs")
    assert posture.passed is False
    assert passed.passed is True

    assert inferred.secret_type == "github-token"  # guessed from the value
    assert inferred.validity == "unknown" and inferred.severity is None

    rotated, revoked, failed = events
    assert rotated.action == "rotated"
    assert rotated.references == [Reference("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE")]
    assert rotated.occurred_at == datetime(2024, 4, 3, 10, tzinfo=UTC)
    assert rotated.actor == "arn:aws:iam::123456789012:role/rotator"
    assert rotated.event_name == "UpdateAccessKey"
    assert rotated.event_id == "evt-0001"
    assert rotated.evidence_url.startswith("https://")
    assert revoked.action == "revoked"
    assert len(revoked.references) == 2
    assert revoked.occurred_at == datetime.fromtimestamp(1712138400, tz=UTC)
    assert failed.action == "rotation_failed"
    assert failed.detail.startswith("Key rotation policy")
    assert_secret_only_in_value(items, [VAULT, GHP])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RFC 3339 (5.6) lets "T" and "Z" be lower case; JSON Schema's date-time is RFC 3339's.
        ("2024-05-01t10:20:30z", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-01T10:20:30.250z", datetime(2024, 5, 1, 10, 20, 30, 250000, tzinfo=UTC)),
        # RFC 3339 (5.6, 5.7) allows a leap second; Python has no second 60: the one before.
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2016-12-31t23:59:60.5z", datetime(2016, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)),
        ("2017-01-01T00:59:60+01:00", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_rfc_3339_dates_in_lower_case(text, expected):
    d = doc()
    d["findings"][0]["location"]["committed_at"] = text
    d["events"][0]["at"] = text
    items = run(d)
    finding = next(i for i in items if isinstance(i, Observation))
    event = next(i for i in items if isinstance(i, RotationEvent))
    assert finding.committed_at == event.occurred_at == expected


def test_events_before_findings_and_version_last():
    items = run(EVENTS_FIRST.read_bytes())
    assert isinstance(items[0], RotationEvent)
    assert items[0].event_name == "RotationSucceeded"
    assert items[1].secret_type == "database-credential"


def test_empty_report():
    assert run(EMPTY.read_bytes()) == []


def test_only_events_or_only_findings():
    assert len(run({"version": 1, "events": doc()["events"]})) == 3
    assert len(run({"version": 1, "findings": doc()["findings"]})) == 5


def test_unseekable_stream():
    items = list(parse(Unseekable(FULL.read_bytes())))
    assert len(items) == 8


def test_x_extension_fields_allowed():
    d = doc()
    d["findings"][0]["x-team"] = "payments"
    d["findings"][0]["location"]["x-branch"] = "main"
    d["events"][0]["x-source"] = "rotator"
    assert len(run(d)) == 8


# --- errors ----------------------------------------------------------------------------------


def error_of(d) -> str:
    with pytest.raises(ImportFormatError) as info:
        run(d)
    message = str(info.value)
    assert VAULT not in message
    assert GHP not in message
    return message


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["findings"][3].update(location={"line": "x"}),
            "$.findings[3].location.line: should be a whole number",
        ),
        (
            lambda d: d["findings"][0]["location"].update(line=1.5),
            "$.findings[0].location.line: should be a whole number",
        ),
        (
            lambda d: d["findings"][0]["location"].update(line=True),
            "$.findings[0].location.line: should be a whole number",
        ),
        (
            lambda d: d["findings"][0]["location"].update(line=-1),
            "$.findings[0].location.line: should be at least 0",
        ),
        (
            lambda d: d["findings"][0].update(secret_type="aws"),
            "$.findings[0].secret_type: unknown secret_type; accepted values: aws-access-key",
        ),
        (lambda d: d["findings"][0].update(secret=123), "$.findings[0].secret: should be a string"),
        (
            lambda d: d["findings"][0].update(secret_sha1="xyz"),
            "$.findings[0].secret_sha1: should be 40 hexadecimal",
        ),
        (
            lambda d: d["findings"][0].update(secret_sha1="a" * 40),
            "$.findings[0]: give either 'secret' or 'secret_sha1'",
        ),
        (
            lambda d: d["findings"][1].update(redacted="wJalrXUtnF****"),
            "$.findings[1].redacted: reveals too much",
        ),
        (
            lambda d: d["findings"][0].update(validity="yes"),
            "$.findings[0].validity: should be one of: valid, invalid, unknown",
        ),
        (
            lambda d: d["findings"][0].update(severity="urgent"),
            "$.findings[0].severity: should be one of: critical",
        ),
        (
            lambda d: d["findings"][0].update(category="other"),
            "$.findings[0].category: should be one of: secret, posture",
        ),
        (
            lambda d: d["findings"][0].update(resolution="closed"),
            "$.findings[0].resolution: should be one of",
        ),
        (
            lambda d: d["findings"][0].update(passed="yes"),
            "$.findings[0].passed: should be true or false",
        ),
        (
            lambda d: d["findings"][0].update(passed=True),
            "$.findings[0].passed: only a posture finding (an auditor's check) can pass",
        ),
        (
            lambda d: d["findings"][1].update(category="secret", passed=True),
            "$.findings[1].passed: only a posture finding",
        ),
        (
            lambda d: d["findings"][2].update(secret_type="aws-access-key"),
            "$.findings[2].secret_type: a posture finding's secret_type should be one of: "
            "key-rotation",
        ),
        (
            lambda d: d["findings"][0].update(secret_type="missing-mfa"),
            "$.findings[0].secret_type: a secret finding's secret_type should be one of: "
            "aws-access-key",
        ),
        (
            lambda d: d["findings"][1].update(category="secret", secret_type="posture-other"),
            "$.findings[1].secret_type: a secret finding's secret_type",
        ),
        (lambda d: d["findings"][0].update(rule=None), "$.findings[0].rule: missing required"),
        (lambda d: d["findings"][0].update(rule=["r"]), "$.findings[0].rule: should be a string"),
        (
            lambda d: d["findings"][0].update(location="here"),
            "$.findings[0].location: should be an object",
        ),
        (
            lambda d: d["findings"][0]["location"].update(committed_at="soon"),
            "$.findings[0].location.committed_at: not a date/time",
        ),
        (
            lambda d: d["findings"][0]["location"].update(committed_at=1e300),
            "$.findings[0].location.committed_at",
        ),
        (
            lambda d: d["findings"][0].update(references={"kind": "arn"}),
            "$.findings[0].references: should be an array",
        ),
        (
            lambda d: d["findings"][0].update(references=[{"kind": "token", "value": "v"}]),
            "$.findings[0].references[0].kind: should be one of",
        ),
        (
            lambda d: d["findings"][0].update(references=[{"kind": "arn"}]),
            "$.findings[0].references[0].value: missing required",
        ),
        (lambda d: d["findings"][0].update(ids=[1]), "$.findings[0].ids: should be an object"),
        (
            lambda d: d["findings"][0].update(ids={"a": {"b": 1}}),
            "$.findings[0].ids.a: should be a string",
        ),
        (
            lambda d: d["findings"][0].update(secret_typ="api-key"),
            "$.findings[0].secret_typ: unknown field",
        ),
        (
            lambda d: d["findings"][0]["location"].update(file="x"),
            "$.findings[0].location.file: unknown field",
        ),
        (lambda d: d["findings"].__setitem__(2, "x"), "$.findings[2]: should be an object"),
        (
            lambda d: d["findings"][0].update(description=f"leaked {VAULT}"),
            "$.findings[0].description: contains the secret",
        ),
        (
            lambda d: d["findings"][0]["location"].update(url=f"https://x/?t={VAULT}"),
            "$.findings[0].location.url: contains the secret",
        ),
        (
            lambda d: d["events"][0].update(action="rotate"),
            "$.events[0].action: should be one of: rotated",
        ),
        (lambda d: d["events"][0].pop("action"), "$.events[0].action: missing required"),
        (lambda d: d["events"][0].pop("ref"), "$.events[0]: an event needs 'ref' or 'refs'"),
        (lambda d: d["events"][0].update(at=None), "$.events[0].at: missing required"),
        (lambda d: d["events"][0].update(at="later"), "$.events[0].at: not a date/time"),
        (
            lambda d: d["events"][0].update(at="0001-01-01T00:00:00Z"),
            "$.events[0].at: should be a date/time (a placeholder such as N/A or 0001-01-01",
        ),
        (
            lambda d: d["events"][0].update(at="N/A"),
            "$.events[0].at: should be a date/time (a placeholder",
        ),
        (
            lambda d: d["findings"][2].update(secret="AKIAIOSFODNN7EXAMPLE-posture"),
            "$.findings[2].secret: a posture finding (an auditor's check) carries no secret",
        ),
        (
            lambda d: d["findings"][2].update(secret_sha1="2aae6c35" * 5),
            "$.findings[2].secret_sha1: a posture finding (an auditor's check) carries no secret",
        ),
        (lambda d: d["events"][0].update(at=True), "$.events[0].at: should be a date/time"),
        (
            lambda d: d["events"][1].update(refs={"kind": "arn"}),
            "$.events[1].refs: should be an array",
        ),
        (lambda d: d["events"][0].update(ref=[]), "$.events[0].ref: should be an object"),
        (lambda d: d["events"][0].update(actor=["a"]), "$.events[0].actor: should be a string"),
        (lambda d: d.update(version=2), "$.version: unsupported version"),
        (lambda d: d.update(version="1"), "$.version: unsupported version"),
        (lambda d: d.update(version=True), "$.version: unsupported version"),
        (lambda d: d.pop("version"), "$.version: not a Leakline report: missing 'version'"),
        (lambda d: d.update(findings={}), "$.findings: should be an array"),
        (lambda d: d.update(events="none"), "$.events: should be an array"),
    ],
)
def test_validation_errors(mutate, expected):
    d = doc()
    mutate(d)
    assert expected in error_of(d)


def test_unknown_secret_type_lists_every_accepted_value():
    d = doc()
    d["findings"][0]["secret_type"] = "password"
    message = error_of(d)
    for value in SECRET_TYPES:
        assert value in message


@pytest.mark.parametrize(
    ("report", "where", "allowed", "refused"),
    [
        (  # a posture finding with a secret type
            {
                "version": 1,
                "findings": [
                    {
                        "rule": "p",
                        "category": "posture",
                        "secret_type": "aws-access-key",
                        "resource": "arn:x",
                    }
                ],
            },
            "$.findings[0].secret_type",
            POSTURE_TYPES,
            LEAKED_TYPES,
        ),
        (  # a secret finding (category by default) with a posture type
            {
                "version": 1,
                "findings": [
                    {
                        "rule": "s",
                        "secret": "zzzzzzzz12345678q",
                        "secret_type": "missing-mfa",
                        "location": {"repo": "acme/z", "path": "c", "line": 2},
                    }
                ],
            },
            "$.findings[0].secret_type",
            LEAKED_TYPES,
            POSTURE_TYPES,
        ),
    ],
    ids=["posture-with-secret-type", "secret-with-posture-type"],
)
def test_secret_type_must_belong_to_the_category(report, where, allowed, refused):
    message = error_of(report)
    assert message.startswith(f"{where}: ")
    listed = message.split(" should be one of: ", 1)[1].split(" (", 1)[0].split(", ")
    assert listed == allowed
    assert not set(listed) & set(refused)
    assert "zzzzzzzz12345678q" not in message
    # Every taxonomy value is accepted by exactly one of the two categories.
    assert sorted(LEAKED_TYPES + POSTURE_TYPES) == sorted(SECRET_TYPES)
    assert not set(LEAKED_TYPES) & set(POSTURE_TYPES)


def test_a_secret_finding_cannot_pass():
    report = {
        "version": 1,
        "findings": [{"rule": "s4", "secret": "zzzzzzzz12345678r", "passed": True}],
    }
    message = error_of(report)
    assert message.startswith("$.findings[0].passed: only a posture finding")
    assert "zzzzzzzz12345678r" not in message
    # Unseekable: the same refusal, not a silently dropped "passed" item.
    with pytest.raises(ImportFormatError, match=r"^\$\.findings\[0\]\.passed: "):
        list(parse(Unseekable(json.dumps(report).encode())))
    # false / null stay allowed on a secret finding (the default), and a posture finding passes.
    for value in (False, None):
        report["findings"][0]["passed"] = value
        assert run(report)[0].passed is False
    posture = {
        "rule": "p3",
        "category": "posture",
        "resource": "arn:aws:iam::1:user/bob",
        "secret_type": "missing-mfa",
        "passed": True,
    }
    (obs,) = run({"version": 1, "findings": [posture]})
    assert (obs.category, obs.secret_type, obs.passed) == ("posture", "missing-mfa", True)


@pytest.mark.parametrize("rule", ["storage-shared-key-enabled", "github-token-rotation"])
def test_a_posture_finding_without_a_type_is_posture_other(rule):
    """Not a secret type guessed from the rule's name ("github-token-rotation" → github-token)."""
    report = {"version": 1, "findings": [{"rule": rule, "category": "posture", "resource": "x"}]}
    (obs,) = run(report)
    assert obs.secret_type == "posture-other"


def test_errors_come_before_any_item_on_a_seekable_stream():
    d = doc()
    d["version"] = 3
    d = {"findings": d["findings"], "events": d["events"], "version": 3}
    produced = []
    with pytest.raises(ImportFormatError):
        for item in parse(io.BytesIO(json.dumps(d).encode())):
            produced.append(item)
    assert produced == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n \t",
        b"\x00\x01\x02",
        b"\xff\xfe{\x00",
        b"[]",
        b"[1]",
        b"1",
        b"{}",
        b'{"version": 1}',
        b"{" * 100000,
        b'{"version": 1, "findings": ' + b"[" * 100000,
        b'{"version": 1, "findings": [' + b'{"ids": ' * 70 + b"1" + b"}" * 70 + b"]}",
        b'{"version": 1, "findings": [], "events": [NaN]}',
        b'{"version": 1, "findings": [], "extra": 123456789012345678901234567890}',
    ],
)
def test_bad_input(data):
    with pytest.raises(ImportFormatError):
        run(data)


def test_truncated_json_location_and_no_secret():
    data = FULL.read_bytes()
    cut = data.index(VAULT.encode()) + 12
    message = error_of(data[:cut].decode())
    assert "near byte" in message


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES / "github-secret-scanning" / "github_secrets_detection_report_many_vul.json",
        FIXTURES / "github-secret-scanning" / "reopened.payload.json",
        FIXTURES / "gitlab-secret-detection" / "gitlab_secret_detection_report_1_vuln_v15.json",
        FIXTURES / "noseyparker" / "noseyparker_many_vul.jsonl",
        FIXTURES / "sarif" / "sarif_simple.sarif",
    ],
    ids=lambda p: p.name,
)
def test_other_tools_reports_are_refused(path):
    with pytest.raises(ImportFormatError):
        run(path.read_bytes())


def test_docs_example_parses():
    """The examples in docs/formats.md are real documents."""
    docs = Path(__file__).resolve().parents[3] / "docs" / "formats.md"
    text = docs.read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```json\n")[1:]]
    examples = [json.loads(b) for b in blocks]
    reports = [e for e in examples if isinstance(e, dict) and e.get("version") == 1]
    assert reports, "docs/formats.md should hold example reports"
    for example in reports:
        run(copy.deepcopy(example))
