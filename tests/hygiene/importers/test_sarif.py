"""SARIF 2.1.0 from gitleaks, Nosey Parker, ggshield, Semgrep and unknown tools."""

import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers import get_parser
from hygiene.importers.base import ImportFormatError, Observation
from hygiene.importers.sarif import parse
from hygiene.taxonomy import DEFAULT_SEVERITY, SecretType

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HERE = FIXTURES / "sarif"
SIMPLE = HERE / "sarif_simple.sarif"
GITLEAKS = HERE / "generated_gitleaks_v8.sarif"
REDACTED = HERE / "generated_gitleaks_redacted.sarif"
NOSEYPARKER = HERE / "generated_noseyparker.sarif"
GGSHIELD = HERE / "generated_ggshield.sarif"
SEMGREP = HERE / "generated_semgrep.sarif"
STRIPE = "sk_live_51HfakeFAKEfakeFAKEfake0000"


def run(data: bytes | str) -> list:
    if isinstance(data, str):
        data = data.encode()
    return list(parse(io.BytesIO(data)))


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
                # An AWS access key id is an identifier (AWS says so): the one reference kind
                # allowed to repeat the value, so that rotation events can be matched to it.
                if not (ref.kind == "aws-access-key-id" and ref.value == obs.secret_value):
                    yield f.name, f"{ref.kind} {ref.value}"


def assert_secret_only_in_value(items, secrets=()):
    for obs in items:
        candidates = [s for s in (obs.secret_value, *secrets) if s]
        for name, text in texts_of(obs):
            for secret in candidates:
                assert secret not in text, f"secret leaked into {name}"


def test_gitleaks_sample():
    (obs,) = list(get_parser("sarif")(SIMPLE.open("rb")))
    assert obs.rule == "test-rule"
    assert obs.secret_type == "generic-secret"
    assert obs.secret_value == "a secret"  # region.snippet.text is gitleaks' Secret
    assert (obs.path, obs.line) == ("auth.py", 1)
    assert obs.commit == ""  # zeros: gitleaks scanned files, not history
    assert obs.author == "John Doe <johndoe@gmail.com>"
    assert obs.committed_at == datetime(2003, 10, 19, tzinfo=UTC)
    assert obs.severity is None
    assert obs.title == "test-rule"
    assert "has detected secret" not in obs.description  # message text is never kept
    assert_secret_only_in_value([obs])


def test_gitleaks_v8_generated():
    items = run(GITLEAKS.read_bytes())
    assert [(o.rule, o.secret_type) for o in items] == [
        ("aws-access-token", "aws-access-key"),
        ("generic-api-key", "api-key"),
    ]
    aws, generic = items
    assert aws.secret_value == "AKIAQ3EGRXTF5EXAMPLE"
    assert aws.commit == "8b1f0e2d4c6a8e0f2b4d6f8a0c2e4a6c8e0f2b4d"
    assert aws.committed_at == datetime(2024, 1, 15, 10, 4, 11, tzinfo=UTC)
    assert aws.title.startswith("Identified a pattern that may indicate AWS credentials")
    assert (generic.path, generic.line) == ("app/settings.py", 22)
    assert_secret_only_in_value(items)


def test_gitleaks_redacted_report_keeps_redacted_form_only():
    (obs,) = run(REDACTED.read_bytes())
    assert obs.secret_value is None
    assert obs.redacted == "REDACTED"
    assert obs.secret_type == "github-token"
    assert obs.commit == "" and obs.author == "" and obs.committed_at is None


def test_gitleaks_v7_offender_property():
    doc = json.loads(SIMPLE.read_text())
    result = doc["runs"][0]["results"][0]
    result["properties"]["offender"] = "AKIAIOSFODNN7EXAMPLE"
    result["locations"][0]["physicalLocation"]["region"]["snippet"]["text"] = (
        "aws_key = AKIAIOSFODNN7EXAMPLE"
    )
    (obs,) = run(json.dumps(doc))
    assert obs.secret_value == "AKIAIOSFODNN7EXAMPLE"
    assert obs.secret_type == "aws-access-key"  # from the value's shape
    assert_secret_only_in_value([obs], ["aws_key ="])


def test_noseyparker_sarif():
    (obs,) = run(NOSEYPARKER.read_bytes())
    assert obs.rule == "GitHub Personal Access Token"
    assert obs.title == "GitHub Personal Access Token"  # not the regex
    assert obs.secret_type == "github-token"
    assert obs.secret_value == "ghp_N0s3yP4rk3rF4k3T0k3nF0rT3st1ng12"
    assert obs.repo == "/src/webapp/.git"
    assert (obs.path, obs.line) == ("config/app.env", 3)
    assert obs.commit == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4"
    assert obs.author == "Ana Ruiz <ana@example.com>"
    assert obs.committed_at == datetime.fromtimestamp(1700000000, tz=UTC)
    assert obs.severity is None  # its fixed level "warning" is no severity: the type's
    assert obs.tool_ids["blob_id"] == "6a1f3e5c7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a"
    assert_secret_only_in_value([obs])


def test_ggshield_sarif_has_no_value():
    (obs,) = run(GGSHIELD.read_bytes())
    assert obs.rule == "Slack Bot Token"
    assert obs.secret_type == "slack-token"
    assert obs.secret_value is None
    assert obs.validity == "valid"
    assert obs.severity == "high"  # level "error"
    assert obs.url == "https://dashboard.gitguardian.com/workspace/1234/incidents/98765"
    assert "secret/v1" not in obs.tool_ids  # ggshield's unkeyed hash of the value
    assert (obs.path, obs.line) == ("bots/alerts.py", 5)


def test_semgrep_message_and_line_never_stored():
    items = run(SEMGREP.read_bytes())
    assert len(items) == 2
    first, suppressed = items
    assert first.secret_value is None  # the snippet is a source line, not the value
    assert first.secret_type == "stripe-key"
    assert first.severity == "high"  # security-severity 7.5
    assert first.description == "Stripe API Key detected"
    # A digest of the matched line (it holds the secret): checkable against guesses.
    assert "fingerprint:matchBasedId/v1" not in first.tool_ids
    assert suppressed.tool_resolution == "accepted_risk"
    assert_secret_only_in_value(items, [STRIPE, "sk_test_fixture"])


def test_unknown_tool_single_token_snippet_is_the_value():
    doc = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "acme-secrets",
                        "rules": [
                            {
                                "id": "ACME001",
                                "name": "SlackToken",
                                "shortDescription": {"text": "Slack token"},
                            }
                        ],
                    }
                },
                "results": [
                    {
                        "ruleIndex": 0,
                        "message": {"text": "found xoxb-1111-2222-abcdefgh"},
                        "properties": {"verified": True},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "file:///src/app/bot%20config.yml"},
                                    "region": {
                                        "startLine": 2,
                                        "snippet": {"text": "xoxb-1111-2222-abcdefgh"},
                                    },
                                }
                            }
                        ],
                    },
                    {"ruleId": "ACME001", "kind": "pass", "message": {"text": "ok"}},
                ],
            }
        ],
    }
    (obs,) = run(json.dumps(doc))
    assert obs.rule == "ACME001"
    assert obs.secret_value == "xoxb-1111-2222-abcdefgh"
    assert obs.secret_type == "slack-token"
    assert obs.validity == "valid"
    assert obs.path == "/src/app/bot config.yml"
    assert obs.title == "Slack token"
    assert_secret_only_in_value([obs])


def test_results_before_tool_and_version_last():
    doc = json.loads(GITLEAKS.read_text())
    run_obj = doc["runs"][0]
    reordered = {
        "runs": [{"results": run_obj["results"], "tool": run_obj["tool"]}],
        "version": "2.1.0",
    }
    items = run(json.dumps(reordered))
    assert [o.secret_type for o in items] == ["aws-access-key", "api-key"]


def test_multiple_runs_and_version_control_provenance():
    doc = json.loads(GITLEAKS.read_text())
    second = json.loads(SIMPLE.read_text())["runs"][0]
    second["versionControlProvenance"] = [
        {"repositoryUri": "https://github.com/acme/api", "revisionId": "abc123"}
    ]
    doc["runs"].append(second)
    items = run(json.dumps(doc))
    assert len(items) == 3
    assert items[2].repo == "https://github.com/acme/api"


def test_provenance_repository_uri_loses_its_credentials():
    """Qodana (GitReportContributor) writes the remote's first URL as it is: a GitLab CI
    checkout's carries the job token (https://gitlab-ci-token:<token>@host/...)."""
    doc = json.loads(GITLEAKS.read_text())
    doc["runs"][0]["versionControlProvenance"] = [
        {
            "repositoryUri": "https://gitlab-ci-token:glcbt-64_FakeJobToken0123@gitlab.example.com/g/p.git",
            "revisionId": "abc123",
            "branch": "main",
        }
    ]
    items = run(json.dumps(doc))
    assert {o.repo for o in items} == {"https://gitlab.example.com/g/p.git"}
    assert all("FakeJobToken" not in text for o in items for _, text in texts_of(o))


def test_suppressions_and_baseline():
    doc = json.loads(GITLEAKS.read_text())
    doc["runs"][0]["results"][0]["suppressions"] = [{"kind": "external", "status": "rejected"}]
    doc["runs"][0]["results"][1]["baselineState"] = "absent"
    first, second = run(json.dumps(doc))
    assert first.tool_resolution == ""
    assert second.tool_resolution == "resolved"


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" \r\n",
        b"\x00\x01\x02",
        b"\xfe\xff\x00{",
        b"[]",
        b"{}",
        b'{"version": "2.1.0"}',
        b'{"runs": []}',
        b'{"version": "2.0.0", "runs": []}',
        b'{"version": 2.1, "runs": []}',
        b'{"version": "2.1.0", "runs": {}}',
        b'{"version": "2.1.0", "runs": [1]}',
        b'{"version": "2.1.0", "runs": [{"results": {}}]}',
        b'{"version": "2.1.0", "runs": [{"results": [1]}]}',
        b"{" * 100000,
        b'{"version": "2.1.0", "runs": [' + b"[" * 100000,
        b'{"version": "2.1.0", "runs": [{"results": [{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}]}]}",
    ],
)
def test_bad_input(data):
    with pytest.raises(ImportFormatError):
        run(data)


def test_wrong_version_message():
    with pytest.raises(ImportFormatError) as info:
        run(b'{"version": "2.0.0", "runs": []}')
    assert "$.version" in str(info.value)
    assert "2.1.0" in str(info.value)


def test_truncated_hides_secret():
    data = GITLEAKS.read_bytes()
    cut = data.index(b"AKIAQ3EGRXTF5EXAMPLE") + 10
    with pytest.raises(ImportFormatError) as info:
        run(data[:cut])
    assert "byte" in str(info.value)
    assert "AKIAQ3EG" not in str(info.value)


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES / "github-secret-scanning" / "github_secrets_detection_report_many_vul.json",
        FIXTURES / "github-secret-scanning" / "reopened.payload.json",
        FIXTURES / "gitlab-secret-detection" / "gitlab_secret_detection_report_1_vuln_v15.json",
        FIXTURES / "noseyparker" / "noseyparker_many_vul.jsonl",
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
        (lambda r: r.update(ruleId=["x"]), "$.runs[0].results[0].ruleId"),
        (lambda r: r.update(locations={}), "$.runs[0].results[0].locations"),
        (lambda r: r.update(locations=["x"]), "$.runs[0].results[0].locations[0]"),
        (
            lambda r: r["locations"][0]["physicalLocation"]["region"].update(startLine="one"),
            "$.runs[0].results[0].locations[0].physicalLocation.region.startLine",
        ),
        (
            lambda r: r["locations"][0]["physicalLocation"]["region"].update(startLine=1.5),
            "$.runs[0].results[0].locations[0].physicalLocation.region.startLine",
        ),
        (
            lambda r: r["locations"][0]["physicalLocation"]["region"]["snippet"].update(text=[1]),
            "$.runs[0].results[0].locations[0].physicalLocation.region.snippet.text",
        ),
        (lambda r: r.update(partialFingerprints=[]), "$.runs[0].results[0].partialFingerprints"),
        (lambda r: r.update(properties="x"), "$.runs[0].results[0].properties"),
        (lambda r: r.update(ruleIndex="0"), None),
        (lambda r: r.update(ruleIndex=True), "$.runs[0].results[0].ruleIndex"),
    ],
)
def test_wrong_field_types(mutate, where):
    doc = json.loads(GITLEAKS.read_text())
    mutate(doc["runs"][0]["results"][0])
    if where is None:
        run(json.dumps(doc))
        return
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(doc))
    assert where in str(info.value)
    assert "AKIAQ3EGRXTF5EXAMPLE" not in str(info.value)


def test_wrong_tool_types():
    doc = json.loads(GITLEAKS.read_text())
    doc["runs"][0]["tool"]["driver"]["rules"] = {"id": "x"}
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(doc))
    assert "$.runs[0].tool.driver.rules" in str(info.value)


# --- real reports (tests/fixtures/README.md says where each comes from) -------------------

GITLEAKS_V7 = HERE / "real_defectdojo_gitleaks_7.4.0.sarif"


def test_real_gitleaks_v7_sarif_without_rule_ids():
    aws, key, aws_again = run(GITLEAKS_V7.read_bytes())
    # v7 writes no ruleId; the rule comes from the driver's list, named in the message.
    assert (aws.rule, aws.title, aws.secret_type) == (
        "AWS Access Key",
        "AWS Access Key",
        "aws-access-key",
    )
    assert (key.rule, key.secret_type) == ("Asymmetric Private Key", "private-key")
    assert aws.secret_value == aws_again.secret_value == "AKIAIOSFODNN7EXAMPLE"  # the offender
    assert key.secret_value == "-----BEGIN OPENSSH PRIVATE KEY-----"
    assert aws.repo == ""  # "." is the scanned work tree
    assert aws.path == (
        "dojo/unittests/scans/gitlab_secret_detection_report/gitlab_secret_detection_report_1_vuln.json"
    )
    assert aws.line == 13
    assert aws.commit == "6d127980966808f7413935678e079dcd7fedf9c2"
    assert aws.author == "Bhurinat Wangsutthitham <nate.bwangsut@gmail.com>"
    assert aws.committed_at == datetime(2021, 7, 15, 15, 0, 32, tzinfo=UTC)
    assert aws_again.author == "Cody Maffucci <46459665+Maffooch@users.noreply.github.com>"
    for obs in (aws, key, aws_again):
        for _, text in texts_of(obs):
            assert obs.secret_value not in text
            assert "raw_source_code_extract" not in text and "Flake8" not in text


BETTERLEAKS = HERE / "real_betterleaks_sarif_simple.sarif"


def test_real_betterleaks_sarif_snippet_is_the_secret_as_in_gitleaks():
    # betterleaks (a gitleaks fork) writes gitleaks' SARIF under its own driver name: the
    # snippet is the secret, also when it is not one token ("a secret").
    (obs,) = run(BETTERLEAKS.read_bytes())
    assert (obs.rule, obs.secret_value, obs.redacted) == ("test-rule", "a secret", "")
    assert (obs.path, obs.line, obs.commit) == ("auth.py", 1, "")
    assert obs.author == "John Doe <johndoe@gmail.com>"
    assert obs.committed_at == datetime(2003, 10, 19, tzinfo=UTC)
    assert_secret_only_in_value([obs])
    # With --redact the snippet is the mask: kept as the redacted form, no value.
    redacted = BETTERLEAKS.read_text().replace('"text": "a secret"', '"text": "REDACTED"')
    (obs,) = run(redacted)
    assert (obs.secret_value, obs.redacted) == (None, "REDACTED")


def test_trufflehog_sarif_snippet_is_the_redacted_form_not_the_value():
    # pkg/output/sarif.go: the snippet is the result's Redacted form, never Raw.
    log = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "TruffleHog", "rules": [{"id": "URI", "name": "URI"}]}},
                "results": [
                    {
                        "ruleId": "URI",
                        "level": "error",
                        "message": {"text": "Found verified URI result for detector URI."},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "main.go"},
                                    "region": {
                                        "startLine": 10,
                                        "snippet": {"text": "https://admin:********@example.com"},
                                    },
                                }
                            }
                        ],
                        "partialFingerprints": {"trufflehogFingerprint/v1": "ab12"},
                    },
                    {
                        "ruleId": "AWS",
                        "level": "warning",
                        "message": {"text": "Found unverified AWS result for detector AWS."},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "config.json"},
                                    "region": {
                                        "startLine": 25,
                                        "snippet": {"text": "AKIAYVP4CIPPERUVIFXG"},
                                    },
                                }
                            }
                        ],
                    },
                ],
            }
        ],
    }
    uri, aws = run(json.dumps(log))
    assert uri.secret_value is None and aws.secret_value is None
    assert (uri.path, uri.line, uri.severity) == ("main.go", 10, "high")
    assert uri.tool_ids["trufflehogFingerprint/v1"] == "ab12"
    assert aws.redacted == ""  # a whole key id is no redacted form


SPMI_AWS = HERE / "real_spmi_sec101_008_aws_credentials.sarif"
SPMI_SLACK = HERE / "real_spmi_sec101_012_slack_webhook.sarif"


def test_real_sarif_pattern_matcher_fingerprints_that_spell_the_secret_are_not_kept():
    # Microsoft's SARIF Pattern Matcher: the snippet is the secret, and two fingerprints spell
    # it out ({"secret": ...}); its rule names are CamelCase ("DoNotExposePlaintextSecrets/...").
    first, second = run(SPMI_AWS.read_bytes())
    assert first.rule == "SEC101/008"
    assert first.secret_value == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert second.secret_value == "xJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert first.secret_type == "aws-secret-key"  # "AwsCredentials" + a 40-character secret
    assert first.path.endswith("Inputs/SEC101_008.AwsCredentials.ps1")
    assert (first.line, second.line) == (14, 18)
    assert first.title == "DoNotExposePlaintextSecrets/AwsCredentials"
    # The asset fingerprint names the key id: not kept as a tool id (a key id is often the
    # very value a scanner reports), but as the reference that matches rotation events to
    # the leaked secret.
    # Nor the hashes of the value (SecretHashSha256, ValidationFingerprintHashSha256).
    assert first.tool_ids == {}
    assert not any("AKIA" in v for v in first.tool_ids.values())
    assert [(r.kind, r.value) for r in first.references] == [
        ("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE")
    ]
    assert_secret_only_in_value([first, second])

    (slack,) = run(SPMI_SLACK.read_bytes())
    assert slack.secret_value == "B0123456789/deedbeefdeaffeeddeadbeef"
    assert slack.secret_type == "chat-webhook"
    assert slack.severity == "low"  # level "note"
    assert "fingerprint:ValidationFingerprint/v1" not in slack.tool_ids  # [secret=...]
    assert slack.tool_ids["fingerprint:AssetFingerprint/v1"] == "[id=T01JYS3KLKU][platform=Slack]"
    assert_secret_only_in_value([slack])


def test_pattern_matcher_without_snippet_takes_the_value_from_its_fingerprint():
    doc = json.loads(SPMI_SLACK.read_text())
    result = doc["runs"][0]["results"][0]
    del result["locations"][0]["physicalLocation"]["region"]["snippet"]
    (obs,) = run(json.dumps(doc))
    assert obs.secret_value == "B0123456789/deedbeefdeaffeeddeadbeef"
    assert_secret_only_in_value([obs])


TRIVY = HERE / "real_trivy_0_51_2_vuln_and_secret.sarif"


def test_real_trivy_log_gives_its_secrets_not_its_vulnerabilities():
    # Trivy writes vulnerabilities, misconfigurations and secrets in one run; its rules' tags
    # say which is which. The CVE is no leaked secret.
    (obs,) = run(TRIVY.read_bytes())
    assert (obs.rule, obs.secret_type) == ("github-pat", "github-token")
    assert obs.title == "GitHub Personal Access Token"
    assert (obs.path, obs.line) == ("app/config.yaml", 7)
    assert obs.severity == "critical"  # security-severity 9.5
    assert obs.secret_value is None  # Trivy masks the match
    assert obs.description == ""  # its fullDescription is the matched line
    # A Trivy scan that found vulnerabilities and no secret is a clean secret scan.
    doc = json.loads(TRIVY.read_text())
    doc["runs"][0]["results"] = doc["runs"][0]["results"][:1]
    assert run(json.dumps(doc)) == []


@pytest.mark.parametrize(
    ("rule", "title", "expected"),
    [
        # Trivy's builtin secret rules (pkg/fanal/secret/builtin-rules.go): id and Title.
        ("slack-web-hook", "Slack Webhook", "chat-webhook"),
        ("mailgun-signing-key", "Mailgun webhook signing key", "api-key"),
        # gitleaks' (config/gitleaks.toml), as its SARIF names them.
        ("yandex-aws-access-token", "Yandex AWS Access Token", "api-key"),
        ("1password-service-account-token", "Uncovered a possible 1Password token", "api-key"),
    ],
)
def test_trivy_and_gitleaks_rules_whose_words_mislead_the_guess(rule, title, expected):
    doc = json.loads(TRIVY.read_text())
    run_ = doc["runs"][0]
    run_["tool"]["driver"]["rules"][1].update(id=rule, shortDescription={"text": title})
    run_["results"][1]["ruleId"] = rule
    (obs,) = run(json.dumps(doc))
    assert (obs.rule, obs.secret_type) == (rule, expected)


def test_early_gitleaks_v8_redact_snippet_is_no_value():
    """gitleaks' first v8 releases redacted the secret as "REDACT", and the SARIF snippet is
    the secret: not a value, which would make every redacted finding one secret."""
    doc = json.loads(GITLEAKS_CI.read_text())
    result = doc["runs"][0]["results"][0]
    result["locations"][0]["physicalLocation"]["region"]["snippet"]["text"] = "REDACT"
    doc["runs"][0]["results"].append(json.loads(json.dumps(result)))
    doc["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]["startLine"] = 9
    items = run(json.dumps(doc))
    assert [(o.secret_value, o.redacted, o.line) for o in items] == [
        (None, "REDACT", 7),
        (None, "REDACT", 9),
    ]


GITLEAKS_CI = HERE / "real_gitleaks_8_ci_redacted_custom_rules.sarif"


def test_real_gitleaks_ci_sarif_with_custom_rules_and_redact():
    # A CI run with its own rules list (regexes as descriptions) and --redact: the result's rule
    # is not in the driver's list, the snippet is REDACTED, the commit message is not kept.
    (obs,) = run(GITLEAKS_CI.read_bytes())
    assert (obs.rule, obs.title, obs.secret_type) == ("github-pat", "github-pat", "github-token")
    assert (obs.secret_value, obs.redacted) == (None, "REDACTED")
    assert (obs.path, obs.line) == ("app/config.yaml", 7)
    assert obs.commit == "0988ecc87aafa2677c6669fad3f03f15f0eb83f4"
    assert obs.author == "Dariya Nalimova <117597862+darliiin@users.noreply.github.com>"
    assert obs.committed_at == datetime(2024, 7, 5, 6, 48, 12, tzinfo=UTC)
    assert obs.tool_ids == {}
    assert all("Update config.yaml" not in text for _, text in texts_of(obs))


DOCKLE = HERE / "real_defectdojo_dockle_0_3_15.sarif"


def test_real_dockle_log_gives_only_its_credential_check():
    # Dockle is an image linter: of its four checks only "Do not store credential in
    # ENVIRONMENT vars/files" is about secrets. Its message names the variables: not kept.
    (obs,) = run(DOCKLE.read_bytes())
    assert (obs.rule, obs.secret_type) == ("CIS-DI-0010", "generic-password")
    assert obs.title == "Do not store credential in ENVIRONMENT vars/files"
    assert obs.severity == "high"  # level "error"
    assert (obs.secret_value, obs.path, obs.line) == (None, "", None)
    assert all("DD_ADMIN_PASSWORD" not in text for _, text in texts_of(obs))


def _log(tool: str, rules: list[dict], results: list[dict]) -> str:
    return json.dumps(
        {
            "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": tool, "rules": rules}}, "results": results}],
        }
    )


def _result(rule_id: str, uri: str = "app.py", snippet: str = "") -> dict:
    region: dict = {"startLine": 3}
    if snippet:
        region["snippet"] = {"text": snippet}
    return {
        "ruleId": rule_id,
        "level": "error",
        "message": {"text": "found"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}],
    }


def test_a_log_from_no_secret_scanner_is_refused_clearly():
    log = _log(
        "SpotBugs",
        [
            {"id": "py/sql-injection", "name": "SqlInjection", "shortDescription": {"text": "SQL"}},
            {"id": "py/path-injection", "shortDescription": {"text": "Uncontrolled path"}},
        ],
        [
            _result("py/sql-injection", snippet="cursor.execute(query)"),
            _result("py/path-injection"),
        ],
    )
    with pytest.raises(ImportFormatError) as info:
        run(log)
    assert "none of the 2 results" in str(info.value)
    assert "not from a secret scanner" in str(info.value)
    assert "execute" not in str(info.value)


def test_codeql_hard_coded_credentials_kept_and_other_queries_skipped():
    log = _log(
        "CodeQL",
        [
            {
                "id": "js/hardcoded-credentials",
                "name": "js/hardcoded-credentials",
                "shortDescription": {"text": "Hard-coded credentials"},
                "properties": {"tags": ["security", "external/cwe/cwe-798"]},
            },
            {"id": "js/sql-injection", "shortDescription": {"text": "Database query built from"}},
        ],
        [_result("js/sql-injection"), _result("js/hardcoded-credentials", "src/db.js")],
    )
    (obs,) = run(log)
    assert (obs.rule, obs.path, obs.secret_value) == ("js/hardcoded-credentials", "src/db.js", None)
    # Only CodeQL's SAST queries: nothing to import, but no error (it can find secrets).
    assert (
        run(log.replace('"js/hardcoded-credentials", "level"', '"js/sql-injection", "level"')) == []
    )


def test_checkov_secret_check_masked_snippet_and_secret_store_posture():
    log = _log(
        "Checkov",
        [
            {"id": "CKV_SECRET_2", "name": "AWS Access Key"},
            {
                "id": "CKV_AWS_149",
                "name": "Ensure that Secrets Manager secret is encrypted using KMS CMK",
            },
            {"id": "CKV_AWS_18", "name": "Ensure the S3 bucket has access logging enabled"},
        ],
        [
            _result("CKV_SECRET_2", "main.tf", snippet='access_key = "AKIAIOSFO************"'),
            _result("CKV_SECRET_2", "vars.tf", snippet="AKIAIOSFO***********"),
            _result("CKV_AWS_149", "main.tf"),
            _result("CKV_AWS_18", "main.tf"),
        ],
    )
    first, second = run(log)
    assert (first.rule, first.secret_type, first.secret_value) == (
        "CKV_SECRET_2",
        "aws-access-key",
        None,
    )
    assert second.secret_value is None  # a masked key is not the key
    assert all("AKIAIOSFO" not in text for o in (first, second) for _, text in texts_of(o))


def test_checks_of_how_passwords_are_set_or_kept_are_no_leaks():
    """A password policy's minimum length, a weak password hash: about passwords, not leaks."""
    log = _log(
        "Checkov",
        [
            {
                "id": "CKV_AWS_10",
                "name": "Ensure IAM password policy requires minimum length of 14 or greater",
            },
            {"id": "CKV_SECRET_6", "name": "Base64 High Entropy String"},
        ],
        [_result("CKV_AWS_10", "iam.tf"), _result("CKV_SECRET_6", "app.env")],
    )
    assert [o.rule for o in run(log)] == ["CKV_SECRET_6"]
    codeql = _log(
        "CodeQL",
        [
            {
                "id": "js/insufficient-password-hash",
                "shortDescription": {"text": "Use of password hash with insufficient effort"},
            },
            {
                "id": "js/hardcoded-credentials",
                "shortDescription": {"text": "Hard-coded credentials"},
            },
        ],
        [_result("js/insufficient-password-hash"), _result("js/hardcoded-credentials")],
    )
    assert [o.rule for o in run(codeql)] == ["js/hardcoded-credentials"]


def _kingfisher(location_properties: dict) -> bytes:
    return json.dumps(
        {
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {"driver": {"name": "kingfisher", "rules": []}},
                    "results": [
                        {
                            "ruleId": "kingfisher.github.1",
                            "message": {"text": "GITHUB => [KINGFISHER.GITHUB.1] matched a.env"},
                            "locations": [
                                {
                                    "physicalLocation": {
                                        "artifactLocation": {"uri": "a.env"},
                                        "region": {"startLine": 3, "snippet": {"text": GHP}},
                                    },
                                    "properties": location_properties,
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    ).encode()


GHP = "ghp_0123456789abcdefghijABCDEFGHIJ012345"


@pytest.mark.parametrize(
    ("props", "validity"),
    [
        (
            {"validation_outcome": "verified_active", "validation_status": "Active Credential"},
            "valid",
        ),
        ({"validation_outcome": "verified_inactive"}, "invalid"),
        ({"validation_status": "Inactive Credential"}, "invalid"),
        ({"validation_outcome": "not_attempted", "validation_status": "Not Attempted"}, "unknown"),
        ({"validation_outcome": "assumed"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_kingfisher_validation_on_the_location(props, validity):
    (obs,) = run(_kingfisher({**props, "validate_command": f"kingfisher validate '{GHP}'"}))
    assert obs.validity == validity and obs.secret_value == GHP
    assert_secret_only_in_value([obs], [GHP])


def test_kingfisher_git_metadata_of_a_remote_repository():
    git = {
        "repository_url": "https://github.com/acme/app",
        "commit": {
            "id": "a" * 40,
            "date": "2024-05-06",
            "committer": {"name": "CI", "email": "ci@example.com"},
            "author": {"name": "Ann", "email": "ann@example.com"},
        },
        "file": {
            "path": "a.env",
            "url": "https://github.com/acme/app/blob/" + "a" * 40 + "/a.env#L3",
        },
    }
    (obs,) = run(_kingfisher({"git_metadata": git}))
    assert (obs.repo, obs.commit, obs.author, obs.path) == (
        "https://github.com/acme/app",
        "a" * 40,
        "Ann <ann@example.com>",
        "a.env",
    )
    assert obs.url.endswith("/a.env#L3")
    assert obs.committed_at == datetime(2024, 5, 6, tzinfo=UTC)


def test_semgrep_placeholder_fingerprint_is_no_tool_id():
    log = json.loads(SEMGREP.read_text())
    for result in log["runs"][0]["results"]:
        result["fingerprints"] = {"matchBasedId/v1": "requires login"}
    items = run(json.dumps(log))
    assert items and all("fingerprint:matchBasedId/v1" not in o.tool_ids for o in items)


def test_a_fingerprint_spelling_the_value_gives_it_unless_it_is_a_lone_surrogate():
    result = _result("SEC101/008")
    result["fingerprints"] = {"SecretFingerprint/current": '{"secret":"wJalrXUtnFEMI/K7MDENG"}'}
    log = _log("Spmi", [{"id": "SEC101/008", "name": "AwsCredentials"}], [result])
    (obs,) = run(log)
    assert obs.secret_value == "wJalrXUtnFEMI/K7MDENG"
    assert obs.tool_ids == {}
    (obs,) = run(log.replace("wJalrXUtnFEMI", "\\\\ud800XUtnFEMI"))
    assert obs.secret_value is None  # no text a fingerprint could be taken of


def test_real_committed_detect_secrets_sarif_from_windows():
    """A detect-secrets SARIF run on Windows: `src\\setup.yml` URIs, no snippet, and
    partialFingerprints secret/v1 (a SHA-256 of the value, never kept)."""
    path = HERE / "real_committed_ethicalakhilesh_escrow_detect_secrets_windows.sarif"
    doc = json.loads(path.read_bytes())
    items = run(path.read_bytes())
    assert [(o.rule, o.path, o.line) for o in items] == [
        ("Secret Keyword", "java/src/Main.java", 4),
        ("AWS Access Key", "src/setup.yml", 1),
        ("AWS Access Key", "src/setup.yml", 2),
        ("Base64 High Entropy String", "src/setup.yml", 2),
        ("Secret Keyword", "src/setup.yml", 2),
        ("JSON Web Token", "venv/Lib/site-packages/PyJWT-2.6.0.dist-info/METADATA", 87),
        (
            "Private Key",
            "venv/Lib/site-packages/cryptography/hazmat/primitives/serialization/ssh.py",
            78,
        ),
    ]
    assert [o.secret_type for o in items][1:3] == ["aws-access-key", "aws-access-key"]
    assert (items[5].secret_type, items[6].secret_type) == ("jwt", "private-key")
    assert all(o.secret_value is None for o in items)
    hashes = [r["partialFingerprints"]["secret/v1"] for r in doc["runs"][0]["results"]]
    assert_secret_only_in_value(items, hashes)


def test_windows_paths_in_uris_become_slashes():
    def path_of(uri: str) -> str:
        doc = {
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {"driver": {"name": "gitleaks"}},
                    "results": [
                        {
                            "ruleId": "generic-api-key",
                            "message": {"text": "x"},
                            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
                        }
                    ],
                }
            ],
        }
        (obs,) = run(json.dumps(doc))
        return obs.path

    assert path_of("src\\conf\\app.yml") == "src/conf/app.yml"
    assert path_of("file:///C:\\work\\app.yml") == "C:/work/app.yml"  # as C:\\work\\app.yml
    assert path_of("dir/a%5Cb.txt") == "dir/a\\b.txt"  # an encoded backslash is a name's own


def test_real_committed_gitleaks_sarif_custom_rules_with_names():
    """gitleaks SARIF of a custom config: rules with a `name` and their regex as short
    description, results of a default rule the list doesn't hold, git metadata in
    partialFingerprints, the whole match as snippet when the rule has no secret group."""
    path = HERE / "real_committed_jas9reetctf_gitleaks_custom_rules_named.sarif"
    aws, pw, tu, pw_old = run(path.read_bytes())
    assert (aws.rule, aws.title, aws.secret_type) == (
        "aws-access-token",
        "aws-access-token",
        "aws-access-key",
    )
    assert aws.secret_value == "AKIAQ7FAKEKR45SAWSZ5"
    assert (aws.path, aws.line, aws.commit) == (
        "bucket_s3.py",
        10,
        "8cf4cd73a2e2f5e599735b2d9e3abfbb5a4e70ed",
    )
    assert aws.author == "jas9reetctf <jas9reet.ctf@gmail.com>"
    assert aws.committed_at == datetime(2026, 3, 15, 20, 37, 26, tzinfo=UTC)
    # The rule's name, not its regex.
    assert (pw.title, tu.title) == ("Hardcoded database password", "Internal TU API Key")
    assert pw.secret_type == "database-credential"
    assert pw.secret_value == 'pg_pass="f4kestr0ngpass1ForLLs"'
    assert tu.secret_value == "TU-API-123406588"
    assert pw_old.author == "Henri Hubert <henri.hubert@gitguardian.com>"
    assert_secret_only_in_value([aws, pw, tu, pw_old], ["f4kestr0ngpass1ForLL", "Update bucket"])


# --- gitleaks 8.30 run here, CI checkouts and SARIF's own path bases -------------------------

GL_PARTIAL = HERE / "tool_gitleaks_8_30_1_git_redact_20.sarif"
GL_WORKSPACE = HERE / "tool_gitleaks_8_30_1_dir_github_workspace.sarif"
# The fake credentials planted in the scratch repository both gitleaks runs scanned.
GL_PLANTED = {
    "aws-access-token": "AKIA5HGAZYXDOWG7M6RX",
    "generic-api-key": "fpD011RvlQCy2dsxWWHNCCI8VAhyDkjlmUoaYaLZ",
    "github-pat": "ghp_MJ5xu09kc24Qo4YXgInJMnyILA98MzEdxuVd",
    "slack-bot-token": "xoxb-866700672067-9049946257090-0fZ581jIBgb32enswFwTjT7f",
    "stripe-access-token": "sk_live_XwZ8Qz8IpCRMRz5KaeHCk7Fe",
}


def test_tool_gitleaks_partial_redaction_is_no_value():
    """`gitleaks git --redact=20`: the snippet is the first 80 % of the secret and "...". It is
    not the secret (its fingerprint would match nothing) and shows too much to keep."""
    items = run(GL_PARTIAL.read_bytes())
    assert {o.rule for o in items} == set(GL_PLANTED)
    partial = {o.rule: o for o in items}
    for obs in items:
        assert obs.secret_value is None
        assert obs.redacted == ""  # reveals more than 4 characters
        assert obs.commit == "309215f28de62c08f3068a810dad5b736140d549"
        assert obs.author == "Dana Fake <dana@example.invalid>"
        assert obs.committed_at == datetime(2025, 3, 4, 9, 11, 12, tzinfo=UTC)
    assert partial["stripe-access-token"].path == "src/pay config.rb"
    assert (partial["github-pat"].path, partial["github-pat"].line) == ("src/bot.js", 2)
    assert partial["aws-access-token"].secret_type == "aws-access-key"
    assert partial["aws-access-token"].references == []  # a partial key id is no reference
    assert partial["slack-bot-token"].secret_type == "slack-token"
    shown = [s[: round(len(s) * 0.8)] for s in GL_PLANTED.values()]
    assert_secret_only_in_value(items, [*GL_PLANTED.values(), *shown, "Add settings"])


@pytest.mark.parametrize(
    ("snippet", "redacted"),
    [("REDACTED", "REDACTED"), ("sk_l...", "sk_l..."), ("sk_live_XwZ8...", "")],
)
def test_gitleaks_redacted_forms(snippet, redacted):
    doc = json.loads(GL_PARTIAL.read_text())
    result = doc["runs"][0]["results"][0]
    result["locations"][0]["physicalLocation"]["region"]["snippet"]["text"] = snippet
    obs = run(json.dumps(doc))[0]
    assert (obs.secret_value, obs.redacted) == (None, redacted)


def test_tool_gitleaks_in_a_github_container_action_gives_repository_paths():
    """`gitleaks dir /github/workspace`, as a container step scans the checkout: the paths
    are the repository's, without the workspace directory."""
    items = run(GL_WORKSPACE.read_bytes())
    by_rule = {o.rule: o for o in items}
    assert set(by_rule) == set(GL_PLANTED)
    for rule, secret in GL_PLANTED.items():
        assert by_rule[rule].secret_value == secret
        assert by_rule[rule].commit == ""  # a directory scan: empty partialFingerprints
        assert by_rule[rule].author == ""
    assert (by_rule["aws-access-token"].path, by_rule["aws-access-token"].line) == (
        "config/settings.py",
        1,
    )
    assert by_rule["stripe-access-token"].path == "src/pay config.rb"
    assert by_rule["slack-bot-token"].secret_type == "slack-token"
    assert_secret_only_in_value(items)


def _one_location_log(uri: str, run_extra: dict | None = None, **artifact) -> dict:
    location = {"uri": uri, **artifact} if uri else dict(artifact)
    return {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "gitleaks"}},
                **(run_extra or {}),
                "results": [
                    {
                        "ruleId": "generic-api-key",
                        "message": {"text": "x"},
                        "locations": [{"physicalLocation": {"artifactLocation": location}}],
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("uri", "extra", "artifact", "path"),
    [
        # Relative to the scan root (Trivy's ROOTPATH, CodeQL's %SRCROOT%): as written.
        (
            "app/config.yaml",
            {"originalUriBaseIds": {"ROOTPATH": {"uri": "file:///github/workspace/"}}},
            {"uriBaseId": "ROOTPATH"},
            "app/config.yaml",
        ),
        # An absolute uri under the run's root: made relative to it.
        (
            "file:///home/dev/src/api/app/db.py",
            {"originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///home/dev/src/api/"}}},
            {},
            "app/db.py",
        ),
        (
            "file:///home/dev/src/api/app/db.py",
            {"originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///home/dev/src/api"}}},
            {},
            "app/db.py",
        ),
        # A base that is itself relative to the root.
        (
            "db.py",
            {
                "originalUriBaseIds": {
                    "SRC": {"uri": "app/", "uriBaseId": "ROOT"},
                    "ROOT": {"uri": "file:///work/"},
                }
            },
            {"uriBaseId": "SRC"},
            "app/db.py",
        ),
        # The file system's root is no repository's.
        (
            "file:///etc/app/db.py",
            {"originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}}},
            {},
            "/etc/app/db.py",
        ),
        # CI checkouts.
        ("/github/workspace/app/db.py", None, {}, "app/db.py"),
        ("file:///github/workspace/app/db.py", None, {}, "app/db.py"),
        ("file:///home/runner/work/api/api/app/db.py", None, {}, "app/db.py"),
        (
            "/home/runner/work/api/other/app/db.py",
            None,
            {},
            "/home/runner/work/api/other/app/db.py",
        ),
        ("D:\\a\\api\\api\\app\\db.py", None, {}, "app/db.py"),
        ("file:///D:/a/api/api/app/db.py", None, {}, "app/db.py"),
        ("/home/vsts/work/1/s/app/db.py", None, {}, "app/db.py"),
        # Anything else absolute stays so: no root to know it by.
        ("/srv/checkout/app/db.py", None, {}, "/srv/checkout/app/db.py"),
        # Only an artifact index: the run's artifacts[] hold the uri.
        (
            "",
            {
                "artifacts": [
                    {"location": {"uri": "other.py"}},
                    {"location": {"uri": "/github/workspace/app/db.py"}},
                ]
            },
            {"index": 1},
            "app/db.py",
        ),
    ],
)
def test_paths_relative_to_the_repository(uri, extra, artifact, path):
    (obs,) = run(json.dumps(_one_location_log(uri, extra, **artifact)))
    assert obs.path == path


class _Unseekable(io.RawIOBase):
    """An upload that can be read once (a pipe)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, buffer):
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_path_bases_and_artifacts_read_in_a_single_pass():
    doc = _one_location_log(
        "",
        {
            "originalUriBaseIds": {"%SRCROOT%": {"uri": "file:///home/dev/api/"}},
            "artifacts": [{"location": {"uri": "file:///home/dev/api/db.py"}}],
        },
        index=0,
    )
    (obs,) = list(parse(_Unseekable(json.dumps(doc).encode())))
    assert obs.path == "db.py"


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"originalUriBaseIds": []}, "$.runs[0].originalUriBaseIds"),
        ({"originalUriBaseIds": {"SRC": "file:///x/"}}, "$.runs[0].originalUriBaseIds[key 0]"),
        (
            {"artifacts": [{"location": {"uri": []}}]},
            "$.runs[0].artifacts[0].location.uri",
        ),
        ({"artifacts": ["x"]}, "$.runs[0].artifacts[0]"),
    ],
)
def test_bad_path_bases(extra, where):
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(_one_location_log("a.py", extra)))
    assert where in str(info.value)


def test_nosey_parker_repository_path_is_kept_whole():
    doc = json.loads(NOSEYPARKER.read_text())
    for result in doc["runs"][0]["results"]:
        for location in result["locations"]:
            artifact = location["physicalLocation"]["artifactLocation"]
            artifact["uri"] = "/github/workspace/"
    for obs in run(json.dumps(doc)):
        if obs.commit:
            assert obs.repo == "/github/workspace/"


# --- 2ms (Checkmarx) and Titus (Praetorian): SARIF as their writers build it ----------------


def _two_ms_log(source: str, snippet: str, status: str = "Valid", score: float = 8.2) -> str:
    # Checkmarx/2ms lib/reporting/sarif.go: rules with only a fullDescription, the secret as
    # snippet (the line in snippet.properties.lineContent), validationStatus and cvssScore.
    return json.dumps(
        {
            "$schema": "https://schemastore.azurewebsites.net/schemas/json/sarif-2.1.0-rtm.5.json",
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "2ms",
                            "semanticVersion": "3.9.0",
                            "rules": [
                                {
                                    "id": "private-key",
                                    "fullDescription": {"text": "Identified a Private Key"},
                                }
                            ],
                        }
                    },
                    "results": [
                        {
                            "message": {"text": "private-key has detected secret for file k."},
                            "ruleId": "private-key",
                            "locations": [
                                {
                                    "physicalLocation": {
                                        "artifactLocation": {"uri": source},
                                        "region": {
                                            "startLine": 4,
                                            "startColumn": 1,
                                            "endLine": 6,
                                            "endColumn": 30,
                                            "snippet": {
                                                "text": snippet,
                                                "properties": {"lineContent": snippet},
                                            },
                                        },
                                    }
                                }
                            ],
                            "properties": {"validationStatus": status, "cvssScore": score},
                        }
                    ],
                }
            ],
        }
    )


KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEfakeFAKEfakeFAKE0000\n-----END RSA PRIVATE KEY-----"


def test_two_ms_git_history_result():
    source = "git show 1a9f3c87b4d029f54e8c72d8b11a78f6a3c29d2e:deploy/keys/id_rsa"
    (obs,) = run(_two_ms_log(source, KEY))
    assert obs.secret_value == KEY  # a multi-line snippet is still the secret
    assert obs.secret_type == "private-key"
    assert (obs.path, obs.line) == ("deploy/keys/id_rsa", 4)
    assert obs.commit == "1a9f3c87b4d029f54e8c72d8b11a78f6a3c29d2e"
    assert obs.validity == "valid"
    assert obs.severity == "high"  # cvssScore 8.2
    assert obs.title == "private-key"
    assert obs.description == "Identified a Private Key"
    assert_secret_only_in_value([obs])


@pytest.mark.parametrize(
    ("status", "score", "validity", "severity"),
    [
        ("Invalid", 3.1, "invalid", "low"),
        ("Unknown", 9.4, "unknown", "critical"),
        ("Unknown", 0, "unknown", None),
    ],
)
def test_two_ms_validation_and_score(status, score, validity, severity):
    (obs,) = run(_two_ms_log("keys/id_rsa", KEY, status, score))
    assert (obs.path, obs.commit) == ("keys/id_rsa", "")
    assert (obs.validity, obs.severity) == (validity, severity)


def test_titus_result_severity_and_absolute_file_uri():
    # praetorian-inc/titus pkg/sarif: driver "titus", rules with name and description, results
    # with the match as snippet, an absolute path as a file:// uri, the score on the result.
    doc = {
        "$schema": "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "titus",
                        "version": "0.1.0",
                        "rules": [
                            {
                                "id": "np.github.1",
                                "name": "GitHub Personal Access Token",
                                "shortDescription": {"text": "Detects GitHub PATs"},
                            }
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": "np.github.1",
                        "level": "error",
                        "message": {"text": "GitHub Personal Access Token"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "file:///srv/app/.env"},
                                    "region": {
                                        "startLine": 3,
                                        "startColumn": 14,
                                        "endLine": 3,
                                        "endColumn": 54,
                                        "snippet": {"text": GL_PLANTED["github-pat"]},
                                    },
                                }
                            }
                        ],
                        "properties": {
                            "security-severity": "9.1",
                            "titus_score": {"Final": 91, "Base": 85},
                        },
                    }
                ],
            }
        ],
    }
    (obs,) = run(json.dumps(doc))
    assert obs.secret_value == GL_PLANTED["github-pat"]
    assert obs.secret_type == "github-token"
    assert (obs.path, obs.line) == ("/srv/app/.env", 3)
    assert obs.severity == "critical"  # the result's security-severity, over level "error"
    assert obs.title == "Detects GitHub PATs"
    assert_secret_only_in_value([obs])


# --- an unknown tool's log mixing secrets with other findings -------------------------------


def test_unknown_tool_mixing_secrets_and_other_findings_gives_only_the_secrets():
    """Decided per result: a tool nobody knows (neither a secret scanner nor a scanner that
    looks for secrets among other things) gives its results whose rule speaks of secrets or
    whose value has a credential's shape; its SQL injection and weak-hash results are not
    leaks, even with a one-word snippet."""
    rules = [
        {"id": "ACME-1", "shortDescription": {"text": "SQL injection"}},
        {"id": "ACME-2", "shortDescription": {"text": "Hard-coded password"}},
        {"id": "ACME-3", "shortDescription": {"text": "Weak hash function"}},
        {
            "id": "ACME-4",
            "shortDescription": {"text": "Outdated dependency"},
            "properties": {"tags": ["vulnerability"]},
        },
    ]
    results = [
        _result("ACME-1", "db.py", snippet="cursor.execute(query)"),
        _result("ACME-2", "settings.py", snippet='PASSWORD = "hunter2hunter2"'),
        _result("ACME-3", "crypto.py", snippet="hashlib.md5(data)"),
        _result("ACME-4", "package.json"),
        _result("ACME-3", "ci.yml", snippet=GL_PLANTED["github-pat"]),
    ]
    password, token = run(_log("AcmeScan", rules, results))
    assert (password.rule, password.path, password.secret_value) == ("ACME-2", "settings.py", None)
    assert password.secret_type == "generic-password"
    assert (token.path, token.secret_type) == ("ci.yml", "github-token")  # a token's shape
    assert token.secret_value == GL_PLANTED["github-pat"]


def test_unknown_tool_without_any_secret_is_refused():
    rules = [{"id": "ACME-1", "shortDescription": {"text": "SQL injection"}}]
    with pytest.raises(ImportFormatError) as info:
        run(_log("AcmeScan", rules, [_result("ACME-1", snippet="cursor.execute(query)")] * 3))
    assert "none of the 3 results" in str(info.value)
    assert "execute" not in str(info.value)


# --- ggshield 1.56.1's own SARIF writer (its API answers served by a local stand-in) ---------

GG_REPO = HERE / "tool_ggshield_1_56_1_repo_incident_details.sarif"
GG_WORKSPACE = HERE / "tool_ggshield_1_56_1_path_github_workspace.sarif"
GG_COMMIT = "309215f28de62c08f3068a810dad5b736140d549"


def test_tool_ggshield_commit_scan_with_incident_details():
    """`ggshield secret scan repo . --with-incident-details --format sarif`: uris are
    "commit://<sha>/<path>", no rules, the detector's name as ruleId, the incident's link,
    and the incident itself (severity, validity, status) in properties.incidentDetails."""
    aws, github, stripe = run(GG_REPO.read_bytes())
    for obs in (aws, github, stripe):
        assert obs.commit == GG_COMMIT
        assert obs.secret_value is None  # ggshield never gives the value
        assert obs.severity == "high"  # the incident's severity
        assert "secret/v1" not in obs.tool_ids  # ggshield's unkeyed hash of the value
    assert (aws.rule, aws.secret_type, aws.path) == (
        "AWS Keys",
        "aws-access-key",
        "config/settings.py",
    )
    # A commit's lines are those of its patch (the "@@" header is line 1): as ggshield says.
    assert aws.line == 2
    assert (github.path, github.secret_type) == ("src/bot.js", "github-token")
    assert stripe.path == "src/pay config.rb"
    assert aws.url == "https://dashboard.gitguardian.com/workspace/1/incidents/101"
    assert aws.tool_ids == {"incident_id": "101"}
    assert (aws.validity, aws.tool_resolution) == ("valid", "")
    assert (github.validity, github.tool_resolution) == ("invalid", "revoked")  # RESOLVED
    assert (stripe.validity, stripe.tool_resolution) == ("unknown", "used_in_tests")  # IGNORED
    hashes = ["4ca674e4dca42119d90f339d84a53430b8d618be89432320132a1b477afb31f5"]
    assert_secret_only_in_value([aws, github, stripe], [*GL_PLANTED.values(), *hashes])


def test_tool_ggshield_path_scan_in_a_github_workspace():
    """`ggshield secret scan path -r /github/workspace/src`: absolute file:// uris with
    %-escapes, made relative to the checkout."""
    github, stripe = run(GG_WORKSPACE.read_bytes())
    assert (github.path, github.line, github.commit) == ("src/bot.js", 2, "")
    assert (stripe.path, stripe.line) == ("src/pay config.rb", 1)
    assert stripe.tool_ids == {"incident_id": "103"}
    assert_secret_only_in_value([github, stripe], list(GL_PLANTED.values()))


@pytest.mark.parametrize(
    ("uri", "path", "commit", "layer"),
    [
        ("commit://staged/app/.env", "app/.env", "", ""),
        (f"commit://{GG_COMMIT}/a b/c.py", "a b/c.py", GG_COMMIT, ""),
        ("sha256:" + "ab" * 32 + ":/app/.env", "/app/.env", "", "sha256:" + "ab" * 32),
    ],
)
def test_ggshield_uris_of_commits_and_image_layers(uri, path, commit, layer):
    doc = json.loads(GG_WORKSPACE.read_text())
    result = doc["runs"][0]["results"][0]
    result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = uri
    obs = run(json.dumps(doc))[0]
    assert (obs.path, obs.commit, obs.tool_ids.get("docker_layer", "")) == (path, commit, layer)


def test_credscan_results_are_all_secret_findings():
    # Microsoft's CredScan (and tools named after it) scan for credentials only: a rule whose
    # words name no secret ("General Symmetric Key") is one all the same.
    rules = [{"id": "CSCAN-GENERAL0020", "shortDescription": {"text": "General Symmetric Key"}}]
    (obs,) = run(_log("CredScan", rules, [_result("CSCAN-GENERAL0020", "keys/app.config")]))
    assert (obs.rule, obs.path, obs.title) == (
        "CSCAN-GENERAL0020",
        "keys/app.config",
        "General Symmetric Key",
    )


def test_a_path_base_is_named_by_position_not_by_its_key():
    # The keys are input: an error never quotes them (one could be a pasted token).
    key = "ghp_" + "k" * 36
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(_one_location_log("a.py", {"originalUriBaseIds": {"A": {}, key: 1}})))
    assert info.value.location == "$.runs[0].originalUriBaseIds[key 1]"
    assert key not in str(info.value)


# --- Path bases: the most specific root, Windows drives; places in several commits ---------


def _based_path(uri: str, bases: dict[str, str], **artifact) -> str:
    extra = {"originalUriBaseIds": {key: {"uri": base} for key, base in bases.items()}}
    (obs,) = run(json.dumps(_one_location_log(uri, extra, **artifact)))
    return obs.path


NESTED = {"SRCROOT": "file:///work/", "REPOROOT": "file:///work/repo/"}


@pytest.mark.parametrize(
    ("uri", "artifact", "path"),
    [
        ("file:///work/repo/app/db.py", {}, "app/db.py"),
        ("/work/repo/app/db.py", {}, "app/db.py"),
        # Relative to the outer root, in the inner one: the same file, the same path.
        ("repo/app/db.py", {"uriBaseId": "SRCROOT"}, "app/db.py"),
        ("app/db.py", {"uriBaseId": "REPOROOT"}, "app/db.py"),
        # Only the outer root holds it; a base is a directory, not a prefix of a name.
        ("file:///work/tools/lint.py", {}, "tools/lint.py"),
        ("file:///work/repository/a.py", {}, "repository/a.py"),
        ("tools/lint.py", {"uriBaseId": "SRCROOT"}, "tools/lint.py"),
    ],
)
@pytest.mark.parametrize("order", ["outer first", "inner first"])
def test_the_most_specific_path_base_holding_a_file_wins(uri, artifact, path, order):
    bases = NESTED if order == "outer first" else dict(reversed(NESTED.items()))
    assert _based_path(uri, bases, **artifact) == path


SHARE = "file://build01/share/repo/"


@pytest.mark.parametrize(
    ("uri", "bases", "path"),
    [
        ("file:///C:/src/repo/src/App/Program.cs", {"SRCROOT": "file:///C:/src/repo/"}, None),
        ("file:///C:/src/repo/src/App/Program.cs", {"SRCROOT": "file:///c:/src/repo/"}, None),
        ("file:///c:/src/repo/src/App/Program.cs", {"SRCROOT": "file:///C:/src/repo"}, None),
        ("file:///C:/src/repo/src/App/Program.cs", {"SRCROOT": "file:///C%3A/src/repo/"}, None),
        ("file:///C%3a/src/repo/src/App/Program.cs", {"SRCROOT": "file:///C:/src/repo/"}, None),
        ("C:\\src\\repo\\src\\App\\Program.cs", {"SRCROOT": "file:///C:/src/repo/"}, None),
        ("c:\\src\\repo\\src\\App\\Program.cs", {"SRCROOT": "file:///C:/src/repo/"}, None),
        ("file:///C:/src/repo/src/App/Program.cs", {"SRCROOT": "C:\\src\\repo\\"}, None),
        ("file:///C:\\src\\repo\\src\\App\\Program.cs", {"SRCROOT": "file:///C:/src/repo/"}, None),
        ("file://C:/src/repo/src/App/Program.cs", {"SRCROOT": "file:///C:/src/repo/"}, None),
        (
            "file:///C:/src/repo/src/App/Program.cs",
            {"SRCROOT": "file:///C:/src/", "REPOROOT": "file:///C:/src/repo/"},
            None,
        ),
        # A share (UNC path), as a file uri or as Windows writes it.
        ("\\\\build01\\share\\repo\\src\\App\\Program.cs", {"R": SHARE}, None),
        ("file:////build01/share/repo/src/App/Program.cs", {"R": SHARE}, None),
        # Another drive, a drive's root (no repository's), no base: the whole path, one form.
        ("file:///D:/src/repo/a.cs", {"SRCROOT": "file:///C:/src/repo/"}, "D:/src/repo/a.cs"),
        ("file:///C:/src/a.cs", {"ROOT": "file:///C:/"}, "C:/src/a.cs"),
        ("file:///C:/src/a.cs", {"ROOT": "file:///C:"}, "C:/src/a.cs"),
        ("file:///C:/src/a.cs", {}, "C:/src/a.cs"),
        ("C:\\src\\a.cs", {}, "C:/src/a.cs"),
        ("file:///C%3A/src/a.cs", {}, "C:/src/a.cs"),
    ],
)
def test_windows_path_bases_give_the_repository_path(uri, bases, path):
    assert _based_path(uri, bases) == (path or "src/App/Program.cs")


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("file:///work/repo/src/C#/Program.cs", "src/C#/Program.cs"),  # a raw path, unescaped
        ("file:///work/repo/docs/what?.md", "docs/what?.md"),
        ("file://[build/repo/a.py", "//[build/repo/a.py"),  # no host a url parser takes
    ],
)
def test_file_uris_of_raw_paths_are_read_whole(uri, path):
    assert _based_path(uri, {"REPOROOT": "file:///work/repo/"}) == path


def test_a_relative_uri_under_a_windows_base_keeps_forward_slashes():
    bases = {"SRCROOT": "file:///C:/src/repo/"}
    assert _based_path("src\\App\\appsettings.json", bases, uriBaseId="SRCROOT") == (
        "src/App/appsettings.json"
    )


def _noseyparker_match(blob: str, commit: str, path: str, line: int) -> dict:
    """One match of a Nosey Parker finding (report/sarif_format.rs: a location per match,
    the blob and its first commit on the logical location)."""
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": "/src/webapp/.git"},
            "region": {
                "startLine": line,
                "startColumn": 12,
                "endLine": line,
                "endColumn": 52,
                "snippet": {"text": "ghp_N0s3yP4rk3rF4k3T0k3nF0rT3st1ng12"},
            },
        },
        "logicalLocations": [
            {
                "kind": "blob",
                "name": blob,
                "properties": {
                    "first_commit": {
                        "commit_metadata": {
                            "commit_id": commit,
                            "author_name": "Ana Ruiz",
                            "author_email": "ana@example.com",
                            "author_timestamp": "1700000000 +0000",
                        },
                        "blob_path": path,
                    }
                },
            }
        ],
    }


def test_one_finding_at_the_same_place_in_two_commits_gives_both():
    """config/app.env edited between two commits, the token still on line 3: two blobs, two
    matches of one Nosey Parker finding, each with its own first commit."""
    doc = json.loads(NOSEYPARKER.read_text())
    result = doc["runs"][0]["results"][0]
    first = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4"
    second = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
    result["locations"] = [
        _noseyparker_match("6a1f3e5c7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a", first, "config/app.env", 3),
        _noseyparker_match("1b3d5f7a6a1f3e5c7b9d1f3a5c7e9b1d3f5a7c9e", second, "config/app.env", 3),
        # The first match again (a second provenance of the same blob): one place, kept once.
        _noseyparker_match("6a1f3e5c7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a", first, "config/app.env", 3),
    ]
    items = run(json.dumps(doc))
    assert [(o.path, o.line, o.commit) for o in items] == [
        ("config/app.env", 3, first),
        ("config/app.env", 3, second),
    ]


def test_one_result_at_the_same_path_in_two_image_layers_gives_both():
    doc = json.loads(GG_WORKSPACE.read_text())
    result = doc["runs"][0]["results"][0]
    (location,) = result["locations"]
    layers = ["sha256:" + "ab" * 32, "sha256:" + "cd" * 32, "sha256:" + "ab" * 32]
    result["locations"] = []
    for layer in layers:
        copy = json.loads(json.dumps(location))
        copy["physicalLocation"]["artifactLocation"]["uri"] = f"{layer}:/app/.env"
        result["locations"].append(copy)
    items = [o for o in run(json.dumps(doc)) if o.rule == result["ruleId"]]
    assert [(o.path, o.tool_ids["docker_layer"]) for o in items] == [
        ("/app/.env", layers[0]),
        ("/app/.env", layers[1]),
    ]


def test_fingerprints_that_are_bare_digests_are_not_kept():
    # Snyk Code's "0" and "1" (hashes of the code around the match) and a CodeQL-style
    # "<hash>:<n>" under a name that does not say "hash": what they digest is unknown, maybe
    # the line that holds the value (an unkeyed digest a guess could be checked against).
    # Ids that name something are kept.
    uuid = "33235ab8-2535-4f12-9115-2d57f41c81f1"
    result = _result("generic-api-key", snippet="k3yV4lu3Zx9Qw2Er7Ty6Ui")
    result["fingerprints"] = {
        "0": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "1": "3de3c1ab.4773f344.1ed2b1c9.0ba5fbd8.d3c0fbf4.4b0cb9d0.b0fbe8b8.9ee5b1b3",
        "identity": "5",
        "snyk/asset/finding/v1": uuid,
    }
    result["partialFingerprints"] = {
        "lineFingerprint/v1": "c0ffee0c0ffee0c0ffee0c0ffee0c0ff:1",
        "ruleAndPath/v1": "generic-api-key:app.py",
    }
    (obs,) = run(_log("SomeScanner", [{"id": "generic-api-key"}], [result]))
    assert obs.tool_ids == {
        "fingerprint:identity": "5",
        "fingerprint:snyk/asset/finding/v1": uuid,
        "ruleAndPath/v1": "generic-api-key:app.py",
    }


CODEQL = HERE / "composed_codeql_2_12_6_js_security.sarif"


def test_codeql_security_queries_give_only_their_hard_coded_secrets():
    # CodeQL's security suite names tokens, secrets and credentials in checks that are about
    # something else (CSRF middleware, JWT verification, CORS for credentials, hard-coded data
    # run as code: each with its CWE tag); only the hard-coded credentials and the password in a
    # configuration file are leaked secrets. The rest must not open incidents.
    found = {(obs.rule, obs.secret_type) for obs in run(CODEQL.read_bytes())}
    assert found == {
        ("js/hardcoded-credentials", "generic-password"),
        ("js/password-in-configuration-file", "generic-password"),
    }
    # The values CodeQL quotes in its messages are not kept.
    assert_secret_only_in_value(run(CODEQL.read_bytes()), ["s3cr3tHunter2Value", "PLAINPW-XYZ-123"])


def test_a_rule_is_not_a_leak_for_a_word_in_its_name():
    # Without tags: the names of token and credential handling checks are no leaked secret.
    rules = [
        ("js/missing-token-validation", "Missing CSRF middleware"),
        ("cs/web/missing-token-validation", "Missing cross-site request forgery token validation"),
        ("py/jwt-missing-verification", "JWT missing secret or public key verification"),
        ("cs/empty-password-in-configuration", "Empty password in configuration file"),
        ("rb/hardcoded-data-interpreted-as-code", "Hard-coded data interpreted as code"),
        ("py/hardcoded-credentials", "Hard-coded credentials"),
    ]
    log = _code_scanner_log(
        "CodeQL", [{"id": rule, "shortDescription": {"text": name}} for rule, name in rules]
    )
    assert [obs.rule for obs in run(json.dumps(log))] == ["py/hardcoded-credentials"]
    # Snyk Code names a rule's CWEs in properties.cwe.
    log["runs"][0]["tool"]["driver"]["name"] = "SnykCode"
    log["runs"][0]["tool"]["driver"]["rules"][-1]["properties"] = {"cwe": ["CWE-352"]}
    assert run(json.dumps(log)) == []


@pytest.mark.parametrize(
    ("rule", "name", "cwe"),
    [
        ("cs/hardcoded-key", "Hard-coded encryption key", "320"),
        (
            "py/flask-constant-secret-key",
            "Initializing SECRET_KEY of Flask app with Constant value",
            "287",
        ),
        ("js/hardcoded-credentials", "Hard-coded credentials", "798"),
    ],
)
def test_a_secret_rule_filed_under_a_cwe_of_its_own_is_read(rule, name, cwe):
    # Only CWEs known to be no leak veto a rule: a hard-coded key or Flask SECRET_KEY, filed
    # under CWE-320 or CWE-287, is a leaked secret by its name.
    tags = ["security", f"external/cwe/cwe-{cwe}"]
    rules = [{"id": rule, "shortDescription": {"text": name}, "properties": {"tags": tags}}]
    log = _code_scanner_log("CodeQL", rules)
    assert [obs.rule for obs in run(json.dumps(log))] == [rule]


def _code_scanner_log(tool: str, rules: list[dict]) -> dict:
    """A log of ``tool`` with ``rules`` and one result of each."""
    results = [
        {"ruleId": r["id"], "message": {"text": "m"}, "locations": [_location("app/x", 3)]}
        for r in rules
    ]
    driver = {"name": tool, "rules": rules}
    return {"version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}


def _location(path: str, line: int) -> dict:
    return {"physicalLocation": {"artifactLocation": {"uri": path}, "region": {"startLine": line}}}


SNYK_CODE = HERE / "real_snykcode_snyk_ls_fixture.sarif"


def test_real_snyk_code_hardcoded_credentials():
    found = run(SNYK_CODE.read_bytes())
    assert [(o.rule, o.path, o.line) for o in found] == [
        ("csharp/NoHardcodedCredentials", "src/DocumentationViewModel.cs", 158),
        ("csharp/NoHardcodedCredentials", "src/DocumentationViewModel.cs", 174),
    ]
    assert {o.secret_value for o in found} == {None}  # the snippet is code, not the value


BEARER = HERE / "real_bearer_juiceshop.sarif"


def test_real_bearer_log_gives_its_secrets_and_a_clean_scan_is_no_error():
    # Bearer reports SQL injection and path traversal with its hard-coded secrets.
    found = run(BEARER.read_bytes())
    assert sorted((o.rule, o.path, o.line) for o in found) == [
        ("javascript_lang_hardcoded_secret", "lib/insecurity.ts", 43),
        ("javascript_lang_hardcoded_secret", "lib/insecurity.ts", 166),
        ("javascript_lang_jwt_hardcoded_secret", "lib/insecurity.ts", 55),
    ]
    # Its next scan, the secrets fixed: a clean scan (the source's findings go missing), not
    # "not a secret scanner".
    doc = json.loads(BEARER.read_text())
    doc["runs"][0]["results"] = [
        r for r in doc["runs"][0]["results"] if "secret" not in r["ruleId"]
    ]
    assert doc["runs"][0]["results"] and run(json.dumps(doc)) == []


KICS = HERE / "real_kics_2_1_11_ansible_container.sarif"


def test_real_kics_log_from_its_container():
    found = run(KICS.read_bytes())
    # Its "Communication Over HTTP" and "Risky File Permissions" results are not secrets.
    assert len(found) == 20
    # "Passwords And Secrets - <what>": the type from <what>.
    types = {o.title: o.secret_type for o in found}
    assert types == {
        "Passwords And Secrets - Generic Password": "generic-password",
        "Passwords And Secrets - Generic Token": "api-key",
    }
    # ../../path/<file>: relative to KICS's working directory in the container, the repository
    # mounted at /path.
    assert {o.path.split("/")[0] for o in found} == {"playbooks"}
    assert ("playbooks/infrastructure/.debug/restart-and-check-pbs.yml", 14) in {
        (o.path, o.line) for o in found
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Passwords And Secrets - AWS Access Key", "aws-access-key"),
        ("Passwords And Secrets - AWS Secret Key", "aws-secret-key"),
        ("Passwords And Secrets - Generic API Key", "api-key"),
        ("Passwords And Secrets - Slack Webhook", "chat-webhook"),
    ],
)
def test_kics_secret_rules_typed_by_what_they_find(name, expected):
    log = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "KICS",
                        "rules": [{"id": "u-1", "name": name, "shortDescription": {"text": name}}],
                    }
                },
                "results": [
                    {
                        "ruleId": "u-1",
                        "message": {"text": "Hardcoded secret key appears in source"},
                        "locations": [_location("../../github/workspace/infra/main.tf", 4)],
                    }
                ],
            }
        ],
    }
    (obs,) = run(json.dumps(log))
    assert obs.secret_type == expected
    assert obs.path == "infra/main.tf"  # a CI checkout mounted instead of /path


# --- Nosey Parker's SARIF: the snippet is the whole match, the level is fixed ---------------

# noseyparker report --format sarif (cmd_report/sarif_format.rs): region.snippet.text is
# snippet.matching, the rule's whole match with its context (`API_KEY = "...`), not the capture
# groups the JSONL report gives; every result has level "warning".
NP_CONTEXT = HERE / "review_noseyparker_0_22_match_with_context.sarif"
NP_GENERIC_KEY = "32ui1ffdasfhu239b4df2ac6609a9919"
NP_AWS_SECRET = "q8Jx2Lm7Vn4Rt1Yp9Wz3Ks6Hd0Fb5Gc8Ne2Ta7Ui"


def test_noseyparker_sarif_match_with_context_is_no_value():
    items = run(NP_CONTEXT.read_bytes())
    assert [(o.rule, o.path, o.line) for o in items] == [
        ("Generic API Key", "app/schema/config.py", 16),
        ("Generic API Key", "app/other.py", 3),
        ("AWS API Credentials", "deploy/aws.env", 3),
    ]
    for obs in items:
        # Not the match (one key would be a secret per line it sits on, and none the JSONL
        # report's): no value, the finding is known by its place.
        assert obs.secret_value is None
        assert obs.redacted == ""
    assert_secret_only_in_value(items, [NP_GENERIC_KEY, NP_AWS_SECRET])


def test_noseyparker_sarif_typed_as_the_jsonl_import_and_its_level_ignored():
    generic, _, aws = run(NP_CONTEXT.read_bytes())
    # As hygiene.importers.noseyparker types the same rules; the severity is the type's (its
    # fixed "warning" would make every finding medium).
    assert (generic.secret_type, generic.severity) == ("api-key", None)
    assert (aws.secret_type, aws.severity) == ("aws-secret-key", None)
    assert DEFAULT_SEVERITY[SecretType(aws.secret_type)] == "critical"
    # The key id in the match is an identifier: kept as a reference, as the JSONL import does.
    assert [(r.kind, r.value) for r in aws.references] == [
        ("aws-access-key-id", "AKIAZ3MQ7RTYWXPLKJHG")
    ]


def test_noseyparker_sarif_bare_credential_match_is_the_value():
    # A rule whose whole match is the credential (GitHub PAT, AWS key id...): the capture is the
    # match, the value the JSONL report gives too.
    (obs,) = run(NOSEYPARKER.read_bytes())
    assert obs.secret_value == "ghp_N0s3yP4rk3rF4k3T0k3nF0rT3st1ng12"
    assert obs.secret_type == "github-token"
    assert obs.severity is None


@pytest.mark.parametrize(
    "match",
    [
        'token = "ghp_N0s3yP4rk3rF4k3T0k3nF0rT3st1ng12"',
        "GITHUB_TOKEN=ghp_N0s3yP4rk3rF4k3T0k3nF0rT3st1ng12",
        "'ghp_N0s3yP4rk3rF4k3T0k3nF0rT3st1ng12'",
        "apikey: k3yV4lu3Zx9Qw2Er7Ty6Ui00",
        "k3yV4lu3Zx9Qw2Er7Ty6Ui00k3yV4lu3",
    ],
)
def test_noseyparker_sarif_match_is_not_the_value(match):
    doc = json.loads(NOSEYPARKER.read_text())
    location = doc["runs"][0]["results"][0]["locations"][0]
    location["physicalLocation"]["region"]["snippet"]["text"] = match
    (obs,) = run(json.dumps(doc))
    assert obs.secret_value is None
    assert obs.redacted == ""
    assert_secret_only_in_value([obs], [match])


def test_noseyparker_sarif_identifier_rules_are_informational():
    # As in the JSONL import: a bucket name leaks no access (not an AWS key at high).
    doc = json.loads(NP_CONTEXT.read_text())
    result = doc["runs"][0]["results"][1]
    result["ruleId"] = "AWS S3 Bucket (subdomain style)"
    result["locations"][0]["physicalLocation"]["region"]["snippet"]["text"] = (
        "acme-backups.s3.amazonaws.com"
    )
    (obs,) = [o for o in run(json.dumps(doc)) if o.rule == result["ruleId"]]
    assert (obs.secret_type, obs.severity) == ("generic-secret", "info")


# --- CodeQL's GitHub Actions queries: workflow hygiene, not leaked secrets -----------------

CODEQL_ACTIONS = HERE / "review_codeql_2_17_actions_queries.sarif"


def test_codeql_actions_secret_handling_queries_are_not_leaks():
    items = run(CODEQL_ACTIONS.read_bytes())
    assert [(o.rule, o.path, o.line) for o in items] == [
        ("js/hardcoded-credentials", "src/pay.js", 12)
    ]
    assert items[0].secret_type != "github-token"
    assert_secret_only_in_value(items, ["sk_live_51CodeQLFakeStripeKey000111"])


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        ("actions/excessive-secrets-exposure", "Excessive Secrets Exposure"),
        ("actions/secrets-in-artifacts", "Storage of sensitive information in GitHub Actions"),
        ("actions/unmasked-secret-exposure", "Unmasked Secret Exposure"),
    ],
)
def test_codeql_actions_query_alone_is_a_clean_scan(rule, name):
    tags = ["actions", "security", "external/cwe/cwe-312"]
    rules = [{"id": rule, "shortDescription": {"text": name}, "properties": {"tags": tags}}]
    assert run(json.dumps(_code_scanner_log("CodeQL", rules))) == []
