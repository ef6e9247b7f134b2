"""SARIF 2.1.0 logs from secret scanners (gitleaks, Nosey Parker, ggshield, and any other tool).

Streams ``runs[].results[]``; each run's ``tool`` (driver and extension rules) is read when it
comes before the results, as every known writer does. One Observation per result location
(``locations[]``; a result without locations gives one Observation without a place). Results of
kind ``pass``/``notApplicable`` are skipped.

Where the secret is, per tool (``runs[].tool.driver.name``):

- gitleaks v8 (and betterleaks, its fork, which writes the same SARIF under its own driver name):
  ``region.snippet.text`` is the secret (``REDACTED`` with ``--redact``, the first 100-N % of
  it and "..." with ``--redact=N``: no value then, the form kept as ``redacted`` if it shows
  at most 4 characters); ``partialFingerprints`` carry commitSha, author, email, date.
  2ms (Checkmarx) writes the secret as snippet too; its ``git show <commit>:<path>`` uri gives
  commit and path, ``validationStatus`` the validity, ``cvssScore`` the severity.
  gitleaks v7: ``properties.offender`` is the secret, the snippet is the whole line (ignored).
- Nosey Parker (and Titus, its Go port): ``region.snippet.text`` is the rule's whole regex
  match (``API_KEY = "...``), not its capture groups, which the log does not carry: it is the
  value only when it is itself a bare credential of a known shape (a GitHub token, an AWS key
  id..., where the capture is the match); otherwise no value (the finding is known by its place),
  an AWS key id in the match kept as a reference. The ``logicalLocations[0].properties
  .first_commit`` gives commit, author and blob path. Rules are typed as the Nosey Parker
  importer types them; its ``level``, "warning" on every result, is not a severity.
- ggshield: no value (``partialFingerprints["secret/v1"]``, a hash of it, is not kept);
  ``hostedViewerUri`` is the incident URL; ``properties.incidentDetails`` its validity,
  severity and triage; ``commit://<sha>/<path>`` uris give commit and path.
- Kingfisher: the snippet is the value; ``locations[].properties.git_metadata`` gives
  repository, commit, author and date, ``validation_outcome`` the validity (its
  ``validate_command`` spells the secret out: never read).
- secretlint: no value; the type from the rule package, else from the words of the (masked)
  message before its first ':' — read for the type, never stored.
- Microsoft's SARIF Pattern Matcher: the snippet is the value; its ``SecretFingerprint`` and
  ``ValidationFingerprint`` spell the value out and are never kept (the value when no snippet).
- Trivy, Checkov, KICS, Semgrep, CodeQL...: the snippet is source code (masked by some), never
  the value. These tools report vulnerabilities and misconfigurations too: only results whose
  rule is about secrets are read (Trivy's rule tags; else the rule's id, name and short
  description: secret, credential, password, token, key, CWE-798...; not a rule whose CWEs are
  all known non-leak weaknesses (CSRF, JWT verification, injections...), nor such a check by
  its name). A log with results and none about secrets, from a tool that scans for none, is
  refused.
- any other tool: ``properties.secret``/``raw``/``offender`` when present; otherwise the
  snippet only if it is a single token (no spaces) of 8+ characters, which is how scanners that
  report the match itself write it. Multi-word snippets (source lines) and masked ones are not.
  As for the tools above, each result is judged alone: read if its rule is about secrets or its
  value has a known credential's shape; a log none of whose results is one is refused.

Paths are made relative to the repository: an absolute uri under the run's
``originalUriBaseIds`` root (the most specific one that holds it) or under a CI checkout
(``/github/workspace/``...) loses that prefix. Windows paths (``file:///C:/src/a.cs``,
``C:\\src\\a.cs``...) are read with forward slashes, the drive letter in either case.

``message.text`` is never stored: several tools interpolate the match into it. The rule's short
description or name gives the title. See docs/formats/sarif.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import unquote

from hygiene.taxonomy import (
    SecretType,
    guess_secret_type,
    guess_secret_type_from_value,
    map_severity,
)

from .base import ImportFormatError, Item, Observation, first_char, path_in_checkout, type_name
from .gitleaks import REDACT, _without_credentials, aws_key_id_reference, safe_redacted
from .leakline import (
    MIN_SECRET_LEN,
    clean,
    dict_at,
    epoch_with_offset,
    list_at,
    object_at,
    redaction_ok,
    rewindable,
    stream_json,
    text_at,
    to_datetime,
    whole_number,
)
from .noseyparker import KINGFISHER_VALIDITY
from .noseyparker import NOT_CREDENTIALS as NOSEYPARKER_NOT_CREDENTIALS
from .noseyparker import _secret_type as noseyparker_secret_type

# gitleaks v8 rule ids (also used by other gitleaks-based tools) → taxonomy; normalised keys.
RULES: dict[str, SecretType] = {
    "aws-access-token": SecretType.AWS_ACCESS_KEY,
    "aws-access-key": SecretType.AWS_ACCESS_KEY,
    "aws-secret-key": SecretType.AWS_SECRET_KEY,
    "github-pat": SecretType.GITHUB_TOKEN,
    "github-fine-grained-pat": SecretType.GITHUB_TOKEN,
    "github-oauth": SecretType.GITHUB_TOKEN,
    "github-app-token": SecretType.GITHUB_TOKEN,
    "github-refresh-token": SecretType.GITHUB_TOKEN,
    "gitlab-pat": SecretType.GITLAB_TOKEN,
    "gitlab-ptt": SecretType.GITLAB_TOKEN,
    "gitlab-rrt": SecretType.GITLAB_TOKEN,
    "slack-bot-token": SecretType.SLACK_TOKEN,
    "slack-user-token": SecretType.SLACK_TOKEN,
    "slack-app-token": SecretType.SLACK_TOKEN,
    "slack-webhook-url": SecretType.CHAT_WEBHOOK,
    "discord-api-token": SecretType.SLACK_TOKEN,
    "stripe-access-token": SecretType.STRIPE_KEY,
    "private-key": SecretType.PRIVATE_KEY,
    "gcp-api-key": SecretType.GCP_KEY,
    "gcp-service-account": SecretType.GCP_KEY,
    "azure-ad-client-secret": SecretType.AZURE_CREDENTIAL,
    "jwt": SecretType.JWT,
    "jwt-base64": SecretType.JWT,
    "generic-api-key": SecretType.API_KEY,
    "pypi-upload-token": SecretType.API_KEY,
    "npm-access-token": SecretType.API_KEY,
    # Ids whose words the generic guess misreads: Slack webhooks (gitleaks' first v8 id, Trivy's
    # id), a Mailgun webhook's HMAC key ("signing"), Yandex Cloud's S3-compatible key ("aws",
    # and 40 characters long), 1Password's keys ("password").
    "slack-web-hook": SecretType.CHAT_WEBHOOK,
    "mailgun-signing-key": SecretType.API_KEY,
    "yandex-aws-access-token": SecretType.API_KEY,
    "1password-secret-key": SecretType.GENERIC_SECRET,
    "1password-service-account-token": SecretType.API_KEY,
}

VALIDITY = {
    "valid": "valid",
    "active": "valid",
    "verified": "valid",
    "invalid": "invalid",
    "inactive": "invalid",
    "revoked": "invalid",
}

_SECRET_PROPERTIES = ("secret", "Secret", "raw", "Raw", "offender", "Offender")


@dataclass
class _Run:
    index: int
    tool: str = ""
    rules: dict[str, dict] = field(default_factory=dict)
    rule_list: list[dict] = field(default_factory=list)
    repo: str = ""
    revision: str = ""
    # originalUriBaseIds: base id -> (uri, the base id it is relative to); artifacts[i] -> uri
    bases: dict[str, tuple[str, str]] = field(default_factory=dict)
    artifacts: list[tuple[str, str]] = field(default_factory=list)
    # The absolute bases by their path (drive letter folded, final "/"), and their lengths
    # longest first (_base_holding); made when a path first needs them, after the bases.
    absolute_bases: tuple[dict[str, str], list[int]] | None = None
    results: int = 0
    reported: int = 0  # results that are not kind pass/notApplicable


def parse(stream: IO[bytes]) -> Iterator[Item]:
    stream, char = first_char(stream)
    if char != "{":
        raise ImportFormatError("not a SARIF log: expected a JSON object with 'version' and 'runs'")
    targets = {
        "version",
        "runs.item.tool",
        "runs.item.results.item",
        "runs.item.versionControlProvenance",
        "runs.item.originalUriBaseIds",
        "runs.item.artifacts.item",
    }
    watch = {"", "runs", "runs.item", "runs.item.results"}
    known: list[_Run] | None = None
    start = rewindable(stream)
    if start is not None:
        # First pass: syntax, version and each run's tool and provenance (small), so that
        # nothing is yielded from a broken log and results may come before their tool.
        known = []
        first_pass = targets - {"runs.item.results.item"}
        for _ in _walk(stream_json(stream, first_pass, watch), known):
            pass
        stream.seek(start)
        targets -= {"runs.item.artifacts.item"}  # read in the first pass (it may hold contents)
    yield from _walk(stream_json(stream, targets, watch), None, known)


def _walk(
    parts: Iterator[tuple[str, str, Any]],
    collect: list[_Run] | None = None,
    known: list[_Run] | None = None,
) -> Iterator[Observation]:
    version_seen = False
    has_runs = False
    run = _Run(index=-1)
    reported = kept = 0
    capable = False  # some run's tool scans for secrets (among other things, maybe)
    for kind, prefix, value in parts:
        if kind == "begin":
            if prefix == "" and value != "an object":
                raise ImportFormatError(f"not a SARIF log: expected an object, found {value}", "$")
            if prefix == "runs":
                if value != "an array":
                    raise ImportFormatError(f"should be an array, found {value}", "$.runs")
                has_runs = True
            elif prefix == "runs.item":
                if value != "an object":
                    raise ImportFormatError(
                        f"should be an object, found {value}", f"$.runs[{run.index + 1}]"
                    )
                index = run.index + 1
                if known is not None and index < len(known):
                    run = known[index]
                    run.results = 0
                else:
                    run = _Run(index=index)
                if collect is not None:
                    collect.append(run)
            elif prefix == "runs.item.results" and value != "an array":
                raise ImportFormatError(
                    f"should be an array, found {value}", f"$.runs[{run.index}].results"
                )
            continue
        if prefix == "version":
            if value != "2.1.0":
                raise ImportFormatError(
                    "not a SARIF 2.1.0 log: 'version' should be \"2.1.0\"", "$.version"
                )
            version_seen = True
        elif prefix == "runs.item.tool":
            if known is None:
                _read_tool(run, value, f"$.runs[{run.index}].tool")
        elif prefix == "runs.item.versionControlProvenance":
            if known is None:
                _read_provenance(run, value, f"$.runs[{run.index}].versionControlProvenance")
        elif prefix == "runs.item.originalUriBaseIds":
            if known is None:
                _read_bases(run, value, f"$.runs[{run.index}].originalUriBaseIds")
        elif prefix == "runs.item.artifacts.item":
            if known is None:
                _read_artifact(run, value, f"$.runs[{run.index}].artifacts[{len(run.artifacts)}]")
        else:
            where = f"$.runs[{run.index}].results[{run.results}]"
            run.results += 1
            before = run.reported
            for obs in result_observations(value, where, run):
                kept += 1
                yield obs
            reported += run.reported - before
            capable = capable or _scans_for_secrets(run.tool)
    if not version_seen:
        raise ImportFormatError(
            "not a SARIF log: missing 'version' (should be \"2.1.0\")", "$.version"
        )
    if not has_runs:
        raise ImportFormatError("not a SARIF log: no 'runs' array", "$.runs")
    if reported and not kept and not capable and collect is None:
        # CodeQL, SpotBugs, Dockle... uploaded as secret-scanning results: saying so beats an
        # import that finds nothing (a full scan would mark every known finding missing).
        raise ImportFormatError(
            f"none of the {reported} results of this SARIF log is a secret finding: it is not "
            "from a secret scanner (gitleaks, Nosey Parker, ggshield, Trivy, ...)",
            "$.runs",
        )


def _read_tool(run: _Run, value: Any, where: str) -> None:
    tool = object_at(value, where)
    driver = dict_at(tool, "driver", where)
    run.tool = text_at(driver, "name", f"{where}.driver")
    components = [(driver, f"{where}.driver")]
    for i, ext in enumerate(list_at(tool, "extensions", where)):
        components.append((object_at(ext, f"{where}.extensions[{i}]"), f"{where}.extensions[{i}]"))
    for number, (component, comp_where) in enumerate(components):
        for i, rule in enumerate(list_at(component, "rules", comp_where)):
            rule_where = f"{comp_where}.rules[{i}]"
            rule = object_at(rule, rule_where)
            info = {
                "id": text_at(rule, "id", rule_where),
                "name": text_at(rule, "name", rule_where),
                "short": _message_text(rule, "shortDescription", rule_where),
                "full": _message_text(rule, "fullDescription", rule_where),
                "properties": dict_at(rule, "properties", rule_where),
                "level": text_at(
                    dict_at(rule, "defaultConfiguration", rule_where),
                    "level",
                    f"{rule_where}.defaultConfiguration",
                ),
            }
            if number == 0:
                run.rule_list.append(info)
            if info["id"]:
                run.rules.setdefault(info["id"], info)


def _read_provenance(run: _Run, value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise ImportFormatError(f"should be an array, found {type_name(value)}", where)
    if value:
        first = object_at(value[0], f"{where}[0]")
        run.repo = text_at(first, "repositoryUri", f"{where}[0]")
        run.revision = text_at(first, "revisionId", f"{where}[0]")


def _read_bases(run: _Run, value: Any, where: str) -> None:
    bases = object_at(value, where)
    for index, (key, raw) in enumerate(bases.items()):
        # By position: a key is input, and an error message never quotes input.
        base_where = f"{where}[key {index}]"
        base = object_at(raw, base_where)
        run.bases[str(key)] = (
            text_at(base, "uri", base_where),
            text_at(base, "uriBaseId", base_where),
        )
    run.absolute_bases = None


def _read_artifact(run: _Run, value: Any, where: str) -> None:
    artifact = object_at(value, where)
    location = dict_at(artifact, "location", where)
    run.artifacts.append(
        (
            text_at(location, "uri", f"{where}.location"),
            text_at(location, "uriBaseId", f"{where}.location"),
        )
    )


def _message_text(obj: dict, key: str, where: str) -> str:
    message = dict_at(obj, key, where)
    return text_at(message, "text", f"{where}.{key}")


def result_observations(value: Any, where: str, run: _Run) -> Iterator[Observation]:
    result = object_at(value, where, "a result object")
    kind = text_at(result, "kind", where)
    if kind in ("pass", "notApplicable"):
        return
    run.reported += 1
    rule_ref = dict_at(result, "rule", where)
    rule_index = whole_number(result.get("ruleIndex"), f"{where}.ruleIndex", minimum=None)
    if rule_index is None:
        rule_index = whole_number(rule_ref.get("index"), f"{where}.rule.index", minimum=None)
    rule_id = text_at(result, "ruleId", where) or text_at(rule_ref, "id", f"{where}.rule")
    info: dict = {}
    if rule_id:
        info = run.rules.get(rule_id) or run.rules.get(rule_id.split("/")[0]) or {}
    if not info and rule_index is not None and 0 <= rule_index < len(run.rule_list):
        info = run.rule_list[rule_index]
    if not rule_id and not info:
        info = _rule_named_by_message(result, where, run)
    rule_id = rule_id or info.get("id", "") or run.tool or "sarif"

    tool = run.tool.strip().lower().replace(" ", "")
    properties = dict_at(result, "properties", where)
    fingerprints = dict_at(result, "partialFingerprints", where)
    fp_where = f"{where}.partialFingerprints"
    secret_rule = _secret_rule(tool, rule_id, info)
    explicit = any(isinstance(properties.get(k), str) and properties[k] for k in _SECRET_PROPERTIES)
    noseyparker = "noseyparker" in tool
    # Nosey Parker rules that match identifiers (a bucket name, an ARN): informational.
    identifier = noseyparker and rule_id.strip().lower() in NOSEYPARKER_NOT_CREDENTIALS

    # Nosey Parker writes level "warning" on every result: the type's severity decides.
    severity = _severity(result, where, info, properties, use_level=not noseyparker)
    if identifier:
        severity = "info"
    validity = _validity(properties, where)
    resolution = _resolution(result, where)
    details = properties.get("incidentDetails")
    if isinstance(details, dict):
        # ggshield --with-incident-details: the GitGuardian incident's severity and triage.
        incident_severity = details.get("severity")
        if isinstance(incident_severity, str) and map_severity(incident_severity):
            severity = map_severity(incident_severity)
        resolution = resolution or _incident_resolution(details)

    base_ids: dict[str, str] = {}
    for key in fingerprints:
        if key in ("commitSha", "email", "author", "date", "commitMessage"):
            continue
        if _VALUE_DIGEST.search(str(key)):
            continue
        text = text_at(fingerprints, key, fp_where)
        if text and not _BARE_DIGEST.fullmatch(text):
            base_ids[str(key)[:100]] = text
    fingerprint_secret = None
    key_ids: list[str] = []
    for key, text in dict_at(result, "fingerprints", where).items():
        if not isinstance(text, str) or not text or text in _PLACEHOLDER_IDS:
            continue
        if _HOLDS_SECRET.search(text):
            # Microsoft's SARIF Pattern Matcher: {"secret":"<the value>"}, [secret=<the value>]
            fingerprint_secret = fingerprint_secret or _fingerprint_secret(text)
            continue
        if _VALUE_DIGEST.search(str(key)) or _BARE_DIGEST.fullmatch(text):
            continue
        # The Pattern Matcher's asset fingerprint names the key id paired with an AWS secret:
        # a reference (shown redacted), not a tool id (a key id is often itself the value a
        # scanner reports).
        named = [m.group(0) for m in _AWS_KEY_ID_IN.finditer(text)]
        if named:
            key_ids.extend(named)
            continue
        base_ids[f"fingerprint:{str(key)[:90]}"] = text
    for key in ("guid", "correlationGuid"):
        text = text_at(result, key, where)
        if text:
            base_ids[key] = text

    url = text_at(result, "hostedViewerUri", where)
    if tool.startswith("ggshield"):
        # The GitGuardian incident, as the ggshield importer names it.
        incident = _INCIDENT_ID.search(url)
        if incident:
            base_ids["incident_id"] = incident.group(1)
    commit = text_at(fingerprints, "commitSha", fp_where) or text_at(properties, "commit", where)
    if set(commit) <= {"0"}:
        commit = ""  # gitleaks writes zeros when it scanned files, not history
    author_name = text_at(fingerprints, "author", fp_where) or text_at(properties, "author", where)
    email = text_at(fingerprints, "email", fp_where) or text_at(properties, "email", where)
    date = fingerprints.get("date") or properties.get("date")
    committed_at = _lenient_date(date)
    repo = text_at(properties, "repo", where) or run.repo
    if repo in (".", "./"):
        repo = ""  # gitleaks v7: the scanned work tree, not a repository name

    title = _title(tool, rule_id, info)
    hint = _secretlint_hint(result, where) if tool.startswith("secretlint") else ""
    description = info.get("full", "") if info.get("full", "") != title else ""
    if tool.startswith("trivy"):
        description = ""  # a secret rule's fullDescription is the matched line (masked)

    locations = list_at(result, "locations", where) or [None]
    seen: set[tuple] = set()
    for i, raw_location in enumerate(locations):
        loc_where = f"{where}.locations[{i}]"
        place = _place(raw_location, loc_where, run)
        # One place: the same line of the same file in another commit or image layer is
        # another one (a finding in a file edited since, a file copied into each layer).
        key = (
            place["uri"],
            place["line"],
            place["repo"],
            place["path"],
            place["commit"],
            place["layer"],
        )
        if key in seen:
            continue
        seen.add(key)
        secret, redacted = _secret(tool, properties, place["snippet"], where)
        if secret is None and not redacted and fingerprint_secret:
            secret = fingerprint_secret
        if not (secret_rule or explicit or guess_secret_type_from_value(secret)):
            continue  # a vulnerability, misconfiguration or code issue, not a leaked secret
        path = place["path"] or place["uri"]
        obs_author = place["author"] or (
            f"{author_name} <{email}>" if author_name and email else author_name or email
        )
        ids = dict(base_ids)
        if place["blob"]:
            ids["blob_id"] = place["blob"]
        if place["layer"]:
            ids["docker_layer"] = place["layer"]
        named = key_ids
        if secret is None and (noseyparker or tool == "titus"):
            # The match holds the key id beside the secret (AWS API Credentials): an identifier.
            named = [*key_ids, *(m.group(0) for m in _AWS_KEY_ID_IN.finditer(place["snippet"]))]
        refs = [r for r in map(aws_key_id_reference, (secret, *named)) if r]
        if identifier:
            secret_type = SecretType.GENERIC_SECRET.value
        elif noseyparker:
            # As the Nosey Parker importer types its rules (the rule id is the rule's name).
            secret_type = noseyparker_secret_type(rule_id, "", secret)
        else:
            secret_type = _secret_type(rule_id, info, secret, hint)
        yield Observation(
            rule=rule_id,
            secret_type=secret_type,
            secret_value=secret,
            redacted=redacted,
            # A clone URL may carry its credentials (Qodana writes the remote's URL as it is,
            # in GitLab CI https://gitlab-ci-token:<job token>@host/...): not kept.
            repo=clean(_without_credentials(place["repo"] or repo), secret),
            path=clean(path, secret),
            line=place["line"],
            commit=clean(place["commit"] or commit or run.revision, secret),
            url=clean(place["url"] or url, secret),
            author=clean(obs_author, secret),
            committed_at=place["committed_at"] or committed_at,
            validity=place["validity"] or validity,
            severity=severity,
            title=clean(title, secret),
            description=clean(description, secret),
            tool_resolution=resolution,
            references=list({r.value: r for r in refs}.values()),
            tool_ids={k: v for k, v in ids.items() if clean(v, secret)},
        )


# Tools whose every result is a secret finding (by driver name, lower-cased, spaces removed).
_SECRET_TOOLS = re.compile(
    r"leaks|noseyparker|ggshield|gitguardian|trufflehog|kingfisher|secret|credsweeper|whispers"
    r"|talisman|titus|spmi|patternmatcher|tartufo|shhgit|^2ms$|credscan|credentialscanner"
)
# Tools that scan for secrets among other things: a log of theirs without one is a clean scan.
_MIXED_TOOLS = re.compile(
    r"trivy|checkov|kics|semgrep|snyk|sonar|codeql|defender|devskim|bandit|gosec|bearer"
    r"|mobsfscan|horusec|njsscan|tfsec"
)
_SECRET_WORDS = re.compile(
    r"secret|credential|passw(?:or)?d|\bpwd\b|token|api[-_ ]?key|apikey|private[-_ ]?key"
    r"|access[-_ ]?key|hard[-_ ]?coded|\bcwe[-_/]?(?:798|259|321|540)\b",
    re.IGNORECASE,
)
# Checks about where secrets are kept (a vault's encryption, expiry, rotation) name secrets too.
# So do checks of how passwords are set or kept (a password policy's length, a weak hash).
_SECRET_STORE = re.compile(
    r"secrets?[\s_-]*manager|key[\s_-]*vault|\bkms\b|encrypt|rotat|expir"
    r"|polic(?:y|ies)|hash|length|complexity|strength|reuse|\bmfa\b",
    re.IGNORECASE,
)
_SECRET_EXPOSED = re.compile(r"hard[-_ ]?coded|plain[-_ ]?text|expos|leak|detected", re.IGNORECASE)
_OTHER_TAGS = {"vulnerability", "misconfiguration", "license", "sca", "quality", "maintainability"}
_SECRET_TAGS = re.compile(r"secret|credential|password|\bcwe[-_/]?(?:798|259|321|540)\b", re.I)
_CWE = re.compile(r"\bcwe[-_/: ]?(\d+)\b", re.IGNORECASE)
# Weaknesses that are not a leaked secret, whatever words a rule's name has: CSRF (CodeQL's
# js/missing-token-validation), origin and signature checks (CORS for credentials, JWT
# verification), hard-coded data run as code, an empty password, weak password hashing or
# randomness, insecure cookies, injections and redirects. A rule whose CWEs are all of these is
# not read; any other CWE (798, 259, 321, 320, 287 for a constant Flask SECRET_KEY...) leaves the
# decision to its name.
_NOT_LEAK_CWES = {
    "352", "346", "347", "942", "639", "506", "258", "916", "759", "760", "327", "328", "330",
    "338", "614", "1004", "1275", "20", "22", "77", "78", "79", "89", "94", "95", "116", "601",
    "611", "918", "400", "1333", "209", "497",
}  # fmt: skip
# Names of checks about how tokens and credentials are handled, not of a leaked one (for tools
# whose rules name no CWE).
_NOT_A_LEAK = re.compile(
    r"\b[cx]srf\b|\bcors\b|missing[-_ ](?:token|secret)|interpreted[-_ ]as[-_ ]code"
    r"|empty[-_ ]password|(?:token|signature|jwt)[-_ ](?:validation|verification)"
    # How a CI workflow hands its secrets on (to every step, into artifacts, unmasked): the
    # secrets are the CI's own, referenced by name, none is written in the repository.
    r"|excessive[-_ ]secrets?[-_ ]exposure|secrets?[-_ ]in[-_ ]artifacts?"
    r"|unmasked[-_ ]secrets?[-_ ]exposure",
    re.IGNORECASE,
)
# CodeQL's GitHub Actions query pack (actions/...): workflow hygiene (injections, permissions,
# how secrets are passed to steps and artifacts); none reports a credential written in the code.
_CODEQL_ACTIONS_QUERY = re.compile(r"actions/[a-z]")


def _scans_for_secrets(tool: str) -> bool:
    name = tool.strip().lower().replace(" ", "")
    return bool(_SECRET_TOOLS.search(name) or _MIXED_TOOLS.search(name))


def _secret_rule(tool: str, rule_id: str, info: dict) -> bool:
    """Is this rule's result a leaked secret? Every result of a secret scanner is; another
    tool's (Trivy, Checkov, Semgrep, CodeQL, Dockle...) when the rule's tags say so (Trivy tags
    each rule secret, vulnerability or misconfiguration) or its id, name or short description
    speaks of secrets, credentials, passwords, tokens or keys (CWE-798 "hard-coded
    credentials"), and not of where secrets are kept (a secrets manager's encryption)."""
    if _SECRET_TOOLS.search(tool):
        return True
    if "codeql" in tool and _CODEQL_ACTIONS_QUERY.match(rule_id):
        return False
    if rule_id and re.sub(r"[\s_]+", "-", rule_id.strip().lower()) in RULES:
        return True
    properties = info.get("properties") or {}
    tags = properties.get("tags")
    words = {str(t).strip().lower() for t in tags} if isinstance(tags, list) else set()
    if any(_SECRET_TAGS.search(w) for w in words):
        return True
    # CodeQL files CWEs as tags ("external/cwe/cwe-798"), Snyk Code in properties.cwe.
    cwe_list = properties.get("cwe")
    if isinstance(cwe_list, list):
        words.update(str(c).strip().lower() for c in cwe_list)
    cwes = {m for w in words for m in _CWE.findall(w)}
    if (cwes and cwes <= _NOT_LEAK_CWES) or words & _OTHER_TAGS:
        return False
    names = " ".join((rule_id, info.get("name", ""), info.get("short", "")))
    if not _SECRET_WORDS.search(names) or _NOT_A_LEAK.search(names):
        return False
    return not _SECRET_STORE.search(names) or bool(_SECRET_EXPOSED.search(names))


# Semgrep without a login writes this as every result's "matchBasedId/v1": no id at all.
_PLACEHOLDER_IDS = {"requires login"}
# Fingerprints that digest the value or the line holding it, unkeyed (ggshield's secret/v1,
# the Pattern Matcher's SecretHashSha256, CodeQL's primaryLocationLineHash, Semgrep's
# matchBasedId): a guess at a weak secret could be checked against them. Not kept.
_VALUE_DIGEST = re.compile(r"secret|hash|matchbased", re.IGNORECASE)
# Nor is a fingerprint that is a bare digest under any other name (Snyk Code's "0" and "1",
# hashes of the code around the match; CodeQL-style "<hash>:<n>"): what it digests is unknown,
# it may be the line that holds the value. An id that names something (a path, a rule, a
# commit and a line), a number or a UUID (Snyk's "snyk/asset/finding/v1") is kept.
_BARE_DIGEST = re.compile(r"[0-9a-fA-F]{32,}(?::\d+)?|[0-9a-fA-F]{8}(?:\.[0-9a-fA-F]{8}){3,}")
_AWS_KEY_ID_IN = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_HOLDS_SECRET = re.compile(r'"secret"\s*:|\[secret=', re.IGNORECASE)
_FINGERPRINT_SECRET = re.compile(r'"secret"\s*:\s*"((?:[^"\\]|\\.)*)"|\[secret=([^\]]*)\]', re.I)


def _fingerprint_secret(text: str) -> str | None:
    """The value a SARIF Pattern Matcher fingerprint spells out (used only without a snippet)."""
    match = _FINGERPRINT_SECRET.search(text)
    if match is None:
        return None
    if match.group(1) is not None:
        try:
            value = json.loads(f'"{match.group(1)}"')
        except ValueError:
            return None
    else:
        value = match.group(2)
    if not isinstance(value, str) or len(value) < MIN_SECRET_LEN:
        return None
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate escape: no value a fingerprint could take
        return None
    return value


def _rule_named_by_message(result: dict, where: str, run: _Run) -> dict:
    """gitleaks v7 writes no ruleId; its message reads "<rule id> secret detected". The rule is
    taken from the driver's own list (the message itself is never kept)."""
    message = text_at(dict_at(result, "message", where), "text", f"{where}.message")
    if not message or not run.rules:
        return {}
    best: dict = {}
    for rule_id, info in run.rules.items():
        if message.startswith(rule_id + " ") and len(rule_id) > len(best.get("id", "")):
            best = info
    return best


def _place(raw: Any, where: str, run: _Run) -> dict:
    place: dict[str, Any] = {
        "uri": "",
        "line": None,
        "snippet": "",
        "repo": "",
        "path": "",
        "commit": "",
        "author": "",
        "committed_at": None,
        "blob": "",
        "url": "",
        "validity": "",
        "layer": "",
    }
    if raw is None:
        return place
    location = object_at(raw, where)
    physical = dict_at(location, "physicalLocation", where)
    phys_where = f"{where}.physicalLocation"
    artifact = dict_at(physical, "artifactLocation", phys_where)
    art_where = f"{phys_where}.artifactLocation"
    uri = text_at(artifact, "uri", art_where)
    base_id = text_at(artifact, "uriBaseId", art_where)
    index = whole_number(artifact.get("index"), f"{art_where}.index", minimum=None)
    if not uri and index is not None and 0 <= index < len(run.artifacts):
        uri, base_id = run.artifacts[index]  # the artifact's uri, not repeated in the result
    in_commit = _GIT_SHOW.fullmatch(uri) or _COMMIT_URL.fullmatch(uri)
    if in_commit:
        # 2ms scanning history: "git show <commit>:<path>"; ggshield scanning commits:
        # "commit://<commit>/<path>" ("commit://staged/<path>" before a commit).
        commit, uri = in_commit.group(1), in_commit.group(2)
        place["commit"] = "" if commit == "staged" else commit
    layer = _DOCKER_LAYER.fullmatch(uri)
    if layer:
        place["layer"], uri = layer.group(1), layer.group(2)  # ggshield: "<layer id>:/<path>"
    absolute = _uri_path(uri)
    place["uri"] = _repo_path(absolute, base_id, run)
    region = dict_at(physical, "region", phys_where)
    region_where = f"{phys_where}.region"
    place["line"] = whole_number(region.get("startLine"), f"{region_where}.startLine")
    snippet = dict_at(region, "snippet", region_where)
    place["snippet"] = text_at(snippet, "text", f"{region_where}.snippet")
    # Nosey Parker: the blob and its first commit ride on the logical location.
    for j, logical in enumerate(list_at(location, "logicalLocations", where)):
        log_where = f"{where}.logicalLocations[{j}]"
        logical = object_at(logical, log_where)
        if text_at(logical, "kind", log_where) == "blob":
            place["blob"] = text_at(logical, "name", log_where)
        props = dict_at(logical, "properties", log_where)
        first_commit = props.get("first_commit")
        if isinstance(first_commit, dict):
            fc_where = f"{log_where}.properties.first_commit"
            meta = dict_at(first_commit, "commit_metadata", fc_where)
            meta_where = f"{fc_where}.commit_metadata"
            place["repo"] = absolute  # a git match's artifact is the repository
            place["path"] = text_at(first_commit, "blob_path", fc_where)
            place["commit"] = text_at(meta, "commit_id", meta_where)
            name = text_at(meta, "author_name", meta_where)
            email = text_at(meta, "author_email", meta_where)
            place["author"] = f"{name} <{email}>" if name and email else name or email
            place["committed_at"] = epoch_with_offset(
                meta.get("committer_timestamp") or meta.get("author_timestamp")
            )
    # Kingfisher: the git place and the validation ride on the location's properties, beside
    # its blast_radius_command and validate_command, which spell the secret out (never read).
    props = dict_at(location, "properties", where)
    git = props.get("git_metadata")
    if isinstance(git, dict):
        _kingfisher_git(place, git, f"{where}.properties.git_metadata")
    for key in ("validation_outcome", "validation_status"):
        value = props.get(key)
        if isinstance(value, str) and value.strip():
            place["validity"] = KINGFISHER_VALIDITY.get(value.strip().lower(), "unknown")
            break
    return place


def _kingfisher_git(place: dict, git: dict, where: str) -> None:
    commit = dict_at(git, "commit", where)
    c_where = f"{where}.commit"
    person = dict_at(commit, "author", c_where) or dict_at(commit, "committer", c_where)
    name = text_at(person, "name", f"{c_where}.author")
    email = text_at(person, "email", f"{c_where}.author")
    repo = text_at(git, "repository_url", where)
    # A scan of the working directory (kingfisher scan .) names no repository: ".".
    place["repo"] = "" if repo.rstrip("/\\") in ("", ".", "./.git", ".git") else repo
    place["commit"] = text_at(commit, "id", c_where)
    place["author"] = f"{name} <{email}>" if name and email else name or email
    place["committed_at"] = _lenient_date(commit.get("date"))
    file = dict_at(git, "file", where)
    place["path"] = text_at(file, "path", f"{where}.file")
    link = text_at(file, "url", f"{where}.file")
    if "://" in link:
        place["url"] = link  # a local repository's is a relative path, no link


_GIT_SHOW = re.compile(r"git show ([0-9a-f]{7,64}):(.+)", re.DOTALL)
_COMMIT_URL = re.compile(r"commit://([0-9a-f]{7,64}|staged)/(.+)", re.DOTALL)
_DOCKER_LAYER = re.compile(r"(sha256:[0-9a-f]{64}):(/.*)", re.DOTALL)


_PARENT_DIRS = re.compile(r"(?:\.\./)+")


def _kics_container_path(path: str) -> str:
    """KICS run in its container (``docker run -v <repo>:/path checkmarx/kics scan -p /path``,
    as its documentation has it) writes paths relative to its working directory, /app/bin:
    ``../../path/<file>``. The mount, or a CI checkout mounted instead, is taken off; any
    other path stays as written."""
    absolute = "/" + path[_PARENT_DIRS.match(path).end() :]
    if absolute.startswith("/path/") and len(absolute) > 6:
        return absolute[6:]
    inner = path_in_checkout(absolute)
    return inner if inner != absolute else path


def _repo_path(path: str, base_id: str, run: _Run) -> str:
    """The path in the scanned repository, as a user knows it.

    A relative uri is relative to its uriBaseId, the root of the scan (%SRCROOT%, Trivy's
    ROOTPATH): kept, after the relative parts of that base, if any. An absolute one is made
    relative to the most specific of the run's absolute originalUriBaseIds that holds it (of
    SRCROOT file:///work/ and REPOROOT file:///work/repo/, the latter), or to a CI checkout
    directory (/github/workspace/...); else it stays absolute. A relative uri whose root holds
    a more specific base is made relative to that one too: one file, one path."""
    if not path:
        return path
    if path.startswith("../") and run.tool.strip().lower() == "kics":
        path = _kics_container_path(path)
    if not _is_absolute(path):
        prefix = root = ""
        seen: set[str] = set()
        while base_id and base_id not in seen and base_id in run.bases:
            seen.add(base_id)
            base_uri, base_id = run.bases[base_id]
            base = _uri_path(base_uri)
            if not base or _is_absolute(base) or "://" in base:
                root = base if _is_absolute(base) else ""
                break  # an absolute root: the scan's root
            prefix = base.rstrip("/") + "/" + prefix
        relative = prefix + path
        while relative.startswith("./"):
            relative = relative[2:]  # "./src/a.py" (Kingfisher's uri of a work tree file)
        if root:
            root = root.rstrip("/") + "/"
            inner = _base_holding(root + relative, run)
            if len(inner) > len(root):
                return (root + relative)[len(inner) :]
        return relative
    base = _base_holding(path, run)
    if base:
        return path[len(base) :]
    return path_in_checkout(path)


def _base_holding(path: str, run: _Run) -> str:
    """The longest absolute base of the run (with a final '/') that holds this absolute path,
    or "". A file system's or drive's root is no repository's; a Windows drive letter matches
    in either case (file:///c:/src/ holds C:\\src\\a.cs). A lookup per length of base, not a
    scan of the bases per path (a log may list thousands of both)."""
    if run.absolute_bases is None:
        by_path: dict[str, str] = {}
        for base_uri, _ in run.bases.values():
            base = _uri_path(base_uri)
            if not _is_absolute(base) or _FS_ROOT.fullmatch(base):
                continue
            base = base.rstrip("/") + "/"
            by_path.setdefault(_fold_drive(base), base)
        run.absolute_bases = (by_path, sorted({len(b) for b in by_path}, reverse=True))
    by_path, lengths = run.absolute_bases
    if not by_path:
        return ""
    folded = _fold_drive(path)
    for length in lengths:
        if length < len(path):
            base = by_path.get(folded[:length])
            if base is not None:
                return base
    return ""


_DRIVE = re.compile(r"[A-Za-z]:(?:/|$)")
# A path with a drive letter ("/C:/src" as a file uri's path): the slash before it is the uri's.
_DRIVE_PATH = re.compile(r"/[A-Za-z]:(?=/|$)")
_DRIVE_HOST = re.compile(r"[A-Za-z]:")
_FS_ROOT = re.compile(r"/*|[A-Za-z]:/*")


def _is_absolute(path: str) -> bool:
    return path.startswith("/") or bool(_DRIVE.match(path))


def _fold_drive(path: str) -> str:
    return path[0].lower() + path[1:] if _DRIVE.match(path) else path


def _uri_path(uri: str) -> str:
    """A uri's path with forward slashes; a Windows one as C:/src/a.cs, however written
    (file:///C:/src/a.cs, file:///c%3A/src/a.cs, file://C:/src/a.cs, C:\\src\\a.cs); a share's
    as //server/share/a.cs."""
    # A URI has no backslash; tools run on Windows write OS paths (`src\setup.yml`,
    # `file:///C:\src\app.py`).
    # Turned into slashes before decoding, so an encoded `%5C` (a backslash that is part of
    # a file name) stays one.
    uri = uri.replace("\\", "/")
    if uri[:5].lower() == "file:":
        # Split by hand: urlparse fails on a '[' in the host and cuts a name at '#' or '?'
        # (tools write file uris of raw OS paths).
        host, path = "", uri[5:]
        if path.startswith("//"):
            host, slash, rest = path[2:].partition("/")
            path = slash + rest
        path, host = unquote(path), unquote(host)
        if _DRIVE_HOST.fullmatch(host):
            path = host + path  # file://C:/src/a.cs: the drive read as a host
        elif host and host.lower() != "localhost":
            path = "//" + host + path  # file://server/share/a.cs
    elif "%" in uri and "://" not in uri:
        path = unquote(uri)
    else:
        path = uri
    if _DRIVE_PATH.match(path):
        path = path[1:]
    return path


def _secret(tool: str, properties: dict, snippet: str, where: str) -> tuple[str | None, str]:
    """(secret_value, redacted) for one location."""
    for key in _SECRET_PROPERTIES:
        value = properties.get(key)
        if isinstance(value, str) and value:
            return _value_or_redacted(value)
    if not snippet:
        return None, ""
    if tool.startswith(("gitleaks", "betterleaks")) or tool == "2ms":
        stripped = snippet.strip()
        if stripped == REDACT:
            return None, REDACT  # --redact in gitleaks' first v8 releases
        if stripped.endswith("...") or "REDACTED" in stripped:
            # --redact (REDACTED) or --redact=N (v8.19+: the first 100-N % of the secret, then
            # "..."): no value; the form is kept only if it shows at most 4 characters.
            return None, safe_redacted(stripped)
        return snippet, ""
    if "noseyparker" in tool or tool == "titus":
        # The rule's whole match (snippet.matching), context included: the capture inside it
        # is not in the log. The match is the value only when it is itself a bare credential.
        return _bare_credential(snippet), ""
    if tool.startswith("trufflehog"):
        # TruffleHog's snippet is its Redacted form (for AWS the key id, for URIs the URL with
        # the password masked), never Raw: kept only as a redacted form when it is safe.
        stripped = snippet.strip()
        return None, stripped if redaction_ok(stripped) else ""
    if tool.startswith("ggshield") or _MIXED_TOOLS.search(tool):
        return None, ""  # the snippet is source code (Checkov's with the secret masked)
    candidate = snippet.strip()
    if _REDACTED_MARK.fullmatch(candidate):
        # Kingfisher --redact: "[REDACTED:9d3d2aed]", a hash of the value in place of it (no
        # value, and the hash is not kept).
        return None, ""
    if "***" in candidate:
        return None, candidate if redaction_ok(candidate) else ""  # masked, not the value
    if guess_secret_type_from_value(candidate) is not None or (
        len(candidate) >= MIN_SECRET_LEN and not re.search(r"\s", candidate)
    ):
        return _value_or_redacted(candidate)
    return None, ""


# Credentials whose known shape (a prefix, token characters) makes a match that is only one of
# them the credential itself: what a rule's capture of it holds too. So is a webhook URL.
_BARE_SHAPES = {
    SecretType.AWS_ACCESS_KEY,
    SecretType.GITHUB_TOKEN,
    SecretType.GITLAB_TOKEN,
    SecretType.SLACK_TOKEN,
    SecretType.STRIPE_KEY,
}
# What a match with context has around its credential: spaces, quotes, assignments, lists.
_MATCH_CONTEXT = re.compile(r"[\s'\"`=,;<>()\[\]{}]")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")


def _bare_credential(match: str) -> str | None:
    """The match itself, if it is one credential of a known shape and nothing around it."""
    candidate = match.strip()
    if not candidate or _MATCH_CONTEXT.search(candidate):
        return None
    shape = guess_secret_type_from_value(candidate)
    if shape is SecretType.CHAT_WEBHOOK or (
        shape in _BARE_SHAPES and _TOKEN_CHARS.fullmatch(candidate)
    ):
        return candidate
    return None


def _value_or_redacted(value: str) -> tuple[str | None, str]:
    stripped = value.strip()
    if re.fullmatch(r"(?i)\[?redacted\]?", stripped) or redaction_ok(stripped):
        return None, stripped
    return value, ""


def _title(tool: str, rule_id: str, info: dict) -> str:
    if "noseyparker" in tool:
        return rule_id  # its shortDescription is the rule's regular expression
    short = info.get("short", "")
    if short.startswith("Semgrep Finding: "):
        short = ""  # Semgrep's boilerplate around the rule id; the name is the same id
    elif tool.startswith("kingfisher"):
        short = _KINGFISHER_SHORT.sub("", short)  # "GITHUB-PAT => [BETTERLEAKS.GITHUB-PAT]"
    elif _SECRETLINT_SHORT.fullmatch(short):
        return rule_id.rsplit(" > ", 1)[-1]  # "secretlint rule(<preset> > <rule>) error"
    elif _REGEX_TEXT.search(short):
        short = ""  # a gitleaks custom rule without a description: its regex stands in
    return short or info.get("name") or rule_id


# Marks of a regular expression, not of prose: an escaped class or dot, an inline flag group, a
# negated class, a counted repeat.
_REGEX_TEXT = re.compile(r"\\[bdswBDSW.]|\(\?[imsx]+\)|\[\^|\{\d+,\d*\}")


_SECRETLINT_SHORT = re.compile(r"secretlint rule\(.*\) (?:error|warning|info)")
# The rule package of a secretlint rule id ("<preset> > @secretlint/secretlint-rule-<name>").
_SECRETLINT_RULE = re.compile(r"(?:^| > )@secretlint/secretlint-rule-([a-z0-9-]+)$")
# secretlint rules whose names the generic guess misreads or reads as generic.
SECRETLINT_RULES: dict[str, SecretType] = {
    "database-connection-string": SecretType.DATABASE_CREDENTIAL,  # not Azure's kind
    "basicauth": SecretType.GENERIC_PASSWORD,
    "privatekey": SecretType.PRIVATE_KEY,
}


def _secretlint_hint(result: dict, where: str) -> str:
    """What secretlint's message says it found ("found AWS Secret Access Key: ****"): one rule
    reports several kinds (the AWS rule: key id, secret key, account id). Read for the type only,
    up to the first ':' or '(' (the masked value, or with --no-maskSecrets the value itself,
    comes after); never stored."""
    message = text_at(dict_at(result, "message", where), "text", f"{where}.message")
    head = re.split(r"[:(]", message, maxsplit=1)[0]
    return head.removeprefix("found ").strip()[:100]


def _severity(
    result: dict, where: str, info: dict, properties: dict, use_level: bool = True
) -> str | None:
    # The rule's security-severity (GitHub's place for it); Titus writes it on the result,
    # 2ms a CVSS score of the result.
    score = properties.get("security-severity")
    if score is None or score == "":
        score = (info.get("properties") or {}).get("security-severity")
    cvss = properties.get("cvssScore")
    if (score is None or score == "") and isinstance(cvss, int | float) and cvss is not True:
        score = cvss if cvss > 0 else None
    if isinstance(score, str):
        try:
            score = float(score)
        except ValueError:
            score = None
    if isinstance(score, int | float) and not isinstance(score, bool) and score == score:
        if score >= 9:
            return "critical"
        if score >= 7:
            return "high"
        if score >= 4:
            return "medium"
        if score > 0:
            return "low"
        return "info"
    if not use_level:
        return None
    level = text_at(result, "level", where) or info.get("level", "")
    return map_severity(level) if level else None


def _validity(properties: dict, where: str) -> str:
    for key in ("validity", "Validity"):
        value = properties.get(key)
        if isinstance(value, str):
            return VALIDITY.get(value.strip().lower(), "unknown")
    for key in ("verified", "Verified"):
        if properties.get(key) is True:
            return "valid"
    status = properties.get("validationStatus")  # 2ms: Valid, Invalid, Unknown
    if isinstance(status, str) and status.strip():
        return VALIDITY.get(status.strip().lower(), "unknown")
    details = properties.get("incidentDetails")
    if isinstance(details, dict) and isinstance(details.get("validity"), str):
        return VALIDITY.get(details["validity"].strip().lower(), "unknown")
    return "unknown"


def _resolution(result: dict, where: str) -> str:
    for i, raw in enumerate(list_at(result, "suppressions", where)):
        suppression = object_at(raw, f"{where}.suppressions[{i}]")
        status = text_at(suppression, "status", f"{where}.suppressions[{i}]")
        if status in ("", "accepted"):
            return "accepted_risk"
    if text_at(result, "baselineState", where) == "absent":
        return "resolved"
    return ""


_INCIDENT_ID = re.compile(r"/incidents/(\d+)")
# GitGuardian's reasons for ignoring an incident (as in the ggshield importer).
_INCIDENT_IGNORED = {
    "test_credential": "used_in_tests",
    "false_positive": "false_positive",
    "low_risk": "accepted_risk",
    "invalid": "resolved",
}


def _incident_resolution(details: dict) -> str:
    status = details.get("status")
    status = status.strip().upper() if isinstance(status, str) else ""
    if status == "IGNORED":
        reason = details.get("ignore_reason")
        reason = reason.strip().lower() if isinstance(reason, str) else ""
        return _INCIDENT_IGNORED.get(reason, "accepted_risk")
    if status == "RESOLVED":
        return "revoked" if details.get("secret_revoked") is True else "resolved"
    return ""


def _lenient_date(value: Any):
    if value is None or value == "":
        return None
    parsed = to_datetime(value, "", strict=False)
    if parsed is None and isinstance(value, str):
        match = re.fullmatch(r"(\d{1,2})-(\d{1,2})-(\d{4})", value.strip())  # gitleaks test data
        if match:
            month, day, year = (int(g) for g in match.groups())
            parsed = to_datetime(f"{year:04d}-{month:02d}-{day:02d}T00:00:00Z", "", strict=False)
    return parsed


# KICS names each secret rule "Passwords And Secrets - <what>": the group, not the type (its
# "Secrets - AWS Access Key" read as an AWS secret key).
_RULE_GROUP = re.compile(r"^\s*passwords\s+and\s+secrets\s*-\s*", re.IGNORECASE)


def _secret_type(rule_id: str, info: dict, secret: str | None, hint: str = "") -> str:
    info = {k: _RULE_GROUP.sub("", info.get(k, "")) for k in ("name", "short")}
    for candidate in (rule_id, info.get("name", "")):
        if candidate:
            exact = RULES.get(re.sub(r"[\s_]+", "-", candidate.strip().lower()))
            if exact is not None:
                return exact.value
    by_value = guess_secret_type_from_value(secret)
    if by_value is not None:
        return by_value.value
    package = _SECRETLINT_RULE.search(rule_id)
    if package and package.group(1) in SECRETLINT_RULES:
        return SECRETLINT_RULES[package.group(1)].value
    if hint:
        by_hint = guess_secret_type(hint)
        if by_hint not in _GENERIC_TYPES:
            return by_hint.value
    names = [rule_id, info.get("name", ""), info.get("short", "")]
    guessed = guess_secret_type(*names)
    if guessed in _GENERIC_TYPES:
        # CamelCase names ("DoNotExposePlaintextSecrets/AwsCredentials") hide their words.
        split = guess_secret_type(*(_CAMEL.sub(" ", n) for n in names if n))
        if split not in _GENERIC_TYPES:
            guessed = split
    if guessed is SecretType.AWS_ACCESS_KEY and secret and _AWS_SECRET_SHAPE.fullmatch(secret):
        return SecretType.AWS_SECRET_KEY.value  # an "AWS credentials" rule matching the secret
    return guessed.value


_REDACTED_MARK = re.compile(r"\[REDACTED(?::[0-9A-Za-z]*)?\]", re.IGNORECASE)
_KINGFISHER_SHORT = re.compile(r"\s*=>\s*\[[^\]]*\]\s*$")
_GENERIC_TYPES = {SecretType.GENERIC_SECRET, SecretType.GENERIC_PASSWORD, SecretType.API_KEY}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_AWS_SECRET_SHAPE = re.compile(r"[A-Za-z0-9/+]{40}")
