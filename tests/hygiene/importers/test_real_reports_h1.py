"""Real reports of gitleaks, TruffleHog, detect-secrets and ggshield that the importers
mishandled (each test failed before its fix)."""

import io
from pathlib import Path

from hygiene.importers import get_parser
from hygiene.importers.base import Observation

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def run(fmt: str, data: bytes) -> list[Observation]:
    return list(get_parser(fmt)(io.BufferedReader(io.BytesIO(data))))


def load(fmt: str, name: str) -> bytes:
    return (FIXTURES / fmt / name).read_bytes()


# --- gitleaks -------------------------------------------------------------------------------


def test_gitleaks_v7_csv_report_is_read():
    """gitleaks v4-v7 wrote CSV with lower-case v7 keys (no RuleID/StartLine columns); it was
    refused as "CSV with wrong headers"."""
    (obs,) = run("gitleaks", load("gitleaks", "real_x9containers_v7_csv_redacted_no_git.csv"))
    assert obs.rule == "AWS Access Key"
    assert obs.secret_type == "aws-access-key"
    assert obs.path == "aaaa.txt"
    assert obs.secret_value is None  # --redact
    assert obs.redacted == "REDACTED"
    assert obs.repo == "" and obs.commit == "" and obs.line is None
    assert obs.committed_at is None  # Go's zero date


def test_gitleaks_v4_csv_with_info_and_severity_columns():
    """The first CSV layout (v4: info and severity columns, no leakURL), with a value; the
    ``line`` column (the source line) is never read."""
    report = (
        b"repo,line,commit,offender,rule,info,tags,severity,commitMsg,author,email,file,date\n"
        b'gronit,"const AWS_KEY = ""AKIAIOSFODNN7EXAMPLE""",eaeffdc65b4c73ccb67e75d96bd8743be2c'
        b'85973,AKIAIOSFODNN7EXAMPLE,AWS Manager ID,,"key, AWS",,remove fake key,Zachary Rice,'
        b"z@example.com,main.go,2018-02-04T19:43:28-06:00\n"
    )
    (obs,) = run("gitleaks", report)
    assert obs.secret_value == "AKIAIOSFODNN7EXAMPLE"
    assert obs.secret_type == "aws-access-key"
    assert obs.commit == "eaeffdc65b4c73ccb67e75d96bd8743be2c85973"
    assert obs.path == "main.go"
    assert obs.author == "Zachary Rice <z@example.com>"
    assert obs.committed_at.isoformat() == "2018-02-05T01:43:28+00:00"
    assert "const" not in obs.title + obs.description


def test_gitleaks_v1_offender_reason_finding():
    """Later v1 releases to v3 named the rule ``reason`` and the match ``offender``: the
    finding was refused ("missing required field 'rule'"), the --verbose stdout as "not a
    list"."""
    (obs,) = run(
        "gitleaks",
        load("gitleaks", "real_gitleaks_howto_v1_verbose_redact_offender_reason.txt"),
    )
    assert obs.rule == "AWS"
    assert obs.secret_type == "aws-access-key"
    assert obs.secret_value is None and obs.redacted == "REDACTED"
    assert obs.commit == "cb5599aeed261b2c038aa4729e2d53ca050a4988"
    assert obs.path == "main.go"
    assert obs.repo == "gronit"
    assert obs.author == "Zachary Rice <zricethezav@users.noreply.github.com>"


def test_gitleaks_v3_json_report_array():
    """The same keys in a --report=x.json array, with a value and a date."""
    report = (
        b'[\n\t{\n\t\t"line": "aws_key = AKIAIOSFODNN7EXAMPLE",\n\t\t"commit": "abc1",\n'
        b'\t\t"offender": "AKIAIOSFODNN7EXAMPLE",\n\t\t"reason": "AWS",\n\t\t"commitMsg": "m",\n'
        b'\t\t"author": "Bob",\n\t\t"file": "a.py",\n\t\t"repo": "gronit",\n'
        b'\t\t"date": "2019-01-02T03:04:05Z"\n\t}\n]\n'
    )
    (obs,) = run("gitleaks", report)
    assert obs.secret_value == "AKIAIOSFODNN7EXAMPLE"
    assert obs.rule == "AWS" and obs.path == "a.py" and obs.commit == "abc1"
    assert obs.committed_at.isoformat() == "2019-01-02T03:04:05+00:00"


# --- TruffleHog -----------------------------------------------------------------------------


def test_trufflehog3_json_report():
    """trufflehog3 3.x (DefectDojo's "Trufflehog3 Scan" sample): refused as "not a TruffleHog
    finding (no SourceMetadata)"."""
    name = "real_defectdojo_trufflehog3_many_vulns_current.json"
    items = run("trufflehog", load("trufflehog", name))
    assert len(items) == 4
    first = items[0]
    assert first.rule == "high-entropy" and first.title == "High Entropy"
    assert first.secret_type == "generic-secret"
    assert first.secret_value == "964a1afa20dd4a3723002560124dd96f2a9e853f7ef5b86f5c2354af336fca37"
    assert first.path == "docker/Dockerfile" and first.line == 3
    assert first.commit == "9c3f4d641d14eba2740febccd902cde300218a8d"
    assert first.author == "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"
    assert first.committed_at.isoformat() == "2021-10-08T18:14:27+00:00"
    assert first.severity == "high"
    assert first.tool_ids == {"branch": "python-ab08dd9"}
    # A file scan's finding: no commit fields.
    third = items[2]
    assert third.path == "env-file.txt" and third.line == 10
    assert third.commit == "" and third.author == "" and third.committed_at is None
    assert third.severity == "low"
    # The commit message and the context lines are never read.
    for obs in items:
        assert "Bump python" not in obs.title + obs.description
        assert "DD_API_KEY" not in obs.title + obs.description


def test_trufflehog3_regex_rule_match_keeps_the_value_only():
    """trufflehog3's regex rules report the whole match (as v2 did): a PEM header is no value,
    a password-in-URL match is cut to the URL."""
    report = (
        b'[{"rule": {"id": "private.key", "message": "Private Key", "severity": "HIGH"},'
        b' "path": "id_rsa", "line": "1", "secret": "-----BEGIN RSA PRIVATE KEY-----",'
        b' "context": {}, "id": "x", "branch": null, "message": null, "author": null,'
        b' "commit": null, "date": null},'
        b' {"rule": {"id": "generic.password-in-url", "message": "Password in URL",'
        b' "severity": "LOW"}, "path": "a.go", "line": "4",'
        b' "secret": "https://username:password@localhost:1234\'", "context": {}}]'
    )
    key, url = run("trufflehog", report)
    assert key.secret_value is None and key.secret_type == "private-key" and key.line == 1
    assert url.secret_value == "https://username:password@localhost:1234"
