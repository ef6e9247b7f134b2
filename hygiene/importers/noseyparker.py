"""Nosey Parker: ``noseyparker report --format jsonl`` (one finding per line), and also the
``--format json`` array (streamed).

One Observation per match and place (``_places``: each provenance entry of another repository
or path). The secret value is the match's capture groups: ``groups`` (base64,
Nosey Parker 0.17+; several groups are joined with ":"), else ``match_content`` (0.16 and
earlier), else the finding's ``groups`` / ``match_content``, and only as a last resort
``snippet.matching`` (the whole regex match, which can include a little context). The snippet's
``before``/``after`` context is never used. Provenance gives the place: a ``git_repo`` entry's
``repo_path``, ``first_commit`` (or ``commit_provenance`` in 0.16) commit id, author, commit time
and ``blob_path``; a ``file`` entry's ``path``; an ``extended`` entry's ``path``.
Kingfisher (MongoDB's scanner built on Nosey Parker's engine) is read too: its ``--format json``
document(s) (``{"findings": [{"rule": ..., "finding": ...}], ...}``: 1.x with ``stats`` or
``metadata``, followed on stdout by a run summary whose ``findings`` is a count; 2.x with
``audit``) and ``--format jsonl`` (one ``{"rule", "finding"}`` a line, then the summary or
``audit`` line). The secret is ``finding.snippet`` (none when ``--redact`` wrote
``[REDACTED:<hash>]``); ``dependent_captures`` (the AWS secret key beside its key id),
``validation.response``, ``validate_command`` and ``blast_radius_command`` spell secrets out and
are never read. ``git_metadata`` gives repository, commit, author and date; ``validation`` the
validity.
See docs/formats/noseyparker.md.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from hygiene.taxonomy import SecretType, guess_secret_type, guess_secret_type_from_value

from .base import (
    EMPTY_LINES,
    ImportFormatError,
    Item,
    Observation,
    first_char,
    iter_json_documents,
    iter_json_lines,
    pretty_printed,
)
from .gitleaks import _without_credentials, aws_key_id_reference, peek, scrub, sniff
from .leakline import (
    clean,
    dict_at,
    epoch_with_offset,
    list_at,
    object_at,
    stream_json,
    text_at,
    to_datetime,
    whole_number,
)

# Nosey Parker rule names whose type the keyword guess would get wrong or too vague.
RULES: dict[str, SecretType] = {
    "aws api key": SecretType.AWS_ACCESS_KEY,
    # The pair was exposed: the secret key's type and severity, though its value (the secret's
    # identity, _groups) is the key id, as other tools report the same key.
    "aws api credentials": SecretType.AWS_SECRET_KEY,
    "aws secret access key": SecretType.AWS_SECRET_KEY,
    "aws session token": SecretType.AWS_SESSION_TOKEN,
    "azure connection string": SecretType.AZURE_STORAGE_KEY,
    "azure app configuration connection string": SecretType.AZURE_CREDENTIAL,
    "pem-encoded private key": SecretType.PRIVATE_KEY,
    "base64-pem-encoded private key": SecretType.PRIVATE_KEY,
    "json web token (base64url-encoded)": SecretType.JWT,
    "slack webhook": SecretType.CHAT_WEBHOOK,
    "microsoft teams webhook": SecretType.CHAT_WEBHOOK,
    "discord webhook url": SecretType.CHAT_WEBHOOK,
    "google api key": SecretType.GCP_KEY,
    "google oauth client secret": SecretType.GCP_KEY,
    "gcp service account credentials": SecretType.GCP_KEY,
    "generic api key": SecretType.API_KEY,
    "generic secret": SecretType.GENERIC_SECRET,
}

STATUS = {"reject": "false_positive"}

# Rules that match identifiers, not credentials: a bucket name, an ARN, an account or client id
# leaks no access by itself. The keyword guess would read "AWS" or "Google" in their names as
# an AWS access key or a GCP key (high severity); they stay generic and informational. Nosey
# Parker's own np.assets ruleset lists them (its "identifier" category, 0.19+), less np.aws.1,
# the AWS access key id, which other tools report as the key too. Known by the rule's text id
# (0.14+), which a rename keeps, and by every name it had: 0.19 dropped "(path style)" and
# "(subdomain style)" from the bucket rules.
NOT_CREDENTIAL_IDS = frozenset(
    {
        "np.s3.1",  # AWS S3 Bucket
        "np.s3.2",
        "np.gcs.1",  # Google Cloud Storage Bucket
        "np.gcs.2",
        "np.arn.1",  # Amazon Resource Name
        "np.aws.3",  # AWS Account ID
        "np.google.1",  # Google Client ID
        "np.github.5",  # GitHub Client ID
        "np.linkedin.1",  # LinkedIn Client ID
        "np.twitter.1",  # Twitter Client ID
        "np.mapbox.1",  # Mapbox Public Access Token
        "np.segment.1",  # Segment Public API Token
        "np.shopify.1",  # Shopify Domain
        "np.age.1",  # Age Recipient (X25519 public key)
    }
)
NOT_CREDENTIALS = frozenset(
    {
        "aws s3 bucket",
        "aws s3 bucket (path style)",
        "aws s3 bucket (subdomain style)",
        "amazon resource name",
        "aws account id",
        "google cloud storage bucket",
        "google cloud storage bucket (path style)",
        "google cloud storage bucket (subdomain style)",
        "google client id",
        "github client id",
        "linkedin client id",
        "twitter client id",
        "mapbox public access token",
        "segment public api token",
        "shopify domain",
        "age recipient (x25519 public key)",
    }
)


def parse(stream: IO[bytes]) -> Iterator[Item]:
    stream, char = first_char(stream, EMPTY_LINES)
    head = peek(stream)
    try:
        yield from _records(stream, char)
    except ImportFormatError as exc:
        # A misrouted report, pretty-printed (a SARIF log read as JSON lines fails on its
        # first line): name the format it looks like.
        first = exc.location.startswith(("line 1:", "line 1.", "$[0]")) or exc.location == "line 1"
        hint = sniff(head) if first and "(this looks like" not in exc.message else ""
        if hint and "format noseyparker" not in hint:  # (a broken report of ours)
            raise ImportFormatError(f"{exc.message} ({hint})", exc.location) from None
        raise


def _records(stream: IO[bytes], char: str) -> Iterator[Item]:
    if char == "[":
        for index, (_kind, _prefix, value) in enumerate(stream_json(stream, {"item"})):
            if isinstance(value, dict) and _is_kingfisher(value):
                yield kingfisher_observation(value, f"$[{index}]")
            else:
                yield from finding_observations(value, f"$[{index}]")
    elif char == "{":
        # JSON lines (report --format jsonl), or piped through jq: objects over many lines.
        records = iter_json_documents if pretty_printed(stream) else iter_json_lines
        for where, obj in records(stream):
            if isinstance(obj, dict) and _is_kingfisher_document(obj):
                yield from kingfisher_document(obj, where)
            else:
                yield from finding_observations(obj, where)
    else:
        raise ImportFormatError(
            "not a Nosey Parker report: expected JSON lines (report --format jsonl) or a JSON "
            "array (--format json)",
            "line 1",
        )


def finding_observations(value: Any, where: str) -> Iterator[Observation]:
    finding = object_at(value, where, "a finding object")
    record_type = finding.get("type")
    if record_type is not None and record_type != "finding":
        # Another kind of Nosey Parker record is no finding; another tool's object with a
        # "type" (a Vault audit entry, an az resource, ggshield's report) is no Nosey Parker
        # report at all: read as nothing, it was an empty scan, and marked every finding of
        # the source missing.
        if not _NP_KEYS.intersection(finding):
            raise ImportFormatError(_not_a_finding(finding), where)
        return
    if "rule_name" not in finding or "matches" not in finding:
        raise ImportFormatError(_not_a_finding(finding), where)
    rule_name = text_at(finding, "rule_name", where, required=True)
    rule_text_id = text_at(finding, "rule_text_id", where)
    finding_id = text_at(finding, "finding_id", where)
    finding_secret = _groups(finding, where) or _match_content(finding, where)
    # 0.16 annotated the finding (`status`); 0.17+ annotates each match (`status`, null when
    # not annotated), the finding's `statuses` being only the set of its matches' statuses:
    # a match's own status is the one that holds, even when null.
    list_at(finding, "statuses", where)  # checked, not read
    finding_status = text_at(finding, "status", where)

    matches = list_at(finding, "matches", where)
    for index, raw_match in enumerate(matches):
        match_where = f"{where}.matches[{index}]"
        match = object_at(raw_match, match_where, "a match object")
        yield from _observations(
            match,
            match_where,
            rule_name=text_at(match, "rule_name", match_where) or rule_name,
            rule_text_id=text_at(match, "rule_text_id", match_where) or rule_text_id,
            finding_id=finding_id,
            finding_secret=finding_secret,
            finding_status=finding_status,
            finding_groups=list_at(finding, "groups", where),
        )


# What a Nosey Parker record has, whatever its kind.
_NP_KEYS = frozenset({"rule_name", "rule_text_id", "rule_structural_id", "finding_id", "matches"})


def _not_a_finding(obj: dict) -> str:
    message = "not a Nosey Parker finding: 'rule_name' and 'matches' are required"
    if "rule_name" in obj and ("distinct_count" in obj or "total_count" in obj):
        # `noseyparker summarize --format json`: counts per rule, no findings.
        return f"{message} (this looks like `summarize` output; send `report --format json`)"
    hint = sniff(json.dumps(obj)[:65536].encode())
    return f"{message} ({hint})" if hint else message


def _observations(
    match: dict,
    where: str,
    *,
    rule_name: str,
    rule_text_id: str,
    finding_id: str,
    finding_secret: str,
    finding_status: str,
    finding_groups: list,
) -> Iterator[Observation]:
    """The match's Observation at each place its blob was seen (``_places``)."""
    snippet = dict_at(match, "snippet", where)
    secret = (
        _groups(match, where)
        or _match_content(match, where)
        or finding_secret
        or text_at(snippet, "matching", f"{where}.snippet")
    ) or None
    if secret and secret.startswith(_BASE64_PEM):
        secret = _pem_from_base64(secret)

    location = dict_at(match, "location", where)
    span = dict_at(location, "source_span", f"{where}.location")
    start = dict_at(span, "start", f"{where}.location.source_span")
    line = whole_number(start.get("line"), f"{where}.location.source_span.start.line")

    # Not finding_id: Nosey Parker digests the rule and the matched groups into it (an
    # unkeyed hash of the value, which a guess at a weak secret could be checked against).
    ids = {
        "rule_text_id": rule_text_id,
        "blob_id": text_at(match, "blob_id", where),
        "structural_id": text_at(match, "structural_id", where),
    }
    status = text_at(match, "status", where) if "status" in match else finding_status

    # AWS documents access key ids as identifiers; a match's group that is one names the key
    # (AWS API Credentials: key id + secret), so rotation events can be matched to the leak.
    references = []
    groups = _group_values(match, where) or _group_values({"groups": finding_groups}, where)
    for group in groups or [secret or ""]:
        ref = aws_key_id_reference(group)
        if ref and ref not in references:
            references.append(ref)
    not_credential = (
        rule_text_id.strip() in NOT_CREDENTIAL_IDS or rule_name.strip().lower() in NOT_CREDENTIALS
    )

    # An AWS key's secret half, when its key id is the value, travels nowhere either.
    others = (
        [g for g in groups if g and g != secret]
        if secret and len(groups) > 1 and aws_key_id_reference(secret)
        else []
    )
    for repo, path, commit, author, committed_at in _places(match, where):
        yield scrub(
            _observation(
                rule_name=rule_name,
                rule_text_id=rule_text_id,
                not_credential=not_credential,
                secret=secret,
                references=list(references),
                repo=repo,
                path=path,
                line=line,
                commit=commit,
                author=author,
                committed_at=committed_at,
                status=status,
                ids=ids,
            ),
            *others,
        )


def _observation(
    *,
    rule_name: str,
    rule_text_id: str,
    not_credential: bool,
    secret: str | None,
    references: list,
    repo: str,
    path: str,
    line: int | None,
    commit: str,
    author: str,
    committed_at: datetime | None,
    status: str,
    ids: dict[str, str],
) -> Observation:
    return Observation(
        rule=rule_name,
        secret_type=(
            SecretType.GENERIC_SECRET.value
            if not_credential
            else _secret_type(rule_name, rule_text_id, secret)
        ),
        severity="info" if not_credential else None,
        references=references,
        secret_value=secret,
        repo=clean(repo, secret),
        path=clean(path, secret),
        line=line,
        commit=clean(commit, secret),
        author=clean(author, secret),
        committed_at=committed_at,
        title=rule_name,
        tool_resolution=STATUS.get(status, ""),
        tool_ids={k: v for k, v in ids.items() if v and clean(v, secret)},
    )


Place = tuple[str, str, str, str, datetime | None]  # repo, path, commit, author, time


def _places(match: dict, where: str) -> list[Place]:
    """Where the match's blob was seen. A blob is scanned once, whatever the number of places
    that hold it: each `git_repo` provenance entry is one (0.20+ lists a blob under every name
    it first appeared with in a commit, and in every repository of the scan that holds it,
    forks and copies alike), else each `file` or `extended` path. A `file` entry beside git
    entries is the work tree's copy of a blob of the repository (`noseyparker scan .`): the
    git entry, with its commit, names that place."""
    git: list[Place] = []
    other: list[tuple[str, str]] = []  # repo, path
    for prov_where, prov in _provenance(match, where):
        prov = object_at(prov, prov_where)
        kind = text_at(prov, "kind", prov_where)
        if kind == "file":
            other.append(("", text_at(prov, "path", prov_where)))
        elif kind == "git_repo":
            git.append(_git_place(prov, prov_where))
        elif kind == "extended":
            payload = prov.get("payload")
            # An enumerator's own provenance: under "payload" (0.22+) or beside "kind"
            # (earlier), with the keys its author chose ("path", or "filename" as in
            # Nosey Parker's enumerator example).
            repo = path = ""
            if isinstance(payload, dict):
                repo, path = _extended_text(payload, "repo"), _extended_path(payload)
            elif isinstance(payload, str):
                path = payload
            other.append((repo, path or _extended_path(prov)))
    file_path = next((path for _, path in other if path), "")
    if git:
        # --git-blob-provenance=minimal names the repository alone: a file entry's path then.
        with_commit = {place[0] for place in git if place[2]}
        places = [
            (repo, _tidy_path(path or file_path), commit, author, committed_at)
            for repo, path, commit, author, committed_at in git
            if commit or repo not in with_commit
        ]
    else:
        named = [(repo, path) for repo, path in other if path or repo]
        places = [(repo, _tidy_path(path), "", "", None) for repo, path in named]
    return list(dict.fromkeys(places)) or [("", "", "", "", None)]


def _git_place(prov: dict, where: str) -> Place:
    repo = _repo_name(text_at(prov, "repo_path", where))
    commit_prov = prov.get("first_commit") or prov.get("commit_provenance")
    if commit_prov is None:
        return repo, "", "", "", None
    commit_where = where + (".first_commit" if "first_commit" in prov else ".commit_provenance")
    commit_prov = object_at(commit_prov, commit_where)
    meta = dict_at(commit_prov, "commit_metadata", commit_where)
    meta_where = f"{commit_where}.commit_metadata"
    name = text_at(meta, "author_name", meta_where)
    email = text_at(meta, "author_email", meta_where)
    return (
        repo,
        text_at(commit_prov, "blob_path", commit_where),
        text_at(meta, "commit_id", meta_where),
        f"{name} <{email}>" if name and email else name or email,
        epoch_with_offset(meta.get("committer_timestamp") or meta.get("author_timestamp")),
    )


def _provenance(match: dict, where: str) -> Iterator[tuple[str, Any]]:
    """The match's provenance entries with their locations. Before 0.14 a match had one
    provenance object, not an array of them (Nosey Parker's changelog, 0.14.0)."""
    value = match.get("provenance")
    if isinstance(value, dict):
        yield f"{where}.provenance", value
        return
    for i, prov in enumerate(list_at(match, "provenance", where)):
        yield f"{where}.provenance[{i}]", prov


def _groups(obj: dict, where: str) -> str:
    """The match's value: its capture groups, joined. Of a key id and its secret ("AWS API
    Credentials", np.aws.6) the key id, as gitleaks, TruffleHog and detect-secrets report the
    same key: "id:secret" matched no other tool's secret."""
    values = [v for v in _group_values(obj, where) if v]
    if len(values) > 1:
        key_ids = [v for v in values if aws_key_id_reference(v)]
        if key_ids:
            return key_ids[0]
    return ":".join(values)


def _group_values(obj: dict, where: str) -> list[str]:
    groups = list_at(obj, "groups", where)
    values = []
    for i, group in enumerate(groups):
        if not isinstance(group, str):
            raise ImportFormatError("should be a string (base64)", f"{where}.groups[{i}]")
        values.append(_decode_group(group))
    return values


def _decode_group(text: str) -> str:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text  # older reports wrote capture groups as text
    return raw.decode("utf-8", errors="replace")


# base64 of "-----BEGIN": a key matched as base64 ("Base64-PEM-Encoded Private Key", np.pem.2),
# whose decoded group is still the base64 text of the PEM. Decoded, it is the key that other
# rules and tools (np.pem.1, TruffleHog, gitleaks) report as a PEM: one secret, not two.
_BASE64_PEM = "LS0tLS1CRUdJTi"


def _pem_from_base64(text: str) -> str:
    try:
        pem = base64.b64decode("".join(text.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return text
    return pem if pem.startswith("-----BEGIN ") else text


def _match_content(obj: dict, where: str) -> str:
    return text_at(obj, "match_content", where)


# Where Nosey Parker clones what it scans by URL (--git-url, --github-user/org): under its
# datastore's clones/ directory, as <scheme>/<host>/<path> (noseyparker's clone_destination:
# "https://example.com/testrepo.git" -> "<datastore>/clones/https/example.com/testrepo.git").
_CLONE = re.compile(r"(?:^|/)clones/(https?)/([^/]+/[^/].*)$")


def _repo_name(repo_path: str) -> str:
    """The clone's path without its ``/.git``; for a clone in the datastore, the URL it was
    cloned from (the datastore's own path says nothing of the repository). A scan of the working
    directory (``noseyparker scan .``) records ``./.git``: that names no repository, so it gives
    none."""
    clone = _CLONE.search(repo_path.rstrip("/"))
    if clone:
        scheme, rest = clone.groups()
        url = f"{scheme}://{rest.removesuffix('/.git').removesuffix('.git')}"
        return _without_credentials(url)
    trimmed = repo_path.rstrip("/\\")
    for suffix in ("/.git", "\\.git"):
        if trimmed.endswith(suffix) and len(trimmed) > len(suffix) + 1:
            trimmed = trimmed[: -len(suffix)]
            break
    return "" if trimmed in (".", ".git", "./.git", ".\\.git") else trimmed


def _extended_path(obj: dict) -> str:
    return _extended_text(obj, "path") or _extended_text(obj, "filename")


def _extended_text(obj: dict, key: str) -> str:
    # Free-form JSON the enumerator wrote: a value of another type is no text, not an error.
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _tidy_path(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path


def _secret_type(rule_name: str, rule_text_id: str, secret: str | None) -> str:
    exact = RULES.get(rule_name.strip().lower())
    if exact is not None:
        return exact.value
    by_value = guess_secret_type_from_value(secret)
    if by_value is not None:
        return by_value.value
    return guess_secret_type(rule_name, rule_text_id).value


# --- Kingfisher ---------------------------------------------------------------------------


def _is_kingfisher(obj: dict) -> bool:
    """One Kingfisher finding: ``{"rule": {...}, "finding": {...}}``."""
    return isinstance(obj.get("rule"), dict) and isinstance(obj.get("finding"), dict)


# What else a Kingfisher document holds: the run's summary (1.x's second document, whose
# "findings" is a count), its metadata, 1.x's stats, 2.x's audit of the repositories scanned.
_KINGFISHER_KEYS = frozenset(
    {"findings", "metadata", "stats", "audit", "findings_by_rule", "kingfisher", "scan_date"}
)


def _is_kingfisher_document(obj: dict) -> bool:
    if _is_kingfisher(obj):
        return True
    if _NP_KEYS.intersection(obj) or not obj:
        return False
    findings = obj.get("findings")
    if isinstance(findings, list):
        return all(isinstance(f, dict) and _is_kingfisher(f) for f in findings[:1])
    if isinstance(findings, int) and not isinstance(findings, bool):
        return "kingfisher" in obj or "findings_by_rule" in obj  # the run summary
    return set(obj) <= {"audit", "metadata"} and isinstance(obj.get("audit", {}), dict)


def kingfisher_document(obj: dict, where: str) -> Iterator[Observation]:
    """A Kingfisher finding, its --format json document, or a line of its summary (none)."""
    if _is_kingfisher(obj):
        yield kingfisher_observation(obj, where)
        return
    findings = obj.get("findings")
    if not isinstance(findings, list):
        return  # the run summary (a count), or 2.x's audit line
    for index, item in enumerate(findings):
        yield kingfisher_observation(item, f"{where}.findings[{index}]")


# Kingfisher's validation outcome (2.x, snake case) or status (its words; 1.x wrote "Active").
KINGFISHER_VALIDITY = {
    "verified_active": "valid",
    "active credential": "valid",
    "active": "valid",
    "verified_inactive": "invalid",
    "inactive credential": "invalid",
    "inactive": "invalid",
}
# --redact: a hash of the value in its place.
_KINGFISHER_REDACTED = re.compile(r"\[REDACTED(?::[0-9A-Za-z]*)?\]", re.IGNORECASE)
# 2.x titles: "GITHUB-PAT => [BETTERLEAKS.GITHUB-PAT]".
_KINGFISHER_TITLE = re.compile(r"\s*=>\s*\[[^\]]*\]\s*$")


def kingfisher_validity(validation: dict, where: str) -> str:
    response = validation.get("response")
    if isinstance(response, str) and response.startswith("Validation skipped"):
        # 1.x: "Inactive Credential" beside "Validation skipped - missing dependent rules":
        # nothing was asked of the provider. (Only this prefix is read: the response may quote
        # the credential's identity.)
        return "unknown"
    for key in ("outcome", "status"):
        value = text_at(validation, key, where).strip().lower()
        if value:
            return KINGFISHER_VALIDITY.get(value, "unknown")
    return "unknown"


def kingfisher_observation(value: Any, where: str) -> Observation:
    item = object_at(value, where, "a Kingfisher finding")
    if not _is_kingfisher(item):
        raise ImportFormatError(
            "not a Kingfisher finding: 'rule' and 'finding' objects are required", where
        )
    rule, finding = item["rule"], item["finding"]
    r_where, f_where = f"{where}.rule", f"{where}.finding"
    rule_id = text_at(rule, "id", r_where)
    name = text_at(rule, "name", r_where)
    if not (rule_id or name):
        raise ImportFormatError("no rule: give 'rule.id' or 'rule.name'", r_where)
    title = _KINGFISHER_TITLE.sub("", text_at(rule, "title", r_where)) or name or rule_id

    snippet = text_at(finding, "snippet", f_where).strip()
    secret = None if not snippet or _KINGFISHER_REDACTED.fullmatch(snippet) else snippet
    # The other half of a pair (an AWS key id's secret key): secret material, named nowhere.
    captures = finding.get("dependent_captures")
    others = (
        [v for v in captures.values() if isinstance(v, str)] if isinstance(captures, dict) else []
    )

    repo = path = commit = author = url = ""
    committed_at = None
    git = dict_at(finding, "git_metadata", f_where)
    if git:
        g_where = f"{f_where}.git_metadata"
        repo = text_at(git, "repository_url", g_where)
        # A scan of the working directory (kingfisher scan .) names no repository: ".".
        repo = "" if repo.rstrip("/\\") in (".", ".git", "./.git") else _without_credentials(repo)
        c = dict_at(git, "commit", g_where)
        c_where = f"{g_where}.commit"
        commit = text_at(c, "id", c_where)
        person = dict_at(c, "author", c_where) or dict_at(c, "committer", c_where)
        who, email = text_at(person, "name", c_where), text_at(person, "email", c_where)
        author = f"{who} <{email}>" if who and email else who or email
        committed_at = to_datetime(c.get("date"), f"{c_where}.date", strict=False)
        file = dict_at(git, "file", g_where)
        path = text_at(file, "path", f"{g_where}.file")
        link = text_at(file, "url", f"{g_where}.file")
        url = link if "://" in link else ""  # a local repository's is a relative path
    path = _tidy_path(path or text_at(finding, "path", f_where))

    references = []
    ref = aws_key_id_reference(secret or "")
    if ref:
        references.append(ref)
    fingerprint = text_at(finding, "fingerprint", f_where)
    observation = Observation(
        rule=rule_id or name,
        secret_type=_secret_type(name, rule_id, secret),
        references=references,
        secret_value=secret,
        repo=clean(repo, secret),
        path=clean(path, secret),
        line=whole_number(finding.get("line"), f"{f_where}.line"),
        commit=clean(commit, secret),
        author=clean(author, secret),
        committed_at=committed_at,
        url=clean(url, secret),
        validity=kingfisher_validity(dict_at(finding, "validation", f_where), f_where),
        title=clean(title, secret) or rule_id or name,
        description=clean(text_at(rule, "description", r_where), secret),
        tool_ids={"fingerprint": fingerprint} if fingerprint and clean(fingerprint, secret) else {},
    )
    return scrub(observation, *others)
