"""What can be learnt from a raw value while it is in memory, before it is dropped: the scope,
rights and expiry of an Azure SAS token, the account behind a storage connection string, the
AWS key id behind an access key. Nothing here returns any part of the secret itself."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from hygiene.taxonomy import SEVERITY_RANK, SecretType, Severity

SAS_PERMISSIONS = {
    "r": "read",
    "a": "add",
    "c": "create",
    "w": "write",
    "d": "delete",
    "x": "delete version",
    "y": "permanent delete",
    "l": "list",
    "t": "tags",
    "f": "filter",
    "m": "move",
    "e": "execute",
    "o": "ownership",
    "p": "permissions",
    "i": "set immutability",
    "u": "update",
}
SAS_SERVICES = {"b": "blob", "f": "file", "q": "queue", "t": "table"}
SAS_RESOURCE_TYPES = {"s": "service", "c": "container", "o": "object"}

_AWS_KEY_ID = re.compile(r"\b((?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{16})\b")
_STORAGE_HOST = re.compile(
    r"^([a-z0-9]{3,24})\.(blob|file|queue|table|dfs)\.core\.(windows\.net|chinacloudapi\.cn)$"
)


@dataclass
class Analysis:
    secret_type: str | None = None  # a better type than the tool's rule said
    facts: dict = field(default_factory=dict)  # stored on Secret.analysis (no secret parts)
    severity: str | None = None  # a floor raised by what the value grants
    references: list[tuple[str, str, str]] = field(default_factory=list)  # kind, value, display


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def analyse_sas(query: str, *, now: datetime | None = None, host: str = "") -> Analysis | None:
    """Scope (account / service / user delegation), permissions, expiry and protocol of a SAS."""
    params = {k.lower(): v[0] for k, v in parse_qs(query.lstrip("?")).items() if v}
    if "sig" not in params or "sv" not in params:
        return None
    now = now or datetime.now(UTC)
    if "skoid" in params:
        kind = "user delegation"
    elif "ss" in params or "srt" in params:
        kind = "account"
    else:
        kind = "service"
    perms = params.get("sp", "")
    facts: dict = {
        "sas_scope": kind,
        "sas_permissions": ", ".join(SAS_PERMISSIONS.get(p, p) for p in perms) or "none",
        "sas_protocol": params.get("spr", "https,http"),
    }
    if params.get("ss"):
        facts["sas_services"] = ", ".join(SAS_SERVICES.get(s, s) for s in params["ss"])
    if params.get("srt"):
        facts["sas_resource_types"] = ", ".join(SAS_RESOURCE_TYPES.get(s, s) for s in params["srt"])
    if params.get("sr"):
        facts["sas_resource"] = params["sr"]
    if params.get("si"):
        # A stored access policy can be revoked without rotating the key.
        facts["sas_stored_policy"] = "yes"
    if params.get("sip"):
        facts["sas_ip_range"] = params["sip"]
    expiry = _parse_time(params.get("se", ""))
    full_control = set("wd") <= set(perms) or "y" in perms or "p" in perms
    severity = Severity.HIGH
    if expiry:
        facts["sas_expires"] = expiry.isoformat()
        days = (expiry - now).total_seconds() / 86400
        facts["sas_valid_days"] = round(days, 1)
        if days <= 0:
            severity = Severity.LOW
            facts["sas_expired"] = "yes"
        elif kind == "account" and full_control and days >= 365:
            severity = Severity.CRITICAL  # the 38 TB case: full control, whole account, years
        elif kind == "account" and (full_control or days >= 30):
            severity = Severity.CRITICAL if full_control else Severity.HIGH
        elif not full_control and "w" not in perms and days < 7:
            severity = Severity.MEDIUM
    elif kind == "account" and full_control:
        severity = Severity.CRITICAL
    if kind == "account":
        facts["revocation"] = "rotate the storage account key (an account SAS can't be revoked)"
    analysis = Analysis(secret_type=SecretType.AZURE_SAS, facts=facts, severity=severity)
    account = _storage_account(host)
    if account:
        facts["storage_account"] = account
        analysis.references.append(("storage-account", account, account))
    return analysis


def _storage_account(host: str) -> str | None:
    match = _STORAGE_HOST.match((host or "").lower())
    return match.group(1) if match else None


def analyse_connection_string(value: str) -> Analysis | None:
    parts = {}
    for chunk in value.split(";"):
        key, sep, val = chunk.partition("=")
        if sep:
            parts[key.strip().lower()] = val.strip()
    if "accountname" not in parts and "sharedaccesssignature" not in parts:
        return None
    account = parts.get("accountname", "")
    if "sharedaccesssignature" in parts:
        analysis = analyse_sas(parts["sharedaccesssignature"]) or Analysis()
    else:
        analysis = Analysis(
            secret_type=SecretType.AZURE_STORAGE_KEY,
            severity=Severity.CRITICAL,
            facts={
                "credential": "storage account key (full control of the account)",
                "revocation": "rotate the storage account key",
            },
        )
    if account:
        analysis.facts["storage_account"] = account
        analysis.references.append(("storage-account", account, account))
    return analysis


def analyse(value: str, *, now: datetime | None = None) -> Analysis:
    """Everything we derive from a raw value. Never raises on odd input."""
    return analyse_or_none(value, now=now) or Analysis()


def analyse_or_none(value: str, *, now: datetime | None = None) -> Analysis | None:
    """``analyse``, with None when nothing was learnt (most values: the import's hot path
    needn't build an empty Analysis for each)."""
    value = value.strip()
    try:
        if "sig=" in value and "sv=" in value:
            if value.lower().startswith(("https://", "http://")):
                parts = urlsplit(value)
                result = analyse_sas(parts.query, now=now, host=parts.hostname or "")
            else:
                result = analyse_sas(
                    value[value.find("?") + 1 :] if "?" in value else value, now=now
                )
            if result:
                return result
        if "=" in value:  # both markers below have one: most values skip the lower()
            lowered = value.lower()
            if "accountname=" in lowered or "sharedaccesssignature=" in lowered:
                result = analyse_connection_string(value)
                if result:
                    return result
    except (ValueError, TypeError):
        return None
    # Every key id prefix starts with "A": the substring test skips a slow regex search.
    match = _AWS_KEY_ID.search(value) if "A" in value else None
    if match:
        key_id = match.group(1)
        display = f"{key_id[:4]}…{key_id[-4:]}"
        analysis = Analysis(references=[("aws-access-key-id", key_id, display)])
        if value == key_id:
            analysis.secret_type = SecretType.AWS_ACCESS_KEY
        return analysis
    return None


def raise_severity(base: str, floor: str | None) -> str:
    if floor and SEVERITY_RANK.get(floor, 0) > SEVERITY_RANK.get(base, 0):
        return floor
    return base
