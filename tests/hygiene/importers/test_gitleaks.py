"""gitleaks importer: v8/v7 JSON, --redact reports, CSV, and bad input."""

import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers import gitleaks
from hygiene.importers.base import ImportFormatError, Observation
from hygiene.importers.gitleaks import parse, safe_redacted

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DIR = FIXTURES / "gitleaks"


def load(name: str) -> bytes:
    return (DIR / name).read_bytes()


def run(data: bytes) -> list[Observation]:
    return list(parse(io.BytesIO(data)))


def assert_no_leak(items: list[Observation], secrets: list[str]) -> None:
    """No field but secret_value may contain a secret (or a line/match around it)."""
    secrets = [s for s in secrets if s]
    for obs in items:
        texts = []
        for f in dataclasses.fields(obs):
            value = getattr(obs, f.name)
            if f.name != "secret_value" and isinstance(value, str):
                texts.append((f.name, value))
        texts += [(f"tool_ids[{k}]", v) for k, v in obs.tool_ids.items()]
        texts += [(f"tool_ids key {k}", k) for k in obs.tool_ids]
        # An AWS access key id is an identifier (AWS says so): the one reference kind allowed
        # to repeat it, so that rotation events can be matched to the leak.
        texts += [
            (f"references {r.kind}", r.value)
            for r in obs.references
            if not (r.kind == "aws-access-key-id" and r.value == obs.secret_value)
        ]
        for name, value in texts:
            for secret in secrets:
                assert secret not in value, f"{name} holds secret material"


def sample_secrets(name: str) -> list[str]:
    """Every secret-bearing string of a JSON sample: values, matches, lines, messages."""
    out = []
    for item in json.loads(load(name)):
        for key in ("Secret", "Match", "offender", "line", "Message", "commitMessage"):
            if item.get(key) and item[key] != "REDACTED":
                out.append(item[key])
    return out


# --- v8 ---------------------------------------------------------------------------------


def test_v8_many():
    items = run(load("gitleaks8_many.json"))
    assert len(items) == 4
    first, second, rsa, generic = items
    assert first.rule == "aws-access-token"
    assert first.secret_type == "aws-access-key"
    assert first.secret_value == "secretAWSsecret"
    assert first.secret_sha1 is None
    assert first.redacted == ""
    assert first.path == "/conf/aws.tf"
    assert first.line == 2
    assert first.commit == "74d53286c550630f80847d37f68aa3065554ac813544072ccd1278da71fafe31"
    assert first.author == "Firstname Lastname <first.last@gmail.com>"
    assert first.committed_at == datetime(2021, 10, 14, 17, 5, 15, tzinfo=UTC)
    assert first.validity == "unknown"
    assert first.severity is None
    assert first.title == "AWS"
    assert first.repo == ""
    assert first.category == "secret"
    assert second.commit.startswith("9619c91b")
    assert rsa.rule == "RSA-PK"
    assert rsa.secret_type == "private-key"
    assert rsa.secret_value == "-----BEGIN RSA PRIVATE KEY-----"
    assert (rsa.path, rsa.line, rsa.commit, rsa.author, rsa.committed_at) == (
        "conf/rsa.pk",
        57,
        "",
        "",
        None,
    )
    assert generic.rule == "generic-api-key"
    assert generic.secret_type == "api-key"
    assert generic.secret_value == "dfjksdjfs3294dfjlsdaf213"
    assert generic.line == 21
    assert generic.author == "John Doe <john.doe@example.com>"
    assert generic.committed_at == datetime(2016, 9, 16, 18, 17, 59, tzinfo=UTC)
    assert all(isinstance(o.secret_type, str) and type(o.secret_type) is str for o in items)
    assert_no_leak(items, sample_secrets("gitleaks8_many.json"))


def test_v8_simple():
    (obs,) = run(load("json_simple.json"))
    assert obs.rule == "test-rule"
    assert obs.secret_type == "generic-secret"
    assert obs.secret_value == "a secret"
    assert (obs.path, obs.line, obs.commit) == ("auth.py", 1, "0000000000000000")
    assert obs.author == "John Doe <johndoe@gmail.com>"
    # gitleaks' own test data writes the date as MM-DD-YYYY
    assert obs.committed_at == datetime(2003, 10, 19, tzinfo=UTC)
    assert obs.tool_ids == {}
    assert_no_leak([obs], sample_secrets("json_simple.json"))


def test_v8_link_fingerprint_and_repo():
    finding = json.loads(load("json_simple.json"))[0]
    finding.update(
        Link="https://github.com/acme/api/blob/0000000000000000/auth.py#L1",
        Fingerprint="0000000000000000:auth.py:test-rule:1",
        Secret="AKIAIOSFODNN7EXAMPLE",
        RuleID="aws-access-token",
    )
    (obs,) = run(json.dumps([finding]).encode())
    assert obs.url == "https://github.com/acme/api/blob/0000000000000000/auth.py#L1"
    assert obs.repo == "https://github.com/acme/api"
    assert obs.tool_ids == {"fingerprint": "0000000000000000:auth.py:test-rule:1"}
    assert obs.secret_type == "aws-access-key"
    assert [(r.kind, r.value) for r in obs.references] == [
        ("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE")
    ]


def test_gitlab_link_repo():
    finding = json.loads(load("json_simple.json"))[0]
    finding["Link"] = "https://gitlab.example.com/group/sub/proj/-/blob/abc/auth.py#L1"
    (obs,) = run(json.dumps([finding]).encode())
    assert obs.repo == "https://gitlab.example.com/group/sub/proj"


SHA = "1b6da43b82b22e4eaa10bcf8ee591e91abbfc587"


@pytest.mark.parametrize(
    "link, repo",
    [
        # gitleaks v8.19+ createScmLink (detect/utils.go), one per platform it links for; the
        # repository (or a GitLab subgroup) is named like one of the markers.
        (f"https://github.com/acme/src/blob/{SHA}/app/config.py#L3", "https://github.com/acme/src"),
        (
            f"https://gitlab.com/acme/tree/svc/blob/{SHA}/app/config.py#L3",
            "https://gitlab.com/acme/tree/svc",
        ),
        (
            f"https://codeberg.org/acme/commit/src/commit/{SHA}/app/config.py#L3",
            "https://codeberg.org/acme/commit",
        ),
        (
            f"https://bitbucket.org/acme/src/src/{SHA}/app/config.py#lines-3",
            "https://bitbucket.org/acme/src",
        ),
        (
            f"https://dev.azure.com/acme/proj/_git/src/commit/{SHA}?path=/app/config.py&line=3"
            "&lineStartColumn=1&lineEndColumn=10000000&type=2&lineStyle=plain&_a=files",
            "https://dev.azure.com/acme/proj/_git/src",
        ),
    ],
)
def test_link_repo_is_read_up_to_the_findings_commit(link, repo):
    """A repository named "src", "commit" or "tree" is no marker: the link is read up to the
    marker before the finding's commit. Twice, so that the second reads the first's cache."""
    finding = json.loads(load("json_simple.json"))[0]
    finding.update(Commit=SHA, Link=link)
    other = dict(finding, Link=link.replace("app/config.py", "b.py"), StartLine=9)
    items = run(json.dumps([finding, other]).encode())
    assert [obs.repo for obs in items] == [repo, repo]


def test_secret_in_other_fields_is_scrubbed():
    finding = json.loads(load("json_simple.json"))[0]
    finding.update(Secret="s3cr3t-value-123", Description="found s3cr3t-value-123 here")
    (obs,) = run(json.dumps([finding]).encode())
    assert obs.secret_value == "s3cr3t-value-123"
    assert_no_leak([obs], ["s3cr3t-value-123"])


def test_empty_reports():
    assert run(b"[]") == []
    assert run(b"  [ ]\n") == []
    assert run(b"null\n") == []


# --- v7 -----------------------------------------------------------------------------------


def test_v7():
    items = run(load("version_7.5.0.json"))
    assert len(items) == 8
    aws = items[0]
    assert aws.rule == "AWS Access Key"
    assert aws.secret_type == "aws-access-key"
    assert aws.secret_value == "AKIAIOSFODNN7EXAMPLE"
    assert aws.path == (
        "dojo/unittests/scans/gitlab_secret_detection_report/gitlab_secret_detection_report_1_vuln.json"
    )
    assert aws.line == 13
    assert aws.commit == "6d127980966808f7413935678e079dcd7fedf9c2"
    assert aws.repo == ""  # "." is a local scan, not a repository
    assert aws.author == "Bhurinat Wangsutthitham <nate.bwangsut@gmail.com>"
    assert aws.committed_at == datetime(2021, 7, 15, 15, 0, 32, tzinfo=UTC)
    assert [(r.kind, r.value) for r in aws.references] == [
        ("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE")
    ]
    key = items[2]
    assert key.rule == "Asymmetric Private Key"
    assert key.secret_type == "private-key"
    assert key.secret_value is None  # the rule matched only the header: no key to fingerprint
    assert key.committed_at == datetime(2021, 7, 27, 16, 19, 31, tzinfo=UTC)
    assert [o.line for o in items] == [13, 13, 13, 44, 37, 13, 44, 37]
    assert {o.rule for o in items} == {"AWS Access Key", "Asymmetric Private Key"}
    assert_no_leak(items, sample_secrets("version_7.5.0.json"))


def test_v7_repo_url():
    finding = json.loads(load("version_7.5.0.json"))[0]
    finding.update(repoURL="https://github.com/DefectDojo/django-DefectDojo", leakURL="https://x/l")
    (obs,) = run(json.dumps([finding]).encode())
    assert obs.repo == "https://github.com/DefectDojo/django-DefectDojo"
    assert obs.url == "https://x/l"


# --- redact mode ----------------------------------------------------------------------------


def test_v7_redacted():
    items = run(load("redacted_data_many.json"))
    assert len(items) == 6
    for obs in items:
        assert obs.secret_value is None
        assert obs.secret_sha1 is None
        assert obs.redacted == "REDACTED"
        assert obs.secret_type == "aws-access-key"
        assert obs.references == []
    first = items[0]
    assert first.path == "overlays/server/config/server-config.yml"
    assert first.line == 224
    assert first.commit == "b13740279fb0145e4dce1d5bae6dfcc08a7767bb"
    assert first.author == "Some User <someuser@gmail.com>"
    assert first.committed_at == datetime(2021, 4, 19, 19, 42, 5, tzinfo=UTC)
    assert [o.line for o in items] == [224, 2221, 1025, 1089, 1121, 1339]
    assert_no_leak(items, [*sample_secrets("redacted_data_many.json"), "unique_id", "access-key ="])


def test_v8_redacted_full_and_partial():
    findings = json.loads(load("gitleaks8_many.json"))
    findings[0]["Secret"] = findings[0]["Match"] = "REDACTED"  # --redact
    findings[1]["Secret"] = "secr..."  # --redact=80: 3 characters shown
    findings[3]["Secret"] = "dfjksdjfs32..."  # --redact=50: too much shown to keep
    items = run(json.dumps(findings).encode())
    assert (items[0].secret_value, items[0].redacted) == (None, "REDACTED")
    assert (items[1].secret_value, items[1].redacted) == (None, "secr...")
    assert (items[3].secret_value, items[3].redacted) == (None, "")
    assert items[2].secret_value == "-----BEGIN RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("redacted", "secret", "kept"),
    [
        ("REDACTED", None, True),
        ("abcd...", None, True),
        ("abcde...", None, False),
        ("AKIAYVP4CIPPERUVIFXG", "AKIAYVP4CIPPERUVIFXG", False),
        ("https://*****:*****@host/x", "https://u:p@host/x", True),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl", None, False),
        ("ghp_****", None, True),
        ("", None, False),
    ],
)
def test_safe_redacted(redacted, secret, kept):
    assert safe_redacted(redacted, secret) == (redacted if kept else "")


# --- CSV ------------------------------------------------------------------------------------


def test_csv_simple():
    (obs,) = run(load("csv_simple.csv"))
    assert obs.rule == "test-rule"
    assert obs.secret_value == "a secret"
    assert (obs.path, obs.line, obs.commit) == ("auth.py", 1, "0000000000000000")
    assert obs.author == "John Doe <johndoe@gmail.com>"
    assert obs.committed_at == datetime(2003, 10, 19, tzinfo=UTC)
    assert obs.tool_ids == {"fingerprint": "fingerprint"}
    assert_no_leak([obs], ["a secret", "line containing secret", "opps"])


def test_csv_redacted_and_header_only():
    data = load("csv_simple.csv").replace(b"a secret,line containing secret", b"REDACTED,REDACTED")
    (obs,) = run(data)
    assert (obs.secret_value, obs.redacted) == (None, "REDACTED")
    header = load("csv_simple.csv").split(b"\n")[0] + b"\n"
    assert run(header) == []


def test_csv_quoted_multiline_message():
    data = load("csv_simple.csv").replace(b",opps,", b',"multi\nline, message",')
    (obs,) = run(data)
    assert obs.line == 1


# --- bad input --------------------------------------------------------------------------------

SECRETS = ["secretAWSsecret", "dfjksdjfs3294dfjlsdaf213", "a secret", "AKIAIOSFODNN7EXAMPLE"]


def _bad(data: bytes) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        run(data)
    err = info.value
    assert err.location, "the error must say where"
    assert err.location in str(err)
    for secret in SECRETS:
        assert secret not in str(err)
    return err


def _one(**changes) -> bytes:
    finding = json.loads(load("gitleaks8_many.json"))[3]
    finding.update(changes)
    return json.dumps([finding]).encode()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"  \n\t \r\n", "empty"),
        (b"\x00\x01\x02\xff\xfe binary", "binary"),
        (b"\xff\xfe[\x00]\x00", "UTF-16"),
        (b"[" * 100_000, "nested deeper"),
        (b'[{"RuleID": "r", "File": ' + b"[" * 100_000, "nested deeper"),
        (b"[1, 2]", "expected a finding object"),
        (b'["x"]', "expected a finding object"),
        (b'[{"foo": 1}]', "not a gitleaks finding"),
        (b'{"foo": 1}', "expected a JSON array"),
        (b'[{"RuleID": "r", "File": "f"} junk', "malformed"),
        (_one(StartLine="twelve"), "StartLine"),
        (_one(StartLine=[1]), "StartLine"),
        (_one(StartLine=1.5), "StartLine"),
        (_one(StartLine=-3), "out of range"),
        (_one(StartLine=2**40), "out of range"),
        (_one(StartLine=10**30), "a number too large to read"),
        (_one(RuleID=["x"]), "RuleID"),
        (_one(RuleID=""), "RuleID"),
        (b'[{"RuleID": "x"}]', "a finding without 'Secret' or 'File' (nothing to track)"),
        (_one(Secret="", File="", SymlinkFile="", Link="", Commit="", Fingerprint=""), "nothing"),
        (_one(File={"a": 1}), "File"),
        (_one(Secret=True), "Secret"),
        (_one(Date="yesterday-ish"), "Date"),
        (_one(Date={"y": 2020}), "Date"),
        (_one(Date=1e30), "Date"),
        (b"hello world\n", "CSV with wrong headers"),
        (b"RuleID,Secret\nr,s\n", "CSV with wrong headers: missing column(s) File, StartLine"),
        (b"RuleID,File,Secret,StartLine\nr,f,s\n", "columns"),
        (b"RuleID,File,Secret,StartLine\nr,f,s,x\n", "StartLine"),
        (b"RuleID,File,Secret,StartLine\nr,\xff\xfe,s,1\n", "UTF-8"),
    ],
)
def test_bad_input(data, expected):
    assert expected in str(_bad(data))


def test_truncated():
    data = load("gitleaks8_many.json")
    err = _bad(data[: len(data) // 2])
    assert "near byte" in err.location


@pytest.mark.parametrize(
    ("folder", "name", "hint"),
    [
        ("gitleaks", "sarif_simple.sarif", "this looks like SARIF; use format sarif"),
        ("trufflehog", "README_example_output.jsonl", "use format trufflehog"),
        ("detect-secrets", "many_findings.json", "use format detect-secrets"),
        ("ggshield", "many_findings.json", "use format ggshield"),
        ("prowler", "example_output_aws.ocsf.json", "use format prowler"),
        ("noseyparker", "generated_report_v0_20.json", "use format noseyparker"),
        ("github-secret-scanning", "real_defectdojo_one_vul.json", "use format github-secret"),
        ("aws-cloudtrail", "generated_lookup_events.json", "use format aws-cloudtrail"),
        ("aws-cloudtrail", "RotationSucceeded_eventbridge_excerpt.json", "use format aws-cl"),
        ("vault-audit", "generated_audit.log", "use format vault-audit"),
        ("leakline", "findings_and_events.json", "use format leakline"),
    ],
)
def test_wrong_format(folder, name, hint):
    err = _bad((FIXTURES / folder / name).read_bytes())
    assert hint in str(err)


def test_trufflehog_array_is_refused():
    lines = (FIXTURES / "trufflehog" / "v3_git.json").read_bytes().splitlines()
    err = _bad(b"[" + b",".join(lines) + b"]")
    assert err.location == "$[0]"
    assert "trufflehog" in str(err)
    assert "AKIAYVP4CIPPERUVIFXG" not in str(err)


# --- nesting and the 100k budget ---------------------------------------------------------


def test_brackets_left_open_in_strings_are_not_nesting():
    # 3,000 findings whose matched line ends with an open bracket: three levels deep, not 3,000
    # (this was refused as "JSON nested deeper than 2048 levels").
    finding = json.loads(load("gitleaks8_many.json"))[3]
    findings = [
        {**finding, "Match": 'x = cfg["k"] || [', "Line": 'x = cfg["k"] || [ \\', "StartLine": i}
        for i in range(3000)
    ]
    items = run(json.dumps(findings).encode())
    assert [obs.line for obs in items] == list(range(3000))
    assert {obs.secret_value for obs in items} == {"dfjksdjfs3294dfjlsdaf213"}


def test_deep_nesting_is_refused_at_its_byte():
    err = _bad(b'[{"RuleID": "r", "File": ' + b"[" * 100_000)
    assert err.message == "JSON nested deeper than 64 levels"
    assert err.location == "near byte 87"  # the 63rd '[' of File: 2 + 63 levels
    # Past 300 KB of findings with brackets in strings: still the byte of the 63rd '['.
    finding = {**json.loads(load("gitleaks8_many.json"))[3], "Match": "[{ ["}
    head = json.dumps([finding] * 500).encode()[:-1] + b', {"RuleID": "r", "File": '
    err = _bad(head + b"[" * 100 + b"]" * 100 + b"}]")
    assert err.location == f"near byte {len(head) + 62}"


def test_large_report_streams(tmp_path):
    finding = json.loads(load("gitleaks8_many.json"))[3]
    path = tmp_path / "big.json"
    with path.open("w") as f:
        f.write("[")
        for i in range(20_000):
            f.write(("," if i else "") + json.dumps({**finding, "StartLine": i}))
        f.write("]")
    with path.open("rb") as f:
        count = 0
        last = None
        for count, last in enumerate(parse(f), start=1):  # noqa: B007
            pass
    assert count == 20_000
    assert last.line == 19_999


# --- real reports (tests/fixtures/README.md says where each comes from) -------------------


def test_real_v7_offender_with_the_variable_name_gives_the_value():
    # Early gitleaks rules matched `NAME="value"`; the offender is that whole match.
    github, mailchimp = run(load("real_defectdojo_data_many.json"))
    assert github.rule == "Github"
    assert github.secret_type == "github-token"
    assert github.secret_value == "c77e01c1e89682e4d4b94a059a7fd2b37ab326ed"
    assert mailchimp.rule == "MailChimp API key"
    assert mailchimp.secret_type == "api-key"
    assert mailchimp.secret_value == "38c47f19e349153fa963bb3b3212fe8e-us11"
    for obs in (github, mailchimp):
        assert obs.path == ".bashrc"
        assert obs.line is None  # that release wrote no lineNumber
        assert obs.repo == ""  # "." is the scanned work tree
        assert obs.commit == "d54ce70d0cf883054ed256db46406a5df551f000"
        assert obs.author == "John Doe <john.doe@mail.com>"
        assert obs.committed_at == datetime(2020, 4, 4, 22, 52, 59, tzinfo=UTC)
        assert obs.redacted == ""
    assert_no_leak([github, mailchimp], sample_secrets("real_defectdojo_data_many.json"))


def test_real_v7_go_zero_date_is_no_date():
    (obs,) = run(load("real_defectdojo_issue4336.json"))
    assert obs.committed_at is None  # "0001-01-01T00:00:00Z": scanned without history
    assert obs.rule == "Twitter Client ID"
    assert obs.secret_value == "twitter.com/kramse/status/1073168529405472768"
    assert (obs.path, obs.line, obs.commit, obs.repo, obs.author) == ("README.md", 23, "", "", "")
    assert_no_leak([obs], sample_secrets("real_defectdojo_issue4336.json"))


@pytest.mark.parametrize(
    ("offender", "value"),
    [
        (
            'GITHUB_TOKEN="c77e01c1e89682e4d4b94a059a7fd2b37ab326ed"',
            "c77e01c1e89682e4d4b94a059a7fd2b37ab326ed",
        ),
        ("password: 'hunter22hunter'", "hunter22hunter"),
        ("api_key = abcdef0123456789;", "abcdef0123456789"),
        ("admin:s3cretpassw0rd", "admin:s3cretpassw0rd"),  # user:password, not an assignment
        ("https://user:pass@example.com", "https://user:pass@example.com"),
        ("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        ("secret = 'two words'", "secret = 'two words'"),
    ],
)
def test_v7_offender_assignment(offender, value):
    (obs,) = run(json.dumps([{"rule": "Generic", "offender": offender, "file": "f"}]).encode())
    assert obs.secret_value == value


@pytest.mark.parametrize(
    "name",
    [
        "real_betterleaks_jsonl_simple.jsonl",  # --report-format jsonl: one finding per line
        "real_betterleaks_json_metadata_simple.json",  # the place moved into "Metadata"
        "real_betterleaks_csv_meta_simple.csv",  # ... and into "meta:" columns
    ],
)
def test_real_betterleaks_reports_give_the_same_finding(name):
    (obs,) = run(load(name))
    assert (obs.rule, obs.secret_value) == ("test-rule", "a secret")
    assert (obs.path, obs.line, obs.commit) == ("auth.py", 1, "0000000000000000")
    assert obs.author == "John Doe <johndoe@gmail.com>"
    assert obs.committed_at == datetime(2003, 10, 19, tzinfo=UTC)
    assert_no_leak([obs], ["a secret", "line containing secret"])


def test_betterleaks_fingerprint_keeps_the_place_not_the_hash_of_the_value():
    # betterleaks' v8-shaped findings carry "{source}!{kind}!{identity}!{rule}!{hash}#L…#C…"
    # (some releases "!L…!C…"), {hash} being 8 hex digits of an unkeyed XXH3 of the secret,
    # one more "!{rule}!{hash}" per required finding of a composite rule.
    name = "generated_betterleaks_fingerprint_value_hash.json"
    git, file = run(load(name))
    assert git.tool_ids["fingerprint"] == (
        "git!git_patch_content!commit_sha=9f1c2b7e5d4a3c2b1a0f9e8d7c6b5a4f3e2d1c0b,"
        "path=deploy/credentials.env!aws-access-token!#L3-3#C20-40!aws-secret-key!#L4-4#C25-65"
    )
    assert file.tool_ids["fingerprint"] == (
        "file!file_content!path=config/app.ini!generic-api-key!!L7-7!C1-38"
    )
    for obs, digest in ((git, "5be4c3f1"), (git, "0c7d93aa"), (file, "a41c09e7")):
        assert digest not in repr(obs)
    assert (git.path, git.line, git.commit) == (
        "deploy/credentials.env",
        3,
        "9f1c2b7e5d4a3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
    )
    assert (file.path, file.secret_value) == ("config/app.ini", "hunter2hunter2")
    assert_no_leak([git, file], sample_secrets(name))
    # The CSV report's Fingerprint column goes the same way.
    csv_report = (
        b"RuleID,Commit,File,SymlinkFile,Secret,Match,StartLine,EndLine,StartColumn,EndColumn,"
        b"Author,Message,Date,Email,Fingerprint,Tags\n"
        b"generic-api-key,,config/app.ini,,hunter2hunter2,api_key = hunter2hunter2,7,7,1,38,,,,,"
        b"file!file_content!path=config/app.ini!generic-api-key!a41c09e7#L7-7#C1-38,\n"
    )
    (row,) = run(csv_report)
    assert row.tool_ids["fingerprint"] == (
        "file!file_content!path=config/app.ini!generic-api-key!#L7-7#C1-38"
    )
    # gitleaks' own fingerprint names no value: kept whole.
    (plain,) = run(
        json.dumps(
            [
                {
                    "RuleID": "r",
                    "Secret": "s3cr3t-value",
                    "File": "a!b.txt",
                    "Fingerprint": "c:a!b.txt:r:1",
                }
            ]
        ).encode()
    )
    assert plain.tool_ids["fingerprint"] == "c:a!b.txt:r:1"


def test_json_lines_errors_name_the_line():
    line = json.dumps({"RuleID": "r", "Secret": "s3cr3t-value", "File": "f"}).encode()
    assert [o.path for o in run(line + b"\n\n" + line + b"\n")] == ["f", "f"]
    with pytest.raises(ImportFormatError) as info:
        run(line + b"\n" + line[:-5] + b"\n")
    assert info.value.location == "line 2"
    with pytest.raises(ImportFormatError) as info:
        run(line + b'\n{"foo": 1}\n')
    assert (info.value.location, "not a gitleaks finding" in str(info.value)) == ("line 2", True)
    with pytest.raises(ImportFormatError, match="expected a JSON array"):
        run(b'{\n "RuleID": "r"\n}\n')  # one pretty-printed object is not a report


def test_json_lines_refuse_what_no_text_column_can_hold_and_overlong_lines(monkeypatch):
    """A lone surrogate escape (json.loads keeps it) and a line past MAX_LINE: an error naming
    the line, not a failure further down."""
    good = json.dumps({"RuleID": "r", "Secret": "s3cr3t-value", "File": "f"}).encode()
    lone = b'{"RuleID": "r", "Secret": "s3cr3t-value", "File": "a\\udc80"}'
    with pytest.raises(ImportFormatError, match="surrogate") as info:
        run(good + b"\n" + lone + b"\n")
    assert info.value.location == "line 2"
    pair = b'{"RuleID": "r", "Secret": "s3cr3t-value", "File": "\\ud83d\\udd11.env"}'
    assert [o.path for o in run(pair + b"\n")] == ["\U0001f511.env"]  # a whole pair is fine
    monkeypatch.setattr(gitleaks, "MAX_LINE", len(good) + 10)
    long = json.dumps({"RuleID": "r", "Secret": "s3cr3t-value", "File": "f" * 100}).encode()
    with pytest.raises(ImportFormatError, match="a line longer than") as info:
        run(good + b"\n" + long + b"\n")
    assert info.value.location == "line 2"


def test_an_object_that_names_no_finding_is_refused_before_it_is_read_whole():
    read = []

    class Counting(io.RawIOBase):
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            n = self.data.readinto(buffer)
            read.append(n)
            return n

    big = b'{"items": [' + b",".join([b'{"x": "' + b"y" * 100 + b'"}'] * 100_000) + b"]}"
    with pytest.raises(ImportFormatError, match="expected a JSON array") as info:
        list(parse(Counting(big)))
    assert info.value.location == "$"
    assert sum(read) < 1_000_000  # of 11 MB


def test_metadata_fills_an_empty_file_field_too():
    line = {"RuleID": "r", "Secret": "s3cr3t-value", "File": "", "Metadata": {"path": "a.py"}}
    (obs,) = run(json.dumps(line).encode() + b"\n")
    assert obs.path == "a.py"


def test_trufflehog_v2_lines_get_a_hint():
    line = {"reason": "AWS", "stringsFound": ["x"], "path": "p", "commitHash": "c" * 40}
    with pytest.raises(ImportFormatError, match="use format trufflehog"):
        run(json.dumps(line).encode() + b"\n")


def test_real_gitleaks_8_30_redacted_report_keeps_the_place_and_no_value():
    # gitleaks 8.30.1 `git --redact` on a one-commit repository: Secret and Match say
    # REDACTED, the fingerprint is commit:file:rule:line, Tags is empty.
    (obs,) = run(load("real_gitleaks_8_30_1_redact.json"))
    assert (obs.rule, obs.secret_type) == ("generic-api-key", "api-key")
    assert (obs.secret_value, obs.redacted) == (None, "REDACTED")
    assert (obs.path, obs.line) == ("settings.cfg", 1)
    assert obs.commit == "2fdc11483a2424d4bd488334c15eb3221d521abf"
    assert obs.author == "t <a@b.c>"
    assert obs.committed_at == datetime(2026, 10, 9, 8, 11, 14, tzinfo=UTC)
    assert obs.title.startswith("Detected a Generic API Key")
    assert obs.tool_ids == {
        "fingerprint": "2fdc11483a2424d4bd488334c15eb3221d521abf:settings.cfg:generic-api-key:1"
    }
    assert obs.repo == "" and obs.url == ""  # no Link: the repository has no remote


# --- betterleaks 2 (schema_version "1") ---------------------------------------------------------

BL2_JSON = "tool_betterleaks_2_0_0_rc4_git.json"
BL2_JSONL = "tool_betterleaks_2_0_0_rc4_git.jsonl"


def _bl2_secrets(data: list[dict]) -> list[str]:
    return [
        text
        for f in data
        for text in (f["match"]["value"], f["match"]["full"], f["attributes"]["git.message"])
    ]


def test_betterleaks_2_report_real_output():
    """betterleaks 2.0 (run here on planted fake credentials): one document whose findings
    carry match.value, location, git attributes and component sets."""
    doc = json.loads(load(BL2_JSON))
    items = run(load(BL2_JSON))
    assert [o.rule for o in items] == [
        "github-pat",
        "azure-storage-account-key",
        "slack-bot-token",
        "generic-password",
    ]
    pat, azure, slack, password = items
    assert pat.secret_value == doc["findings"][0]["match"]["value"]
    assert pat.secret_type == "github-token"
    assert (pat.path, pat.line) == ("Dockerfile", 2)
    assert pat.commit == "5c63dafbda9a884f3ce829925afbd04227bdf0ed"
    assert pat.author == "Lea Kline <lea@example.com>"
    assert pat.committed_at == datetime(2024, 3, 5, 3, 0, tzinfo=UTC)
    assert pat.title.startswith("Uncovered a GitHub Personal Access Token")
    assert (pat.validity, pat.tool_ids) == ("unknown", {"confidence": "high"})
    # The key's account name, found beside it, is what an Azure key rotation names.
    assert azure.secret_type == "azure-storage-key"
    assert azure.path == "conf/légacy_settings.ini"
    assert [(r.kind, r.value) for r in azure.references] == [("storage-account", "leaklinetest")]
    assert slack.secret_type == "slack-token"
    assert password.secret_value == "hunter2kknnF7sqG"  # match.value, not match.full
    assert password.tool_ids == {"confidence": "medium"}
    # match.fingerprint is a plain hash of the value: not kept.
    fingerprints = {f["match"]["fingerprint"] for f in doc["findings"]}
    assert not fingerprints & {v for o in items for v in o.tool_ids.values()}
    assert_no_leak(items, _bl2_secrets(doc["findings"]))


def test_betterleaks_2_json_lines_real_output():
    lines = [json.loads(line) for line in load(BL2_JSONL).splitlines()]
    assert "scan" in lines[-1]  # the summary record ends the stream
    items = run(load(BL2_JSONL))
    assert [o.rule for o in items] == [
        "github-pat",
        "azure-storage-account-key",
        "generic-password",
    ]
    for o, record in zip(items, (r["finding"] for r in lines if "finding" in r), strict=True):
        assert (o.secret_value, o.path, o.line, o.commit) == (
            record["match"]["value"],
            record["location"]["path"],
            record["location"]["start_line"],
            record["attributes"]["git.sha"],
        )
    assert_no_leak(items, _bl2_secrets([r["finding"] for r in lines if "finding" in r]))


def _bl2_finding(**changes) -> dict:
    finding = json.loads(load(BL2_JSON))["findings"][0]
    finding.update(changes)
    return finding


def test_betterleaks_2_validation_severity_and_remote():
    """A validated finding's status is its validity; the remote URL is the repository, without
    the user:token@ a clone URL may carry."""
    finding = _bl2_finding(status="valid", severity="HIGH")
    finding["attributes"]["git.remote_url"] = (
        "https://ci:ghp_notTheFinding123@github.com/acme/api.git"
    )
    revoked = _bl2_finding(status="revoked")
    doc = {"schema_version": "1", "findings": [finding, revoked], "scan": {"state": "complete"}}
    valid, gone = run(json.dumps(doc).encode())
    assert (valid.validity, valid.severity) == ("valid", "high")
    assert valid.repo == "https://github.com/acme/api.git"
    assert gone.validity == "revoked"
    compact_lines = "\n".join(
        json.dumps({"schema_version": "1", "finding": f}) for f in (finding, revoked)
    )
    assert [o.validity for o in run(compact_lines.encode())] == ["valid", "revoked"]


@pytest.mark.parametrize(
    ("data", "message", "location"),
    [
        (
            b'{"schema_version":"2","finding":{"rule_id":"x"}}\n',
            "unknown betterleaks schema_version '2'",
            "line 1.schema_version",
        ),
        (
            b'{"schema_version":"1","finding":{"rule_id":"x"}}\n{"schema_version":"1"}\n',
            "expected a 'finding' or a 'scan' on each line",
            "line 2",
        ),
        (
            b'{"schema_version":"1","findings":[{"description":"no rule"}]}',
            "missing required field 'rule_id'",
            "$.findings[0]",
        ),
        (
            b'{"schema_version":"1","findings":[{"rule_id":"x","match":{"value":{"a":1}}}]}',
            "",
            "$.findings[0].match",
        ),
    ],
)
def test_betterleaks_2_bad_input_says_what_and_where(data, message, location):
    err = _bad(data)
    assert message in err.message
    assert err.location.startswith(location)


# --- reports committed to public repositories by the people who ran gitleaks -------------


def test_real_committed_windows_directory_scan():
    (obs,) = run(load("real_committed_finos_git_proxy_windows_dir_scan.json"))
    assert (obs.rule, obs.secret_type, obs.title) == (
        "aws-access-key",
        "aws-access-key",
        "AWS Access Key",
    )
    assert obs.secret_value == "AKIAIOSFODNN8EXAMPLE"
    # A --no-git scan: the file as given (a Windows absolute path), no repository or commit.
    assert (
        obs.path == "C:/Users/ingle/Desktop/CitiHackthon/git-proxy/test/test_data/sensitive_data.js"
    )
    assert (obs.line, obs.repo, obs.commit, obs.author) == (2, "", "", "")
    assert obs.committed_at is None  # "Date": ""
    assert obs.tool_ids["fingerprint"].endswith(":aws-access-key:2")


def test_real_committed_multi_line_matches_and_long_commit_messages():
    name = "real_committed_archivesspace_rails_secret_key_base.json"
    findings = json.loads(load(name))
    items = run(load(name))
    assert [(o.path, o.line, o.commit) for o in items] == [
        (
            "public-new/app/archivesspace-public/config/secrets.yml",
            14,
            "e91b5060af531cd0ddc571d943605bc63e6c1e44",
        ),
        ("public-new/config/secrets.yml", 25, "459f61b3459a7e507bc9394e0c5db8a226046d32"),
        (
            "frontend/config/initializers/secret_token.rb",
            7,
            "d4474dbebbe5aa21a5f737f476be72838f366899",
        ),
    ]
    assert [o.secret_value for o in items] == [f["Secret"] for f in findings]
    assert {o.secret_type for o in items} == {"api-key"}
    assert items[0].author == "Mark Triggs <mark@dishevelled.net>"
    assert items[2].committed_at == datetime(2012, 7, 19, 4, 18, 5, tzinfo=UTC)
    assert_no_leak(items, [f["Secret"] for f in findings] + ["secret_key_base", "General JRuby"])


def test_real_committed_custom_rule_whose_secret_is_the_key_name():
    """A custom rule whose capture group took the variable name: gitleaks' Secret is "API_KEY"
    and the value is only in Match, which is never read."""
    name = "real_committed_poswark_gitleaks_custom_rule_secret_is_key_name.json"
    items = run(load(name))
    assert [o.secret_value for o in items] == ["API_KEY", "PASSWORD", "api_key", "password"]
    assert {o.rule for o in items} == {"env-generic-keys"}
    assert items[0].title == "Detect generic env-style secrets"
    assert items[0].repo == "https://github.com/Poswark/Gitleaks"
    assert items[2].url.endswith("/gitleaks-report.html#L37-L38")
    assert items[3].url.endswith("/Readme.md?plain=1#L35")
    assert (items[3].path, items[3].line) == ("Readme.md", 35)
    assert_no_leak(items, ["abc123", "supersecret", "123456"])


def test_real_committed_v7_verbose_stdout_is_a_run_of_objects():
    """gitleaks v7 --verbose printed each finding as an indented object, no array around."""
    one = load("real_committed_strowi_ci_templates_v7_verbose_stdout.json")
    (obs,) = run(one)
    assert obs.rule == "Password in URL"
    assert obs.secret_type == "database-credential"
    # v7's offender ran past the URL to the closing quote: kept as the tool found it.
    assert obs.secret_value.startswith("postgresql://db_user:db_password@127.0.0.1:5432/")
    assert (obs.path, obs.line, obs.commit, obs.repo) == (
        ".env",
        26,
        "4a2431e7924b1dc0b5506ec72c093875058c346d",
        "",  # repo "." is the scanned directory
    )
    assert obs.author == "Daniel Kolb <strowi@hasnoname.de>"
    assert obs.committed_at == datetime(2020, 11, 13, 14, 22, 7, tzinfo=UTC)
    assert_no_leak([obs], ["db_password", "Resolve RI-204"])
    # The page shows the same finding printed twice: one object after another.
    assert len(run(one + one)) == 2
    assert len(run(one.rstrip() + one)) == 2  # "}{" with no newline between


def test_v7_verbose_stdout_errors_name_the_object():
    one = load("real_committed_strowi_ci_templates_v7_verbose_stdout.json")
    with pytest.raises(ImportFormatError) as exc:
        run(one + one[: len(one) // 2])
    assert "malformed or truncated JSON" in str(exc.value)
    assert "after object 1" in exc.value.location
    with pytest.raises(ImportFormatError) as exc:
        run(one + b"[1, 2]\n")
    assert "object 2" in exc.value.location
    # An indented object that names no finding key is still refused from its first line.
    with pytest.raises(ImportFormatError, match="JSON array of gitleaks findings"):
        run(b'{\n  "findings": [],\n  "offender": 1\n}\n')


def test_real_committed_csv_from_a_github_action_workspace():
    """CSV with v8's Tags column, from a container action: paths under /github/workspace,
    no commit (a directory scan), a Match that runs past the JWT to its closing quote."""
    name = "real_committed_cguajardo_leakage_demo_action_workspace.csv"
    generic, aws, jwt = run(load(name))
    assert [(o.rule, o.secret_type) for o in (generic, aws, jwt)] == [
        ("generic-api-key", "api-key"),
        ("aws-access-token", "aws-access-key"),
        ("jwt", "jwt"),
    ]
    assert (generic.path, generic.line, generic.commit) == ("/github/workspace/.env", 3, "")
    assert aws.secret_value == "AKIAQ4FAKEU2RV7DFXMP"
    assert aws.references[0].value == "AKIAQ4FAKEU2RV7DFXMP"
    assert jwt.secret_value.endswith(".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
    assert jwt.tool_ids == {"fingerprint": "/github/workspace/index.js:jwt:11"}
    assert_no_leak(
        [generic, aws, jwt], [generic.secret_value, jwt.secret_value, "AWS_SECRET_ACCESS_KEY"]
    )


def test_real_v7_verbose_stdout_after_a_ci_banner():
    """gitleaks-action (v1, gitleaks v7 --verbose --redact) printed a banner, then the
    findings as tab-indented objects: the banner is skipped, the findings import."""
    items = run(load("real_gitleaks_action_issue44_v7_verbose_redacted_banner.txt"))
    assert [(o.rule, o.path, o.line) for o in items] == [
        ("AWS Manager ID", "entrypoint.sh", 16),
        ("AWS Manager ID", "entrypoint.sh", 18),
    ]
    first, second = items
    assert first.secret_type == "aws-access-key"
    # --redact: no value, the tool's own mask instead.
    assert (first.secret_value, first.redacted) == (None, "REDACTED")
    assert first.commit == "e7150a87e012d353a2c2e1ca8ec832b036dbde40"
    assert second.commit == "e1a5408dec0df17125c6a2e4bc57fa56e1296e7d"
    assert first.author == "Zachary Rice <zricer@protonmail.com>"
    assert first.committed_at == datetime(2020, 2, 25, 16, 6, 44, tzinfo=UTC)
    # v7's repo is the scanned directory's name: /github/workspace's names no repository.
    assert first.repo == ""
    assert first.validity == "unknown"


def test_action_v1_workspace_report_names_no_repository():
    """gitleaks-action v1 ran gitleaks v7 on /github/workspace: the report's repo is that
    directory's name, "workspace", and an uncommitted file's path is absolute under it. The
    findings have no repository (not one called "workspace") and paths in the checkout."""
    name = "generated_action_v1_v7_workspace_report.json"
    history, uncommitted = run(load(name))
    assert (history.repo, history.path, history.line) == ("", "deploy/settings.ini", 3)
    assert history.commit == "9c2f4e71d0b8a3c5e6f7a8b9c0d1e2f3a4b5c6d7"
    assert history.author == "Dana Fixture <dana@example.invalid>"
    assert (uncommitted.repo, uncommitted.path, uncommitted.line) == ("", "scripts/.env", 7)
    assert (uncommitted.secret_value, uncommitted.redacted) == (None, "REDACTED")

    # A field that does name the repository still gives it.
    finding = json.loads(load(name))[0]
    finding["repoURL"] = "https://github.com/acme/deploy"
    (obs,) = run(json.dumps([finding]).encode())
    assert (obs.repo, obs.path) == ("https://github.com/acme/deploy", "deploy/settings.ini")
    # Another directory's name is kept as v7 gave it, and so is a path outside the checkout.
    finding.update(repoURL="", repo="deploy-tools", file="/srv/github/workspace.txt")
    (obs,) = run(json.dumps([finding]).encode())
    assert (obs.repo, obs.path) == ("deploy-tools", "/srv/github/workspace.txt")


def test_v7_verbose_stdout_with_log_lines_between_and_after_the_findings():
    """A saved stdout of `gitleaks -v` holds logrus lines too, in its TTY or its text form."""
    one = load("real_committed_strowi_ci_templates_v7_verbose_stdout.json")
    logged = (
        b"INFO[0000] opening .\n"
        + one
        + b'time="2020-11-13T14:25:01Z" level=info msg="scan time: 12 milliseconds"\n'
        + one.replace(b'"lineNumber": 26', b'"lineNumber": 27')
        + b"\nWARN[0000] leaks found: 2\n"
    )
    items = run(logged)
    assert [(o.path, o.line) for o in items] == [(".env", 26), (".env", 27)]
    assert items[0].secret_value.startswith("postgresql://db_user:")
    # Starting with the object, and log lines only after it.
    assert len(run(one + b"INFO[0000] scan time: 1 second\nWARN[0000] leaks found: 1\n")) == 1
    # A log line may start with a date.
    assert len(run(b"2021/01/02 03:04:05 opening .\n" + one)) == 1


def test_v7_verbose_stdout_with_log_lines_errors_say_where():
    one = load("real_committed_strowi_ci_templates_v7_verbose_stdout.json")
    with pytest.raises(ImportFormatError) as exc:
        run(b"INFO[0000] opening .\n" + one + one[: len(one) // 2])
    assert "malformed or truncated JSON" in exc.value.message
    assert exc.value.location == "line 18 (after object 1)"
    # JSON between the findings is not a log line.
    for junk in (b"[1, 2]\n", b"42\n", b'"offender": "x"\n', b"},\n"):
        with pytest.raises(ImportFormatError, match="found other JSON") as exc:
            run(b"INFO[0000] opening .\n" + one + junk)
        assert exc.value.location == "line 18 (object 2)"
    # The first object must be a finding, whatever the log lines around it.
    with pytest.raises(ImportFormatError, match="JSON array of gitleaks findings"):
        run(b'INFO[0000] opening .\n{\n  "findings": [],\n  "offender": 1\n}\n')
    bad_unicode = one.replace(b'"author": "Daniel Kolb"', b'"author": "\\udc80"')
    with pytest.raises(ImportFormatError, match="surrogate"):
        run(b"INFO[0000] opening .\n" + bad_unicode)


def test_real_v1_verbose_stdout_reason_and_string():
    """gitleaks v1 (2018) --verbose: a log line, then an object keyed "reason"/"string"."""
    (obs,) = run(load("real_gitleaks_issue65_v1_verbose_stdout.txt"))
    assert obs.rule == "AWS"
    assert obs.secret_type == "aws-access-key"
    assert obs.secret_value == "AKIALALEMEL33243OLIA"  # gitleaks' own test key
    assert obs.references[0].value == "AKIALALEMEL33243OLIA"
    assert obs.repo == "https://github.com/zricethezav/gitleaks"
    assert (obs.path, obs.line) == ("checks_test.go", None)
    assert obs.commit == "fe977ea8577b739c34a0071ba34e98cf6b6fad38"
    assert obs.author == "Zachary Rice"
    assert obs.committed_at == datetime(2018, 3, 10, 19, 34, 57, tzinfo=UTC)
    # "line" and "commitMsg" are never read.
    assert_no_leak([obs], ["doChecks", "external-regex"])
    # The same objects in an array (v1's report file) read the same.
    body = load("real_gitleaks_issue65_v1_verbose_stdout.txt").split(b"\n", 1)[1]
    (again,) = run(b"[" + body + b"]")
    assert again == obs


def test_junit_and_other_xml_is_refused_with_a_clear_error():
    junit = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n'
        b'\t<testsuite failures="1" name="gitleaks" tests="1">\n'
        b'\t\t<testcase classname="test-rule" file="auth.py" name="test-rule has detected '
        b'a secret in file auth.py, line 1, at commit 0000000000000000.">\n'
        b'\t\t\t<failure message="test-rule has detected a secret" type="test-rule">'
        b"{}</failure>\n\t\t</testcase>\n\t</testsuite>\n</testsuites>\n"
    )
    with pytest.raises(ImportFormatError) as exc:
        run(junit)
    assert "XML" in exc.value.message and "--report-format json" in exc.value.message
    assert exc.value.location == "byte 0"
    with pytest.raises(ImportFormatError, match="XML"):
        run(b"\xef\xbb\xbf  <testsuites/>")


def test_tool_gitleaks_8_30_1_stdin_scan_has_no_file():
    """`gitleaks stdin`: no file, commit or author; the fingerprint is ":rule:line"."""
    items = run(load("tool_gitleaks_8_30_1_stdin.json"))
    assert [(o.rule, o.secret_type, o.line) for o in items] == [
        ("github-pat", "github-token", 3),
        ("aws-access-token", "aws-access-key", 1),
        ("generic-api-key", "api-key", 2),
    ]
    for obs in items:
        assert (obs.repo, obs.path, obs.commit, obs.author, obs.url) == ("", "", "", "", "")
        assert obs.committed_at is None
        assert obs.tool_ids == {"fingerprint": f":{obs.rule}:{obs.line}"}
    assert items[1].references[0].value == "AKIAZQ3FAKEK7XH2NQWE"
    # The generic rule's Match holds the variable name: only the Secret is the value.
    assert items[2].secret_value == "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"
    assert_no_leak(items, [o.secret_value for o in items])


def test_tool_gitleaks_8_30_1_dir_scan_with_a_decoded_base64_finding():
    """`gitleaks dir`: paths as given on the command line (with a space), no commit; a
    private key whose base64 body decodes to another key-looking text is reported twice
    (Tags decoded:base64), with the same fingerprint but another Secret."""
    items = run(load("tool_gitleaks_8_30_1_dir_decoded_base64.json"))
    assert [(o.rule, o.path, o.line) for o in items] == [
        ("aws-access-token", "repo/config/settings.py", 1),
        ("generic-api-key", "repo/config/settings.py", 2),
        ("private-key", "repo/id_rsa", 1),
        ("private-key", "repo/id_rsa", 1),
        ("github-pat", "repo/sub dir/.env", 1),
    ]
    key, decoded = items[2], items[3]
    assert key.secret_type == decoded.secret_type == "private-key"
    assert key.secret_value.startswith("-----BEGIN RSA PRIVATE KEY-----\nMIIE")
    assert decoded.secret_value != key.secret_value
    assert key.tool_ids == decoded.tool_ids == {"fingerprint": "repo/id_rsa:private-key:1"}
    assert all(o.commit == "" and o.repo == "" for o in items)
    assert_no_leak(items, [o.secret_value for o in items])


def test_tool_gitleaks_8_30_1_junit_and_verbose_console_are_refused():
    with pytest.raises(ImportFormatError, match="junit") as exc:
        run(load("gitleaks_8_30_1_git_junit.xml"))
    assert exc.value.location == "byte 0"
    # What `gitleaks git -v` prints (the values are our scratch repository's fakes).
    console = (
        b"Finding:     GITHUB_TOKEN=ghp_R4nd0mFak3T0k3nV4lu3F0rT3st1ngAbCd12\n"
        b"Secret:      ghp_R4nd0mFak3T0k3nV4lu3F0rT3st1ngAbCd12\n"
        b"RuleID:      github-pat\nEntropy:     4.534184\nFile:        sub dir/.env\n"
        b"Line:        1\nFingerprint: 2165564f:sub dir/.env:github-pat:1\n\n"
    )
    for text in (console, b"\x1b[90m12:50PM\x1b[0m INF 1 commits scanned.\n" + console):
        with pytest.raises(ImportFormatError, match="--verbose console output") as exc:
            run(text)
        assert "ghp_" not in str(exc.value)


def test_verbose_stdout_cut_in_an_escaped_line_fails_where_it_was_cut():
    # A saved stdout cut off inside a finding's "line" holding minified JSON: brackets inside
    # the (unterminated) string don't count, and reading it is linear (a string regex restarted
    # at each escaped quote took minutes on a few hundred KB).
    first = b'log line\n{\n  "offender": "x",\n  "rule": "r"\n}\n'
    cut = b'{\n "rule": "r",\n "line": "' + b'{\\"k\\":\\"vvvvvvv\\",' * 40_000
    err = _bad(first + cut)
    assert err.location == "line 6 (after object 1)"
    assert "malformed or truncated JSON" in err.message


def test_verbose_stdout_after_many_log_lines():
    # The format is told from the first 64 KB: 40 KB of clone and scan log lines first.
    logs = b"".join(
        b'time="2021-03-04T10:00:%02dZ" level=info msg="cloning... %d"\n' % (i % 60, i)
        for i in range(700)
    )
    assert 30_000 < len(logs) < 60_000
    finding = b'{\n\t"line": "k = 1",\n\t"offender": "REDACTED",\n\t"rule": "AWS",\n'
    finding += b'\t"file": "a.py",\n\t"lineNumber": 3\n}\n'
    (obs,) = run(logs + finding)
    assert (obs.rule, obs.path, obs.line, obs.secret_value) == ("AWS", "a.py", 3, None)


def test_real_v7_header_only_private_keys_are_each_their_place():
    """gitleaks v7's "Asymmetric Private Key" matched only the PEM header: a header is no key,
    and as a value it made every key found one secret."""
    items = run(load("real_webgoat_v7_header_only_private_keys.json"))
    keys = [obs for obs in items if obs.rule == "Asymmetric Private Key"]
    assert len(keys) == 3 and len({(obs.path, obs.line) for obs in keys}) == 3
    for obs in keys:
        assert obs.secret_type == "private-key"
        assert obs.secret_value is None and obs.redacted == ""
    aws = [obs for obs in items if obs.rule == "AWS Access Key"]
    assert [obs.secret_value for obs in aws] == ["AKIAJQLKPGHXRH2AH5QA"] * 2


def test_real_v4_file_rule_offender_is_no_value():
    (obs,) = run(load("real_issue351_v4_file_rule.json"))
    assert obs.rule == "PEM Files"
    assert obs.secret_value is None and obs.redacted == ""
    assert obs.path == "sonar-project.properties" and obs.line is None


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ("generic-api-key", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "github-token"),
        ("generic-api-key", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"),
        ("generic-api-key", "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "api-key"),
        ("aws-access-token", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "aws-access-key"),
    ],
)
def test_a_generic_rule_yields_to_the_values_prefix(rule, value, expected):
    (obs,) = run(json.dumps([{"RuleID": rule, "Secret": value, "File": "f"}]).encode())
    assert obs.secret_type == expected


@pytest.mark.parametrize(
    ("rule", "description", "secret", "expected"),
    [
        # gitleaks v8's first Slack webhook rule (config/gitleaks.toml of early v8), --redact.
        ("slack-web-hook", "Slack Webhook", "REDACTED", "chat-webhook"),
        # Current config/gitleaks.toml rules whose words mislead the generic guess.
        (
            "yandex-aws-access-token",
            "Yandex AWS Access Token",
            "YC" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7d",
            "api-key",
        ),
        ("mailgun-signing-key", "Mailgun webhook signing key", "REDACTED", "api-key"),
        (
            "1password-secret-key",
            "Uncovered a possible 1Password secret key",
            "REDACTED",
            "generic-secret",
        ),
    ],
)
def test_rules_whose_words_mislead_the_guess(rule, description, secret, expected):
    finding = {"RuleID": rule, "Description": description, "Secret": secret, "File": "a.env"}
    (obs,) = run(json.dumps([finding]).encode())
    assert obs.secret_type == expected
    assert obs.references == []  # a Yandex key is no AWS key id


EARLY_V8 = "real_committed_paulstakem_v8_early_precommit_verbose_redact.txt"


def test_real_early_v8_verbose_stdout_with_redact():
    """gitleaks' first v8 releases printed each finding with json.MarshalIndent(f, "", "\\t")
    and redacted the secret as "REDACT": a pre-commit hook's output, saved whole (pre-commit's
    "[INFO] ..." lines, the banner, zerolog lines after the findings)."""
    items = run(load(EARLY_V8))
    assert [(o.path, o.line) for o in items] == [
        ("terraform/lambda.tf", 44),
        ("terraform/providers.tf", 10),
        ("terraform/ec2.tf", 15),
    ]
    for obs in items:
        assert (obs.rule, obs.secret_type, obs.title) == (
            "aws-access-token",
            "aws-access-key",
            "AWS",
        )
        # "REDACT" is no value: as one, it made these three keys one secret.
        assert (obs.secret_value, obs.redacted) == (None, "REDACT")
        assert obs.references == []
        assert (obs.commit, obs.author, obs.committed_at) == ("", "", None)  # Go's zero date


def test_early_v8_redact_in_a_json_report_is_no_value():
    """The same findings as the JSON report (--report-format json) writes them."""
    text = load(EARLY_V8).decode()
    objects = [json.loads("{" + part.split("}")[0] + "}") for part in text.split("{")[1:]]
    items = run(json.dumps(objects).encode())
    assert [(o.secret_value, o.redacted) for o in items] == [(None, "REDACT")] * 3
    csv_report = (
        "RuleID,Commit,File,Secret,Match,StartLine,EndLine,StartColumn,EndColumn,Author,"
        "Message,Date,Email,Fingerprint\n"
        "aws-access-token,,terraform/ec2.tf,REDACT,REDACTED,15,15,27,46,,,,,\n"
    )
    (obs,) = run(csv_report.encode())
    assert (obs.secret_value, obs.redacted) == (None, "REDACT")


def test_a_symlinked_file_is_placed_where_it_was_scanned():
    """gitleaks dir --follow-symlinks (sources/directory.go): File is the link's target, as
    filepath.EvalSymlinks gives it, SymlinkFile the path walked. gitleaks' SARIF (whose uri
    the sarif importer reads) writes SymlinkFile: both imports give one place."""
    finding = {
        "RuleID": "generic-api-key",
        "Secret": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "File": "/home/dev/shared/app.env",
        "SymlinkFile": "config/app.env",
        "StartLine": 3,
    }
    (obs,) = run(json.dumps([finding]).encode())
    assert (obs.path, obs.line) == ("config/app.env", 3)
    (plain,) = run(json.dumps([dict(finding, SymlinkFile="")]).encode())
    assert plain.path == "/home/dev/shared/app.env"
