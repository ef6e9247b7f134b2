import base64
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers import get_parser
from hygiene.importers.aws_iam import parse
from hygiene.importers.base import ImportFormatError, Observation, Reference, RotationEvent

FIXTURES = Path(__file__).parents[2] / "fixtures"
IAM = FIXTURES / "aws-iam-credential-report"
SAMPLE_ACCT = "278368863034"
ACCT = "210987654321"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def load(name: str, **kwargs) -> list:
    with (IAM / name).open("rb") as fh:
        return list(parse(fh, **kwargs))


def parse_bytes(data: bytes, **kwargs) -> list:
    return list(parse(io.BytesIO(data), **kwargs))


def observations(items):
    return {(i.rule, i.resource): i for i in items if isinstance(i, Observation)}


def failing(items):
    return sorted(
        (i.rule, i.resource.rsplit(":", 1)[-1])
        for i in items
        if isinstance(i, Observation) and not i.passed
    )


def events(items):
    return [i for i in items if isinstance(i, RotationEvent)]


def test_registered():
    assert get_parser("aws-iam-credential-report") is parse


# --- the published sample ----------------------------------------------------------------


def test_sample_default_now_is_latest_timestamp():
    # Latest timestamp in the report: jake's key used 2023-01-03T10:27.
    items = load("credential_report.csv")
    assert failing(items) == [
        ("iam_access_key_1_rotation", "user/cloudgoat"),  # 2022-05-27, > 90 days
        ("iam_access_key_1_rotation", "user/jake"),  # 2022-05-18
        ("iam_console_mfa", "root"),  # root always has a console password
        ("iam_console_mfa", "user/jake"),
        ("iam_console_mfa", "user/test_account"),
    ]
    # test_key_account's key (2022-12-19) is never used but only 15 days old then.
    obs = observations(items)
    assert obs[("iam_access_key_1_unused", f"arn:aws:iam::{SAMPLE_ACCT}:user/test_key_account")]
    assert obs[
        ("iam_access_key_1_unused", f"arn:aws:iam::{SAMPLE_ACCT}:user/test_key_account")
    ].passed


def test_sample_with_explicit_now():
    items = load("credential_report.csv", now=datetime(2023, 6, 1, tzinfo=UTC))
    assert failing(items) == [
        ("iam_access_key_1_rotation", "user/cloudgoat"),
        ("iam_access_key_1_rotation", "user/jake"),
        ("iam_access_key_1_rotation", "user/test_key_account"),
        ("iam_access_key_1_unused", "user/cloudgoat"),  # last used 2022-12-21
        ("iam_access_key_1_unused", "user/jake"),  # last used 2023-01-03: 149 days
        ("iam_access_key_1_unused", "user/test_key_account"),  # never used, 164 days old
        ("iam_console_mfa", "root"),
        ("iam_console_mfa", "user/jake"),
        ("iam_console_mfa", "user/test_account"),
    ]


def test_sample_observation_fields():
    items = load("credential_report.csv")
    obs = observations(items)
    root = obs[("iam_console_mfa", f"arn:aws:iam::{SAMPLE_ACCT}:root")]
    assert root.secret_type == "missing-mfa"
    assert root.severity == "critical"
    assert root.category == "posture"
    assert root.account == SAMPLE_ACCT
    assert root.references == [
        Reference("arn", f"arn:aws:iam::{SAMPLE_ACCT}:root"),
        Reference("aws-account", SAMPLE_ACCT),
    ]
    assert root.tool_ids == {"user": "<root_account>"}
    assert root.secret_value is None and root.secret_sha1 is None
    jake = obs[("iam_console_mfa", f"arn:aws:iam::{SAMPLE_ACCT}:user/jake")]
    assert jake.severity == "high"
    assert jake.description
    rot = obs[("iam_access_key_1_rotation", f"arn:aws:iam::{SAMPLE_ACCT}:user/jake")]
    assert rot.secret_type == "key-rotation"
    assert rot.severity == "medium"
    root_key = obs[("iam_root_access_key", f"arn:aws:iam::{SAMPLE_ACCT}:root")]
    assert root_key.passed  # the sample's root has no access key
    assert root_key.secret_type == "root-credential"
    # per user: 2 slots x (rotation + unused) + mfa, + root key rule for root
    assert len([i for i in items if isinstance(i, Observation)]) == 5 * 5 + 1


def test_sample_rotation_events():
    evs = events(load("credential_report.csv"))
    assert [(e.action, e.references[0].value.rsplit(":", 1)[-1], e.occurred_at) for e in evs] == [
        ("rotated", "user/cloudgoat", datetime(2022, 5, 27, 10, 25, 44, tzinfo=UTC)),
        ("rotated", "user/jake", datetime(2022, 5, 18, 9, 51, 58, tzinfo=UTC)),
        ("rotated", "user/test_key_account", datetime(2022, 12, 19, 9, 22, 23, tzinfo=UTC)),
    ]
    assert all(e.event_name == "CredentialReport" for e in evs)
    assert all(e.references == [Reference("arn", e.references[0].value)] for e in evs)
    assert evs[0].event_id == (
        f"credential-report:arn:aws:iam::{SAMPLE_ACCT}:user/cloudgoat:key1:active:"
        "2022-05-27T10:25:44+00:00"
    )


# --- generated report -----------------------------------------------------------------------


def test_generated_findings():
    items = load("generated_credential_report.csv", now=NOW)
    assert failing(items) == [
        ("iam_access_key_1_rotation", "root"),
        ("iam_access_key_1_rotation", "user/deploy-bot"),  # 300 days
        ("iam_access_key_1_rotation", "user/old-ci"),  # 121 days
        ("iam_access_key_1_unused", "user/old-ci"),  # never used, 121 days old
        ("iam_access_key_1_unused", "user/team/stale-app"),  # last used 200 days ago
        ("iam_console_mfa", "root"),
        ("iam_console_mfa", "user/bob"),
        ("iam_root_access_key", "root"),
    ]
    obs = observations(items)
    root_key = obs[("iam_root_access_key", f"arn:aws:iam::{ACCT}:root")]
    assert (root_key.severity, root_key.secret_type, root_key.passed) == (
        "critical",
        "root-credential",
        False,
    )
    # new-svc's key is 10 days old and unused: within the grace period
    assert obs[("iam_access_key_1_unused", f"arn:aws:iam::{ACCT}:user/new-svc")].passed
    # alice: console with MFA, two fresh keys in use
    alice = [o for (rule, res), o in obs.items() if res.endswith("user/alice")]
    assert len(alice) == 5 and all(o.passed for o in alice)


def test_generated_events():
    evs = events(load("generated_credential_report.csv", now=NOW))
    summary = [(e.action, e.references[0].value.rsplit("/", 1)[-1], e.detail) for e in evs]
    assert (
        "revoked",
        "deploy-bot",
        "access key 2 of deploy-bot (created 2022-01-10T09:01:00+00:00) is inactive",
    ) in summary
    revoked = [e for e in evs if e.action == "revoked"]
    assert len(revoked) == 1
    assert revoked[0].occurred_at is None
    rotated = [e for e in evs if e.action == "rotated"]
    assert len(rotated) == 7  # one per active key: root, deploy-bot, old-ci, new-svc,
    # stale-app, alice x2
    alice2 = [e for e in rotated if e.event_id.endswith("key2:active:2024-05-25T00:00:00+00:00")]
    assert alice2[0].occurred_at == datetime(2024, 5, 25, tzinfo=UTC)
    assert alice2[0].references == [Reference("arn", f"arn:aws:iam::{ACCT}:user/alice")]


@pytest.mark.parametrize(
    ("max_key_age_days", "unused_days", "expected_rotation", "expected_unused"),
    [
        (90, 90, {"root", "deploy-bot", "old-ci"}, {"old-ci", "stale-app"}),
        (30, 90, {"root", "deploy-bot", "old-ci", "stale-app", "alice"}, {"old-ci", "stale-app"}),
        (400, 5, {"root"}, {"old-ci", "new-svc", "stale-app", "root"}),
        (3000, 365, set(), set()),
    ],
)
def test_thresholds(max_key_age_days, unused_days, expected_rotation, expected_unused):
    items = load(
        "generated_credential_report.csv",
        now=NOW,
        max_key_age_days=max_key_age_days,
        unused_days=unused_days,
    )
    fails = [(rule, res.rsplit("/", 1)[-1].replace(f"{ACCT}:", "")) for rule, res in failing(items)]
    rotation = {who.rsplit(":", 1)[-1] for rule, who in fails if rule.endswith("rotation")}
    unused = {who.rsplit(":", 1)[-1] for rule, who in fails if rule.endswith("unused")}
    assert rotation == expected_rotation
    assert unused == expected_unused


def svc_report(created: str, key_1: str) -> bytes:
    """A report of one user, svc (no password), created ``created``, whose first key is
    ``key_1`` (active,last_rotated,last_used_date,last_used_region,last_used_service)."""
    header = (IAM / "generated_credential_report.csv").read_text().splitlines()[0]
    row = (
        f"svc,arn:aws:iam::{ACCT}:user/svc,{created},false,N/A,N/A,N/A,false,{key_1},"
        "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )
    return f"{header}\n{row}\n".encode()


def test_threshold_boundaries():
    data = svc_report(
        "2024-01-01T00:00:00+00:00",
        "true,2024-03-03T00:00:00+00:00,2024-03-03T00:00:00+00:00,us-east-1,s3",
    )
    # 2024-03-03 + 90 days = 2024-06-01: exactly 90 days is not "older than 90"
    # but is "unused for >= 90 days".
    obs = observations(parse_bytes(data, now=NOW))
    arn = f"arn:aws:iam::{ACCT}:user/svc"
    assert obs[("iam_access_key_1_rotation", arn)].passed
    assert not obs[("iam_access_key_1_unused", arn)].passed
    obs = observations(parse_bytes(data, now=datetime(2024, 6, 2, tzinfo=UTC)))
    assert not obs[("iam_access_key_1_rotation", arn)].passed


def test_an_active_key_without_a_creation_date_is_no_older_than_its_user():
    """Prowler's own test reports: an active key, last_rotated N/A, never used. Judged against
    a report of the day the user was made, it is not "unused for 90 days" yet."""
    data = svc_report("2024-05-30T00:00:00+00:00", "true,N/A,N/A,N/A,N/A")
    arn = f"arn:aws:iam::{ACCT}:user/svc"
    assert observations(parse_bytes(data, now=NOW))[("iam_access_key_1_unused", arn)].passed
    later = datetime(2024, 9, 1, tzinfo=UTC)
    assert not observations(parse_bytes(data, now=later))[("iam_access_key_1_unused", arn)].passed


def test_naive_now_is_utc():
    a = load("generated_credential_report.csv", now=datetime(2024, 6, 1))
    b = load("generated_credential_report.csv", now=NOW)
    assert failing(a) == failing(b)


def test_parse_stream_defaults_callable():
    assert len(load("generated_credential_report.csv")) > 0


# --- bad input -------------------------------------------------------------------------------


def expect_error(data: bytes) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        parse_bytes(data, now=NOW)
    return info.value


def sample_lines():
    return (IAM / "credential_report.csv").read_text().splitlines()


def test_empty_and_binary():
    assert "empty" in expect_error(b"").message
    assert "zip archive; unzip it" in expect_error(b"PK\x03\x04\x00\x00").message


def test_wrong_headers():
    err = expect_error(b"user,arn,created\nbob,arn:aws:iam::1:user/bob,x\n")
    assert err.location == "line 1"
    assert "mfa_active" in err.message and "access_key_1_active" in err.message


def test_wrong_format_other_tools():
    prowler_csv = (FIXTURES / "prowler" / "example_output_aws.csv").read_bytes()
    assert expect_error(prowler_csv).location == "line 1"
    json_report = (FIXTURES / "prowler" / "example_output_aws.ocsf.json").read_bytes()
    assert "JSON" in expect_error(json_report).message


def test_truncated():
    data = (IAM / "credential_report.csv").read_bytes()
    err = expect_error(data[:700])
    assert err.location == "line 3"
    assert "fields" in err.message


def test_bad_values_have_locations_and_no_content():
    lines = sample_lines()
    bad_date = lines[2].replace("2022-05-27T10:25:44+00:00", "yesterday-ish")
    err = expect_error("\n".join([lines[0], lines[1], bad_date]).encode())
    assert err.location == "line 3, column access_key_1_last_rotated"
    assert "yesterday" not in str(err)
    bad_bool = lines[2].replace(",false,true,", ",false,maybe,", 1)
    err = expect_error("\n".join([lines[0], bad_bool]).encode())
    assert err.location == "line 2, column access_key_1_active"
    bad_arn = lines[2].replace("arn:aws:iam::278368863034:user/cloudgoat", "cloudgoat")
    assert expect_error("\n".join([lines[0], bad_arn]).encode()).location == "line 2, column arn"


def test_header_only_and_blank_lines():
    lines = sample_lines()
    assert parse_bytes((lines[0] + "\n").encode(), now=NOW) == []
    items = parse_bytes(("\n".join([lines[0], "", lines[1], ""]) + "\n").encode(), now=NOW)
    assert len([i for i in items if isinstance(i, Observation)]) == 6


def test_bom_and_crlf():
    data = (IAM / "credential_report.csv").read_bytes().replace(b"\n", b"\r\n")
    assert len(parse_bytes(b"\xef\xbb\xbf" + data, now=NOW)) == len(
        load("credential_report.csv", now=NOW)
    )


def test_out_of_range_date_is_a_format_error():
    lines = sample_lines()
    row = lines[2].replace("2022-05-27T10:25:44+00:00", "9999-12-31T23:59:59-05:00")
    err = expect_error("\n".join([lines[0], row]).encode())
    assert err.location == "line 2, column access_key_1_last_rotated"


# --- real reports from public repositories (origins: tests/fixtures/README-auditors.md) -------

CFECH_ACCT = "156041403698"


def test_real_cfech_report_root_with_mfa_and_console_users_without():
    # Root with password_enabled "true" and MFA, Z-suffixed times, no access keys at all.
    items = load("real_cfech_credential_report.csv")
    assert failing(items) == [
        ("iam_console_mfa", "user/Ad"),
        ("iam_console_mfa", "user/Regular"),
    ]
    obs = observations(items)
    root = f"arn:aws:iam::{CFECH_ACCT}:root"
    assert obs[("iam_root_access_key", root)].passed is True
    assert obs[("iam_console_mfa", root)].passed is True
    assert obs[("iam_console_mfa", root)].severity == "critical"
    ad = obs[("iam_console_mfa", f"arn:aws:iam::{CFECH_ACCT}:user/Ad")]
    assert (ad.severity, ad.account, ad.tool_ids) == ("high", CFECH_ACCT, {"user": "Ad"})
    assert Reference("aws-account", CFECH_ACCT) in ad.references
    assert events(items) == []  # no key in any slot


def test_real_selefra_report_two_active_keys():
    items = load("real_selefra_example_report.csv")
    arn = "arn:aws:iam::123456789012:user/user-readonly"
    assert failing(items) == []  # password disabled, keys used and within 90 days
    assert [(e.action, e.references, e.occurred_at) for e in events(items)] == [
        ("rotated", [Reference("arn", arn)], datetime(2022, 8, 31, 11, 10, 34, tzinfo=UTC)),
        ("rotated", [Reference("arn", arn)], datetime(2022, 8, 31, 11, 10, 33, tzinfo=UTC)),
    ]
    later = load("real_selefra_example_report.csv", now=datetime(2023, 1, 1, tzinfo=UTC))
    assert failing(later) == [
        ("iam_access_key_1_rotation", "user/user-readonly"),
        ("iam_access_key_1_unused", "user/user-readonly"),
        ("iam_access_key_2_rotation", "user/user-readonly"),
        ("iam_access_key_2_unused", "user/user-readonly"),
    ]


def cli_json(csv_bytes: bytes, **extra) -> bytes:
    doc = {"Content": base64.b64encode(csv_bytes).decode(), "ReportFormat": "text/csv"}
    doc.update(extra)
    return json.dumps(doc, indent=4).encode()


def test_cli_json_output_is_decoded_and_generated_time_is_now():
    # `aws iam get-credential-report` prints {"Content": <base64>, "GeneratedTime": ...}.
    csv_bytes = (IAM / "real_selefra_example_report.csv").read_bytes()
    items = parse_bytes(cli_json(csv_bytes, GeneratedTime="2023-01-01T00:00:00Z"))
    assert items == load("real_selefra_example_report.csv", now=datetime(2023, 1, 1, tzinfo=UTC))
    # An explicit now wins over GeneratedTime; without GeneratedTime the report's own latest.
    assert parse_bytes(cli_json(csv_bytes, GeneratedTime="2023-01-01T00:00:00Z"), now=NOW) == load(
        "real_selefra_example_report.csv", now=NOW
    )
    assert parse_bytes(cli_json(csv_bytes)) == load("real_selefra_example_report.csv")


def test_cli_json_errors():
    csv_bytes = (IAM / "real_cfech_credential_report.csv").read_bytes()
    assert expect_error(b'{"Content": "not base64!", "ReportFormat": "text/csv"}').location == (
        "$.Content"
    )
    assert expect_error(cli_json(csv_bytes, ReportFormat="text/xml")).location == "$.ReportFormat"
    assert expect_error(cli_json(csv_bytes, GeneratedTime="yesterday")).location == (
        "$.GeneratedTime"
    )
    assert expect_error(cli_json(b"")).location == "$.Content"
    err = expect_error(cli_json(b"user,arn\n"))
    assert (err.location, "mfa_active" in err.message) == ("line 1", True)
    assert "JSON" in expect_error(b'{"GeneratedTime": "2023-01-01T00:00:00Z"}').message


def test_real_guardian_security_hq_report_inactive_key_with_dates():
    # 10-digit account id as published; a user whose key 1 is inactive (with its rotation and
    # last-used dates) and key 2 active; users without a console password.
    items = load("real_guardian_security_hq_test_report.csv")
    # now = the latest time in the report (credential-user's key used 2017-08-30).
    assert failing(items) == [
        ("iam_access_key_1_rotation", "user/credential-user"),
        ("iam_access_key_1_rotation", "user/different-region"),
        ("iam_access_key_1_unused", "user/different-region"),
        ("iam_access_key_2_rotation", "user/with-disabled-key"),
        ("iam_access_key_2_unused", "user/with-disabled-key"),
    ]
    obs = observations(items)
    root = "arn:aws:iam::0123456789:root"
    assert obs[("iam_console_mfa", root)].passed is True  # not_supported password, MFA on
    assert obs[("iam_root_access_key", root)].account == "0123456789"
    disabled = "arn:aws:iam::0123456789:user/with-disabled-key"
    assert [
        (e.action, e.occurred_at) for e in events(items) if e.references[0].value == disabled
    ] == [
        ("revoked", None),
        ("rotated", datetime(2016, 7, 29, 9, 20, 20, tzinfo=UTC)),
    ]


def test_real_oil_report_with_a_faked_account_in_the_arns():
    # The publisher replaced the account id with "fakearn": still read, the ARN is kept as is.
    items = load("real_oil_iam_barrel_fakearn_report.csv")
    assert failing(items) == [
        ("iam_access_key_1_rotation", "user/example.user"),
        ("iam_access_key_1_rotation", "user/final.user"),
        ("iam_access_key_1_unused", "user/example.user"),
        ("iam_access_key_1_unused", "user/final.user"),
        ("iam_console_mfa", "user/example.user"),
        ("iam_console_mfa", "user/final.user"),
    ]
    obs = observations(items)
    user = "arn:aws:iam::fakearn:user/example.user"
    assert obs[("iam_console_mfa", user)].account == "fakearn"
    assert obs[("iam_console_mfa", user)].tool_ids == {"user": "example.user"}
    # now = the latest time in the report (2017-11-08): fakeuser's key was used that day.
    assert obs[("iam_access_key_1_unused", "arn:aws:iam::fakearn:user/fakeuser")].passed


def test_real_awscli_reference_output_without_content_is_an_empty_report():
    # The AWS CLI reference prints get-credential-report's output with GeneratedTime and
    # ReportFormat only: nothing to evaluate, not an error.
    assert load("real_awscli_docs_get_credential_report_output.json") == []
    err = expect_error(b'{"GeneratedTime": "2015-06-17T19:11:50Z", "State": "COMPLETE"}')
    assert "found other JSON" in err.message
    err = expect_error(b'{"GeneratedTime": "tomorrow", "ReportFormat": "text/csv"}')
    assert err.location == "$.GeneratedTime"


def test_cli_text_output_and_bare_base64_content_are_decoded():
    # `get-credential-report --output text` prints Content, GeneratedTime and ReportFormat
    # tab-separated; `--query Content --output text` prints the base64 alone, which people
    # forget to pipe through `base64 -d` (or wrap at 76 columns with `base64`).
    csv_bytes = (IAM / "real_guardian_security_hq_test_report.csv").read_bytes()
    content = base64.b64encode(csv_bytes)
    text = content + b"\t2023-01-01T00:00:00+00:00\ttext/csv\n"
    generated = datetime(2023, 1, 1, tzinfo=UTC)
    assert parse_bytes(text) == load("real_guardian_security_hq_test_report.csv", now=generated)
    assert parse_bytes(text, now=NOW) == load("real_guardian_security_hq_test_report.csv", now=NOW)
    expected = load("real_guardian_security_hq_test_report.csv")
    assert parse_bytes(content) == expected
    wrapped = b"\n".join(content[i : i + 76] for i in range(0, len(content), 76)) + b"\n"
    assert parse_bytes(wrapped) == expected


def test_cli_text_and_generate_report_errors():
    err = expect_error(b"QUJDREVGR0hJSktMTU5PUFFS\nUw\n")
    assert err.location == "line 1" and "base64" in err.message
    err = expect_error(base64.b64encode(b'{"Content": "eA==", "ReportFormat": "text/csv"}'))
    assert (err.location, "JSON" in err.message) == ("line 1 (decoded)", True)
    content = base64.b64encode((IAM / "real_cfech_credential_report.csv").read_bytes())
    err = expect_error(content + b"\tlast tuesday\ttext/csv\n")
    assert "tuesday" not in str(err)
    generate = {"State": "STARTED", "Description": "No report exists. Starting a new report"}
    err = expect_error(json.dumps(generate).encode())
    assert err.location == "$.State" and "get-credential-report" in err.message


def test_reports_of_several_accounts_concatenated():
    # `cat account-*.csv > all.csv`: each report keeps its header line; rows of every account.
    guardian = (IAM / "real_guardian_security_hq_test_report.csv").read_bytes()
    cfech = (IAM / "real_cfech_credential_report.csv").read_bytes()
    items = parse_bytes(guardian + b"\n" + cfech, now=NOW)
    assert items == parse_bytes(guardian, now=NOW) + parse_bytes(cfech, now=NOW)
    assert len({i.account for i in items if isinstance(i, Observation)}) == 2
    # A header whose columns differ is not a repeated header: an error at its line.
    other = cfech.replace(b"user,arn,", b"user,arn ,", 1)
    assert expect_error(
        guardian + b"\n" + other.replace(b"mfa_active", b"mfa")
    ).location.startswith("line ")


@pytest.mark.parametrize(
    ("password_enabled", "root_mfa_fails"),
    [("false", False), ("true", True), ("not_supported", True), ("N/A", True)],
)
def test_root_without_a_password_needs_no_console_mfa(password_enabled, root_mfa_fails):
    # Reports since 2024 give root's password_enabled as true/false (real_cfech: "true");
    # "false" once the root password was deleted (centralized root access): no console sign-in,
    # as Prowler's iam_root_mfa_enabled reads it. Older reports always said "not_supported".
    header, root_row = (IAM / "real_cfech_credential_report.csv").read_text().splitlines()[:2]
    fields = root_row.split(",")
    assert fields[0] == "<root_account>" and fields[3] == "true" and fields[7] == "true"
    fields[3], fields[7] = password_enabled, "false"  # password_enabled, mfa_active
    items = parse_bytes(f"{header}\n{','.join(fields)}\n".encode())
    root = f"arn:aws:iam::{CFECH_ACCT}:root"
    mfa = observations(items)[("iam_console_mfa", root)]
    assert mfa.passed is not root_mfa_fails
    assert mfa.severity == "critical"


def test_another_tools_deeper_json_is_named_other_json_not_too_deep():
    """A SARIF log or a GitLab report sent under this key: nested deeper than the CLI's JSON
    ever is, it was refused as "nested deeper than 4 levels" with no location."""
    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    for path in (
        sorted((fixtures / "sarif").glob("*.sarif"))[:1]
        + sorted((fixtures / "gitlab-secret-detection").glob("*.json"))[:1]
    ):
        err = expect_error(path.read_bytes())
        assert "found other JSON" in err.message and err.location == "byte 0", path.name
