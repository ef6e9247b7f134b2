"""GitLab secret detection reports (v14/v15)."""

import copy
import dataclasses
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers import get_parser
from hygiene.importers.base import ImportFormatError, Observation
from hygiene.importers.gitlab import parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HERE = FIXTURES / "gitlab-secret-detection"
SAMPLE = HERE / "gitlab_secret_detection_report_1_vuln_v15.json"
GENERATED = HERE / "generated_report_v15.json"


def run(data: bytes | str) -> list:
    if isinstance(data, str):
        data = data.encode()
    return list(parse(io.BytesIO(data)))


class Unseekable(io.RawIOBase):
    """A pipe-like stream: the importer must work in one pass."""

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
        candidates = [s for s in (obs.secret_value, *secrets) if s]
        for name, text in texts_of(obs):
            for secret in candidates:
                assert secret not in text, f"secret leaked into {name}"


def test_sample_content():
    (obs,) = list(parse(SAMPLE.open("rb")))
    assert obs.rule == "AWS"
    assert obs.secret_type == "aws-access-key"
    assert obs.secret_value == "AKIAIOSFODNN7EXAMPLE"
    assert (obs.path, obs.line) == ("README.md", 5)
    assert obs.commit == ""  # "0000000" is the analyzer's placeholder
    assert obs.committed_at is None  # "0001-01-01T00:00:00Z" is Go's zero time
    assert obs.severity == "critical"
    assert obs.validity == "unknown"
    # Not cve ("<file>:<SHA-256 of the match>:<rule>"): an unkeyed hash of the value.
    assert obs.tool_ids == {
        "id": "714ed3e4e289ad35a089e0a888e8d0120b6a6083b1090a189cbc6a3227396240",
    }
    assert obs.title == "AWS"
    assert_secret_only_in_value([obs])


def test_generated_v15_report():
    items = list(get_parser("gitlab-secret-detection")(GENERATED.open("rb")))
    assert [(o.rule, o.secret_type, o.severity) for o in items] == [
        ("gitlab_personal_access_token", "gitlab-token", "critical"),
        ("slack_bot_token", "slack-token", "high"),
        ("PKCS8 private key", "private-key", "medium"),
    ]
    gitlab_pat, slack, key = items
    assert gitlab_pat.secret_value == "glpat-Zq8xK2mN4vB7cR1tY9wE"
    assert gitlab_pat.path == "config/ci.env"
    assert gitlab_pat.line == 3
    assert gitlab_pat.commit == "4f1c2a9e7b3d5f6a8c0e1d2b3a4f5e6d7c8b9a01"
    assert gitlab_pat.author == "Dana Builder <dana@example.org>"
    assert gitlab_pat.committed_at == datetime(2024, 3, 11, 14, 22, 5, tzinfo=UTC)
    assert slack.secret_value.startswith("xoxb-")
    assert key.secret_value.startswith("-----BEGIN PRIVATE KEY-----")
    assert key.path == "deploy/key.pem"
    assert all(o.category == "secret" for o in items)
    assert_secret_only_in_value(items)


def test_streams_from_an_unseekable_stream():
    items = list(parse(Unseekable(GENERATED.read_bytes())))
    assert len(items) == 3


def test_extract_never_reaches_description():
    doc = json.loads(GENERATED.read_text())
    secret = doc["vulnerabilities"][0]["raw_source_code_extract"]
    doc["vulnerabilities"][0]["description"] = f"Found {secret} in config"
    doc["vulnerabilities"][0]["name"] = f"token {secret}"
    obs = run(json.dumps(doc))[0]
    assert obs.secret_value == secret
    assert_secret_only_in_value([obs])


def test_report_without_scan_section_is_accepted():
    doc = json.loads(SAMPLE.read_text())
    del doc["scan"]
    assert len(run(json.dumps(doc))) == 1


@pytest.mark.parametrize("scan_type", ["sast", "dependency_scanning", "container_scanning"])
def test_other_report_types_are_refused(scan_type):
    doc = json.loads(GENERATED.read_text())
    doc["scan"]["type"] = scan_type
    for vuln in doc["vulnerabilities"]:  # as in such reports (v15 may have no category)
        vuln["category"] = scan_type
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(doc))
    assert "not a secret detection report" in str(info.value)
    assert "$.scan.type" in str(info.value)


def test_other_report_type_refused_before_any_item():
    doc = json.loads(GENERATED.read_text())
    doc["scan"]["type"] = "sast"
    del doc["vulnerabilities"][-1]["category"]  # the first ones are secret_detection
    produced = []
    with pytest.raises(ImportFormatError):
        for item in parse(io.BytesIO(json.dumps(doc).encode())):
            produced.append(item)
    assert produced == []


def test_empty_vulnerabilities():
    assert (
        run('{"version": "15.0.0", "vulnerabilities": [], "scan": {"type": "secret_detection"}}')
        == []
    )


def test_identifiers_fallbacks():
    doc = json.loads(SAMPLE.read_text())
    vuln = doc["vulnerabilities"][0]
    vuln["identifiers"] = [{"type": "other", "name": "x", "value": "Password in URL"}]
    vuln["raw_source_code_extract"] = "https://user:pa55w0rd@example.com"
    obs = run(json.dumps(doc))[0]
    assert obs.rule == "Password in URL"
    assert obs.secret_type == "database-credential"
    vuln["identifiers"] = []
    vuln["raw_source_code_extract"] = None
    obs = run(json.dumps(doc))[0]
    assert obs.rule == "AWS"  # the name
    assert obs.secret_value is None


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"  \n ",
        b"\x00\x01binary\x00",
        b"\xff\xfe{\x00}\x00",
        b"[]",
        b"[{}]",
        b"{}",
        b'{"vulnerabilities": {}}',
        b'{"vulnerabilities": "none"}',
        b'{"vulnerabilities": [1]}',
        b'{"vulnerabilities": [], "scan": []}',
        b"nope",
        b"[" * 100000,
        b'{"vulnerabilities":' + b"[" * 100000,
        b'{"vulnerabilities": [' + b'{"a":' * 60000,
    ],
)
def test_bad_input(data):
    with pytest.raises(ImportFormatError):
        run(data)


@pytest.mark.parametrize("cut", [10, 200, 500, -30])
def test_truncated(cut):
    data = GENERATED.read_bytes()[:cut]
    with pytest.raises(ImportFormatError) as info:
        run(data)
    assert "byte" in str(info.value)
    assert "glpat-" not in str(info.value)


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES / "github-secret-scanning" / "github_secrets_detection_report_many_vul.json",
        FIXTURES / "noseyparker" / "noseyparker_many_vul.jsonl",
        FIXTURES / "sarif" / "sarif_simple.sarif",
        FIXTURES / "leakline" / "findings_and_events.json",
    ],
    ids=lambda p: p.name,
)
def test_other_tools_reports_are_refused(path):
    with pytest.raises(ImportFormatError):
        run(path.read_bytes())


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (
            lambda v: v.update(location={"file": "a", "start_line": "five"}),
            "$.vulnerabilities[0].location.start_line",
        ),
        (lambda v: v.update(location=[]), "$.vulnerabilities[0].location"),
        (lambda v: v.update(identifiers={}), "$.vulnerabilities[0].identifiers"),
        (lambda v: v.update(identifiers=["AWS"]), "$.vulnerabilities[0].identifiers[0]"),
        (
            lambda v: v.update(raw_source_code_extract=["AKIAIOSFODNN7EXAMPLE"]),
            "$.vulnerabilities[0].raw_source_code_extract",
        ),
        (lambda v: v.update(severity={"x": 1}), "$.vulnerabilities[0].severity"),
        (lambda v: v["location"].update(commit="abc"), "$.vulnerabilities[0].location.commit"),
        (lambda v: v.update(name=None, identifiers=[], message=None), "$.vulnerabilities[0]"),
    ],
)
def test_wrong_field_types(mutate, where):
    doc = json.loads(SAMPLE.read_text())
    mutate(doc["vulnerabilities"][0])
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(doc))
    assert where in str(info.value)
    assert "AKIAIOSFODNN7EXAMPLE" not in str(info.value)


def test_bad_commit_date_is_ignored_not_fatal():
    doc = json.loads(GENERATED.read_text())
    doc["vulnerabilities"][0]["location"]["commit"]["date"] = "yesterday"
    assert run(json.dumps(doc))[0].committed_at is None


# --- real reports (tests/fixtures/README.md says where each comes from) -------------------


def test_real_v14_report_of_three_secrets():
    key, aws, url = run((HERE / "real_defectdojo_3_vuln_v14.json").read_bytes())
    assert (key.rule, key.secret_type, key.line) == ("SSH private key", "private-key", 20)
    assert key.secret_value == "-----BEGIN OPENSSH PRIVATE KEY-----"
    assert (aws.rule, aws.secret_type, aws.line) == ("AWS", "aws-access-key", 7)
    assert aws.secret_value == "AKIAIOSFODNN7EXAMPLE"
    assert (url.rule, url.secret_type, url.line) == ("Password in URL", "database-credential", 14)
    assert url.secret_value == "https://random:password@endpoint.com/path"
    for obs in (key, aws, url):
        assert obs.path == "README.md"
        assert obs.commit == ""  # "0000000": the analyzer scanned a work tree
        assert obs.committed_at is None  # "0001-01-01T00:00:00Z"
        assert obs.severity == "critical"
        assert obs.tool_ids["id"]
        texts = [
            v
            for f in dataclasses.fields(obs)
            if f.name != "secret_value"
            for v in [getattr(obs, f.name)]
            if isinstance(v, str)
        ]
        assert all(obs.secret_value not in t for t in texts + list(obs.tool_ids.values()))
    assert "cve" not in aws.tool_ids


def test_real_v14_report_without_vulnerabilities():
    assert run((HERE / "real_defectdojo_0_vuln_v14.json").read_bytes()) == []


# --- real reports (tests/fixtures/README.md says where each comes from) -------------------


def test_real_gitlab_sample_with_scan_type_sast_is_accepted():
    # GitLab's own sample secret detection report says scan.type "sast"; every vulnerability
    # is of category secret_detection, and GitLab files it by its artifact type.
    (obs,) = run((HERE / "real_gitlabhq_master_v15_scan_type_sast.json").read_bytes())
    assert obs.rule == "AWS"
    assert obs.secret_type == "aws-access-key"
    assert obs.secret_value is None  # no raw_source_code_extract
    assert (obs.path, obs.line) == ("aws-key.py", None)
    assert obs.commit == "e9c3a56590d5bed4155c0d128f1552d52fdcc7ae"
    assert obs.title == "AWS API key"
    assert obs.severity == "critical"
    assert "cve" not in obs.tool_ids


@pytest.mark.parametrize("stream", [io.BytesIO, Unseekable])
def test_scan_type_sast_refused_when_a_vulnerability_is_not_secret_detection(stream):
    doc = json.loads((HERE / "real_gitlabhq_master_v15_scan_type_sast.json").read_bytes())
    second = dict(doc["vulnerabilities"][0], category="sast", id="other")
    doc["vulnerabilities"].append(second)
    with pytest.raises(ImportFormatError) as info:
        list(parse(stream(json.dumps(doc).encode())))
    assert info.value.location == "$.scan.type"


def test_scan_type_sast_without_vulnerabilities_refused():
    # An empty SAST report must not pass for a clean secret detection scan.
    doc = json.loads((HERE / "real_gitlabhq_master_v15_scan_type_sast.json").read_bytes())
    doc["vulnerabilities"] = []
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(doc))
    assert "not a secret detection report" in info.value.message


def test_real_v14_1_2_without_scan_or_raw_extract():
    (obs,) = run((HERE / "real_gitlabhq_master_v14_1_2_no_scan.json").read_bytes())
    assert (obs.rule, obs.path, obs.commit, obs.line) == ("AWS", "aws-key.py", "", None)
    assert obs.secret_value is None
    assert obs.description.startswith("Historic AWS secret has been found in commit")


def test_without_the_extract_the_cve_hash_names_the_secret():
    """Reports without raw_source_code_extract (the analyzer before it, GitLab's own samples)
    gave each place its own secret: the same AWS key in two files was two secrets. ``cve``'s
    middle part is the SHA-256 of the matched text (checked on the real reports that have
    both), so it names the secret; not for private keys, whose gitleaks 7 rules matched only
    the PEM header (an extract of 35 characters in real_defectdojo_3_vuln_v14.json)."""
    report = json.loads((HERE / "real_gitlabhq_master_v14_1_2_no_scan.json").read_bytes())
    first = report["vulnerabilities"][0]
    moved = copy.deepcopy(first)
    moved["cve"] = first["cve"].replace("aws-key.py", "config/aws.py")
    moved["location"]["file"] = "config/aws.py"
    other = copy.deepcopy(first)
    other["cve"] = "aws-key.py:" + "ab" * 32 + ":AWS"
    key = copy.deepcopy(first)
    key["cve"] = "id_rsa:" + hashlib.sha256(b"-----BEGIN RSA PRIVATE KEY-----").hexdigest()
    key["cve"] += ":RSA private key"
    key["identifiers"] = [{"type": "gitleaks_rule_id", "value": "RSA private key"}]
    report["vulnerabilities"] = [first, moved, other, key]
    items = run(json.dumps(report))
    assert items[0].secret_sha1 and items[0].secret_sha1 == items[1].secret_sha1
    assert items[2].secret_sha1 and items[2].secret_sha1 != items[0].secret_sha1
    assert items[3].secret_type == "private-key" and items[3].secret_sha1 is None
    # The digest, never the hash itself; and with the extract the value names the secret.
    sha256 = first["cve"].split(":")[1]
    assert all(sha256 not in repr(dataclasses.asdict(o)) for o in items)
    for obs in run((HERE / "real_defectdojo_3_vuln_v14.json").read_bytes()):
        assert obs.secret_value and obs.secret_sha1 is None


def test_real_v15_2_password_in_url_and_report_scanning_itself():
    items = run((HERE / "real_branchforge_v15_2_2_password_in_url.json").read_bytes())
    assert [(o.path, o.line) for o in items] == [
        (".env.example", 2),
        (".env.example", 3),
        ("gl-secret-detection-report.json", 1),
        ("gl-secret-detection-report.json", 1),
    ]
    assert (
        items[0].secret_value == "postgresql://branchforge:branchforge@localhost:5432/branchforge"
    )
    assert {o.secret_type for o in items} == {"database-credential"}
    assert {o.rule for o in items} == {"Password in URL"}
    assert {o.commit for o in items} == {""}  # "0000000": the work tree, not history
    for obs in items:
        for text in (obs.title, obs.description, obs.path, *obs.tool_ids.values()):
            assert "branchforge:branchforge" not in text
    assert items[0].description.startswith("Password in URL\n\nFor general guidance")


def test_real_v15_0_4_rule_name_with_message():
    (obs,) = run((HERE / "real_sirius_v15_0_4_alibaba.json").read_bytes())
    assert obs.rule == "Alibaba AccessKey ID"
    assert obs.secret_type == "api-key"
    assert obs.secret_value == "LTAIsupersecretkeyfordat"
    assert (obs.path, obs.line, obs.commit) == ("app/app.py", 20, "")
    assert obs.severity == "critical"
    assert obs.description == ""  # equal to the title


def test_real_v15_2_4_empty_with_observability():
    assert run((HERE / "real_nix_united_v15_2_4_empty.json").read_bytes()) == []
