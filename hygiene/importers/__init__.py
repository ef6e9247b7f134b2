"""Registry of report formats. Each format is a module here with ``parse(stream)``; see base.py."""

from importlib import import_module

from .base import Format, ImportFormatError, Item, Observation, Reference, RotationEvent
from .split import JSON_ARRAY

FORMATS: dict[str, Format] = {
    f.key: f
    for f in [
        Format(
            "gitleaks",
            "Gitleaks (JSON v7/v8, CSV), betterleaks",
            "scanner",
            "gitleaks",
            split=JSON_ARRAY,
        ),
        Format("trufflehog", "TruffleHog (JSON lines, v3 and v2)", "scanner", "trufflehog"),
        Format(
            "detect-secrets", "detect-secrets baseline or audit report", "scanner", "detect_secrets"
        ),
        Format("ggshield", "GitGuardian ggshield (JSON)", "scanner", "ggshield"),
        Format("github-secret-scanning", "GitHub secret scanning alerts", "scanner", "github"),
        Format("gitlab-secret-detection", "GitLab secret detection", "scanner", "gitlab"),
        Format("noseyparker", "Nosey Parker / Kingfisher (JSON lines)", "scanner", "noseyparker"),
        Format("sarif", "SARIF 2.1.0 (any secret scanner)", "scanner", "sarif"),
        Format("prowler", "Prowler 2-5 (OCSF, JSON, ASFF, CSV)", "auditor", "prowler"),
        Format(
            "aws-iam-credential-report", "AWS IAM credential report (CSV)", "auditor", "aws_iam"
        ),
        Format(
            "azure-storage-accounts",
            "Azure storage accounts (az CLI JSON)",
            "auditor",
            "azure_storage",
        ),
        Format(
            "aws-cloudtrail", "AWS CloudTrail / EventBridge events", "rotator", "aws_cloudtrail"
        ),
        Format("vault-audit", "HashiCorp Vault audit log (JSON lines)", "rotator", "vault_audit"),
        Format("leakline", "Leakline JSON (findings and rotation events)", "scanner", "leakline"),
    ]
}


class UnknownFormat(KeyError):
    pass


def get_parser(key: str):
    try:
        fmt = FORMATS[key]
    except KeyError:
        raise UnknownFormat(key) from None
    return import_module(f"{__name__}.{fmt.module}").parse


__all__ = [
    "FORMATS",
    "Format",
    "ImportFormatError",
    "Item",
    "Observation",
    "Reference",
    "RotationEvent",
    "UnknownFormat",
    "get_parser",
]
