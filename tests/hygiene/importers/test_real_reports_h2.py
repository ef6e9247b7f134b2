"""Real reports (published by the tools' vendors or committed by their users) that the
importers mishandled; each test fails without its fix."""

from pathlib import Path

from hygiene.importers import get_parser
from hygiene.importers.base import Observation, RotationEvent

FIXTURES = Path(__file__).parents[2] / "fixtures"


def load(fmt: str, relative: str, **kwargs) -> list:
    with (FIXTURES / relative).open("rb") as fh:
        return list(get_parser(fmt)(fh, **kwargs))


def failing(items) -> list[tuple[str, str]]:
    return sorted(
        (i.rule, i.resource.rsplit(":", 1)[-1])
        for i in items
        if isinstance(i, Observation) and not i.passed
    )


# --- AWS IAM credential report -------------------------------------------------------------


def test_iam_report_of_2015_without_last_used_columns_is_read():
    """AWS's own Get-IAMCredentialReport -AsTextArray example: the 16 columns of the report
    before AWS added access_key_N_last_used_*. Was refused (missing columns); now read, the
    unused-key rules left out (the report cannot tell), the others evaluated."""
    items = load(
        "aws-iam-credential-report",
        "aws-iam-credential-report/real_awsdocs_powershell_astextarray_2015_no_last_used.csv",
    )
    rules = {i.rule for i in items if isinstance(i, Observation)}
    assert not any(r.endswith("_unused") for r in rules)
    # now = the latest timestamp (2015-04-20): Administrator's key 1 (2014-12-03) is too old.
    assert failing(items) == [
        ("iam_access_key_1_rotation", "user/Administrator"),
        ("iam_console_mfa", "user/Administrator"),
    ]
    events = [i for i in items if isinstance(i, RotationEvent)]
    assert sorted(e.event_id.rsplit(":key", 1)[1][:8] for e in events) == ["1:active", "2:active"]


def test_iam_root_row_known_by_its_arn():
    """The same example names the root user "root_account" (the "<...>" lost in rendering):
    its ARN (...:root) still makes it the root account: the root-key rule is evaluated and
    its MFA finding is critical."""
    items = load(
        "aws-iam-credential-report",
        "aws-iam-credential-report/real_awsdocs_powershell_astextarray_2015_no_last_used.csv",
    )
    root = [i for i in items if isinstance(i, Observation) and i.resource.endswith(":root")]
    by_rule = {i.rule: i for i in root}
    assert "iam_root_access_key" in by_rule and by_rule["iam_root_access_key"].passed
    assert by_rule["iam_console_mfa"].severity == "critical"


# --- Kingfisher (read by the Nosey Parker importer) -----------------------------------------

AWS_SECRET_HALF = "1tUm636uS1yOEcfP5pvfqJ/ml36mF7AkyHsEU0IU"  # dependent_captures of the key id


def _by_rule(items) -> dict[str, Observation]:
    return {i.rule: i for i in items}


def test_kingfisher_1_110_json_two_documents_and_its_jsonl_are_read():
    """DefectDojo's Kingfisher 1.110 samples: --format json (the findings document, then the
    run summary, pretty-printed) and --format jsonl (the summary as the last line). Were refused
    ("'rule_name' and 'matches' are required")."""
    items = load("noseyparker", "noseyparker/real_defectdojo_kingfisher_1_110_many_vuln.json")
    by_rule = _by_rule(items)
    assert sorted(by_rule) == [
        "kingfisher.aws.1",
        "kingfisher.generic.2",
        "kingfisher.github.1",
        "kingfisher.pem.1",
        "kingfisher.slack.1",
    ]
    aws = by_rule["kingfisher.aws.1"]
    assert (aws.secret_type, aws.validity, aws.path, aws.line) == (
        "aws-access-key",
        "valid",
        "/scan/config.yml",
        3,
    )
    assert [r.value for r in aws.references] == ["AKIAFAKE7X2LMWV9TDKR"]
    assert by_rule["kingfisher.github.1"].validity == "invalid"  # "Inactive"
    assert by_rule["kingfisher.github.1"].secret_type == "github-token"
    assert by_rule["kingfisher.pem.1"].secret_type == "private-key"
    assert by_rule["kingfisher.generic.2"].title == "Generic API Key"

    lines = load("noseyparker", "noseyparker/real_defectdojo_kingfisher_1_110_findings.jsonl")
    assert sorted(i.rule for i in lines) == [
        "kingfisher.aws.1",
        "kingfisher.generic.2",
        "kingfisher.github.1",
    ]


def test_kingfisher_1_68_json_with_stats():
    """Kingfisher 1.68's document ends with "stats"; "Inactive Credential" beside "Validation
    skipped - missing dependent rules" is not a provider's verdict (unknown)."""
    items = load("noseyparker", "noseyparker/real_defectdojo_kingfisher_1_68_many_findings.json")
    assert [(i.rule, i.validity, i.line) for i in items] == [
        ("kingfisher.alibabacloud.2", "invalid", 5),
        ("kingfisher.alibabacloud.2", "unknown", 8),
        ("kingfisher.aws.2", "valid", 1),
    ]
    assert items[2].secret_type == "aws-secret-key"
    assert all(i.secret_value for i in items)


def test_kingfisher_2_14_outputs_of_one_scan_agree():
    """Our run of Kingfisher 2.14 (kingfisher-bin) over a scratch repository: -o file.json
    (findings, audit, metadata), stdout (findings document, then the summary line), jsonl
    (audit line last). Same five secrets; "./src/config.py" made relative; the AWS key's
    secret half (dependent_captures) nowhere."""
    results = {}
    for name in (
        "tool_kingfisher_2_14_0_dot_scan.json",
        "tool_kingfisher_2_14_0_dot_scan_stdout.json",
        "tool_kingfisher_2_14_0_dot_scan.jsonl",
    ):
        items = load("noseyparker", f"noseyparker/{name}")
        results[name] = {(i.rule, i.path, i.line, i.secret_value) for i in items}
        for item in items:
            assert AWS_SECRET_HALF not in repr(item)
            assert item.repo == ""  # "kingfisher scan ." names no repository
        types = {i.rule: i.secret_type for i in items}
        assert types == {
            "betterleaks.private-key": "private-key",
            "betterleaks.aws-access-token": "aws-access-key",
            "betterleaks.slack-bot-token": "slack-token",
            "betterleaks.gitlab-pat": "gitlab-token",
            "betterleaks.stripe-access-token": "stripe-key",
        }
    first, *others = results.values()
    assert all(o == first for o in others)
    assert ("betterleaks.stripe-access-token", "sub dir/.env", 3) in {r[:3] for r in first}
    git = [
        i
        for i in load("noseyparker", "noseyparker/tool_kingfisher_2_14_0_dot_scan.jsonl")
        if i.commit
    ]
    assert git and all(i.author == "Dev Example <dev@example.com>" for i in git)


def test_kingfisher_redacted_snippets_are_no_values():
    """kingfisher scan --redact writes "[REDACTED:<hash>]" as the snippet: no value (the place
    names the secret), in the JSON lines and in the SARIF log alike."""
    items = load("noseyparker", "noseyparker/tool_kingfisher_2_14_0_dot_scan_redact.jsonl")
    assert len(items) == 5
    assert all(i.secret_value is None and i.secret_sha1 is None for i in items)
    assert {i.secret_type for i in items} >= {"private-key", "aws-access-key", "stripe-key"}
    sarif = load("sarif", "sarif/tool_kingfisher_2_14_0_dot_scan_redact.sarif")
    assert len(sarif) == 5
    assert all(i.secret_value is None for i in sarif)
    assert not any("REDACTED:" in (i.redacted or "") for i in sarif)


def test_kingfisher_sarif_of_a_dot_scan_paths_and_repository():
    """kingfisher scan . -f sarif: work tree files as "./src/config.py" (was kept with its
    "./", another path than the same file's in history, "src/config.py") and
    git_metadata.repository_url "." (was stored as the repository)."""
    items = load("sarif", "sarif/tool_kingfisher_2_14_0_dot_scan.sarif")
    assert {i.path for i in items} == {"src/config.py", "sub dir/.env", "keys/id_rsa"}
    assert all(i.repo == "" for i in items)
    assert sum(1 for i in items if i.commit) >= 1


# --- Prowler 3 CSV (coverage: no fixture had Prowler 3's ';' CSV) ------------------------


def test_prowler_3_11_csv_written_by_prowler_itself():
    """Prowler 3.11.3's CSV writer (its header: ASSESSMENT_START_TIME, FINDING_UNIQUE_ID, ...,
    ACCOUNT_ID, REGION, RESOURCE_ID, RESOURCE_ARN last): FAIL, PASS, and an allowlisted result
    (WARNING) read as a muted FAIL; the resource is the ARN."""
    items = load("prowler", "prowler/tool_prowler_3_11_3_aws_iam.csv")
    got = [(i.rule, i.resource.rsplit(":", 1)[-1], i.passed, i.tool_resolution) for i in items]
    assert got == [
        ("iam_rotate_access_key_90_days", "user/alice", False, ""),
        ("iam_rotate_access_key_90_days", "user/bob", True, ""),
        ("iam_no_root_access_key", "root", False, ""),
        ("iam_user_mfa_enabled_console_access", "user/alice", False, ""),
        ("iam_user_accesskey_unused", "user/carol", False, "accepted_risk"),
    ]
    assert {i.account for i in items} == {"123456789012"}
    assert items[2].secret_type == "root-credential"
