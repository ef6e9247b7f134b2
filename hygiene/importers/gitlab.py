"""GitLab secret detection: gl-secret-detection-report.json (security report schema v14/v15).

``vulnerabilities[]`` is streamed. Each vulnerability becomes an Observation: the rule is the
``gitleaks_rule_id`` identifier (or the first identifier, or the name); the raw secret is
``raw_source_code_extract`` (GitLab's secrets analyzer writes the matched secret there) and is
only ever kept in ``secret_value`` (without it, a digest of ``cve``'s SHA-256 of the match
names the secret); ``location.file/start_line/commit`` give the place.
A report whose ``scan.type`` is not ``secret_detection`` (SAST, dependency scanning...) is
refused. When the stream is seekable, a first pass checks syntax, shape and ``scan.type`` before
anything is yielded. See docs/formats/gitlab-secret-detection.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import IO, Any

from hygiene.taxonomy import (
    SecretType,
    guess_secret_type,
    guess_secret_type_from_value,
    map_severity,
)

from .base import ImportFormatError, Item, Observation, first_char
from .leakline import (
    clean,
    dict_at,
    list_at,
    object_at,
    rewindable,
    stream_json,
    text_at,
    to_datetime,
    whole_number,
)

# Rule ids of GitLab's secrets analyzer (gitleaks-based, v7 names and v8 ids) → taxonomy.
# Keys are normalised: lower case, "_" and spaces as "-".
RULES: dict[str, SecretType] = {
    "aws": SecretType.AWS_ACCESS_KEY,
    "aws-access-token": SecretType.AWS_ACCESS_KEY,
    "aws-access-key": SecretType.AWS_ACCESS_KEY,
    "aws-secret-key": SecretType.AWS_SECRET_KEY,
    "aws-secret-access-key": SecretType.AWS_SECRET_KEY,
    "pkcs8-private-key": SecretType.PRIVATE_KEY,
    "pkcs8-key": SecretType.PRIVATE_KEY,
    "rsa-private-key": SecretType.PRIVATE_KEY,
    "ssh-private-key": SecretType.PRIVATE_KEY,
    "pgp-private-key": SecretType.PRIVATE_KEY,
    "private-key": SecretType.PRIVATE_KEY,
    "github-personal-access-token": SecretType.GITHUB_TOKEN,
    "github-pat": SecretType.GITHUB_TOKEN,
    "github-oauth-access-token": SecretType.GITHUB_TOKEN,
    "github-app-token": SecretType.GITHUB_TOKEN,
    "gitlab-personal-access-token": SecretType.GITLAB_TOKEN,
    "gitlab-pat": SecretType.GITLAB_TOKEN,
    "gitlab-runner-registration-token": SecretType.GITLAB_TOKEN,
    "gitlab-pipeline-trigger-token": SecretType.GITLAB_TOKEN,
    "gitlab-deploy-token": SecretType.GITLAB_TOKEN,
    "slack-token": SecretType.SLACK_TOKEN,
    "slack-webhook": SecretType.CHAT_WEBHOOK,
    "slack-webhook-url": SecretType.CHAT_WEBHOOK,
    "stripe": SecretType.STRIPE_KEY,
    "stripe-access-token": SecretType.STRIPE_KEY,
    "stripe-live-secret-key": SecretType.STRIPE_KEY,
    "password-in-url": SecretType.DATABASE_CREDENTIAL,
    "gcp-api-key": SecretType.GCP_KEY,
    "google-api-key": SecretType.GCP_KEY,
    "google-gcp-service-account": SecretType.GCP_KEY,
    "azure-storage-account-key": SecretType.AZURE_STORAGE_KEY,
    "generic-api-key": SecretType.API_KEY,
    "jwt": SecretType.JWT,
}


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def parse(stream: IO[bytes]) -> Iterator[Item]:
    stream, char = first_char(stream)
    if char != "{":
        raise ImportFormatError(
            "not a GitLab secret detection report: expected a JSON object with 'vulnerabilities'"
        )
    start = rewindable(stream)
    if start is not None:
        # The first pass counts the vulnerabilities (their "begin") and reads only their
        # categories, so that a report of another scan type is refused before any item.
        first = stream_json(stream, {"scan.type", _CATEGORY}, {*_WATCH, _VULNERABILITY})
        for _ in _items(first):
            pass
        stream.seek(start)
    yield from _items(stream_json(stream, {"scan.type", _VULNERABILITY}, _WATCH))


_WATCH = {"", "vulnerabilities", "scan"}
_VULNERABILITY = "vulnerabilities.item"
_CATEGORY = "vulnerabilities.item.category"


def _items(parts: Iterator[tuple[str, str, Any]]) -> Iterator[Observation]:
    """The vulnerabilities of a report whose scan is a secret detection.

    ``scan.type`` names the scan, but GitLab itself files a report by its artifact type: its
    own sample secret detection report says ``"type": "sast"`` over vulnerabilities of
    ``category: secret_detection``. Another scan type is therefore refused only when some
    vulnerability is not of that category, or when there are none (an empty SAST report
    imported here would mark every finding of the source as gone)."""
    has_vulnerabilities = False
    other_type = False  # scan.type names another kind of scan
    vulnerabilities = secret_category = 0  # seen so far, and of category secret_detection
    for kind, prefix, value in parts:
        if kind == "begin":
            if prefix == "" and value != "an object":
                raise ImportFormatError(f"expected an object, found {value}", "$")
            if prefix == "vulnerabilities":
                if value != "an array":
                    raise ImportFormatError(
                        f"should be an array, found {value}", "$.vulnerabilities"
                    )
                has_vulnerabilities = True
            if prefix == "scan" and value != "an object":
                raise ImportFormatError(f"should be an object, found {value}", "$.scan")
            if prefix == _VULNERABILITY:  # first pass: counted, not built
                vulnerabilities += 1
            continue
        if prefix == "scan.type":
            other_type = value != "secret_detection"
            _check_scan_type(other_type, vulnerabilities, secret_category)
            continue
        if prefix == _CATEGORY:
            secret_category += value == "secret_detection"
            continue
        vulnerabilities += 1
        if isinstance(value, dict):
            secret_category += value.get("category") == "secret_detection"
        _check_scan_type(other_type, vulnerabilities, secret_category)
        yield vulnerability(value, f"$.vulnerabilities[{vulnerabilities - 1}]")
    if not has_vulnerabilities:
        raise ImportFormatError(
            "not a GitLab secret detection report: no 'vulnerabilities' array", "$"
        )
    _check_scan_type(other_type, vulnerabilities, secret_category, end=True)


def _check_scan_type(other_type: bool, vulnerabilities: int, secret: int, end: bool = False):
    if other_type and (secret < vulnerabilities or (end and not vulnerabilities)):
        raise ImportFormatError(
            "not a secret detection report (scan.type should be secret_detection)",
            "$.scan.type",
        )


def vulnerability(value: Any, where: str) -> Observation:
    vuln = object_at(value, where, "a vulnerability object")
    secret = vuln.get("raw_source_code_extract")
    if secret is not None and not isinstance(secret, str):
        raise ImportFormatError("should be a string", f"{where}.raw_source_code_extract")
    secret = secret.strip() if secret else None
    secret = secret or None

    identifiers = list_at(vuln, "identifiers", where)
    rule = ""
    first_value = ""
    ids: dict[str, str] = {}
    for i, ident in enumerate(identifiers):
        ident_where = f"{where}.identifiers[{i}]"
        ident = object_at(ident, ident_where)
        kind = text_at(ident, "type", ident_where)
        ident_value = text_at(ident, "value", ident_where)
        if not first_value:
            first_value = ident_value
        if kind == "gitleaks_rule_id" and ident_value and not rule:
            rule = ident_value
    name = text_at(vuln, "name", where)
    message = text_at(vuln, "message", where)  # v2-v13 reports
    rule = rule or first_value or name or message
    if not rule:
        raise ImportFormatError("no rule: give 'identifiers' or 'name'", where)

    vuln_id = text_at(vuln, "id", where)
    if vuln_id:
        ids["id"] = vuln_id
    # ``cve`` ("<file>:<SHA-256 of the matched text>:<rule>") is not kept: an unkeyed hash of
    # the value, which a guess at a weak secret could be checked against. Without the
    # extract, it only names the secret (digested, in memory).
    secret_type = _secret_type(rule, name, secret)
    secret_sha1 = None if secret else _cve_identity(vuln.get("cve"), secret_type)

    location = dict_at(vuln, "location", where)
    loc_where = f"{where}.location"
    commit = dict_at(location, "commit", loc_where)
    commit_where = f"{loc_where}.commit"
    sha = text_at(commit, "sha", commit_where)
    if set(sha) <= {"0"}:
        sha = ""  # the analyzer's placeholder when it scanned a work tree, not history
    author = text_at(commit, "author", commit_where)
    committed_at = to_datetime(commit.get("date"), f"{commit_where}.date", strict=False)

    severity = map_severity(text_at(vuln, "severity", where) or None)
    title = name or message or rule
    description = text_at(vuln, "description", where)

    return Observation(
        rule=rule,
        secret_type=secret_type,
        secret_value=secret,
        secret_sha1=secret_sha1,
        path=clean(text_at(location, "file", loc_where), secret),
        line=whole_number(location.get("start_line"), f"{loc_where}.start_line"),
        commit=clean(sha, secret),
        author=clean(author, secret),
        committed_at=committed_at,
        severity=severity,
        title=clean(title, secret) or rule,
        description=clean(description, secret) if description != title else "",
        tool_ids={k: v for k, v in ids.items() if clean(v, secret)},
    )


_CVE_HASH = re.compile(r":([0-9a-f]{64}):")


def _cve_identity(cve: Any, secret_type: str) -> str | None:
    """What stands for a secret whose extract the report doesn't give (the analyzer before
    raw_source_code_extract, GitLab 13.x, and GitLab's own sample reports), in place of its
    value's SHA-1: the SHA-256 of the matched text in ``cve``
    ("aws-key.py:e2757…:AWS"), the same in every file and commit it is found in. Not for
    private keys: those rules of the gitleaks 7 analyzer matched only the PEM header
    ("-----BEGIN RSA PRIVATE KEY-----"), the same for every key. Only a digest of it: the
    hash itself is an unkeyed hash of the value. None when there is none (the place names
    the secret)."""
    if not isinstance(cve, str) or secret_type == SecretType.PRIVATE_KEY.value:
        return None
    match = _CVE_HASH.search(cve)
    if not match:
        return None
    basis = "\x1f".join(("gitlab-cve-sha256", match.group(1)))
    return hashlib.sha1(basis.encode(), usedforsecurity=False).hexdigest()


def _secret_type(rule: str, name: str, secret: str | None) -> str:
    for candidate in (rule, name):
        exact = RULES.get(_norm(candidate)) if candidate else None
        if exact is not None:
            return exact.value
    by_value = guess_secret_type_from_value(secret)
    if by_value is not None:
        return by_value.value
    return guess_secret_type(rule, name).value
