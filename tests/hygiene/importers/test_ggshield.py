"""ggshield importer: commit-range and path scans, censored and shown secrets, bad input."""

import copy
import dataclasses
import hashlib
import io
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers.base import ImportFormatError, Observation
from hygiene.importers.ggshield import censored, parse
from hygiene.services.staged_rows import StagedRows

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DIR = FIXTURES / "ggshield"
CENSORED = "&dtzi36g3***************-*****+**********ljel3*ji5"


def load(name: str) -> bytes:
    return (DIR / name).read_bytes()


def run(data: bytes | dict) -> list[Observation]:
    if isinstance(data, dict):
        data = json.dumps(data).encode()
    return list(parse(io.BytesIO(data)))


def censor(text: str) -> str:
    """ggshield's censoring, for building realistic inputs."""
    n = len(text)
    keep = min(math.ceil(n / 6), 60)
    middle = re.sub(r"[^+\-\s]", "*", text[keep : n - keep])
    return text[:keep] + middle + text[n - keep :]


def assert_no_leak(items: list[Observation], secrets: list[str]) -> None:
    for obs in items:
        texts = [
            (f.name, getattr(obs, f.name))
            for f in dataclasses.fields(obs)
            if f.name != "secret_value" and isinstance(getattr(obs, f.name), str)
        ]
        texts += [(f"tool_ids[{k}]", v) for k, v in obs.tool_ids.items()]
        texts += [
            (f"references {r.kind}", r.value)
            for r in obs.references
            if not (r.kind == "aws-access-key-id" and r.value == obs.secret_value)
        ]
        for name, value in texts:
            for secret in secrets:
                assert secret not in value, f"{name} holds secret material"


def test_one_finding():
    (obs,) = run(load("one_finding.json"))
    assert obs.rule == "Django Secret Key"
    assert obs.secret_type == "generic-secret"
    assert obs.category == "secret"
    assert obs.secret_value is None  # censored: not the value
    assert obs.redacted == ""  # the censored form shows 9 leading characters
    assert obs.path == "wapf/settings.py"
    assert obs.line is None  # a MODIFY patch without post_line_start
    assert obs.commit == "8f388be3452f8d9f20ed788c94ebc11faa8ae7b6"
    assert obs.author == "iamnihal <infosec.nihal@gmail.com>"
    assert obs.committed_at == datetime(2021, 7, 5, 7, 24, 43, tzinfo=UTC)
    assert obs.validity == "unknown"  # no_checker
    assert obs.severity is None
    assert obs.tool_resolution == ""
    # Not ignore_sha: an unkeyed SHA-256 of the value, checkable against guesses.
    assert obs.tool_ids == {"policy": "Secrets detection", "match_type": "apikey"}
    assert obs.repo == ""
    assert_no_leak([obs], [CENSORED])


def test_many_findings():
    items = run(load("many_findings.json"))
    assert len(items) == 2
    new, modified = items
    assert new.commit == "03a2bf6cba491559f8b760a2c9bf8dd9f53916a0"
    assert new.line == 23  # post_line_start
    assert new.committed_at == datetime(2021, 3, 13, 12, 12, tzinfo=UTC)
    assert new.author == "iamnihal <nihalcyberdude@gmail.com>"
    assert modified.commit == "8f388be3452f8d9f20ed788c94ebc11faa8ae7b6"
    assert modified.line is None
    assert all("ignore_sha" not in o.tool_ids for o in items)
    assert all(o.secret_value is None and o.path == "wapf/settings.py" for o in items)
    assert_no_leak(items, [CENSORED])


def _incident(**changes) -> dict:
    doc = json.loads(load("one_finding.json"))
    doc["scans"][0]["entities_with_incidents"][0]["incidents"][0].update(changes)
    return doc


AWS_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_show_secrets_multi_part():
    occurrences = [
        {"match": AWS_ID, "type": "client_id", "line_start": 4, "line_end": 4,
         "index_start": 0, "index_end": 20, "post_line_start": 4, "post_line_end": 4},
        {"match": AWS_SECRET, "type": "client_secret", "line_start": 5, "line_end": 5,
         "index_start": 0, "index_end": 40, "post_line_start": 5, "post_line_end": 5},
    ]  # fmt: skip
    doc = _incident(
        type="AWS Keys",
        occurrences=occurrences,
        validity="valid",
        known_secret=True,
        incident_url="https://dashboard.gitguardian.com/workspace/1/incidents/3899",
        total_occurrences=1,
    )
    (obs,) = run(doc)
    assert obs.secret_value == AWS_SECRET
    assert obs.secret_type == "aws-secret-key"
    assert obs.line == 5
    assert obs.validity == "valid"
    assert obs.url == "https://dashboard.gitguardian.com/workspace/1/incidents/3899"
    assert obs.tool_ids["incident_id"] == "3899"
    assert obs.tool_ids["known_secret"] == "true"
    assert obs.tool_ids["match_type"] == "client_secret"
    assert [(r.kind, r.value) for r in obs.references] == [("aws-access-key-id", AWS_ID)]
    assert_no_leak([obs], [AWS_SECRET])


def test_censored_multi_part_keeps_no_value():
    doc = _incident(
        type="AWS Keys",
        occurrences=[
            {"match": censor(AWS_ID), "type": "client_id", "line_start": 4},
            {"match": censor(AWS_SECRET), "type": "client_secret", "line_start": 5},
        ],
    )
    (obs,) = run(doc)
    assert obs.secret_value is None
    assert obs.references == []
    assert obs.redacted == ""


def test_short_censored_match_is_kept_as_redacted():
    short = censor("abcdefghijkl")
    assert short == "ab********kl"
    (obs,) = run(_incident(occurrences=[{"match": short, "type": "apikey"}]))
    assert (obs.secret_value, obs.redacted) == (None, "ab********kl")
    # Its preview shows no more than Leakline's own of a 12-character value (3 leading
    # characters, none trailing): ggshield's sixth at each end is 4 of 12.
    from hygiene.services.staged_rows import FINDING_COLUMNS

    (row,) = _staged([obs]).findings
    assert row[FINDING_COLUMNS.index("preview")] == "ab\u2026"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CENSORED, True),
        (censor("a-b+c d" * 5), True),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", False),
        ("**c", True),
        ("", False),
        ("pass*word", False),
    ],
)
def test_censored(text, expected):
    assert censored(text) is expected


def test_incident_details_and_ignores():
    api = {
        "id": 3759,
        "status": "IGNORED",
        "ignore_reason": "test_credential",
        "severity": "high",
        "validity": "valid",
        "gitguardian_url": "https://dashboard.gitguardian.com/workspace/1/incidents/3899",
        "detector": {"name": "slack_bot_token"},
        "secret_revoked": False,
    }
    (obs,) = run(_incident(incident_details=api, validity=None))
    assert obs.tool_resolution == "used_in_tests"
    assert obs.severity == "high"
    assert obs.validity == "valid"
    assert obs.url == api["gitguardian_url"]
    assert obs.tool_ids["incident_id"] == "3759"
    assert obs.tool_ids["detector"] == "slack_bot_token"
    (obs,) = run(_incident(incident_details={**api, "status": "RESOLVED", "secret_revoked": True}))
    assert obs.tool_resolution == "revoked"
    (obs,) = run(_incident(ignore_reason="ignored_match"))
    assert obs.tool_resolution == "accepted_risk"
    (obs,) = run(_incident(ignore_reason={"kind": "known_secret"}))
    assert obs.tool_resolution == ""
    (obs,) = run(_incident(validity="invalid"))
    assert obs.validity == "invalid"


def test_path_scan_and_posture_policies():
    doc = {
        "id": "/src",
        "type": "path_scan",
        "total_incidents": 2,
        "total_occurrences": 2,
        "entities_with_incidents": [
            {
                "mode": "FILE",
                "filename": "/src/settings.py",
                "incidents": [
                    {
                        "policy": "Secrets detection",
                        "type": "Slack Bot Token",
                        "validity": "failed_to_check",
                        "ignore_sha": "ab" * 32,
                        "total_occurrences": 1,
                        "occurrences": [
                            {"match": "xoxb-1234567890-abcdefghijklmnop", "type": "apikey",
                             "line_start": 12, "line_end": 12}
                        ],
                    },
                    {
                        "policy": "Filenames",
                        "type": "Filename",
                        "ignore_sha": "cd" * 32,
                        "total_occurrences": 1,
                        "occurrences": [{"match": "id_rsa", "type": "filename"}],
                    },
                ],
                "total_incidents": 2,
                "total_occurrences": 2,
            }
        ],
    }  # fmt: skip
    secret, posture = run(doc)
    assert secret.secret_value == "xoxb-1234567890-abcdefghijklmnop"
    assert secret.secret_type == "slack-token"
    assert (secret.path, secret.line, secret.commit, secret.author) == (
        "/src/settings.py",
        12,
        "",
        "",
    )
    assert secret.validity == "unknown"
    assert posture.category == "posture"
    assert posture.secret_type == "posture-other"
    assert posture.secret_value is None
    assert posture.rule == "Filename"
    assert posture.title == "Filenames: Filename"
    assert_no_leak([secret, posture], ["xoxb-1234567890-abcdefghijklmnop"])


def test_no_incidents():
    doc = json.loads(load("many_findings.json"))
    doc["scans"] = doc["scans"][2:]
    assert run(doc) == []


# --- bad input --------------------------------------------------------------------------------

SECRETS = [CENSORED, AWS_SECRET]


def _bad(data: bytes | dict) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        run(data)
    err = info.value
    assert err.location, "the error must say where"
    assert err.location in str(err)
    for secret in SECRETS:
        assert secret not in str(err)
    return err


def _occurrence(**changes) -> dict:
    doc = json.loads(load("one_finding.json"))
    doc["scans"][0]["entities_with_incidents"][0]["incidents"][0]["occurrences"][0].update(changes)
    return doc


def _scan(**changes) -> dict:
    doc = json.loads(load("one_finding.json"))
    doc["scans"][0].update(changes)
    return doc


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"\t\n ", "empty"),
        (b"\x00\x01\x02\x03", "binary"),
        (b"[" * 100_000, "expected ggshield's JSON object"),
        (b'{"scans": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
        (b"[]", "expected ggshield's JSON object"),
        (b'{"a": 1}', "not a ggshield secret scan report"),
        (b'{"type": "path_scan", "id": "x", "entities_with_incidents": {}}', "array"),
        (b'{"type": "path_scan", "id": "x", "entities_with_incidents": [1]}', "expected an"),
        (b'{"type": "path_scan", "id": "x", "scans": ["x"]}', "expected a scan object"),
        (_scan(extra_info=["x"]), "extra_info"),
        (_scan(extra_info={"date": "the day before"}), "date"),
        (_scan(extra_info={"author": {"n": 1}}), "author"),
        (_incident(occurrences={"a": 1}), "occurrences"),
        (_incident(occurrences=[1]), "expected an object"),
        (_incident(type=None, break_type=None), "'type'"),
        (_incident(validity=["valid"]), "validity"),
        (_incident(known_secret="perhaps"), "known_secret"),
        (_incident(ignore_reason=3), "ignore_reason"),
        (_incident(incident_details=[]), "incident_details"),
        (_occurrence(match=["x"]), "match"),
        (_occurrence(post_line_start="x"), "post_line_start"),
        (_occurrence(line_start=True), "line_start"),
    ],
)
def test_bad_input(data, expected):
    assert expected in str(_bad(data))


def test_truncated():
    data = load("many_findings.json")
    assert "line" in _bad(data[: len(data) // 2]).location


@pytest.mark.parametrize(
    ("folder", "name", "hint"),
    [
        ("ggshield", "secret.json", "not a ggshield secret scan report"),
        ("gitleaks", "gitleaks8_many.json", "use format gitleaks"),
        ("gitleaks", "sarif_simple.sarif", "use format sarif"),
        ("trufflehog", "README_example_output.jsonl", "use format trufflehog"),
        ("detect-secrets", "many_findings.json", "use format detect-secrets"),
    ],
)
def test_wrong_format(folder, name, hint):
    assert hint in str(_bad((FIXTURES / folder / name).read_bytes()))


def test_sample_is_not_mutated():
    doc = json.loads(load("many_findings.json"))
    before = copy.deepcopy(doc)
    run(doc)
    assert doc == before


# --- real reports (tests/fixtures/README.md says where each comes from) -------------------


@pytest.mark.parametrize(
    "name",
    [
        "real_defectdojo_no_finding.json",  # commit-range, every commit clean
        "real_gitguardian_vscode_path_scan_no_incident.json",  # path_scan, no incident
    ],
)
def test_real_reports_without_incidents(name):
    assert run(load(name)) == []


def test_path_scan_of_1_29_reads_the_line_from_pre_line_start():
    """ggshield 1.29-1.30 wrote a whole file's matches with a wrong line_start (1.31's
    changelog: "fixed incorrect values for line and index when scanning a file") beside the
    right pre_line_start: the occurrence of GitGuardian/ggshield PR #949, a password on line 2
    that 1.29.0 put on line 1. Earlier releases wrote both equal; 1.56 no pre_line_start."""
    (obs,) = run(load("ggshield_1_29_0_path_scan_line_offset.json"))
    assert (obs.path, obs.line) == ("secret.txt", 2)
    assert obs.tool_ids["match_type"] == "password" and obs.secret_value is None
    (earlier,) = run(load("real_gitguardian_vscode_path_scan_high_entropy.json"))
    assert earlier.line == 4  # line_start and pre_line_start both 4
    later = run(load("tool_ggshield_1_56_1_path_all_secrets_incident_details.json"))
    assert all(o.line for o in later)  # line_start alone


def test_what_ggshield_printed_before_the_json_is_skipped():
    """A report that is ggshield's stdout: ``ggshield scan --verbose --json path setup.cfg >
    out.json`` lists the scanned files first (ggshield issue #157, the output verbatim), and a
    docker scan before 1.48 let ``docker pull`` (run without capturing its output, for an
    image not pulled yet) and a bare print() per layer write before the JSON. Both were refused
    as "expected ggshield's JSON object"."""
    report = (
        b"- /home/agateau/src/ggshield/setup.cfg\n"
        b'{"id": "/home/agateau/src/ggshield/setup.cfg", "type": "path_scan", '
        b'"total_incidents": 0, "total_occurrences": 0}\n'
    )
    assert run(report) == []
    found = load("real_gitguardian_vscode_path_scan_high_entropy.json")
    (obs,) = run(b"- test.py\n- other.py\n" + found)
    assert (obs.path, obs.line) == ("test.py", 4)
    pulled = (
        b"latest: Pulling from acme/api\n"
        b"c6a83fedfae6: Pulling fs layer\n"
        b"c6a83fedfae6: Verifying Checksum\n"
        b"c6a83fedfae6: Download complete\n"
        b"c6a83fedfae6: Pull complete\n"
        b"Digest: sha256:" + b"7" * 64 + b"\n"
        b"Status: Downloaded newer image for acme/api:latest\n"
        b"docker.io/acme/api:latest\n\n\n"
    )
    docker = load("tool_ggshield_1_56_1_docker_archive.json")
    assert [(o.path, o.line) for o in run(pulled + docker)] == [
        (o.path, o.line) for o in run(docker)
    ]
    # A JSON error names the line of the whole output.
    with pytest.raises(ImportFormatError) as info:
        run(b"- a.py\n" + found[:-2])
    assert info.value.location.startswith("line ")
    # What has no JSON object after its lines, or another tool's, is refused as before.
    for other in (b"- a.py\n- b.py\n", b"-1", b"RuleID,Commit,File\n", b"- a.py\n[]"):
        with pytest.raises(ImportFormatError) as info:
            run(other)
        assert info.value.location == "$"
    # A gitleaks --verbose stdout, JSON findings after a banner or log lines: gitleaks'.
    for name in (
        "real_gitleaks_action_issue44_v7_verbose_redacted_banner.txt",
        "real_committed_paulstakem_v8_early_precommit_verbose_redact.txt",
        "real_committed_strowi_ci_templates_v7_verbose_stdout.json",
    ):
        with pytest.raises(ImportFormatError, match="gitleaks"):
            run((FIXTURES / "gitleaks" / name).read_bytes())
    with pytest.raises(ImportFormatError, match="not a ggshield secret scan report"):
        run((FIXTURES / "gitleaks" / "real_gitleaks_issue65_v1_verbose_stdout.txt").read_bytes())


def test_real_path_scan_censored_generic_secret():
    (obs,) = run(load("real_gitguardian_vscode_path_scan_high_entropy.json"))
    assert obs.rule == "Generic High Entropy Secret"
    assert obs.secret_type == "generic-secret"
    assert obs.secret_value is None  # censored: 12 characters kept at each end
    assert obs.redacted == ""  # it shows more than 4 characters
    assert (obs.path, obs.line, obs.commit, obs.repo) == ("test.py", 4, "", "")
    assert obs.validity == "unknown"  # "no_checker"
    assert "ignore_sha" not in obs.tool_ids
    assert obs.tool_ids["match_type"] == "apikey"
    assert "DDACC73DdB04" not in repr(dataclasses.asdict(obs))


def test_real_path_scan_connection_uri_with_scheme_part():
    (obs,) = run(load("real_gitguardian_vscode_path_scan_postgres_uri.json"))
    assert obs.rule == "PostgreSQL Credentials"
    assert obs.secret_type == "database-credential"
    assert obs.secret_value is None
    assert obs.tool_ids["match_type"] == "connection_uri"  # the scheme part is not the secret
    assert obs.references == []  # the censored scheme names nothing
    assert obs.validity == "unknown"  # "failed_to_check"
    assert (obs.path, obs.line) == ("test.py", 1)
    assert "thegift" not in repr(dataclasses.asdict(obs))


def test_real_v1_2_entities_with_issues():
    # ggshield 1.2 (its JSON output's first release) called incidents "issues".
    (obs,) = run(load("real_ggshield_pr29_entities_with_issues_v1_2.json"))
    assert obs.rule == "Basic Auth String"
    assert obs.secret_type == "generic-password"
    assert obs.tool_ids["match_type"] == "password"  # username and host are identifiers
    assert obs.commit == "164490d66e382c1cb49337ca02511224c931d403"
    assert obs.path == "README.md"
    assert obs.line is None  # a MODIFY patch gives patch lines only
    assert obs.secret_value is None and obs.references == []  # all three parts censored
    assert "ignore_sha" not in obs.tool_ids


def test_real_path_scan_absolute_path_and_empty_incident_url():
    (obs,) = run(load("real_gitguardian_vscode_results_parser_abs_path.json"))
    assert obs.path == (
        "/Users/paulindenaurois/Development/gitguardian/ggshield-vscode-extension/sample_files/test.py"
    )
    assert obs.line == 4  # FILE mode: line_start is the file's line
    assert obs.url == ""
    assert "incident_id" not in obs.tool_ids
    assert obs.validity == "unknown"


@pytest.mark.parametrize("placeholder", ["N/A", "", None])
def test_incident_url_placeholder_is_no_link(placeholder):
    # ggshield 1.16+ writes "incident_url": "N/A" when the dashboard does not know the secret
    # (GitGuardian/ggshield#530).
    doc = json.loads(load("real_gitguardian_vscode_results_parser_abs_path.json"))
    doc["entities_with_incidents"][0]["incidents"][0]["incident_url"] = placeholder
    (obs,) = run(doc)
    assert obs.url == ""


def test_incident_url_of_known_secret_kept():
    doc = json.loads(load("real_gitguardian_vscode_results_parser_abs_path.json"))
    incident = doc["entities_with_incidents"][0]["incidents"][0]
    incident.update(
        known_secret=True, incident_url="https://dashboard.gitguardian.com/workspace/1/incidents/42"
    )
    (obs,) = run(doc)
    assert obs.url == "https://dashboard.gitguardian.com/workspace/1/incidents/42"
    assert obs.tool_ids["incident_id"] == "42"
    assert obs.tool_ids["known_secret"] == "true"


def test_real_committed_commit_range_with_one_incident():
    """A user's `ggshield secret scan commit-range --json`: many clean commits, one incident
    in a commit whose extra_info gives the author and a git-style date."""
    (obs,) = run(load("real_committed_andreamaestri_jobless_commit_range_one_incident.json"))
    assert obs.rule == "Generic High Entropy Secret"
    assert obs.secret_type == "generic-secret"
    assert obs.secret_value is None  # the match is censored
    assert (obs.path, obs.line) == (".vscode/uptime.sh", 11)
    assert obs.commit == "6b22a134e9f57c299aa3f1b692a54ccccdc7cba9"
    assert obs.author == "katepz <kate.m.eaves@googlemail.com>"
    assert obs.committed_at == datetime(2024, 12, 16, 10, 16, 30, tzinfo=UTC)
    assert obs.validity == "unknown"  # no_checker
    assert obs.tool_ids == {"policy": "Secrets detection", "match_type": "apikey"}
    ignore_sha = "5f0c6b1d2e9a4c7b8e3f1a0d6c9b2e4f7a1c3d5e8b0f2a4c6e8d0b2f4a6c8e0d"
    assert_no_leak([obs], ["kQz7Rm2", "Xb9LpW4", ignore_sha])


# ggshield 1.56.1 run against a local stand-in for the GitGuardian API (see the fixtures
# README): a scratch repository of planted fake credentials.
TOOL_REPO = "/tmp/exp/h2/gg/repo"


def _ignore_shas(name: str) -> list[str]:
    return re.findall(r'"ignore_sha": "([0-9a-f]{64})"', load(name).decode())


def test_tool_path_scan_all_secrets_with_incident_details_and_vault():
    name = "tool_ggshield_1_56_1_path_all_secrets_incident_details.json"
    items = run(load(name))
    by_rule = {o.rule: o for o in items}
    assert sorted(by_rule) == [
        "AWS Keys",
        "GitHub Personal Access Token",
        "PostgreSQL Credentials",
        "Slack Bot Token",
    ]
    assert all(o.secret_value is None for o in items)  # censored

    aws = by_rule["AWS Keys"]
    assert (aws.path, aws.line) == (f"{TOOL_REPO}/config/aws.ini", 4)  # the secret key's line
    assert aws.secret_type == "aws-secret-key"
    assert aws.validity == "valid"
    assert aws.severity == "critical"  # from incident_details
    assert aws.tool_resolution == ""  # TRIGGERED
    assert aws.url == "https://dashboard.gitguardian.com/workspace/4321/incidents/1750042"
    assert aws.tool_ids["incident_id"] == "1750042"
    assert aws.tool_ids["detector"] == "aws_iam"
    # secret_vaulted: the vault path is what Vault's own audit events name.
    assert [(r.kind, r.value) for r in aws.references] == [
        ("vault-path", "secret/data/payments/aws")
    ]
    assert "HashiCorp Vault" in aws.description

    gh = by_rule["GitHub Personal Access Token"]
    assert gh.tool_resolution == "used_in_tests"  # the dashboard ignored it as a test credential
    assert (gh.validity, gh.severity) == ("invalid", "low")

    slack = by_rule["Slack Bot Token"]
    assert slack.tool_resolution == "accepted_risk"  # ignore_reason backend_excluded
    assert slack.secret_type == "slack-token"

    pg = by_rule["PostgreSQL Credentials"]
    assert pg.tool_ids["match_type"] == "password"  # host, port, user, database identify it
    assert (pg.line, pg.validity) == (5, "unknown")  # failed_to_check
    assert pg.references == []  # censored identifiers name nothing

    # Neither ignore_sha nor the incident's secret_hash / hmsl_hash (unkeyed digests).
    assert_no_leak(items, [*_ignore_shas(name), "0" * 64, "1" * 64])


def test_tool_repo_scan_all_secrets_skips_not_introduced():
    """--all-secrets lists the secret deleted by the second commit (and the connection
    parts in its context lines) with ignore_reason not_introduced: the first commit, which
    added them, already reports them."""
    name = "tool_ggshield_1_56_1_repo_all_secrets.json"
    items = run(load(name))
    first = "eec106fcaad7d3012747173f544468a783173818"
    second = "174499780b4101acdab32789ccdcd3962c0debb0"
    assert sorted((o.commit == first, o.rule, o.path, o.line) for o in items) == [
        (False, "GitHub Personal Access Token", "tests/fixtures/github.txt", 2),
        (False, "Slack Bot Token", "src/slack.py", 3),
        (True, "AWS Keys", "config/aws.ini", 4),
        (True, "Generic High Entropy Secret", ".env", 2),
        (True, "PostgreSQL Credentials", ".env", 6),
    ]
    for obs in items:
        assert obs.author == "Dana Fixture <dana@example.invalid>"
        assert obs.commit in (first, second)
    aws = next(o for o in items if o.rule == "AWS Keys")
    assert aws.committed_at == datetime(2025, 2, 27, 8, 15, tzinfo=UTC)
    assert [r.kind for r in aws.references] == ["vault-path"]
    assert_no_leak(items, _ignore_shas(name))


def test_identifier_parts_only_are_not_the_secret():
    """A patch whose lines show a connection's host and user but not its password: no part
    stands for the secret (its incident names it), and no identifier becomes its preview."""
    doc = _incident(
        type="PostgreSQL Credentials",
        occurrences=[
            {"match": "db.i***********mple", "type": "host", "line_start": 3},
            {"match": "bi***ng", "type": "username", "line_start": 4},
        ],
    )
    (obs,) = run(doc)
    assert (obs.secret_value, obs.redacted, obs.line) == (None, "", None)
    assert "match_type" not in obs.tool_ids


def _connection_parts(host: str, user: str, line: int, **incident) -> dict:
    """A PostgreSQL Credentials incident whose patch shows only the host and user lines
    (the password line is unchanged context, not part of the commit's diff)."""
    return {
        "policy": "Secrets detection",
        "type": "PostgreSQL Credentials",
        "validity": "no_checker",
        "total_occurrences": 1,
        "occurrences": [
            {"match": censor(host), "type": "host", "line_start": line, "line_end": line,
             "index_start": 8, "index_end": 8 + len(host), "post_line_start": line,
             "post_line_end": line},
            {"match": censor(user), "type": "username", "line_start": line + 1,
             "line_end": line + 1, "index_start": 8, "index_end": 8 + len(user),
             "post_line_start": line + 1, "post_line_end": line + 1},
        ],
        **incident,
    }  # fmt: skip


def _staged(items: list[Observation]) -> StagedRows:
    rows = StagedRows(1, 1, "ggshield", datetime(2025, 7, 1, tzinfo=UTC))
    for obs in items:
        rows.add_observation(obs)
    return rows


def test_identifier_only_incidents_in_one_file_stay_two_findings():
    """Two connections (staging and production) in one .env, each shown by its host and user
    only: neither has a line, so the file alone would make them one finding. Each incident
    is its own secret; the same incident listed twice is still one finding."""
    staging = _connection_parts(
        "db-staging.internal.example",
        "billing_app",
        3,
        incident_url="https://dashboard.gitguardian.com/workspace/1/incidents/5101",
    )
    prod = _connection_parts(
        "db-prod.internal.example",
        "billing_app",
        9,
        incident_url="https://dashboard.gitguardian.com/workspace/1/incidents/5102",
    )
    doc = _incident()
    entity = doc["scans"][0]["entities_with_incidents"][0]
    entity.update(filename=".env", incidents=[staging, prod, copy.deepcopy(staging)])
    items = run(doc)
    assert [(o.path, o.line, o.secret_value) for o in items] == [(".env", None, None)] * 3
    assert [o.tool_ids["incident_id"] for o in items] == ["5101", "5102", "5101"]
    rows = _staged(items)
    assert rows.counts.findings == 2
    assert len({row[2] for row in rows.findings}) == 2  # two secrets

    # The same incident in another commit is the same secret at another place.
    later = copy.deepcopy(doc)
    later["scans"][0]["id"] = "1f2e3d4c5b6a79881726354453627180a9b8c7d6"
    both = _staged(items + run(later))
    assert both.counts.findings == 4
    assert len({row[2] for row in both.findings}) == 2


def test_identifier_only_incidents_without_incident_ids_stay_two_findings():
    """A scan without the dashboard's incident links: what the identifier parts show tells
    the two incidents apart, by a digest kept in memory, never by the value itself."""
    staging = _connection_parts("db-staging.internal.example", "billing_app", 3, incident_url="")
    prod = _connection_parts("db-prod.internal.example", "billing_ro", 9, incident_url="")
    doc = _incident()
    entity = doc["scans"][0]["entities_with_incidents"][0]
    entity.update(filename=".env", incidents=[staging, prod])
    items = run(doc)
    assert all("incident_id" not in o.tool_ids for o in items)
    rows = _staged(items)
    assert rows.counts.findings == 2
    digests = [o.secret_sha1 for o in items]
    assert len(set(digests)) == 2
    shown = [occ["match"] for inc in (staging, prod) for occ in inc["occurrences"]]
    for obs in items:
        assert obs.secret_sha1 not in {hashlib.sha1(m.encode()).hexdigest() for m in shown}
    staged_text = repr(rows.findings) + repr(rows.references)
    for digest in digests:
        assert digest not in staged_text  # only the keyed fingerprint is staged

    # The same host and user in two files are not one secret (a local database's
    # "localhost" / "postgres" is in many): without an incident, the file is part of it.
    other = _incident()
    other["scans"][0]["entities_with_incidents"][0].update(
        filename="svc/config.py", incidents=[copy.deepcopy(staging)]
    )
    (elsewhere,) = run(other)
    assert elsewhere.secret_sha1 not in digests
    # The file as stored: a scan run in a container action's checkout names the same one.
    in_ci = _incident()
    in_ci["scans"][0]["entities_with_incidents"][0].update(
        filename="/github/workspace/.env", incidents=[copy.deepcopy(staging)]
    )
    (same,) = run(in_ci)
    assert same.secret_sha1 == digests[0]


def test_incident_ids_of_two_workspaces_are_two_secrets():
    """GitGuardian numbers incidents per workspace: incident 5101 of workspace 1 and of
    workspace 2 are two secrets; of one workspace, one wherever it is seen."""

    def digest(url: str, filename: str) -> str:
        doc = _incident()
        doc["scans"][0]["entities_with_incidents"][0].update(
            filename=filename,
            incidents=[_connection_parts("db.internal.example", "app", 3, incident_url=url)],
        )
        (obs,) = run(doc)
        return obs.secret_sha1

    one = "https://dashboard.gitguardian.com/workspace/1/incidents/5101"
    two = "https://dashboard.gitguardian.com/workspace/2/incidents/5101"
    assert digest(one, ".env") == digest(one, "svc/.env")
    assert digest(one, ".env") != digest(two, ".env")


def test_vault_references_by_vault_type():
    def refs(**vault):
        (obs,) = run(_incident(secret_vaulted=True, **vault))
        return [(r.kind, r.value) for r in obs.references], obs.description

    assert refs(vault_type="HashiCorp Vault", vault_path="kv/app") == (
        [("vault-path", "kv/app")],
        "GitGuardian found this secret stored in HashiCorp Vault.",
    )
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbCdEf"
    assert refs(vault_type="AWS Secrets Manager", vault_path=arn)[0] == [("arn", arn)]
    assert refs(vault_type="Azure Key Vault", vault_path="kv-prod/app")[0] == [
        ("other", "Azure Key Vault: kv-prod/app")
    ]
    (obs,) = run(_incident(secret_vaulted=False))
    assert (obs.references, obs.description) == ([], "")


def test_tool_docker_archive_scan():
    items = run(load("tool_ggshield_1_56_1_docker_archive.json"))
    assert sorted((o.rule, o.path, o.line) for o in items) == [
        ("AWS Keys", "/app/aws.ini", 4),
        ("GitHub Personal Access Token", "Dockerfile or build-args", 7),  # the image config
        ("PostgreSQL Credentials", "/app/.env", 5),
    ]
    assert all(o.repo == "" and o.commit == "" for o in items)
    assert_no_leak(items, _ignore_shas("tool_ggshield_1_56_1_docker_archive.json"))


@pytest.mark.parametrize("reason", [{"kind": "not_introduced", "detail": None}, "NOT_INTRODUCED"])
def test_not_introduced_is_skipped(reason):
    assert run(_incident(ignore_reason=reason)) == []


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        # ggshield's own tests: `ggshield iac scan --json` with nothing found.
        (json.loads(load("refused/real_ggshield_tests_iac_scan_no_incident.json")), "iac"),
        (
            {
                "id": ".",
                "type": "path_scan",
                "iac_engine_version": "1.15.0",
                "entities_with_incidents": [
                    {
                        "filename": "s3.tf",
                        "incidents": [{"policy_id": "GG_IAC_0055", "severity": "HIGH"}],
                    }
                ],
                "total_incidents": 1,
            },
            "iac",
        ),
        ({"type": "path_scan", "sca_engine_version": "1.0", "entities_with_incidents": []}, "sca"),
    ],
)
def test_iac_and_sca_scan_reports_are_refused(doc, where):
    """They share the secret scan's envelope: an empty one taken as a clean secret scan would
    mark every finding of the source missing."""
    with pytest.raises(ImportFormatError) as exc:
        run(doc)
    assert f"ggshield {where} scan report, not a secret scan" in exc.value.message
    assert exc.value.location == f"$.{where}_engine_version"


# --- censored secrets: the secret ggshield hashed names them ----------------------------------

STRIPE = "sk_live_51HqLyjWDarjtT1zdp7dcQwErTyUiOp9aS"  # fake
GENERIC = "f3b9c1e7a2d84c6e9b0a5d7e1c3f8b2a9d4e6c1b"  # fake


def _ignore_sha(value: str, match_type: str = "apikey") -> str:
    """ggshield's get_ignore_sha: SHA-256 over the uncensored "match,type" pairs."""
    return hashlib.sha256(f"{value},{match_type}".encode()).hexdigest()


def _secret_incident(value: str, rule: str, line: int, *, show: bool = False, **fields) -> dict:
    """An incident as `ggshield secret scan … --json` writes it (censored unless --show-secrets)."""
    return {
        "policy": "Secrets detection",
        "occurrences": [
            {"match": value if show else censor(value), "type": "apikey", "line_start": line,
             "line_end": line, "index_start": 10, "index_end": 10 + len(value)},
        ],
        "type": rule,
        "validity": "no_checker",
        "ignore_sha": _ignore_sha(value),
        "total_occurrences": 1,
        "incident_url": "",
        "known_secret": False,
        **fields,
    }  # fmt: skip


def _path_scan(files: list[tuple[str, list[dict]]], scan_type: str = "path_scan") -> dict:
    return {
        "id": "/home/dev/acme-api",
        "type": scan_type,
        "entities_with_incidents": [
            {"mode": "FILE", "filename": name, "incidents": incidents,
             "total_incidents": len(incidents), "total_occurrences": len(incidents)}
            for name, incidents in files
        ],
        "total_incidents": sum(len(i) for _, i in files),
        "secrets_engine_version": "2.124.0",
    }  # fmt: skip


def _secrets(rows: StagedRows) -> set[str]:
    return {row[2] for row in rows.findings}


KNOWN = {
    "incident_url": "https://dashboard.gitguardian.com/workspace/51234/incidents/8812345",
    "known_secret": True,
}


def test_censored_secret_carried_through_a_commit_range_is_one_secret():
    """`ggshield secret scan commit-range` without --show-secrets: a secret added in one commit
    and still on added lines of the next two, unknown to the dashboard (no incident link), is
    one secret found in three commits, not three secrets."""
    commits = []
    for n, (mode, line) in enumerate([("NEW", 5), ("MODIFY", 6), ("MODIFY", 9)]):
        incident = _secret_incident(GENERIC, "Generic High Entropy Secret", line + 3)
        incident["occurrences"][0].update(post_line_start=line, post_line_end=line)
        scan = {
            "id": f"{'abc'[n]}1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            "type": "commit",
            "extra_info": {"author": "Jane Dev", "email": "jane@example.com",
                           "date": f"Tue Mar 5 10:0{n}:00 2024 +0100"},
            "entities_with_incidents": [
                {"mode": mode, "filename": "app/settings.py", "incidents": [incident]}
            ],
        }  # fmt: skip
        commits.append(scan)
    doc = {"id": "HEAD~3...HEAD", "type": "commit-range", "scans": commits}
    items = run(doc)
    assert [(o.commit[0], o.path, o.line, o.secret_value) for o in items] == [
        ("a", "app/settings.py", 5, None),
        ("b", "app/settings.py", 6, None),
        ("c", "app/settings.py", 9, None),
    ]
    rows = _staged(items)
    assert rows.counts.findings == 3  # three commits: three places
    assert len(_secrets(rows)) == 1  # of one secret
    # Only a digest: neither ignore_sha (an unkeyed hash of the value) nor the SHA-1 of the
    # value is emitted, and only the keyed fingerprint is staged.
    assert_no_leak(items, [_ignore_sha(GENERIC), censor(GENERIC)[:8] + "*"])
    assert items[0].secret_sha1 != hashlib.sha1(GENERIC.encode()).hexdigest()
    assert items[0].secret_sha1 not in repr(rows.findings)


def test_censored_known_secret_in_two_files_is_one_secret():
    """`ggshield secret scan path` without --show-secrets: one secret (one GitGuardian
    incident) in two files is one secret at two places; another secret stays another."""
    doc = _path_scan(
        [
            ("config/.env", [_secret_incident(STRIPE, "Stripe Keys", 3, **KNOWN)]),
            ("deploy/values.yaml", [_secret_incident(STRIPE, "Stripe Keys", 12, **KNOWN)]),
            ("scripts/seed.py", [_secret_incident(GENERIC, "Generic High Entropy Secret", 7)]),
        ]
    )
    items = run(doc)
    assert [(o.path, o.line, o.secret_value) for o in items] == [
        ("config/.env", 3, None),
        ("deploy/values.yaml", 12, None),
        ("scripts/seed.py", 7, None),
    ]
    stripe_env, stripe_values, generic = (o.secret_sha1 for o in items)
    assert stripe_env == stripe_values != generic
    rows = _staged(items)
    assert rows.counts.findings == 3
    assert len(_secrets(rows)) == 2
    assert_no_leak(items, [_ignore_sha(STRIPE), _ignore_sha(GENERIC)])


def test_censored_secret_keeps_its_identity_once_the_dashboard_knows_it():
    """The secret unknown to the dashboard at one scan and known (an incident link) at the
    next is the same secret: its finding is not closed and opened again."""
    before = run(_path_scan([(".env", [_secret_incident(STRIPE, "Stripe Keys", 3)])]))
    after = run(_path_scan([(".env", [_secret_incident(STRIPE, "Stripe Keys", 3, **KNOWN)])]))
    assert before[0].secret_sha1 is not None
    assert before[0].secret_sha1 == after[0].secret_sha1
    assert [r[1] for r in _staged(before).findings] == [r[1] for r in _staged(after).findings]


def test_censored_secret_without_ignore_sha_is_named_by_its_incident():
    """A report without ignore_sha: the GitGuardian incident (of its workspace) names it."""

    def identity(filename: str, **fields) -> str | None:
        incident = _secret_incident(STRIPE, "Stripe Keys", 3, **fields)
        del incident["ignore_sha"]
        (obs,) = run(_path_scan([(filename, [incident])]))
        return obs.secret_sha1

    known = identity(".env", **KNOWN)
    assert known is not None
    assert identity("deploy/values.yaml", **KNOWN) == known
    other_workspace = KNOWN["incident_url"].replace("/51234/", "/9/")
    assert identity(".env", incident_url=other_workspace) != known
    # Neither ignore_sha nor incident: nothing names it but its place, as before.
    assert identity(".env") is None


def test_a_shown_value_wins_over_ignore_sha():
    """With --show-secrets the value is the identity (what gitleaks finding the same value
    matches), whatever ggshield's ignore_sha; the censored report is told apart from it."""
    shown = _secret_incident(STRIPE, "Stripe Keys", 9, show=True, **KNOWN)
    (obs,) = run(_path_scan([("docker-compose.yml", [shown])]))
    assert (obs.secret_value, obs.secret_sha1) == (STRIPE, None)
    (fp,) = _secrets(_staged([obs]))
    gitleaks_like = Observation(rule="stripe", secret_type="stripe-key", secret_value=STRIPE)
    assert _secrets(_staged([gitleaks_like])) == {fp}


# --- places of docker and pypi scans ---------------------------------------------------------

LAYER_1 = "sha256:" + "1f" * 32
LAYER_2 = "sha256:" + "2e" * 32


def test_docker_layer_is_not_part_of_the_path():
    """ggshield's docker scan names a layer's file "<layer id>:/app/.env": the path in the
    image is /app/.env, the layer a tool id (as the SARIF importer reads ggshield's SARIF).
    The same file copied into two layers is one place of one secret."""
    doc = _path_scan(
        [
            (f"{LAYER_1}:/app/.env", [_secret_incident(STRIPE, "Stripe Keys", 2, show=True)]),
            (f"{LAYER_2}:/app/.env", [_secret_incident(STRIPE, "Stripe Keys", 2, show=True)]),
        ],
        scan_type="scan_docker_archive",
    )
    doc["id"] = "acme/api:1.4.2"
    items = run(doc)
    assert [(o.path, o.line, o.tool_ids["docker_layer"]) for o in items] == [
        ("/app/.env", 2, LAYER_1),
        ("/app/.env", 2, LAYER_2),
    ]
    rows = _staged(items)
    assert rows.counts.findings == 1
    assert [(r[11], r[12]) for r in rows.findings] == [("/app/.env", 2)]
    # 1.56's docker scans write the path alone: no layer.
    archive = run(load("tool_ggshield_1_56_1_docker_archive.json"))
    assert all("docker_layer" not in o.tool_ids for o in archive)


@pytest.mark.parametrize(
    ("filename", "path"),
    [
        (
            "/tmp/tmpq8w3e_x1ggshield/acme_sdk-2.3.1/acme_sdk/config.py",
            "acme_sdk-2.3.1/acme_sdk/config.py",
        ),
        # a wheel unpacks into the directory itself
        ("/tmp/tmp0a_zk93mggshield/acme_sdk/config.py", "acme_sdk/config.py"),
        (
            "/private/var/folders/x4/5tq1d8zn6kd_2h0000gn/T/tmpabcd1234ggshield/pkg/setup.py",
            "pkg/setup.py",
        ),
        (
            "C:\\Users\\dev\\AppData\\Local\\Temp\\tmpk2j_8x0qggshield\\acme_sdk-2.3.1\\setup.py",
            "acme_sdk-2.3.1/setup.py",
        ),
        # not ggshield's temporary directory: as written
        ("/tmp/build/acme_sdk/config.py", "/tmp/build/acme_sdk/config.py"),
        ("src/tmpq8w3e_x1ggshield.py", "src/tmpq8w3e_x1ggshield.py"),
        # a repository's own directory so named (a relative path): no temporary directory
        ("src/tmpq8w3e_x1ggshield/x.py", "src/tmpq8w3e_x1ggshield/x.py"),
    ],
)
def test_unpacked_package_path_is_the_path_in_the_package(filename, path):
    incident = _secret_incident(STRIPE, "Stripe Keys", 8, show=True, **KNOWN)
    doc = _path_scan([(filename, [incident])])
    doc["id"] = "acme-sdk"
    (obs,) = run(doc)
    assert obs.path == path
    assert obs.repo == ""
    assert "docker_layer" not in obs.tool_ids


def test_pypi_scans_of_one_package_find_the_same_places():
    """ggshield unpacks the package into a new temporary directory every run: two scans of
    one release report the same finding, not a new one each time."""

    def scan(tmp: str) -> list[tuple]:
        incident = _secret_incident(STRIPE, "Stripe Keys", 8, show=True, **KNOWN)
        doc = _path_scan([(f"/tmp/{tmp}/acme_sdk-2.3.1/acme_sdk/config.py", [incident])])
        doc.update(id="acme-sdk", type="path_scan")
        return _staged(run(doc)).findings

    first, second = scan("tmpq8w3e_x1ggshield"), scan("tmp7hd0_kq2ggshield")
    assert [r[1] for r in first] == [r[1] for r in second]
    assert [r[11] for r in first] == ["acme_sdk-2.3.1/acme_sdk/config.py"]
