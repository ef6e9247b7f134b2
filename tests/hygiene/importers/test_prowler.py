import copy
import dataclasses
import io
import json
from pathlib import Path

import pytest

from hygiene.importers import get_parser
from hygiene.importers.base import ImportFormatError, Observation, Reference
from hygiene.importers.prowler import check_type, is_secret_exposure_check, parse, v2_check_type

FIXTURES = Path(__file__).parents[2] / "fixtures"
PROWLER = FIXTURES / "prowler"
ACCT = "123456789012"
STORAGE_ID = (
    "/subscriptions/8b1c2d3e-0000-4a7c-9940-4d9779fbce91/resourceGroups/data-rg/providers/"
    "Microsoft.Storage/storageAccounts/leaklinedata"
)


def load(name: str) -> list:
    with (PROWLER / name).open("rb") as fh:
        return list(parse(fh))


def parse_bytes(data: bytes) -> list:
    return list(parse(io.BytesIO(data)))


def by_rule_resource(items):
    return {(i.rule, i.resource): i for i in items}


def test_registered():
    assert get_parser("prowler") is parse


# --- the published samples ----------------------------------------------------------------


def test_sample_aws_ocsf():
    items = load("example_output_aws.ocsf.json")
    # 5 results: 2 FAIL, 3 MANUAL (skipped)
    assert [i.rule for i in items] == [
        "accessanalyzer_enabled",
        "account_maintain_different_contact_details_to_security_billing_and_operations",
    ]
    first, second = items
    assert all(isinstance(i, Observation) for i in items)
    assert all(i.category == "posture" and not i.passed for i in items)
    assert all(i.secret_value is None and i.secret_sha1 is None for i in items)
    assert first.secret_type == "posture-other"
    assert first.severity == "low"
    assert second.severity == "medium"
    assert first.resource == "<resource_uid>"
    assert first.account == "<account_uid>"
    assert first.region == "<region>"
    assert first.title == "Check if IAM Access Analyzer is enabled"
    assert first.description.startswith("Enable IAM Access Analyzer for all accounts")
    assert first.tool_ids == {"finding_uid": "<finding_uid>"}
    assert second.resource == "arn:aws:iam::<account_uid>:root"
    assert Reference("arn", "arn:aws:iam::<account_uid>:root") in second.references
    assert Reference("aws-account", "<account_uid>") in second.references


def test_sample_azure_ocsf():
    items = load("example_output_azure.ocsf.json")
    assert len(items) == 5
    assert [i.severity for i in items] == ["low", "medium", "medium", "medium", "high"]
    assert all(i.account == "<subscription_uid>" for i in items)
    assert all(i.region == "global" for i in items)
    assert items[0].resource == "AppInsights"
    # Azure subscriptions are not AWS accounts
    assert all(r.kind != "aws-account" for i in items for r in i.references)
    assert items[3].tool_ids["finding_uid"].startswith("prowler-azure-defender_container")


def test_sample_csv_matches_ocsf():
    items = load("example_output_aws.csv")
    assert [(i.rule, i.severity, i.passed) for i in items] == [
        ("accessanalyzer_enabled", "low", False),
        (
            "account_maintain_different_contact_details_to_security_billing_and_operations",
            "medium",
            False,
        ),
    ]
    assert items[0].title == "Check if IAM Access Analyzer is enabled"
    assert items[0].description.startswith("Enable IAM Access Analyzer")
    assert items[0].account == "<account_uid>"
    assert items[0].region == "<region>"
    assert items[0].tool_ids == {"finding_uid": "<finding_uid>"}


# --- generated secret-hygiene reports ---------------------------------------------------------


def test_generated_ocsf_types_and_passes():
    items = load("generated_secret_hygiene.ocsf.json")
    assert len(items) == 14  # 15 results, one MANUAL skipped
    got = by_rule_resource(items)
    user = f"arn:aws:iam::{ACCT}:user/"
    expected = {
        ("iam_rotate_access_key_90_days", user + "deploy-bot"): ("key-rotation", "medium", False),
        ("iam_rotate_access_key_90_days", user + "alice"): ("key-rotation", "medium", True),
        ("iam_user_accesskey_unused", user + "old-ci"): ("unused-credential", "medium", False),
        ("iam_no_root_access_key", f"arn:aws:iam::{ACCT}:root"): (
            "root-credential",
            "critical",
            False,
        ),
        ("iam_root_mfa_enabled", f"arn:aws:iam::{ACCT}:root"): ("missing-mfa", "critical", True),
        ("iam_user_mfa_enabled_console_access", user + "bob"): ("missing-mfa", "high", False),
        (
            "secretsmanager_automatic_rotation_enabled",
            f"arn:aws:secretsmanager:eu-west-1:{ACCT}:secret:prod/db-AbC123",
        ): ("secret-rotation", "medium", False),
        (
            "awslambda_function_no_secrets_in_variables",
            f"arn:aws:lambda:eu-west-1:{ACCT}:function:billing-export",
        ): ("secret-in-config", "critical", False),
        ("storage_account_key_access_disabled", STORAGE_ID): (
            "shared-key-access",
            "medium",
            False,
        ),
        ("storage_key_rotation_90_days", STORAGE_ID): ("key-rotation", "medium", False),
        ("iam_user_two_active_access_key", user + "deploy-bot"): (
            "key-rotation",
            "medium",
            False,
        ),
    }
    for key, (secret_type, severity, passed) in expected.items():
        obs = got[key]
        assert (obs.secret_type, obs.severity, obs.passed) == (secret_type, severity, passed), key
    assert "account_maintain_current_contact_details" not in {i.rule for i in items}


def test_generated_ocsf_references_and_fields():
    got = by_rule_resource(load("generated_secret_hygiene.ocsf.json"))
    rot = got[("iam_rotate_access_key_90_days", f"arn:aws:iam::{ACCT}:user/deploy-bot")]
    assert rot.references == [
        Reference("arn", f"arn:aws:iam::{ACCT}:user/deploy-bot"),
        Reference("aws-account", ACCT),
    ]
    assert rot.region == "us-east-1"
    assert rot.account == ACCT
    assert rot.title == "Ensure access keys are rotated every 90 days or less"
    assert "access_key_X_last_rotated" in rot.description
    assert rot.tool_ids["finding_uid"].startswith("prowler-aws-iam_rotate_access_key_90_days")
    storage = got[("storage_account_key_access_disabled", STORAGE_ID)]
    assert storage.references == [
        Reference("storage-account", "leaklinedata"),
        Reference("other", STORAGE_ID),
    ]
    assert storage.account == "8b1c2d3e-0000-4a7c-9940-4d9779fbce91"
    assert storage.region == "westeurope"


def test_muted_fail_is_accepted_risk():
    got = by_rule_resource(load("generated_secret_hygiene.ocsf.json"))
    muted = got[("iam_user_two_active_access_key", f"arn:aws:iam::{ACCT}:user/deploy-bot")]
    assert muted.tool_resolution == "accepted_risk"
    others = [o for k, o in got.items() if k[0] != "iam_user_two_active_access_key"]
    assert all(o.tool_resolution == "" for o in others)


def test_generated_csv_equals_ocsf_for_aws():
    csv_items = load("generated_secret_hygiene.csv")
    ocsf_items = [
        i for i in load("generated_secret_hygiene.ocsf.json") if not i.resource.startswith("/")
    ]
    assert len(csv_items) == 11

    def key(i):
        return (
            i.rule,
            i.resource,
            i.secret_type,
            i.severity,
            i.passed,
            i.account,
            i.region,
            i.title,
            i.description,
            i.tool_resolution,
            tuple((r.kind, r.value) for r in i.references),
        )

    assert [key(i) for i in csv_items] == [key(i) for i in ocsf_items]


def test_status_extended_never_copied():
    # status_extended of the "find secrets" checks names where a secret is: not kept.
    for item in load("generated_secret_hygiene.ocsf.json"):
        assert ": FAIL for" not in item.description + item.title
        assert ": PASS for" not in item.description + item.title


# --- check type table -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "secret_type"),
    [
        ("iam_rotate_access_key_90_days", "key-rotation"),
        ("iam_user_accesskey_unused", "unused-credential"),
        ("iam_no_root_access_key", "root-credential"),
        ("iam_root_mfa_enabled", "missing-mfa"),
        ("iam_user_mfa_enabled_console_access", "missing-mfa"),
        ("secretsmanager_automatic_rotation_enabled", "secret-rotation"),
        ("secretsmanager_secret_rotated_periodically", "secret-rotation"),
        ("storage_key_rotation_90_days", "key-rotation"),
        ("storage_account_key_access_disabled", "shared-key-access"),
        ("iam_user_two_active_access_key", "key-rotation"),
        ("kms_cmk_rotation_enabled", "key-rotation"),
        ("keyvault_key_rotation_enabled", "key-rotation"),
        ("keyvault_rbac_secret_expiration_set", "key-policy"),
        ("iam_sa_user_managed_key_rotate_90_days", "key-rotation"),
        ("apikeys_key_rotated_in_90_days", "key-rotation"),
        ("awslambda_function_no_secrets_in_variables", "secret-in-config"),
        ("ECS_TASK_DEFINITIONS_NO_ENVIRONMENT_SECRETS", "secret-in-config"),
        ("ecr_repository_image_no_secrets", "secret-in-config"),
        # Kubernetes: Secrets mounted as environment variables, not a value in plain text
        ("core_no_secrets_envs", "posture-other"),
        ("accessanalyzer_enabled", "posture-other"),
        # heuristics for checks not in the table
        ("entra_privileged_user_has_mfa", "missing-mfa"),
        ("some_service_secret_rotation_check", "secret-rotation"),
        ("newservice_key_rotation_enabled", "key-rotation"),
        ("IAM_ROTATE_ACCESS_KEY_90_DAYS", "key-rotation"),
    ],
)
def test_check_type(check, secret_type):
    assert check_type(check) == secret_type


def test_secret_exposure_checks_recognised():
    for check in (
        "awslambda_function_no_secrets_in_variables",
        "ec2_instance_secrets_user_data",
        "cloudformation_stack_outputs_find_secrets",
        "ecs_task_definitions_no_environment_secrets",
        # Prowler 5 (ids from prowler 5.46.0's checks' metadata.json)
        "amplify_app_no_secrets_in_environment",
        "codebuild_project_source_repo_url_no_sensitive_credentials",
        "project_environment_no_secrets_in_plain_type",  # Vercel
    ):
        assert is_secret_exposure_check(check), check
    assert not is_secret_exposure_check("iam_root_mfa_enabled")
    # Kubernetes: a pod reading a Secret into its environment exposes nothing in plain text.
    assert not is_secret_exposure_check("core_no_secrets_envs")


# --- other shapes ----------------------------------------------------------------------------


def _finding(**over):
    base = json.loads((PROWLER / "generated_secret_hygiene.ocsf.json").read_text())[0]
    base.update(over)
    return base


def test_single_object_and_json_lines():
    one = json.dumps(_finding(), indent=2).encode()
    items = parse_bytes(one)
    assert [(i.rule, i.passed) for i in items] == [("iam_rotate_access_key_90_days", False)]
    lines = (json.dumps(_finding()) + "\n" + json.dumps(_finding(status_code="PASS"))).encode()
    assert [i.passed for i in parse_bytes(lines)] == [False, True]


def test_info_status_skipped_and_empty_array():
    assert parse_bytes(json.dumps([_finding(status_code="INFO")]).encode()) == []
    assert parse_bytes(b"[]") == []


def test_no_resources_falls_back_to_account():
    items = parse_bytes(json.dumps([_finding(resources=[])]).encode())
    assert items[0].resource == ACCT


def test_prowler_v3_json():
    v3 = [
        {
            "AssessmentStartTime": "2023-05-01T10:00:00",
            "FindingUniqueId": "prowler-aws-iam_no_root_access_key-123456789012-us-east-1-root",
            "Provider": "aws",
            "CheckID": "iam_no_root_access_key",
            "CheckTitle": "Ensure no root account access key exists",
            "Status": "FAIL",
            "StatusExtended": "Root account has access keys.",
            "Severity": "critical",
            "ResourceId": "<root_account>",
            "ResourceArn": f"arn:aws:iam::{ACCT}:root",
            "Region": "us-east-1",
            "AccountId": ACCT,
            "Remediation": {"Recommendation": {"Text": "Delete root access keys.", "Url": ""}},
        }
    ]
    (item,) = parse_bytes(json.dumps(v3).encode())
    assert item.rule == "iam_no_root_access_key"
    assert item.secret_type == "root-credential"
    assert item.severity == "critical"
    assert item.resource == f"arn:aws:iam::{ACCT}:root"
    assert item.description == "Delete root access keys."
    assert item.tool_ids == {
        "finding_uid": "prowler-aws-iam_no_root_access_key-123456789012-us-east-1-root"
    }


# --- bad input -------------------------------------------------------------------------------


def expect_error(data: bytes) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        parse_bytes(data)
    return info.value


def test_empty_and_blank():
    assert "empty" in expect_error(b"").message
    assert "empty" in expect_error(b" \n\t").message


def test_binary():
    err = expect_error(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "binary" in err.message
    assert err.location.startswith("byte")


def test_truncated_json():
    data = (PROWLER / "example_output_aws.ocsf.json").read_bytes()
    err = expect_error(data[: len(data) // 2])
    assert "truncated" in err.message
    assert err.location.startswith("near byte")


def test_csv_wrong_headers_names_missing_columns():
    err = expect_error(b"CHECK;STATE;RESOURCE\nx;FAIL;y\n")
    assert err.location == "line 1"
    assert "CHECK_ID" in err.message and "STATUS" in err.message
    assert "RESOURCE_UID" in err.message


def test_real_compliance_csv_is_refused_naming_the_main_csv():
    data = FIXTURES / "prowler" / "refused" / "real_maheribra_prowler_5_cis_6_0_compliance.csv"
    err = expect_error(data.read_bytes())
    assert err.location == "line 1"
    assert "Prowler compliance CSV" in err.message and "prowler-output-" in err.message


def test_csv_comma_separated_is_explained():
    err = expect_error(b"CHECK_ID,STATUS,RESOURCE_UID\nx,FAIL,y\n")
    assert "';'-separated" in err.message


def test_csv_row_length_and_unknown_status():
    err = expect_error(b"CHECK_ID;STATUS;RESOURCE_UID\nx;FAIL\n")
    assert err.location == "line 2"
    err = expect_error(b"CHECK_ID;STATUS;RESOURCE_UID\nx;BROKEN;y\n")
    assert err.location == "line 2, column STATUS"
    assert "BROKEN" not in str(err)


def test_truncated_csv():
    data = (PROWLER / "example_output_aws.csv").read_bytes()
    err = expect_error(data[:3000])
    assert err.location.startswith("line ")


def test_wrong_format_other_tools():
    gitleaks = json.dumps([{"RuleID": "aws-access-token", "Secret": "AKIAIOSFODNN7EXAMPLE"}])
    err = expect_error(gitleaks.encode())
    assert err.location == "$[0]"
    assert "AKIA" not in str(err)
    iam_csv = (FIXTURES / "aws-iam-credential-report" / "credential_report.csv").read_bytes()
    assert "','-separated" in expect_error(iam_csv).message
    vault = (FIXTURES / "vault-audit" / "vault_audit_kv_read_excerpt.jsonl").read_bytes()
    assert expect_error(vault).location == "line 1"


def test_asff_of_another_product_is_refused():
    # Security Hub findings of other products (GuardDuty, Inspector...) are not Prowler's.
    err = expect_error(json.dumps([{"SchemaVersion": "2018-10-08", "ProductArn": "x"}]).encode())
    assert (err.location, "ASFF" in err.message) == ("$[0]", True)
    guardduty = {
        "SchemaVersion": "2018-10-08",
        "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/guardduty",
        "GeneratorId": "arn:aws:guardduty:us-east-1:123456789012:detector/x",
    }
    assert "not written by Prowler" in expect_error(json.dumps(guardduty).encode()).message


def test_wrong_shapes():
    assert expect_error(b"[1, 2]").location == "$[0]"
    assert expect_error(json.dumps([_finding(resources={"uid": "x"})]).encode()).location == (
        "$[0].resources"
    )
    bad_meta = _finding(metadata={"event_code": ["x"]})
    assert expect_error(json.dumps([bad_meta]).encode()).location == "$[0].metadata"
    no_status = _finding()
    del no_status["status_code"]
    err = expect_error(json.dumps([no_status]).encode())
    assert err.location == "$[0].status_code"


def test_deep_nesting():
    deep = b'[{"metadata": {"event_code": "x"}, "unmapped": ' + b"[" * 50000 + b"]" * 50000
    err = expect_error(deep + b"}]")
    assert "nested" in err.message
    err = expect_error(b"[" * 50000 + b"]" * 50000)
    assert isinstance(err, ImportFormatError)


def test_escaped_brackets_in_strings_do_not_count_as_nesting():
    finding = _finding()
    finding["remediation"]["desc"] = '\\"[[[[{{{{' * 100
    (item,) = parse_bytes(json.dumps([finding]).encode())
    assert item.description == '\\"[[[[{{{{' * 100


def test_brackets_left_open_in_strings_are_not_nesting():
    # 3,000 findings each with an open bracket in a string: a few levels deep, not 3,000 (this
    # was refused as "JSON nested deeper than 2048 levels").
    finding = _finding()
    finding["remediation"]["desc"] = 'Rotate {"a": [\\"'
    findings = [{**finding, "status_detail": f'cfg["key_{i}"] || ['} for i in range(3000)]
    items = parse_bytes(json.dumps(findings).encode())
    assert len(items) == 3000
    assert {item.description for item in items} == {'Rotate {"a": [\\"'}
    deep = json.dumps(findings[:100]).encode()[:-1] + b", " + b"[" * 3000
    err = expect_error(deep)
    assert err.message == "JSON nested deeper than 2048 levels"
    assert err.location == f"near byte {deep.index(b'[' * 3000) + 2047}"


# --- real reports from public repositories (origins: tests/fixtures/README-auditors.md) -------


def test_real_v3_json_ocsf_from_prowler_docs():
    # Prowler 3.6 json-ocsf: no metadata.event_code / status_code; the check id is
    # metadata.product.feature.uid and the result is status "Success" / "Failure".
    items = load("real_prowler_docs_v3_json_ocsf.json")
    assert [(i.rule, i.passed) for i in items] == [("acm_certificates_expiration_check", True)] * 2
    first = items[0]
    assert first.resource == "arn:aws:acm:eu-west-1:012345678912:certificate/xxxxxxxxxxxxxx"
    assert first.account == "012345678912"
    assert first.region == "eu-west-1"
    assert first.severity == "high"
    assert first.title == "Check if ACM Certificates are about to expire in specific days or less"
    assert first.description.startswith("Monitor certificate expiration")
    assert first.tool_ids == {
        "finding_uid": "prowler-aws-acm_certificates_expiration_check-012345678912-eu-west-1-"
        "*.xxxxxxxxxxxxxx"
    }
    assert Reference("arn", first.resource) in first.references
    assert Reference("aws-account", "012345678912") in first.references
    assert "expires in" not in first.title + first.description  # status_detail never kept


def test_real_v3_json_ocsf_failure_and_unknown_status():
    doc = json.loads((PROWLER / "real_prowler_docs_v3_json_ocsf.json").read_bytes())
    doc[0]["status"] = "Failure"
    doc[1]["status"] = "Other"  # an allowlisted result: nothing to record
    items = parse_bytes(json.dumps(doc).encode())
    assert [(i.rule, i.passed) for i in items] == [("acm_certificates_expiration_check", False)]
    doc[1]["status"] = "Bogus"
    with pytest.raises(ImportFormatError) as err:
        parse_bytes(json.dumps(doc).encode())
    assert err.value.location == "$[1].status"
    del doc[1]["metadata"]["product"]["feature"]
    doc[1]["status"] = "Success"
    with pytest.raises(ImportFormatError) as err:
        parse_bytes(json.dumps(doc).encode())
    assert err.value.location == "$[1].metadata.product.feature"


def test_real_v3_json_from_defectdojo():
    (item,) = load("real_defectdojo_v3_one_vuln.json")
    assert item.rule == "acm_certificates_expiration_check"
    assert item.passed is False
    assert item.secret_type == "key-rotation"
    assert item.severity == "high"
    assert item.resource == (
        "arn:aws:acm:us-east-1:999999999999:certificate/ffffffff-0000-0000-0000-000000000000"
    )
    assert item.account == "999999999999"
    assert item.region == "us-east-1"
    assert item.tool_ids["finding_uid"].startswith("prowler-aws-acm_certificates_expiration_check-")
    assert "7 days" not in item.title + item.description


def test_v3_allowlisted_warning_is_a_muted_fail():
    doc = json.loads((PROWLER / "real_defectdojo_v3_one_vuln.json").read_bytes())
    doc[0]["Status"] = "WARNING"  # Prowler 3 marks allowlisted results WARNING
    (item,) = parse_bytes(json.dumps(doc).encode())
    assert item.passed is False
    assert item.tool_resolution == "accepted_risk"


def test_v3_json_gcp_project_and_location():
    doc = json.loads((PROWLER / "real_defectdojo_v3_one_vuln.json").read_bytes())
    for key in ("AccountId", "Region", "ResourceArn"):
        del doc[0][key]
    doc[0].update(Provider="gcp", ProjectId="acme-prod", Location="europe-west1")
    (item,) = parse_bytes(json.dumps(doc).encode())
    assert (item.account, item.region, item.resource) == (
        "acme-prod",
        "europe-west1",
        "api.teste.teste.com",
    )


def test_real_v4_ocsf_from_defectdojo_with_suppressed_finding():
    items = load("real_defectdojo_v4_many_vuln.ocsf.json")
    got = {i.rule: i for i in items}
    assert set(got) == {
        "iam_role_administratoraccess_policy_permissive_trust_relationship",
        "iam_role_cross_account_readonlyaccess_policy",
        "iam_role_permissive_trust_relationship",
    }
    assert all(i.passed is False and i.severity == "high" for i in items)
    assert all(i.account == ACCT and i.region == "us-east-1" for i in items)
    muted = got["iam_role_permissive_trust_relationship"]
    assert muted.resource == f"arn:aws:iam::{ACCT}:role/CrossAccountResourceAccessRole"
    assert muted.tool_resolution == "accepted_risk"  # status "Suppressed"
    assert got["iam_role_cross_account_readonlyaccess_policy"].tool_resolution == ""
    assert all(i.secret_type == "posture-other" for i in items)


def test_real_v5_ocsf_aws_pass_and_mfa_delete_is_not_missing_mfa():
    items = load("real_maheribra_v5_cloudtrail_after_scan.ocsf.json")
    trail = "arn:aws:cloudtrail:eu-north-1:018134828551:trail/security-audit-trail"
    assert [(i.rule, i.resource, i.passed) for i in items] == [
        ("cloudtrail_bedrock_logging_enabled", trail, True),
        ("cloudtrail_bucket_requires_mfa_delete", trail, False),
    ]
    mfa_delete = items[1]
    # S3 MFA Delete protects log objects; it is not a credential without MFA.
    assert mfa_delete.secret_type == "posture-other"
    assert mfa_delete.account == "018134828551"
    assert mfa_delete.region == "eu-north-1"
    assert mfa_delete.severity == "medium"
    assert "does not have MFA delete" not in mfa_delete.title + mfa_delete.description
    assert check_type("s3_bucket_no_mfa_delete") == "posture-other"
    assert check_type("iam_user_hardware_mfa_enabled") == "missing-mfa"


def test_real_v5_csv_multiline_quoted_fields():
    (item,) = load("real_maheribra_v5_cloudtrail_before_scan.csv")
    assert item.rule == "cloudtrail_bedrock_logging_enabled"
    assert item.passed is False
    assert item.resource == "arn:aws:cloudtrail:eu-west-1:018134828551:trail"
    assert item.account == "018134828551"
    assert item.region == "eu-west-1"
    assert item.severity == "medium"
    assert item.title == "CloudTrail logs Amazon Bedrock API calls for security auditing"
    assert item.description.startswith("Enable CloudTrail logging for Amazon Bedrock")
    assert "\n\nFor broader region coverage" in item.description  # a quoted multi-line field
    assert item.tool_ids == {
        "finding_uid": "prowler-aws-cloudtrail_bedrock_logging_enabled-018134828551-eu-west-1-"
        "018134828551"
    }


def test_real_v5_gcp_ocsf():
    items = load("real_prowler_examples_gcp.ocsf.json")
    assert [(i.rule, i.resource, i.passed) for i in items] == [
        ("apikeys_key_exists", "<project_id>", True),
        ("artifacts_container_analysis_enabled", "containeranalysis.googleapis.com", False),
    ]
    assert all(i.account == "<project_id>" and i.region == "global" for i in items)
    assert all(not any(r.kind == "aws-account" for r in i.references) for i in items)
    assert items[1].severity == "medium"


def test_real_v5_kubernetes_csv_and_ocsf_agree():
    csv_items = load("real_prowler_examples_kubernetes.csv")
    assert [(i.rule, i.passed, i.severity) for i in csv_items] == [
        ("apiserver_always_pull_images_plugin", False, "medium"),
        ("apiserver_anonymous_requests", True, "high"),
        ("apiserver_audit_log_maxage_set", False, "medium"),
        ("apiserver_audit_log_maxbackup_set", False, "medium"),
    ]
    assert {i.region for i in csv_items} == {"namespace: kube-system"}
    ocsf_items = load("real_prowler_examples_kubernetes.ocsf.json")
    assert [(i.rule, i.passed, i.resource) for i in ocsf_items] == [
        ("apiserver_always_pull_images_plugin", False, "<resource_uid>"),
        ("apiserver_anonymous_requests", True, "<resource_uid>"),
    ]
    # No region in Kubernetes OCSF: the namespace, spelt as the CSV spells it.
    assert {i.region for i in ocsf_items} == {"namespace: <namespace>"}
    assert all(i.account == "" and i.references == [] for i in ocsf_items)


def test_v3_csv_azure_and_gcp_account_columns():
    header = "ASSESSMENT_START_TIME;FINDING_UNIQUE_ID;PROVIDER;CHECK_ID;STATUS;SEVERITY;"
    azure = (
        header + "TENANT_DOMAIN;SUBSCRIPTION;RESOURCE_ID;RESOURCE_ARN;LOCATION\n"
        "2023-06-30T10:28:55;f1;azure;storage_key_rotation_90_days;FAIL;high;acme.com;"
        f"sub-1;leaklinedata;{STORAGE_ID};westeurope\n"
    )
    (item,) = parse_bytes(azure.encode())
    assert (item.account, item.resource, item.region) == ("sub-1", STORAGE_ID, "westeurope")
    assert Reference("storage-account", "leaklinedata") in item.references
    gcp = (
        header + "PROJECT_ID;RESOURCE_ID;RESOURCE_ARN;LOCATION\n"
        "2023-06-30T10:28:55;f2;gcp;iam_sa_user_managed_key_rotate_90_days;WARNING;medium;"
        "acme-prod;key-1;projects/acme-prod/serviceAccounts/sa/keys/key-1;global\n"
    )
    (item,) = parse_bytes(gcp.encode())
    assert (item.account, item.region) == ("acme-prod", "global")
    assert (item.passed, item.tool_resolution) == (False, "accepted_risk")


# --- Prowler 2 (origins: tests/fixtures/README-auditors.md) -----------------------------------

V2_CSV_HEADER = (
    "PROFILE,ACCOUNT_NUM,REGION,TITLE_ID,CHECK_RESULT,ITEM_SCORED,ITEM_LEVEL,TITLE_TEXT,"
    "CHECK_RESULT_EXTENDED,CHECK_ASFF_COMPLIANCE_TYPE,CHECK_SEVERITY,CHECK_SERVICENAME,"
    "CHECK_ASFF_RESOURCE_TYPE,CHECK_ASFF_TYPE,CHECK_RISK,CHECK_REMEDIATION,CHECK_DOC,"
    "CHECK_CAF_EPIC"
)


def text_of(item) -> str:
    """Every text an Observation keeps, to look for what must not be there."""
    parts = []
    for name, value in dataclasses.asdict(item).items():
        if isinstance(value, str):
            parts.append(value)
        elif name == "references":
            parts.extend(ref["value"] for ref in value)
        elif name == "tool_ids":
            parts.extend(value.values())
    return "\n".join(parts)


def v2_lines(name: str) -> list[dict]:
    return [json.loads(line) for line in (PROWLER / name).read_text().splitlines() if line]


def assert_no_message(items, messages):
    kept = "\n".join(text_of(i) for i in items)
    for message in messages:
        assert message not in kept
        # "eu-central-1: Only Virtual MFA is enabled for root": nor its text without the region
        assert message.split(": ", 1)[-1] not in kept


def test_real_v2_json_one_vuln_from_defectdojo():
    (item,) = load("real_defectdojo_v2_one_vuln.jsonl")
    assert item.rule == "check114"
    assert item.secret_type == "missing-mfa"
    assert item.category == "posture"
    assert item.passed is False
    assert item.tool_resolution == ""
    assert item.resource == "MFA"  # "Resource ID" as Prowler 2 wrote it
    assert item.account == "012345678912"
    assert item.region == "eu-central-1"
    assert item.severity == "critical"
    assert item.title == "Ensure hardware MFA is enabled for the root account"
    assert item.description == (
        "Using IAM console navigate to Dashboard and expand Activate MFA on your root account."
    )
    assert item.references == [Reference("aws-account", "012345678912")]
    assert item.tool_ids == {}
    assert item.secret_value is None and item.secret_sha1 is None
    (line,) = v2_lines("real_defectdojo_v2_one_vuln.jsonl")
    assert_no_message([item], [line["Message"]])
    assert line["Risk"] not in text_of(item)  # the risk text is not kept either


def test_real_v2_json_many_vuln_from_defectdojo():
    items = load("real_defectdojo_v2_many_vuln.jsonl")
    # 6 lines: "Pass", 4 FAIL, and check117 "Info" (skipped)
    assert [(i.rule, i.secret_type, i.passed, i.resource, i.severity) for i in items] == [
        ("check11", "root-credential", True, "root", "high"),
        ("check114", "missing-mfa", False, "MFA", "critical"),
        ("extra796", "posture-other", False, "prod-eksc", "high"),
        ("extra794", "posture-other", False, "prod-eksc", "medium"),
        ("check116", "posture-other", False, "dtpa.prod.config_read.iam", "low"),
    ]
    assert all(i.account == "012345678912" and i.region == "eu-central-1" for i in items)
    assert all(i.tool_resolution == "" for i in items)
    assert items[0].title == "Avoid the use of the root account"
    assert items[2].title == "Restrict Access to the EKS Control Plane Endpoint"
    assert items[3].description == "Make sure you logging for EKS control plane is enabled."
    assert all(not i.title.startswith("[") for i in items)
    assert_no_message(
        items, [line["Message"] for line in v2_lines("real_defectdojo_v2_many_vuln.jsonl")]
    )


def test_real_v2_csv_from_defectdojo():
    (one,) = load("real_defectdojo_v2_one_vuln.csv")
    many = load("real_defectdojo_v2_many_vuln.csv")
    assert [(i.rule, i.secret_type, i.passed, i.region, i.severity) for i in many] == [
        ("check11", "root-credential", False, "us-east-1", "high"),
        ("check13", "unused-credential", False, "us-east-1", "medium"),
        ("check110", "posture-other", False, "us-east-1", "medium"),
        ("extra75", "posture-other", False, "eu-west-2", "info"),  # "Informational"
    ]
    assert dataclasses.asdict(one) == dataclasses.asdict(many[0])
    # No resource column in this CSV: the account is the resource.
    assert all(i.resource == i.account == "012345678910" for i in many)
    assert all(i.references == [Reference("aws-account", "012345678910")] for i in many)
    # "(Scored)": older 2.x titles carry their CIS status, later ones (the JSON) don't.
    assert many[0].title == "Avoid the use of the root account"
    assert many[1].title == "Ensure credentials unused for 90 days or greater are disabled"
    assert many[1].description == (
        "Use the credential report to  ensure password_last_changed is less than 90 days ago."
    )
    assert_no_message(
        many,
        [
            "Root user in the account wasn't accessed in the last 1 days",
            "User example_user has never used access key 1 since creation and not rotated it in "
            "the past 90 days",
            "Password Policy has weak reuse requirement (lower than 24)",
            "eu-west-2: sg-01234567890qwerty is not being used!",
        ],
    )
    assert "example_user" not in "".join(text_of(i) for i in many)
    assert load("real_defectdojo_v2_no_vuln.csv") == []


def test_real_v2_csv_trailing_comma_and_one_result_per_place():
    # DefectDojo issue 4450: every row ends with a ',' the header lacks; check12 fails for three
    # users, named only in CHECK_RESULT_EXTENDED (never kept): one finding for the account.
    items = load("real_defectdojo_v2_issue4450.csv")
    assert [(i.rule, i.secret_type, i.passed) for i in items] == [
        ("check11", "root-credential", True),
        ("check12", "missing-mfa", False),
    ]
    assert all(
        (i.resource, i.account, i.region, i.severity)
        == ("612801422404", "612801422404", "us-west-2", "high")
        for i in items
    )
    mfa = items[1]
    assert mfa.title == (
        "Ensure multi-factor authentication (MFA) is enabled for all IAM users that have a "
        "console password"
    )
    assert mfa.description.startswith("Enable MFA for root account. is a simple best practice")
    kept = "".join(text_of(i) for i in items)
    for user in ("ansible-test-user", "John", "Michael", "Password enabled but MFA disabled"):
        assert user not in kept


def test_v2_pass_never_hides_a_fail_of_the_same_place():
    header, row = (PROWLER / "real_defectdojo_v2_one_vuln.csv").read_text().splitlines()[:2]
    passed = row.replace(",FAIL,", ",PASS,")
    for rows in ([passed, row], [row, passed]):
        (item,) = parse_bytes("\n".join([header, *rows]).encode())
        assert item.passed is False
    warning = row.replace(",FAIL,", ",WARNING,")
    (item,) = parse_bytes("\n".join([header, passed, warning]).encode())
    assert (item.passed, item.tool_resolution) == (False, "accepted_risk")
    (item,) = parse_bytes("\n".join([header, warning, row]).encode())
    assert (item.passed, item.tool_resolution) == (False, "")


def test_v2_warning_is_a_muted_fail():
    # Prowler 2 writes WARNING for a FAIL its allowlist (-w) matched.
    line = v2_lines("real_defectdojo_v2_one_vuln.jsonl")[0]
    line["Status"] = "WARNING"
    (item,) = parse_bytes(json.dumps(line).encode())
    assert (item.rule, item.passed, item.tool_resolution) == ("check114", False, "accepted_risk")
    csv_text = (PROWLER / "real_defectdojo_v2_one_vuln.csv").read_text()
    (item,) = parse_bytes(csv_text.replace(",FAIL,", ",WARNING,").encode())
    assert (item.rule, item.passed, item.tool_resolution) == ("check11", False, "accepted_risk")


def test_v2_json_mixed_case_status_and_no_resource_id():
    lines = v2_lines("real_defectdojo_v2_many_vuln.jsonl")
    info = lines[5]  # check117, "Resource ID": ""
    info["Status"] = "Fail"
    (item,) = parse_bytes(json.dumps(info).encode())
    assert (item.rule, item.passed) == ("check117", False)
    assert item.resource == item.account == "012345678912"
    # jq -s: the same objects in an array
    items = parse_bytes(json.dumps(v2_lines("real_defectdojo_v2_many_vuln.jsonl")).encode())
    assert [i.rule for i in items] == ["check11", "check114", "extra796", "extra794", "check116"]


def test_v2_csv_resource_column_and_early_header():
    # Later 2.x headers end with CHECK_RESOURCE_ID (include/csv_header).
    header, row = (PROWLER / "real_defectdojo_v2_one_vuln.csv").read_text().splitlines()[:2]
    data = f"{header},CHECK_RESOURCE_ID\n{row},<root_account>\n"
    (item,) = parse_bytes(data.encode())
    assert (item.resource, item.account) == ("<root_account>", "012345678910")
    # Early 2.x: RESULT, NOTES and SEVERITY.
    old = (
        "PROFILE,ACCOUNT_NUM,REGION,TITLE_ID,RESULT,SCORED,LEVEL,TITLE_TEXT,NOTES,COMPLIANCE,"
        "SEVERITY,SERVICENAME\n"
        "default,012345678910,us-east-1,1.4,FAIL,Scored,Level 1,[check14] Ensure access keys are "
        "rotated every 90 days or less (Scored), alice has not rotated access key1 in over 90 "
        "days ,Software and Configuration Checks,Medium,iam\n"
    )
    (item,) = parse_bytes(old.encode())
    assert (item.rule, item.secret_type, item.severity) == ("check14", "key-rotation", "medium")
    assert item.description == ""
    assert "alice" not in text_of(item)


@pytest.mark.parametrize(
    ("check", "title", "secret_type"),
    [
        # titles as in prowler-cloud/prowler checks/check* and checks/check_extra* (Prowler 2)
        ("check11", "Avoid the use of the root account (Scored)", "root-credential"),
        ("check112", "Ensure no root account access key exists (Scored)", "root-credential"),
        (
            "check12",
            "Ensure multi-factor authentication (MFA) is enabled for all IAM users that have a "
            "console password (Scored)",
            "missing-mfa",
        ),
        ("check113", "Ensure MFA is enabled for the root account (Scored)", "missing-mfa"),
        ("check114", "Ensure hardware MFA is enabled for the root account (Scored)", "missing-mfa"),
        ("extra7125", "Check if IAM users have Hardware MFA enabled.", "missing-mfa"),
        (
            "extra71",
            "Ensure users of groups with AdministratorAccess policy have MFA tokens enabled",
            "missing-mfa",
        ),
        (
            "check13",
            "Ensure credentials unused for 90 days or greater are disabled (Scored)",
            "unused-credential",
        ),
        (
            "extra774",
            "Ensure credentials unused for 30 days or greater are disabled",
            "unused-credential",
        ),
        ("extra774", "Check if user have unused console login", "unused-credential"),
        (
            "check121",
            "Do not setup access keys during initial user setup for all IAM users that have a "
            "console password (Not Scored)",
            "unused-credential",
        ),
        (
            "check14",
            "Ensure access keys are rotated every 90 days or less (Scored)",
            "key-rotation",
        ),
        (
            "check28",
            "Ensure rotation for customer created KMS CMKs is enabled (Scored)",
            "key-rotation",
        ),
        ("extra7123", "Check if IAM users have two active access keys", "key-rotation"),
        (
            "extra730",
            "Check if ACM Certificates are about to expire in 7 days or less (Not Scored) (Not "
            "part of CIS benchmark)",
            "key-rotation",
        ),
        ("extra7163", "Check if Secrets Manager key rotation is enabled", "secret-rotation"),
        (
            "check111",
            "Ensure IAM password policy expires passwords within 90 days or less (Scored)",
            "key-policy",
        ),
        ("extra741", "Find secrets in EC2 User Data", "secret-in-config"),
        (
            "extra759",
            "Find secrets in Lambda functions variables (Not Scored) (Not part of CIS benchmark)",
            "secret-in-config",
        ),
        # a CloudWatch alarm about sign-ins without MFA, not a credential without MFA
        (
            "check32",
            "Ensure a log metric filter and alarm exist for Management Console sign-in without "
            "MFA (Scored)",
            "posture-other",
        ),
        # an id Prowler 2 once gave another check: the title decides
        (
            "extra7123",
            "Check if Security configurations used by ETL Development endpoints have Job "
            "bookmark encryption enabled.",
            "posture-other",
        ),
        ("CHECK14", "Ensure access keys are rotated every 90 days or less", "key-rotation"),
        # unknown ids: the heuristics over the title
        ("extra7999", "Check if IAM users have MFA enabled", "missing-mfa"),
        ("extra7999", "Check if S3 buckets have MFA Delete enabled", "posture-other"),
        ("check116", "Ensure IAM policies are attached only to groups or roles", "posture-other"),
    ],
)
def test_v2_check_type(check, title, secret_type):
    assert v2_check_type(check, title) == secret_type


def test_v2_secret_exposure_checks_recognised():
    for check in ("extra741", "extra742", "extra759", "extra760", "extra768", "extra775"):
        assert is_secret_exposure_check(check)
    assert is_secret_exposure_check("extra7141")
    assert not is_secret_exposure_check("check114")
    # v2 ids mean nothing to the Prowler 3+ table
    assert check_type("check14") == "posture-other"


def test_v2_json_bad_lines():
    lines = v2_lines("real_defectdojo_v2_many_vuln.jsonl")
    good = json.dumps(lines[0])
    err = expect_error(f'{good}\n{{"Control": "[check11] x", "Status": \n'.encode())
    assert err.location.startswith("line 2")
    assert "malformed JSON" in err.message
    no_id = {**lines[1], "Control": "Ensure hardware MFA is enabled for the root account"}
    err = expect_error(f"{good}\n{json.dumps(no_id)}\n".encode())
    assert err.location == "line 2, field Control"
    assert "[check11]" in err.message
    bad_status = {**lines[1], "Status": "Maybe"}
    err = expect_error(f"{good}\n{json.dumps(bad_status)}\n".encode())
    assert err.location == "line 2, field Status"
    assert "Maybe" not in str(err)
    no_control = {k: v for k, v in lines[1].items() if k != "Control"}
    err = expect_error(json.dumps(no_control).encode())
    assert (err.location, err.message) == ("line 1", "missing required field 'Control'")
    err = expect_error(json.dumps({**lines[1], "Control": ["[check11] x"]}).encode())
    assert err.location == "line 1"
    assert expect_error(json.dumps([no_control]).encode()).location == "$[0]"


def test_v2_csv_bad_rows():
    header, row = (PROWLER / "real_defectdojo_v2_one_vuln.csv").read_text().splitlines()[:2]
    err = expect_error(f"{header}\n{row}\n{row},Extra,fields\n".encode())
    assert err.location == "line 3"
    assert err.message == "row has 20 fields, the header has 18 (an unquoted ',' inside a field?)"
    err = expect_error(f"{header}\n{row.rsplit(',', 2)[0]}\n".encode())
    assert (err.location, err.message) == ("line 2", "row has 16 fields, the header has 18")
    no_id = row.replace("[check11] ", "")
    err = expect_error(f"{header}\n{no_id}\n".encode())
    assert err.location == "line 2, column TITLE_TEXT"
    err = expect_error(f"{header}\n{row.replace(',FAIL,', ',BROKEN,')}\n".encode())
    assert err.location == "line 2, column CHECK_RESULT"
    assert "BROKEN" not in str(err)
    err = expect_error(f'{header}\n{row}\n"{row}\n'.encode() + b"x" * 200_000)
    assert err.location.startswith("line ")
    err = expect_error(b"PROFILE,ACCOUNT_NUM,REGION,TITLE_ID,ITEM_SCORED\n,1,x,1.1,Scored\n")
    assert err.location == "line 1"
    assert err.message == "not a Prowler 2 CSV: missing column(s) CHECK_RESULT, TITLE_TEXT"


def test_other_csvs_behave_as_before_prowler_2():
    # Prowler 3+ ';' CSVs are untouched, comma CSVs without Prowler 2's columns keep their error.
    assert load("example_output_aws.csv")[0].rule == "accessanalyzer_enabled"
    v4_header = (PROWLER / "example_output_aws.csv").read_text().splitlines()[0]
    for header in (v4_header.replace(";", ","), "CHECK_ID,STATUS,RESOURCE_UID,ACCOUNT_ID"):
        err = expect_error(f"{header}\nx,FAIL,y,z\n".encode())
        assert err.message == "expected Prowler's ';'-separated CSV, found a ','-separated header"
        assert err.location == "line 1"
    # Prowler 2's columns ';'-separated: read as Prowler 3+ (which it is not), as before.
    err = expect_error(V2_CSV_HEADER.replace(",", ";").encode() + b"\n")
    assert err.message.startswith("not a Prowler CSV: missing column(s) CHECK_ID")


V2_8_HEADER = (
    V2_CSV_HEADER + ",CHECK_RESOURCE_ID,PROWLER_START_TIME,ACCOUNT_DETAILS_EMAIL,"
    "ACCOUNT_DETAILS_NAME,ACCOUNT_DETAILS_ARN,ACCOUNT_DETAILS_ORG,ACCOUNT_DETAILS_TAGS"
)


def test_v2_csv_comma_in_the_message_is_an_error_not_shifted_columns():
    # 2.8's last columns are usually empty: a ',' in the unquoted message must not pass as
    # "a row ending in ','" and move every later column (resource, severity...) by one.
    row = (
        "ENV,123456789012,us-east-1,1.4,FAIL,Scored,Level 1,[check14] Ensure access keys are"
        " rotated every 90 days or less,user bob has not rotated access key 1{comma} created"
        " 2019,cmp,Medium,iam,AwsIamUser,t,risk,Use the credential report,http://d,IAM,bob,"
        "2022-05-18T10:33:48Z,,,,,"
    )
    (item,) = parse_bytes(f"{V2_8_HEADER}\n{row.format(comma='')}\n".encode())
    assert (item.rule, item.resource, item.severity) == ("check14", "bob", "medium")
    assert item.description == "Use the credential report"
    err = expect_error(f"{V2_8_HEADER}\n{row.format(comma=',')}\n".encode())
    assert (err.location, err.message) == (
        "line 2",
        "row has 26 fields, the header has 25 (an unquoted ',' inside a field?)",
    )
    assert "bob" not in str(err)


def test_v2_json_lines_with_a_long_first_line():
    lines = v2_lines("real_defectdojo_v2_many_vuln.jsonl")
    long_first = {**lines[0], "Risk": "r" * 6000}
    data = f"{json.dumps(long_first)}\n{json.dumps(lines[1])}\n".encode()
    assert len(data.split(b"\n", 1)[0]) > 4096
    assert [i.rule for i in parse_bytes(data)] == [
        i.rule for i in parse_bytes("\n".join(json.dumps(x) for x in lines[:2]).encode())
    ]


def test_v2_info_rows_are_skipped_whatever_their_title():
    header, row = (PROWLER / "real_defectdojo_v2_one_vuln.csv").read_text().splitlines()[:2]
    info = row.replace(",FAIL,", ",INFO,").replace("[check11] ", "")
    assert [i.rule for i in parse_bytes(f"{header}\n{info}\n{row}\n".encode())] == ["check11"]


def test_a_number_too_long_for_python_is_a_format_error():
    line = json.dumps(v2_lines("real_defectdojo_v2_one_vuln.jsonl")[0])
    huge = line[:-1] + ', "X": ' + "1" * 5000 + "}"
    err = expect_error(f"{line}\n{huge}\n".encode())
    assert (err.message, err.location) == ("a number in the JSON is too long", "line 2")
    err = expect_error(("{\n" + huge[1:]).encode())
    assert (err.message, err.location) == ("a number in the JSON is too long", "$")


def test_v2_csv_rows_end_in_a_comma_all_of_them_or_none():
    # As the first row goes: rows ending in ',' (issue 4450) or not. A ',' in the message of a
    # row whose last field is empty must not pass for the trailing one.
    header, *rows = (PROWLER / "real_defectdojo_v2_many_vuln.csv").read_text().splitlines()
    assert not rows[0].endswith(",")
    shifted = rows[1].replace("never used", "never, used").rsplit(",", 1)[0] + ","
    err = expect_error("\n".join([header, rows[0], shifted, ""]).encode())
    assert (err.location, err.message) == (
        "line 3",
        "row has 19 fields, the header has 18 (an unquoted ',' inside a field?)",
    )
    header, *rows = (PROWLER / "real_defectdojo_v2_issue4450.csv").read_text().splitlines()
    assert all(r.endswith(",") for r in rows if r)
    err = expect_error("\n".join([header, rows[0], rows[1][:-1], ""]).encode())
    assert err.location == "line 3"
    err = expect_error(
        "\n".join([header, rows[0], rows[1].replace("has Password", "has, Password"), ""]).encode()
    )
    assert (err.location, err.message) == (
        "line 3",
        "row has 19 fields before its final ',', the header has 18"
        " (an unquoted ',' inside a field?)",
    )


# --- ASFF (-M json-asff) --------------------------------------------------------------------


def asff_findings(name: str) -> list[dict]:
    doc = json.loads((PROWLER / name).read_bytes())
    return doc if isinstance(doc, list) else [doc]


def test_real_v3_asff_from_prowler_docs():
    # Prowler 3.0's documented JSON-ASFF example: a PASSED result, check id in GeneratorId.
    (item,) = load("real_prowler_docs_v3_json_asff.json")
    assert item.rule == "rds_instance_minor_version_upgrade_enabled"
    assert (item.passed, item.tool_resolution) == (True, "")
    assert (item.resource, item.account, item.region) == (
        "rds-instance-id",
        "ACCOUNT_ID",
        "eu-west-1",
    )
    assert (item.severity, item.secret_type, item.category) == ("low", "posture-other", "posture")
    assert item.title == "Ensure RDS instances have minor version upgrade enabled."
    assert item.description == (
        "Enable auto minor version upgrade for all databases and environments."
    )
    assert item.tool_ids == {
        "finding_uid": "prowler-rds_instance_minor_version_upgrade_enabled-ACCOUNT_ID-eu-west-1-"
        "b1ade474a"
    }


def test_real_v3_asff_run_from_defectdojo():
    # A Prowler 3.3 run: FAILED / PASSED results, the account id or an analyzer ARN as resource.
    items = load("real_defectdojo_v3_3_prowler_output.asff.json")
    assert [(i.rule, i.region, i.passed) for i in items] == [
        ("accessanalyzer_enabled", "ap-northeast-1", False),
        ("accessanalyzer_enabled", "eu-west-1", True),
        ("accessanalyzer_enabled_without_findings", "ap-northeast-1", False),
    ]
    first, passed, _ = items
    assert (first.resource, first.account) == ("123456789012", "123456789012")
    assert Reference("aws-account", "123456789012") in first.references
    assert passed.resource.startswith("arn:aws:access-analyzer:eu-west-1:123456789012:analyzer/")
    assert Reference("arn", passed.resource) in passed.references
    assert first.tool_ids == {
        "finding_uid": "prowler-accessanalyzer_enabled-123456789012-ap-northeast-1-fb33278bd"
    }
    # Description is the status_extended message: never kept.
    findings = asff_findings("real_defectdojo_v3_3_prowler_output.asff.json")
    for item, finding in zip(items, findings, strict=True):
        assert finding["Description"] not in repr(dataclasses.asdict(item))


def test_real_v2_asff_from_prowler_readme():
    # Prowler 2.9: check id in GeneratorId and in the title after the service ("iam.[check14]"),
    # Id built from the message: the Prowler 2 path, no finding_uid.
    (item,) = load("real_prowler_readme_v2_9_json_asff.json")
    assert item.rule == "check14"
    assert (item.secret_type, item.passed, item.severity) == ("key-rotation", False, "medium")
    assert item.title == "Ensure access keys are rotated every 90 days or less"
    assert (item.resource, item.account, item.region) == ("user", "1111111111111", "us-west-2")
    assert item.tool_ids == {}
    assert "rotated access key 2" not in repr(dataclasses.asdict(item))


def test_real_v2_json_and_asff_from_the_same_readme_agree():
    # The README's -M json example (a single pretty-printed object with the 2.8+ account fields)
    # is the same result.
    (json_item,) = load("real_prowler_readme_v2_9_json.json")
    (asff_item,) = load("real_prowler_readme_v2_9_json_asff.json")
    assert json_item.resource == "terraform-user"  # the README's two examples differ here
    for field in ("rule", "secret_type", "title", "account", "region", "severity", "passed"):
        assert getattr(json_item, field) == getattr(asff_item, field)
    assert json_item.description.startswith("Use the credential report")
    assert "us-west-2: user" not in repr(dataclasses.asdict(json_item))


def test_asff_statuses_and_shapes():
    (finding,) = asff_findings("real_prowler_docs_v3_json_asff.json")

    def with_status(status: str, **extra) -> bytes:
        f = copy.deepcopy(finding)
        f["Compliance"]["Status"] = status
        f.update(extra)
        return json.dumps([f]).encode()

    (failed,) = parse_bytes(with_status("FAILED"))
    assert (failed.passed, failed.tool_resolution) == (False, "")
    # WARNING: muted (Prowler 4+) or allowlisted (Prowler 3): a muted FAIL.
    (muted,) = parse_bytes(with_status("WARNING"))
    assert (muted.passed, muted.tool_resolution) == (False, "accepted_risk")
    assert parse_bytes(with_status("NOT_AVAILABLE")) == []
    err = expect_error(with_status("MAYBE"))
    assert (err.location, err.message) == (
        "$[0].Compliance.Status",
        "unknown status (expected PASSED, FAILED, WARNING or NOT_AVAILABLE)",
    )
    assert expect_error(with_status("")).message == "missing status"
    # No Resources: the account; no Region: the one in ProductArn.
    (bare,) = parse_bytes(with_status("FAILED", Resources=[]))
    assert (bare.resource, bare.region) == ("ACCOUNT_ID", "eu-west-1")
    # JSON lines (Prowler 2 wrote one compact finding a line) and a single object.
    line = json.dumps(json.loads(with_status("FAILED"))[0])
    assert len(parse_bytes(f"{line}\n{line}\n".encode())) == 2
    assert len(parse_bytes(json.dumps(json.loads(line), indent=2).encode())) == 1


def test_real_v4_ocsf_one_vuln_after_4_5_from_defectdojo():
    # Prowler 4.2 OCSF 1.2.0: "unmapped" categories as a string, created_time as a string.
    (item,) = load("real_defectdojo_v4_one_vuln_after_4_5_0.ocsf.json")
    assert item.rule == "iam_role_administratoraccess_policy_permissive_trust_relationship"
    assert (item.passed, item.severity, item.secret_type) == (False, "high", "posture-other")
    arn = "arn:aws:iam::123456789012:role/myAdministratorExecutionRole"
    assert (item.resource, item.account, item.region) == (arn, "123456789012", "us-east-1")
    assert item.references == [Reference("arn", arn), Reference("aws-account", "123456789012")]
    assert item.tool_ids["finding_uid"].endswith("-us-east-1-myAdministratorExecutionRole")
    assert item.description.startswith("Apply the principle of least privilege.")
    assert "too permissive trust" not in repr(dataclasses.asdict(item))  # status_detail


# --- Prowler 5.46's own writers (tool_*: tests/fixtures/README-auditors.md) ------------------
# Findings built from the checks' own metadata and written by Prowler's OCSF, CSV and ASFF
# output classes: M365, GitHub and Azure providers, and muted results, both PASS and FAIL.


def brief(items):
    return [
        (o.rule, o.secret_type, o.severity, o.passed, o.tool_resolution, o.resource, o.region)
        for o in items
    ]


M365_TENANT = "00000000-1111-2222-3333-444444444444"


@pytest.mark.parametrize(
    "name", ["tool_prowler_5_46_m365_muted.ocsf.json", "tool_prowler_5_46_m365_muted.csv"]
)
def test_tool_prowler_5_m365_muted_results(name):
    # A muted PASS stays a pass (it resolves); a muted FAIL is dismissed, never open.
    items = load(name)
    assert brief(items) == [
        ("entra_admin_users_mfa_enabled", "missing-mfa", "high", False, "",
         "aaaaaaaa-0000-0000-0000-000000000001", "global"),
        ("entra_admin_users_mfa_enabled", "missing-mfa", "high", True, "",
         "aaaaaaaa-0000-0000-0000-000000000002", "global"),
        ("entra_app_registration_client_secret_unused", "unused-credential", "medium", False,
         "accepted_risk", "bbbbbbbb-0000-0000-0000-000000000001", "global"),
    ]  # fmt: skip
    assert {o.account for o in items} == {M365_TENANT}
    assert all(o.references == [] for o in items)  # not an AWS account, not a storage account
    assert items[0].title.startswith("Users in administrative roles require multifactor")
    assert items[0].tool_ids == {
        "finding_uid": f"prowler-m365-entra_admin_users_mfa_enabled-{M365_TENANT}-global-"
        "admin@contoso.onmicrosoft.com"
    }
    # status_extended names the user: never kept.
    assert not any("does not have MFA" in repr(o) for o in items)


def test_tool_prowler_5_github_ocsf():
    items = load("tool_prowler_5_46_github_muted.ocsf.json")
    assert brief(items) == [
        ("organization_members_mfa_required", "missing-mfa", "critical", False, "", "123456",
         "global"),
        ("repository_secret_scanning_enabled", "posture-other", "high", True, "", "987654",
         "global"),
        ("repository_secret_scanning_enabled", "posture-other", "high", False, "accepted_risk",
         "987655", "global"),
    ]  # fmt: skip
    assert {o.account for o in items} == {"acme-org"}
    assert all(o.references == [] for o in items)


@pytest.mark.parametrize(
    "name",
    [
        "tool_prowler_5_46_azure_keyvault_storage_muted.ocsf.json",
        "tool_prowler_5_46_azure_keyvault_storage_muted.csv",
    ],
)
def test_tool_prowler_5_azure_key_vault_and_storage(name):
    sub = "55555555-6666-7777-8888-999999999999"
    vaults = f"/subscriptions/{sub}/resourceGroups/data-rg/providers/Microsoft.KeyVault/vaults/"
    account = (
        f"/subscriptions/{sub}/resourceGroups/data-rg/providers/Microsoft.Storage/"
        "storageAccounts/stpayments"
    )
    items = load(name)
    assert brief(items) == [
        ("keyvault_rbac_secret_expiration_set", "key-policy", "medium", False, "",
         vaults + "kv-payments", "westeurope"),
        ("keyvault_rbac_secret_expiration_set", "key-policy", "medium", False, "accepted_risk",
         vaults + "kv-legacy", "westeurope"),
        ("storage_key_rotation_90_days", "key-rotation", "medium", True, "", account,
         "westeurope"),
        ("storage_account_key_access_disabled", "shared-key-access", "high", False, "", account,
         "westeurope"),
    ]  # fmt: skip
    assert {o.account for o in items} == {sub}
    assert items[0].references == []
    assert items[3].references == [
        Reference("storage-account", "stpayments"),
        Reference("other", account),
    ]


def test_tool_prowler_5_asff_muted_results_are_warning():
    # Prowler 4+ writes every muted result as WARNING, PASS or FAIL alike, and leaves MANUAL
    # out: a WARNING is read as a muted FAIL, i.e. dismissed (accepted risk), never open.
    items = load("tool_prowler_5_46_aws_muted.asff.json")
    user = f"arn:aws:iam::{ACCT}:user/"
    assert brief(items) == [
        ("iam_rotate_access_key_90_days", "key-rotation", "medium", False, "",
         user + "ci-deployer", "us-east-1"),
        ("iam_rotate_access_key_90_days", "key-rotation", "medium", False, "accepted_risk",
         user + "legacy-batch", "us-east-1"),
        ("iam_user_accesskey_unused", "unused-credential", "medium", False, "accepted_risk",
         user + "ops", "us-east-1"),
    ]  # fmt: skip
    assert items[0].references == [
        Reference("arn", user + "ci-deployer"),
        Reference("aws-account", ACCT),
    ]
    assert (
        items[0]
        .tool_ids["finding_uid"]
        .startswith(f"prowler-iam_rotate_access_key_90_days-{ACCT}-us-east-1-")
    )
    assert not any("400 days" in repr(o) for o in items)  # the Description: never kept


@pytest.mark.parametrize(
    ("check", "secret_type"),
    [
        # Prowler 5.46 checks about credentials that the heuristics got wrong
        ("cloudwatch_log_metric_filter_sign_in_without_mfa", "posture-other"),
        ("sls_management_console_signin_without_mfa_alert_enabled", "posture-other"),
        ("identity_user_customer_secret_keys_rotated_90_days", "key-rotation"),
        ("entra_app_registration_credential_not_expired", "key-rotation"),
        ("authentication_token_not_expired", "key-rotation"),
        ("authentication_no_stale_tokens", "unused-credential"),
        ("iam_api_keys_no_root_owned", "root-credential"),
        # and some the heuristics get right
        ("entra_admin_users_mfa_enabled", "missing-mfa"),
        ("organization_members_mfa_required", "missing-mfa"),
        ("ram_rotate_access_key_90_days", "key-rotation"),
        ("objectstorage_access_key_expiration", "key-policy"),
        ("repository_secret_scanning_enabled", "posture-other"),
    ],
)
def test_check_type_prowler_5_providers(check, secret_type):
    assert check_type(check) == secret_type


def test_real_prowler_3_manual_check_written_as_a_fail_is_skipped():
    # Early Prowler 3 wrote a manual check as FAIL "Manual check: <what to look at>": nothing
    # failed, nothing to track.
    items = load("real_defectdojo_prowler_3_many_vuln_manual_check.json")
    assert sorted(i.rule for i in items) == [
        "accessanalyzer_enabled",
        "acm_certificates_expiration_check",
    ]
    assert all(not i.passed for i in items)


@pytest.mark.parametrize(
    "name", ["trivy/tool_prowler_5_46_iac_trivy.ocsf.json", "trivy/tool_prowler_5_46_iac_trivy.csv"]
)
def test_tool_prowler_5_iac_secrets_are_secret_findings_at_their_lines(name):
    # `prowler iac` runs Trivy over a repository: its secret scanner's results (service
    # "secret") are leaked values in files. Two keys in one file are two findings, at their
    # lines (from the finding uid's "-3:3"); a misconfiguration stays posture.
    items = load(name)
    repo = "https://github.com/acme-corp/payments-infra"
    secrets = [
        (o.rule, o.secret_type, o.severity, o.repo, o.path, o.line, o.tool_resolution)
        for o in items
        if o.category == "secret"
    ]
    assert secrets == [
        ("aws-access-key-id", "aws-access-key", "critical", repo, "deploy/.env", 3, ""),
        ("aws-access-key-id", "aws-access-key", "critical", repo, "deploy/.env", 9, ""),
        ("github-pat", "github-token", "critical", repo, "ci/config.yml", 12, ""),
        ("github-pat", "github-token", "critical", repo, "docs/example.md", 20, "accepted_risk"),
    ]
    for o in items:
        if o.category == "secret":
            assert (o.secret_value, o.secret_sha1, o.resource, o.passed) == (None, None, "", False)
            assert o.tool_ids["finding_uid"].startswith("prowler-iac-")
    # Trivy's masked match (in the OCSF resource data) is never read.
    assert not any("*****" in repr(o) or "AWS_ACCESS_KEY_ID" in repr(o) for o in items)
    (misconfiguration,) = [o for o in items if o.category == "posture"]
    assert (misconfiguration.rule, misconfiguration.resource, misconfiguration.account) == (
        "AVD-AWS-0086",
        "terraform/s3.tf",
        repo,
    )


def test_iac_secret_of_a_local_directory_has_no_repository():
    # A local `prowler iac --scan-path .` has no provider uid: Prowler writes "iac".
    doc = json.loads((PROWLER / "trivy" / "tool_prowler_5_46_iac_trivy.ocsf.json").read_text())[:1]
    doc[0]["cloud"]["account"]["uid"] = "iac"
    doc[0]["finding_info"]["uid"] = "prowler-iac-aws-access-key-id-iac-main-deploy/.env-3:3"
    (obs,) = parse_bytes(json.dumps(doc).encode())
    assert (obs.category, obs.repo, obs.path, obs.line) == ("secret", "", "deploy/.env", 3)


@pytest.mark.parametrize(
    "name",
    ["trivy/tool_prowler_5_46_image_trivy.ocsf.json", "trivy/tool_prowler_5_46_image_trivy.csv"],
)
def test_tool_prowler_5_image_secret_is_a_secret_finding_in_the_image_file(name):
    # `prowler image` (Trivy over a container image) marks a secret with the category
    # "secrets": the image is the container, Trivy's target (the resource details) the file.
    image = "registry.example.com/payments/api:1.4.2:4f4fb700ef54"
    secret, vulnerability = load(name)
    assert (
        secret.category, secret.rule, secret.secret_type, secret.severity, secret.repo,
        secret.path, secret.line, secret.resource, secret.secret_value,
    ) == (
        "secret", "aws-secret-access-key", "aws-secret-key", "critical", image,
        "/app/config/credentials", None, "", None,
    )  # fmt: skip
    assert "****" not in repr(secret)
    assert (vulnerability.category, vulnerability.rule, vulnerability.resource) == (
        "posture",
        "CVE-2024-45337",
        image,
    )
