"""Prowler reports: OCSF JSON (``-M json-ocsf``), the ``;``-separated CSV, v3 JSON, ASFF
(``-M json-asff``, Prowler 2-5), and Prowler 2's JSON lines and ``,``-separated CSV.

Every FAIL result becomes a posture Observation, every PASS an Observation with
``passed=True`` (it resolves earlier findings of the same rule and resource), MANUAL and INFO
results are skipped; the secrets the IaC provider (``prowler iac``) finds in a repository's
files are secret findings instead (no value: the scanner masks it). The check id is the rule;
the secret-hygiene checks get a posture type (key rotation, unused credentials, root keys,
MFA...), everything else is ``posture-other``.
Only non-secret text is kept: the check title and the remediation text, never the
status_extended message (Prowler 2: Message / CHECK_RESULT_EXTENDED; ASFF: Description; for
the "find secrets" checks it names where a secret was found).
See docs/formats/prowler.md.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from ..taxonomy import guess_secret_type, map_severity
from .base import (
    ImportFormatError,
    Item,
    Observation,
    Reference,
    expect_dict,
    first_char,
    get_str,
    iter_json_array,
    iter_json_lines,
    load_json,
    parse_datetime,
    type_name,
)

# Exact check ids -> posture type. AWS, Azure and GCP checks about credentials.
CHECK_TYPES: dict[str, str] = {
    # access key / credential rotation
    "iam_rotate_access_key_90_days": "key-rotation",
    "iam_user_two_active_access_key": "key-rotation",
    "kms_cmk_rotation_enabled": "key-rotation",
    "storage_key_rotation_90_days": "key-rotation",
    "keyvault_key_rotation_enabled": "key-rotation",
    "iam_sa_user_managed_key_rotate_90_days": "key-rotation",
    "apikeys_key_rotated_in_90_days": "key-rotation",
    "kms_key_rotation_enabled": "key-rotation",
    "acm_certificates_expiration_check": "key-rotation",
    # Prowler 5 providers: OCI customer secret keys (S3-compatible access keys), expired or
    # expiring Entra app registration credentials and Vercel API tokens.
    "identity_user_customer_secret_keys_rotated_90_days": "key-rotation",
    "entra_app_registration_credential_not_expired": "key-rotation",
    "authentication_token_not_expired": "key-rotation",
    # unused credentials
    "iam_user_accesskey_unused": "unused-credential",
    "iam_user_console_access_unused": "unused-credential",
    "iam_user_no_setup_initial_access_key": "unused-credential",
    "iam_disable_90_days_credentials": "unused-credential",
    "iam_disable_45_days_credentials": "unused-credential",
    "iam_disable_30_days_credentials": "unused-credential",
    "iam_sa_user_managed_key_unused": "unused-credential",
    "secretsmanager_secret_unused": "unused-credential",
    "authentication_no_stale_tokens": "unused-credential",  # Vercel tokens unused for 90 days
    "entra_app_registration_client_secret_unused": "unused-credential",
    # root account credentials
    "iam_no_root_access_key": "root-credential",
    "iam_avoid_root_usage": "root-credential",
    "iam_api_keys_no_root_owned": "root-credential",  # Scaleway API keys of the root user
    # MFA
    "iam_root_mfa_enabled": "missing-mfa",
    "iam_root_hardware_mfa_enabled": "missing-mfa",
    "iam_user_mfa_enabled_console_access": "missing-mfa",
    "iam_user_hardware_mfa_enabled": "missing-mfa",
    "iam_administrator_access_with_mfa": "missing-mfa",
    # secret rotation
    "secretsmanager_automatic_rotation_enabled": "secret-rotation",
    "secretsmanager_secret_rotated_periodically": "secret-rotation",
    # shared keys / local auth
    "storage_account_key_access_disabled": "shared-key-access",
    "cosmosdb_account_use_aad_and_rbac": "shared-key-access",
    # expiration policies
    "keyvault_rbac_secret_expiration_set": "key-policy",
    "keyvault_non_rbac_secret_expiration_set": "key-policy",
    "keyvault_rbac_key_expiration_set": "key-policy",
    "keyvault_key_expiration_set_in_non_rbac": "key-policy",
    "keyvault_key_expiration_set_for_rbac_keyvault": "key-policy",
    "keyvault_key_expiration_set_for_non_rbac_keyvault": "key-policy",
    "keyvault_secret_expiration_set_for_rbac_keyvault": "key-policy",
    "keyvault_secret_expiration_set_for_non_rbac_keyvault": "key-policy",
    "iam_password_policy_expires_passwords_within_90_days_or_less": "key-policy",
    # CloudWatch / SLS alarms on console sign-ins without MFA: a log alert, not a credential
    # without MFA (the heuristic would say missing-mfa; Prowler 2's check32 likewise).
    "cloudwatch_log_metric_filter_sign_in_without_mfa": "posture-other",
    "sls_management_console_signin_without_mfa_alert_enabled": "posture-other",
}

# Checks that look for plaintext secrets in configuration (Lambda variables, user data,
# stack outputs, task definitions...): a value sits where anyone who can read the resource
# reads it. Their type is secret-in-config (a posture finding: Prowler reports the resource,
# not the value).
SECRET_EXPOSURE_CHECKS = frozenset(
    {
        "awslambda_function_no_secrets_in_variables",
        "awslambda_function_no_secrets_in_code",
        "ec2_instance_secrets_user_data",
        "ec2_launch_template_no_secrets",
        "autoscaling_find_secrets_ec2_launch_configuration",
        "cloudformation_stack_outputs_find_secrets",
        "ecs_task_definitions_no_environment_secrets",
        "ssm_document_secrets",
        "codebuild_project_no_secrets_in_variables",
        "cloudwatch_log_group_no_secrets_in_logs",
        "glue_etl_jobs_no_secrets_in_arguments",
        "stepfunctions_statemachine_no_secrets_in_definition",
        # later Prowler 5 checks (5.46 metadata: "... contains no hardcoded secrets" and alike)
        "amplify_app_no_secrets_in_environment",
        "apigateway_restapi_no_secrets_in_stage_variables",
        "awslambda_layer_no_secrets_in_content",
        "batch_job_definition_no_secrets",
        "codebuild_project_source_repo_url_no_sensitive_credentials",
        "codecommit_repository_no_secrets",
        "datapipeline_pipeline_no_secrets_in_definition",
        "ecr_repository_image_no_secrets",
        "elasticbeanstalk_environment_no_secrets_in_configuration",
        "glue_catalog_connection_no_secrets",
        "sagemaker_notebook_instance_no_secrets",
        "project_environment_no_secrets_in_plain_type",  # Vercel
        # Prowler 2 ("[extra741] Find secrets in EC2 User Data"...; V2_CHECK_TYPES)
        "extra741",
        "extra742",
        "extra759",
        "extra760",
        "extra768",
        "extra775",
        "extra7141",
    }
)

# Prowler 2 (the shell script) check ids -> (posture type, words its title must contain).
# Prowler renumbered some checks over time (extra7123 was a Glue check before it became "two
# active access keys"; the initial-access-keys check was check123 before it was check121), so
# an id counts only with the title Prowler 2 gave it; otherwise the title goes through the
# heuristics like any unknown check. Titles from prowler-cloud/prowler checks/check* (v2).
V2_CHECK_TYPES: dict[str, tuple[str, str]] = {
    # [check14] Ensure access keys are rotated every 90 days or less
    "check14": ("key-rotation", "access keys are rotated every 90 days"),
    # [check28] Ensure rotation for customer created KMS CMKs is enabled
    "check28": ("key-rotation", "rotation for customer created"),
    # [extra7123] Check if IAM users have two active access keys
    "extra7123": ("key-rotation", "two active access keys"),
    # [extra730] Check if ACM Certificates are about to expire in 7 days or less
    "extra730": ("key-rotation", "acm certificates are about to expire"),
    # [check13] Ensure credentials unused for 90 days or greater are disabled
    "check13": ("unused-credential", "credentials unused for 90 days"),
    # [extra774] Ensure credentials unused for 30 days or greater are disabled
    # (earlier: "Check if user have unused console login")
    "extra774": ("unused-credential", "unused"),
    # [check121] Do not setup access keys during initial user setup for all IAM users that
    # have a console password (check123 in older versions)
    "check121": ("unused-credential", "access keys during initial user setup"),
    "check123": ("unused-credential", "access keys during initial user setup"),
    # [check11] Avoid the use of the root account
    "check11": ("root-credential", "use of the root account"),
    # [check112] Ensure no root account access key exists
    "check112": ("root-credential", "no root account access key"),
    # [check12] Ensure multi-factor authentication (MFA) is enabled for all IAM users that
    # have a console password
    "check12": ("missing-mfa", "(mfa) is enabled for all iam users"),
    # [check113] Ensure MFA is enabled for the root account
    "check113": ("missing-mfa", "mfa is enabled for the root account"),
    # [check114] Ensure hardware MFA is enabled for the root account
    "check114": ("missing-mfa", "hardware mfa is enabled for the root account"),
    # [extra7125] Check if IAM users have Hardware MFA enabled.
    "extra7125": ("missing-mfa", "iam users have hardware mfa"),
    # [extra71] Ensure users of groups with AdministratorAccess policy have MFA tokens enabled
    "extra71": ("missing-mfa", "have mfa tokens enabled"),
    # [extra7163] Check if Secrets Manager key rotation is enabled
    "extra7163": ("secret-rotation", "secrets manager key rotation"),
    # [check111] Ensure IAM password policy expires passwords within 90 days or less
    "check111": ("key-policy", "expires passwords within 90 days"),
    # [check32] Ensure a log metric filter and alarm exist for Management Console sign-in
    # without MFA: a CloudWatch alarm, not a credential without MFA (the heuristic would say
    # missing-mfa).
    "check32": ("posture-other", "sign-in without mfa"),
    # Find secrets in EC2 User Data / CloudFormation outputs / Lambda functions variables /
    # Lambda functions code / ECS task definitions environment variables / EC2 Auto Scaling
    # Launch Configuration / SSM Documents (SECRET_EXPOSURE_CHECKS)
    "extra741": ("secret-in-config", "find secrets in"),
    "extra742": ("secret-in-config", "find secrets in"),
    "extra759": ("secret-in-config", "find secrets in"),
    "extra760": ("secret-in-config", "find secrets in"),
    "extra768": ("secret-in-config", "find secrets in"),
    "extra775": ("secret-in-config", "find secrets in"),
    "extra7141": ("secret-in-config", "find secrets in"),
}

# Fallback for checks not in the table (new Prowler versions add checks): first match wins.
_HEURISTICS: list[tuple[re.Pattern[str], str]] = [
    # "mfa" but not S3's MFA Delete (cloudtrail_bucket_requires_mfa_delete,
    # s3_bucket_no_mfa_delete): that protects log objects, not a credential.
    (re.compile(r"mfa(?!_delete)"), "missing-mfa"),
    (re.compile(r"root.*(access_key|key)"), "root-credential"),
    (re.compile(r"secret.*rotat|rotat.*secret"), "secret-rotation"),
    (re.compile(r"rotat"), "key-rotation"),
    (
        re.compile(r"(key|credential|access|secret|token).*unused|unused.*(key|credential)"),
        "unused-credential",
    ),
    (re.compile(r"(^|_)sas(_|$)"), "sas-policy"),
    (re.compile(r"shared_key|key_access_disabled"), "shared-key-access"),
    (re.compile(r"(key|secret).*expiration"), "key-policy"),
]


def _heuristic_type(words: str) -> str:
    for pattern, secret_type in _HEURISTICS:
        if pattern.search(words):
            return secret_type
    return "posture-other"


def check_type(check_id: str) -> str:
    """Posture type of a Prowler check id."""
    cid = check_id.strip().lower()
    if cid in CHECK_TYPES:
        return CHECK_TYPES[cid]
    if cid in SECRET_EXPOSURE_CHECKS:
        return "secret-in-config"
    return _heuristic_type(cid)


def v2_check_type(check_id: str, title: str) -> str:
    """Posture type of a Prowler 2 check: its id and title (without the "[check11] " prefix).

    Prowler 2 ids say nothing ("check14"), so checks not in V2_CHECK_TYPES (or whose title
    does not match) go through the heuristics with their title spelt like a Prowler 3 id."""
    title = title.strip().lower()
    known = V2_CHECK_TYPES.get(check_id.strip().lower())
    if known and known[1] in title:
        return known[0]
    return _heuristic_type(re.sub(r"[^a-z0-9]+", "_", title).strip("_"))


def is_secret_exposure_check(check_id: str) -> bool:
    return check_id.strip().lower() in SECRET_EXPOSURE_CHECKS


_AZURE_STORAGE = re.compile(r"/providers/microsoft\.storage/storageaccounts/([^/]+)", re.I)
_AWS_ACCOUNT = re.compile(r"^\d{12}$")


def _references(resource: str, account: str, provider: str) -> list[Reference]:
    refs: list[Reference] = []
    if resource.startswith("arn:"):
        refs.append(Reference("arn", resource))
    storage = _AZURE_STORAGE.search(resource)
    if storage:
        refs.append(Reference("storage-account", storage.group(1)))
        refs.append(Reference("other", resource))
    if account and (provider == "aws" or (not provider and _AWS_ACCOUNT.match(account))):
        refs.append(Reference("aws-account", account))
    return refs


def _status(value: str, where: str) -> str | None:
    """'fail' / 'pass' / 'allowlisted' / None (skip). Unknown statuses are a format error.

    'allowlisted' is Prowler 3's WARNING: a result the allowlist matched (Prowler 4 calls it
    muted); it is read as a muted FAIL."""
    v = value.strip().upper()
    if v == "FAIL":
        return "fail"
    if v == "PASS":
        return "pass"
    if v == "WARNING":
        return "allowlisted"
    if v in ("MANUAL", "INFO", "INFORMATIONAL", "MUTED"):
        return None
    if not v:
        raise ImportFormatError("missing status", where)
    raise ImportFormatError("unknown status (expected PASS, FAIL, MANUAL, INFO or WARNING)", where)


def _observation(
    *,
    check_id: str,
    status: str,
    resource: str,
    account: str,
    region: str,
    severity: str,
    title: str,
    remediation: str,
    provider: str,
    finding_uid: str,
    muted: bool,
    secret_type: str = "",
) -> Observation:
    tool_ids = {"finding_uid": finding_uid} if finding_uid else {}
    if status == "allowlisted":
        status, muted = "fail", True
    return Observation(
        rule=check_id,
        secret_type=secret_type or check_type(check_id),
        category="posture",
        severity=map_severity(severity) if severity else None,
        title=title,
        description=remediation,
        resource=resource,
        account=account,
        region=region,
        passed=status == "pass",
        tool_resolution="accepted_risk" if muted and status == "fail" else "",
        references=_references(resource, account, provider.lower()),
        tool_ids=tool_ids,
    )


# Prowler 5's IaC provider (``prowler iac``) runs Trivy over a repository (earlier: Checkov);
# its secret scanner's results (service "secret"; Checkov's framework: "secrets") are leaked
# values in files, not posture: the check id is the scanner's rule ("aws-access-key-id"), the
# resource the file, the account the repository URL ("iac" for a local directory), the region
# the branch, and the finding uid ends with the lines ("...-deploy/.env-3:3"). The image
# provider (``prowler image``, Trivy over container images) marks its secrets with the
# category "secrets": the resource is the image, the resource details the file in it.
_IAC_SECRET_SERVICES = frozenset({"secret", "secrets"})
_IAC_LINES = re.compile(r"-(\d{1,9}):\d{1,9}$")
_IAC_NO_REPO = frozenset({"", "iac", "local-iac"})
_WORDS = re.compile(r"[a-z0-9_-]+")


def is_iac_secret(provider: str, service: str) -> bool:
    return provider.strip().lower() == "iac" and service.strip().lower() in _IAC_SECRET_SERVICES


def is_image_secret(provider: str, categories: Any) -> bool:
    """An image scan's secret: its categories (a list, or the CSV's joined text) say
    "secrets"."""
    if provider.strip().lower() != "image":
        return False
    if isinstance(categories, list):
        categories = " ".join(c for c in categories if isinstance(c, str))
    return isinstance(categories, str) and "secrets" in _WORDS.findall(categories.lower())


def iac_line(finding_uid: str) -> int | None:
    lines = _IAC_LINES.search(finding_uid)
    return int(lines.group(1)) if lines else None


def iac_repo(account: str) -> str:
    return "" if account.strip().lower() in _IAC_NO_REPO else account.strip()


def _scanned_secret(
    *,
    check_id: str,
    status: str,
    repo: str,
    path: str,
    line: int | None,
    region: str,
    severity: str,
    title: str,
    remediation: str,
    finding_uid: str,
    muted: bool,
) -> Observation | None:
    """A secret Prowler's IaC or image provider found in a file: a secret finding at its place
    (Trivy masked the value; the masked match in the resource data is never read)."""
    if status == "pass":
        return None  # secret scanners report what they find; a PASS says nothing of a value
    return Observation(
        rule=check_id,
        secret_type=guess_secret_type(check_id, title).value,
        category="secret",
        repo=repo,
        path=path,
        line=line,
        severity=map_severity(severity) if severity else None,
        title=title,
        description=remediation,
        region=region,
        tool_resolution="accepted_risk" if muted or status == "allowlisted" else "",
        tool_ids={"finding_uid": finding_uid} if finding_uid else {},
    )


# --- shared helpers --------------------------------------------------------------------


def safe_datetime(value: Any, where: str) -> datetime | None:
    """base.parse_datetime, with out-of-range dates ("9999-12-31T23:59:59-05:00" overflows
    when converted to UTC) reported as ImportFormatError instead of OverflowError. Shared with
    the other auditor/rotator importers. (Belongs in base.py.)"""
    try:
        return parse_datetime(value, where)
    except ImportFormatError:
        raise
    except (ValueError, OverflowError, OSError):
        raise ImportFormatError("date/time out of range", where) from None


# --- JSON (OCSF and v3) ------------------------------------------------------------------


def _sub(obj: dict, key: str, where: str) -> dict:
    value = obj.get(key)
    if value is None:
        return {}
    return expect_dict(value, f"{where}.{key}")


# Prowler 3's json-ocsf (OCSF 1.0.0-rc.3 Security Finding) has no status_code: its status is
# Success / Failure, and Other for an allowlisted (WARNING) result.
_OCSF_V3_STATUS = {"SUCCESS": "PASS", "FAILURE": "FAIL", "OTHER": "MANUAL", "UNKNOWN": "MANUAL"}


def _ocsf_items(obj: dict, where: str) -> Iterator[Observation]:
    metadata = _sub(obj, "metadata", where)
    if "finding" in obj and "event_code" not in metadata:
        yield from _ocsf_v3_items(obj, metadata, where)
        return
    check_id = get_str(metadata, "event_code", f"{where}.metadata", required=True)
    status = _status(get_str(obj, "status_code", where), f"{where}.status_code")
    if status is None:
        return
    info = _sub(obj, "finding_info", where)
    cloud = _sub(obj, "cloud", where)
    account_obj = _sub(cloud, "account", f"{where}.cloud")
    account = get_str(account_obj, "uid", f"{where}.cloud.account")
    provider = get_str(cloud, "provider", f"{where}.cloud")
    remediation = _sub(obj, "remediation", where)
    unmapped = _sub(obj, "unmapped", where)
    muted = get_str(obj, "status", where).lower() == "suppressed" or unmapped.get("muted") is True
    common = {
        "check_id": check_id,
        "status": status,
        "account": account,
        "severity": get_str(obj, "severity", where),
        "title": get_str(info, "title", f"{where}.finding_info"),
        "remediation": get_str(remediation, "desc", f"{where}.remediation"),
        "provider": provider,
        "finding_uid": get_str(info, "uid", f"{where}.finding_info"),
        "muted": muted,
    }
    region = get_str(cloud, "region", f"{where}.cloud")
    if provider.strip().lower() == "iac":
        analytic = _sub(info, "analytic", f"{where}.finding_info")
        category = get_str(analytic, "category", f"{where}.finding_info.analytic")
        yield from _per_resource(obj, where, account, region, common, iac_service=category)
        return
    if is_image_secret(provider, unmapped.get("categories")):
        yield from _image_secrets(obj, where, region, common)
        return
    yield from _per_resource(obj, where, account, region, common)


def _image_secrets(obj: dict, where: str, region: str, common: dict) -> Iterator[Observation]:
    """``prowler image``'s secrets: the image (``resources[].uid``) and the file in it (the
    resource details: Trivy's target)."""
    resources = obj.get("resources") or []
    if not isinstance(resources, list):
        raise ImportFormatError(
            f"expected an array, found {type_name(resources)}", f"{where}.resources"
        )
    for i, res in enumerate(resources):
        rwhere = f"{where}.resources[{i}]"
        res = expect_dict(res, rwhere)
        data = _sub(res, "data", rwhere)
        secret = _scanned_secret(
            repo=get_str(res, "uid", rwhere) or get_str(res, "name", rwhere),
            path=get_str(data, "details", f"{rwhere}.data"),
            line=None,
            region=get_str(res, "region", rwhere) or region,
            **_without(common, "provider", "account"),
        )
        if secret is not None:
            yield secret


def _per_resource(
    obj: dict, where: str, account: str, cloud_region: str, common: dict, iac_service: str = ""
) -> Iterator[Observation]:
    resources = obj.get("resources")
    if resources is None:
        resources = []
    if not isinstance(resources, list):
        raise ImportFormatError(
            f"expected an array, found {type_name(resources)}", f"{where}.resources"
        )
    if not resources:
        yield _observation(resource=account, region=cloud_region, **common)
        return
    for i, res in enumerate(resources):
        rwhere = f"{where}.resources[{i}]"
        res = expect_dict(res, rwhere)
        resource = get_str(res, "uid", rwhere) or get_str(res, "name", rwhere) or account
        region = get_str(res, "region", rwhere) or cloud_region
        namespace = get_str(res, "namespace", rwhere)
        if not region and namespace:
            # Kubernetes: no region; the CSV's REGION column says "namespace: <name>".
            region = f"namespace: {namespace}"
        if common["provider"].strip().lower() == "iac":
            group = _sub(res, "group", rwhere)
            service = get_str(group, "name", f"{rwhere}.group") or iac_service
            if is_iac_secret("iac", service):
                secret = _scanned_secret(
                    repo=iac_repo(common["account"]),
                    path=resource,
                    line=iac_line(common["finding_uid"]),
                    region=region,
                    **_without(common, "provider", "account"),
                )
                if secret is not None:
                    yield secret
                continue
        yield _observation(resource=resource, region=region, **common)


def _without(common: dict, *keys: str) -> dict:
    return {k: v for k, v in common.items() if k not in keys}


def _ocsf_v3_items(obj: dict, metadata: dict, where: str) -> Iterator[Observation]:
    """Prowler 3 ``-M json-ocsf``: the check id is metadata.product.feature.uid, the title and
    remediation are under ``finding``, the result is ``status`` Success / Failure."""
    mwhere = f"{where}.metadata"
    feature = _sub(_sub(metadata, "product", mwhere), "feature", f"{mwhere}.product")
    fwhere = f"{mwhere}.product.feature"
    check_id = get_str(feature, "uid", fwhere) or get_str(feature, "name", fwhere)
    if not check_id:
        raise ImportFormatError("missing required field 'uid' (the check id)", fwhere)
    if get_str(obj, "status_code", where):
        status = _status(get_str(obj, "status_code", where), f"{where}.status_code")
    else:
        raw = get_str(obj, "status", where).strip().upper()
        if raw and raw not in _OCSF_V3_STATUS:
            raise ImportFormatError(
                "unknown status (expected Success, Failure or Other)", f"{where}.status"
            )
        status = _status(_OCSF_V3_STATUS.get(raw, ""), f"{where}.status")
    if status is None:
        return
    finding = _sub(obj, "finding", where)
    cloud = _sub(obj, "cloud", where)
    account = get_str(_sub(cloud, "account", f"{where}.cloud"), "uid", f"{where}.cloud.account")
    account = account or get_str(cloud, "project_uid", f"{where}.cloud")
    remediation = _sub(finding, "remediation", f"{where}.finding")
    common = {
        "check_id": check_id,
        "status": status,
        "account": account,
        "severity": get_str(obj, "severity", where),
        "title": get_str(finding, "title", f"{where}.finding"),
        "remediation": get_str(remediation, "desc", f"{where}.finding.remediation"),
        "provider": get_str(cloud, "provider", f"{where}.cloud"),
        "finding_uid": get_str(finding, "uid", f"{where}.finding"),
        "muted": False,
    }
    region = get_str(cloud, "region", f"{where}.cloud")
    yield from _per_resource(obj, where, account, region, common)


def _v3_items(obj: dict, where: str) -> Iterator[Observation]:
    """Prowler 3 ``-M json``: flat objects with CheckID, Status, ResourceArn..."""
    check_id = get_str(obj, "CheckID", where, required=True)
    status = _status(get_str(obj, "Status", where), f"{where}.Status")
    if status is None:
        return
    if status == "fail" and get_str(obj, "StatusExtended", where).startswith("Manual check"):
        return  # early Prowler 3 wrote its manual checks as FAIL "Manual check: <how to>"
    remediation = _sub(_sub(obj, "Remediation", where), "Recommendation", f"{where}.Remediation")
    account = (
        get_str(obj, "AccountId", where)
        or get_str(obj, "Subscription", where)
        or get_str(obj, "ProjectId", where)
    )
    resource = get_str(obj, "ResourceArn", where) or get_str(obj, "ResourceId", where) or account
    yield _observation(
        check_id=check_id,
        status=status,
        resource=resource,
        account=account,
        region=get_str(obj, "Region", where) or get_str(obj, "Location", where),
        severity=get_str(obj, "Severity", where),
        title=get_str(obj, "CheckTitle", where),
        remediation=get_str(remediation, "Text", f"{where}.Remediation.Recommendation"),
        provider=get_str(obj, "Provider", where),
        finding_uid=get_str(obj, "FindingUniqueId", where),
        muted=False,
    )


# --- ASFF (-M json-asff, the AWS Security Hub format) ------------------------------------

# Compliance.Status as Prowler writes it: WARNING is a muted result (Prowler 4+) or an
# allowlisted one (Prowler 2/3), read as a muted FAIL like Prowler 3's WARNING;
# NOT_AVAILABLE is a MANUAL result (Prowler 4+ leaves those out anyway).
_ASFF_STATUS = {"PASSED": "PASS", "FAILED": "FAIL", "WARNING": "WARNING", "NOT_AVAILABLE": ""}
# Prowler 2 titles start with the service: "iam.[check14] Ensure access keys are rotated...".
_ASFF_V2_TITLE = re.compile(r"\s*(?:[A-Za-z0-9_-]+\.)?(\[[A-Za-z0-9_]+\].*)", re.S)


def _is_prowler_asff(obj: dict, where: str) -> bool:
    product = get_str(obj, "ProductArn", where)
    fields = obj.get("ProductFields")
    provider = fields.get("ProviderName", "") if isinstance(fields, dict) else ""
    return product.endswith("/prowler/prowler") or provider == "Prowler"


def _asff_items(obj: dict, where: str, v2: _V2Results) -> Iterator[Observation]:
    """One ASFF finding (Prowler 2-5 ``-M json-asff``): one Observation per resource.

    The check id is GeneratorId without "prowler-". Description is the status_extended
    message (for the "find secrets" checks: where a secret was found): never read. Prowler 2
    findings (the check id in brackets in the title) go through the Prowler 2 path; their Id
    is built from the message, so it is not kept either."""
    if not _is_prowler_asff(obj, where):
        raise ImportFormatError(
            "an ASFF finding not written by Prowler (ProductArn is not .../prowler/prowler)",
            where,
        )
    generator = get_str(obj, "GeneratorId", where, required=True)
    cwhere = f"{where}.Compliance.Status"
    raw = get_str(_sub(obj, "Compliance", where), "Status", f"{where}.Compliance").upper()
    if raw not in _ASFF_STATUS:
        raise ImportFormatError(
            "unknown status (expected PASSED, FAILED, WARNING or NOT_AVAILABLE)"
            if raw
            else "missing status",
            cwhere,
        )
    if not _ASFF_STATUS[raw]:
        return
    title = get_str(obj, "Title", where)
    recommendation = _sub(_sub(obj, "Remediation", where), "Recommendation", f"{where}.Remediation")
    remediation = get_str(recommendation, "Text", f"{where}.Remediation.Recommendation")
    severity = get_str(_sub(obj, "Severity", where), "Label", f"{where}.Severity")
    account = get_str(obj, "AwsAccountId", where).strip()
    v2_title = _ASFF_V2_TITLE.fullmatch(title)
    for resource, region in _asff_resources(obj, where):
        if v2_title:
            v2.add(
                _v2_observation(
                    control=v2_title.group(1),
                    control_where=f"{where}.Title",
                    status=_ASFF_STATUS[raw],
                    status_where=cwhere,
                    account=account,
                    region=region,
                    severity=severity,
                    remediation=remediation,
                    resource=resource,
                )
            )
            continue
        status = _status(_ASFF_STATUS[raw], cwhere)
        if status is None:
            return
        yield _observation(
            check_id=generator.removeprefix("prowler-"),
            status=status,
            resource=resource or account,
            account=account,
            region=region,
            severity=severity,
            title=title,
            remediation=remediation,
            provider="aws",
            finding_uid=get_str(obj, "Id", where),
            muted=False,
        )


def _asff_resources(obj: dict, where: str) -> list[tuple[str, str]]:
    """(Id, Region) of each of ``Resources`` (Prowler writes one); none: the account."""
    resources = obj.get("Resources") or []
    if not isinstance(resources, list):
        raise ImportFormatError(
            f"expected an array, found {type_name(resources)}", f"{where}.Resources"
        )
    # arn:aws:securityhub:<region>::product/prowler/prowler
    product_region = get_str(obj, "ProductArn", where).split(":")[3:4]
    product_region = product_region[0] if product_region else ""
    places = []
    for i, res in enumerate(resources):
        rwhere = f"{where}.Resources[{i}]"
        res = expect_dict(res, rwhere)
        region = get_str(res, "Region", rwhere) or product_region
        places.append((get_str(res, "Id", rwhere).strip(), region))
    return places or [("", product_region)]


def _json_item(obj: Any, where: str, v2: _V2Results) -> Iterator[Observation]:
    obj = expect_dict(obj, where, "a Prowler finding object")
    if "metadata" in obj or "status_code" in obj or "finding_info" in obj:
        yield from _ocsf_items(obj, where)
    elif "CheckID" in obj:
        yield from _v3_items(obj, where)
    elif "Control" in obj or "Account Number" in obj:
        v2.add(_v2_json_result(obj, where))  # yielded at the end, merged
    elif "GeneratorId" in obj or ("SchemaVersion" in obj and "ProductArn" in obj):
        yield from _asff_items(obj, where, v2)
    else:
        raise ImportFormatError(
            "not a Prowler finding (no metadata.event_code, CheckID, Control or GeneratorId)",
            where,
        )


def _parse_json_object(stream: IO[bytes], head: bytes) -> Iterator[Observation]:
    v2 = _V2Results()
    first_line, newline, _ = head.lstrip(b"\xef\xbb\xbf \t\r\n").partition(b"\n")
    # JSON lines (Prowler 2's -M json), one finding per line: a first line that ends an
    # object, or one longer than the bytes at hand (a pretty-printed object breaks its first
    # line at once).
    if first_line.strip().endswith(b"}") or not newline:
        for where, obj in iter_json_lines(stream):
            yield from _json_item(obj, where, v2)
    else:
        doc = load_json(stream)  # a single pretty-printed finding
        yield from _json_item(doc, "$", v2)
    yield from v2


# --- CSV ------------------------------------------------------------------------------------

_REQUIRED_COLUMNS = {
    "CHECK_ID": ("CHECK_ID",),
    "STATUS": ("STATUS",),
    "RESOURCE_UID": ("RESOURCE_UID", "RESOURCE_ARN", "RESOURCE_ID"),
}


def _require_columns(columns: list[str], required: dict[str, tuple[str, ...]], what: str) -> None:
    """The header has each required column (under one of its names), or the error names those
    it lacks."""
    missing = [name for name, aliases in required.items() if not any(a in columns for a in aliases)]
    if missing:
        raise ImportFormatError(f"not {what}: missing column(s) " + ", ".join(missing), "line 1")


def _pick(row: dict[str, str], *names: str) -> str:
    for name in names:
        value = (row.get(name) or "").strip()
        if value:
            return value
    return ""


def _parse_csv(stream: IO[bytes]) -> Iterator[Observation]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=";")
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise ImportFormatError("the report is empty") from None
        if len(header) == 1 and header[0].count(",") >= 2:
            comma_columns = [h.strip().upper() for h in next(csv.reader([header[0]]))]
            if _V2_MARKERS.intersection(comma_columns):
                yield from _parse_v2_csv(text, comma_columns)
                return
            raise ImportFormatError(
                "expected Prowler's ';'-separated CSV, found a ','-separated header", "line 1"
            )
        columns = [h.strip().upper() for h in header]
        if "REQUIREMENTS_ID" in columns and "CHECKID" in columns:
            # Prowler writes one of these per framework, beside its own CSV
            # (output/compliance/…_cis_6.0_aws.csv): the same results, by requirement.
            raise ImportFormatError(
                "this is a Prowler compliance CSV (one framework's requirements); import the "
                "main CSV Prowler wrote beside it, prowler-output-….csv",
                "line 1",
            )
        _require_columns(columns, _REQUIRED_COLUMNS, "a Prowler CSV")
        for values in reader:
            where = f"line {reader.line_num}"
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(columns):
                raise ImportFormatError(
                    f"row has {len(values)} fields, the header has {len(columns)}", where
                )
            row = dict(zip(columns, values, strict=True))
            status = _status(row["STATUS"], f"{where}, column STATUS")
            check_id = row["CHECK_ID"].strip()
            if not check_id:
                raise ImportFormatError("missing CHECK_ID", where)
            if status is None:
                continue
            # Prowler 3: ACCOUNT_ID (AWS), SUBSCRIPTION (Azure), PROJECT_ID (GCP).
            account = _pick(
                row, "ACCOUNT_UID", "ACCOUNT_ID", "SUBSCRIPTION_ID", "SUBSCRIPTION", "PROJECT_ID"
            )
            provider = _pick(row, "PROVIDER")
            iac = is_iac_secret(provider, _pick(row, "SERVICE_NAME"))
            if iac or is_image_secret(provider, _pick(row, "CATEGORIES")):
                resource = _pick(row, "RESOURCE_UID", "RESOURCE_NAME")
                finding_uid = _pick(row, "FINDING_UID")
                secret = _scanned_secret(
                    check_id=check_id,
                    status=status,
                    repo=iac_repo(account) if iac else resource,
                    path=resource if iac else _pick(row, "RESOURCE_DETAILS"),
                    line=iac_line(finding_uid) if iac else None,
                    region=_pick(row, "REGION"),
                    severity=_pick(row, "SEVERITY"),
                    title=_pick(row, "CHECK_TITLE"),
                    remediation=_pick(row, "REMEDIATION_RECOMMENDATION_TEXT"),
                    finding_uid=finding_uid,
                    muted=_pick(row, "MUTED").lower() == "true",
                )
                if secret is not None:
                    yield secret
                continue
            yield _observation(
                check_id=check_id,
                status=status,
                resource=_pick(row, "RESOURCE_UID", "RESOURCE_ARN", "RESOURCE_ID") or account,
                account=account,
                region=_pick(row, "REGION", "LOCATION"),
                severity=_pick(row, "SEVERITY"),
                title=_pick(row, "CHECK_TITLE"),
                remediation=_pick(row, "REMEDIATION_RECOMMENDATION_TEXT"),
                provider=_pick(row, "PROVIDER"),
                finding_uid=_pick(row, "FINDING_UID", "FINDING_UNIQUE_ID"),
                muted=_pick(row, "MUTED").lower() == "true",
            )
    except UnicodeDecodeError:
        raise ImportFormatError("not UTF-8 text", f"line {reader.line_num + 1}") from None
    except csv.Error as exc:
        reason = "a field is too large" if "field larger" in str(exc) else "malformed CSV"
        raise ImportFormatError(reason, f"line {reader.line_num}") from None
    finally:
        text.detach()  # leave the caller's stream open


# --- Prowler 2 (JSON lines and ','-separated CSV) -----------------------------------------

# "[check114] Ensure hardware MFA is enabled for the root account": the check id, the title.
_V2_CONTROL = re.compile(r"\s*\[([A-Za-z0-9_]+)\]\s*(.*)", re.S)
# Older 2.x titles end with their CIS status, later ones don't: a finding keeps one title.
_V2_CIS_NOTE = re.compile(r"\s*\((?:not )?scored\)\s*$|\s*\(not part of cis benchmark\)\s*$", re.I)


def _v2_observation(
    *,
    control: str,
    control_where: str,
    status: str,
    status_where: str,
    account: str,
    region: str,
    severity: str,
    remediation: str,
    resource: str,
) -> Observation | None:
    """One Prowler 2 result. The check id is only in the title ("[check114] Ensure...")."""
    result = _status(status, status_where)
    if result is None:
        return None  # INFO / MANUAL: skipped, whatever its title
    match = _V2_CONTROL.fullmatch(control)
    if not match:
        raise ImportFormatError(
            "expected the check id in brackets before the title, as in "
            '"[check11] Avoid the use of the root account"',
            control_where,
        )
    check_id, title = match.group(1).lower(), _V2_CIS_NOTE.sub("", match.group(2)).strip()
    return _observation(
        check_id=check_id,
        status=result,
        resource=resource or account,
        account=account,
        region=region,
        severity=severity,
        title=title,
        remediation=remediation,
        provider="aws",  # Prowler 2 audits AWS only
        finding_uid="",
        muted=False,
        secret_type=v2_check_type(check_id, title),
    )


def _v2_field(where: str, name: str) -> str:
    return f"{where}, field {name}" if where.startswith("line ") else f"{where}.{name}"


class _V2Results:
    """Prowler 2 names the user, key or policy of a result only in its message (never kept),
    and its CSV has no resource column: several results then share rule, resource, account
    and region, and the import keeps the first of them. So one Observation per place, the
    worst result winning (FAIL, then allowlisted, then PASS): one user's PASS never hides, or
    resolves, another user's FAIL. Prowler 2 reports are small (a few thousand lines)."""

    def __init__(self) -> None:
        self.by_place: dict[tuple[str, str, str, str], Observation] = {}

    @staticmethod
    def _rank(obs: Observation) -> int:
        return 0 if obs.passed else (1 if obs.tool_resolution else 2)

    def add(self, obs: Observation | None) -> None:
        if obs is None:
            return
        place = (obs.rule, obs.resource, obs.account, obs.region)
        kept = self.by_place.get(place)
        if kept is None or self._rank(obs) > self._rank(kept):
            self.by_place[place] = obs

    def __iter__(self) -> Iterator[Observation]:
        return iter(self.by_place.values())


def _v2_json_result(obj: dict, where: str) -> Observation | None:
    """Prowler 2 ``-M json``: one flat object a line ("Account Number", "Control", "Status",
    "Resource ID"...). "Message" is the status_extended text: never read."""
    return _v2_observation(
        control=get_str(obj, "Control", where, required=True),
        control_where=_v2_field(where, "Control"),
        status=get_str(obj, "Status", where),
        status_where=_v2_field(where, "Status"),
        account=get_str(obj, "Account Number", where).strip(),
        region=get_str(obj, "Region", where).strip(),
        severity=get_str(obj, "Severity", where),
        remediation=get_str(obj, "Remediation", where),
        resource=get_str(obj, "Resource ID", where).strip(),
    )


# Columns only Prowler 2's CSV has: a ','-separated header with one of them is Prowler 2.
_V2_MARKERS = frozenset(
    {"ACCOUNT_NUM", "TITLE_ID", "TITLE_TEXT", "CHECK_RESULT", "CHECK_RESULT_EXTENDED"}
)
# Early 2.x headers were PROFILE,ACCOUNT_NUM,REGION,TITLE_ID,RESULT,SCORED,LEVEL,TITLE_TEXT,
# NOTES,COMPLIANCE,SEVERITY,SERVICENAME; later ones end with CHECK_RESOURCE_ID.
_V2_REQUIRED_COLUMNS = {
    "ACCOUNT_NUM": ("ACCOUNT_NUM",),
    "CHECK_RESULT": ("CHECK_RESULT", "RESULT"),
    "TITLE_TEXT": ("TITLE_TEXT",),
}


def _parse_v2_csv(text: IO[str], columns: list[str]) -> Iterator[Observation]:
    """Prowler 2 ``-M csv``, after its header line (``columns``). Prowler 2 wrote the fields
    unquoted; CHECK_RESULT_EXTENDED (the message) is never read."""
    _require_columns(columns, _V2_REQUIRED_COLUMNS, "a Prowler 2 CSV")
    reader = csv.reader(text)
    results = _V2Results()
    # Rows ending in ',' under a header without the resource column that later 2.x versions
    # added there (DefectDojo issue 4450): then every row does, as the first one says. An
    # empty field past the last column is no proof row by row: a ',' inside the message, with
    # the last column empty, would shift every column after it.
    trailing_comma: bool | None = None if columns[-1] == "CHECK_CAF_EPIC" else False
    try:
        for values in reader:
            where = f"line {reader.line_num + 1}"  # the header was line 1
            if not any(v.strip() for v in values):
                continue
            if trailing_comma is None:
                trailing_comma = len(values) == len(columns) + 1 and not values[-1].strip()
            if trailing_comma and len(values) == len(columns) + 1 and not values[-1].strip():
                values = values[:-1]
            elif trailing_comma:
                raise ImportFormatError(
                    f"row has {len(values) - 1} fields before its final ',', the header has"
                    f" {len(columns)} (an unquoted ',' inside a field?)",
                    where,
                )
            if len(values) != len(columns):
                hint = " (an unquoted ',' inside a field?)" if len(values) > len(columns) else ""
                raise ImportFormatError(
                    f"row has {len(values)} fields, the header has {len(columns)}{hint}", where
                )
            row = dict(zip(columns, values, strict=True))
            result_column = "CHECK_RESULT" if "CHECK_RESULT" in row else "RESULT"
            results.add(
                _v2_observation(
                    control=row["TITLE_TEXT"],
                    control_where=f"{where}, column TITLE_TEXT",
                    status=row[result_column],
                    status_where=f"{where}, column {result_column}",
                    account=row["ACCOUNT_NUM"].strip(),
                    region=_pick(row, "REGION"),
                    severity=_pick(row, "CHECK_SEVERITY", "SEVERITY"),
                    remediation=_pick(row, "CHECK_REMEDIATION"),
                    resource=_pick(row, "CHECK_RESOURCE_ID"),
                )
            )
    except UnicodeDecodeError:
        raise ImportFormatError("not UTF-8 text", f"line {reader.line_num + 2}") from None
    except csv.Error as exc:
        reason = "a field is too large" if "field larger" in str(exc) else "malformed CSV"
        raise ImportFormatError(reason, f"line {reader.line_num + 1}") from None
    yield from results


# --- entry point ----------------------------------------------------------------------------


def parse(stream: IO[bytes]) -> Iterator[Item]:
    stream, char = first_char(stream)
    if char == "[":
        v2 = _V2Results()
        for where, obj in iter_json_array(stream, "item", "findings"):
            yield from _json_item(obj, where, v2)
        yield from v2
    elif char == "{":
        head = stream.peek(4096)[:4096]  # type: ignore[attr-defined]
        yield from _parse_json_object(stream, head)
    else:
        yield from _parse_csv(stream)
