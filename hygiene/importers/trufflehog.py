"""TruffleHog v3 ``--json`` output: one finding object per line (also a JSON array of them).

A finding: ``{"SourceMetadata": {"Data": {"<Git|Github|Gitlab|Filesystem|S3|Docker|...>":
{repository, file, line, commit, email, timestamp, link, ...}}}, "DetectorType", "DetectorName",
"DecoderName", "Verified", "VerificationError", "Raw", "RawV2", "Redacted", "ExtraData",
"StructuredData"}``.

``Raw`` (else ``RawV2``) goes to ``secret_value`` only; ``RawV2`` (for AWS: key id + secret) is
never stored elsewhere. The GCP and GCPApplicationDefaultCredentials detectors' Raw names the
account, not the key: their value comes from RawV2 (``_credential_in_raw_v2``). Releases
before ``DecoderName`` existed marshalled ``Raw`` as a Go ``[]byte``, i.e. base64; see
``_decode_old_raw`` for when it is decoded. Log records mixed into the stream
(``{"level": ..., "msg": ...}``) are skipped.

TruffleHog v2 ``--json`` and v3 ``--json-legacy`` (git sources) write another shape, one line
per commit and file: ``{"branch", "commit" (the message), "commitHash", "date", "diff", "path",
"printDiff", "reason", "stringsFound"}``; see ``legacy_findings``.

trufflehog3 (feeltheajf/trufflehog3, another tool of the name) 3.x writes a JSON array of
``{"rule": {"id", "message", "severity"}, "path", "line", "secret", ...}``; see
``trufflehog3_finding``. Its 2.x wrote v2's shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import string
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit

from hygiene.taxonomy import SecretType, map_severity

from .base import (
    EMPTY_LINES,
    ImportFormatError,
    Item,
    Observation,
    Reference,
    first_char,
    iter_json_array,
    iter_json_documents,
    pretty_printed,
    read_lines,
    type_name,
)
from .gitleaks import (
    MAX_DEPTH,
    aws_key_id_reference,
    flag,
    guarded,
    mapping,
    number,
    peek,
    person,
    safe_redacted,
    scrub,
    secret_type_for,
    sniff,
    text,
    to_datetime,
)

SECRET_TYPES: dict[str, SecretType] = {
    "aws": SecretType.AWS_ACCESS_KEY,
    "awssessionkey": SecretType.AWS_SESSION_TOKEN,
    "github": SecretType.GITHUB_TOKEN,
    "github_old": SecretType.GITHUB_TOKEN,
    "githubapp": SecretType.GITHUB_TOKEN,
    "githuboauth2": SecretType.GITHUB_TOKEN,
    "gitlab": SecretType.GITLAB_TOKEN,
    "gitlabv2": SecretType.GITLAB_TOKEN,
    "slack": SecretType.SLACK_TOKEN,
    "slackwebhook": SecretType.CHAT_WEBHOOK,
    "discordwebhook": SecretType.CHAT_WEBHOOK,
    "microsoftteamswebhook": SecretType.CHAT_WEBHOOK,
    "privatekey": SecretType.PRIVATE_KEY,
    "uri": SecretType.GENERIC_PASSWORD,  # URLs with user:password@
    "ftp": SecretType.GENERIC_PASSWORD,
    "ldap": SecretType.GENERIC_PASSWORD,
    "postgres": SecretType.DATABASE_CREDENTIAL,
    "mongodb": SecretType.DATABASE_CREDENTIAL,
    "jdbc": SecretType.DATABASE_CREDENTIAL,
    "redis": SecretType.DATABASE_CREDENTIAL,
    "sqlserver": SecretType.DATABASE_CREDENTIAL,
    "azure": SecretType.AZURE_CREDENTIAL,
    "azurestorage": SecretType.AZURE_STORAGE_KEY,
    "azuresastoken": SecretType.AZURE_SAS,
    "azure_entra": SecretType.AZURE_CREDENTIAL,
    "gcp": SecretType.GCP_KEY,
    "gcpapplicationdefaultcredentials": SecretType.GCP_KEY,
    "stripe": SecretType.STRIPE_KEY,
    "jwt": SecretType.JWT,
    # Named for the service alone, with no credential word for the name guess to read:
    # Twilio's API key SID and secret (or account SID and auth token), a Hugging Face hf_ token.
    "twilio": SecretType.API_KEY,
    "huggingface": SecretType.API_KEY,
}

# ExtraData keys that name (not reveal) the credential → Reference kind. Everything else in
# ExtraData (messages, rotation guides, scopes...) is left out.
_EXTRA_REFERENCES = {
    "arn": "arn",
    "account": "aws-account",
    "account_id": "aws-account",
    "user_id": "other",
    "resource_type": "other",
    "username": "other",
    "user": "other",
    "login": "other",
    "email": "other",
    "key_id": "other",
    "client_id": "other",
    "application_id": "other",
    "tenant_id": "other",
    "organization": "other",
    "project": "other",
    "project_id": "other",
    "workspace": "other",
    "team": "other",
    "bucket": "other",
    "host": "url",
    "hostname": "url",
    "url": "url",
    "endpoint": "url",
    "domain": "url",
}
_GENERIC = SecretType.GENERIC_SECRET.value
_SERVICE_CREDENTIAL = re.compile(r"[a-z0-9](?:Key|Keys|Token|Tokens|Secret|Secrets)\Z")
_LOG_KEYS = ("level", "msg")
_V2_KEYS = ("stringsFound", "printDiff", "commitHash")
# v2's default rules for private keys and GCP service accounts match a marker, not a value.
_LEGACY_MARKER = re.compile(r'-----BEGIN [A-Z0-9 ]+-----|"type": ?"service_account"')
# trufflehog3 2.x (feeltheajf) wrote v2's shape, but its ``stringsFound`` are whole stripped
# lines of the diff, with the diff marker: "+-----BEGIN RSA PRIVATE KEY-----" is a header too.
_DIFF_LINE_MARKER = re.compile(r'[+-]?\s*(?:-----BEGIN [A-Z0-9 ]+-----|"type": ?"service_account")')
_TH3_ENTROPY = "High entropy"  # trufflehog3 2.x's entropy engine; truffleHog v2's: "High Entropy"
_TH3_B64 = frozenset(string.ascii_letters + string.digits + "+/=")
_TH3_HEX = frozenset(string.hexdigits)
_TH3_MIN_LENGTH = 20
# v2's default rules (truffleHogRegexes) whose match holds context around the secret: a keyword,
# `.*`, then the value (quoted for most); "Password in URL" ends on the quote or whitespace after
# the URL, and runs on past a closing quote. Only the value is kept, so that the same secret
# found by another tool (or by v2's entropy check) is the same secret.
_LEGACY_VALUE = {
    "Generic Secret": re.compile(r"""['|"]([0-9a-zA-Z]{32,45})['|"]\Z"""),
    "Generic API Key": re.compile(r"""['|"]([0-9a-zA-Z]{32,45})['|"]\Z"""),
    "GitHub": re.compile(r"""['|"]([0-9a-zA-Z]{35,40})['|"]\Z"""),
    "Twitter Oauth": re.compile(r"""['|"]([0-9a-zA-Z]{35,44})['|"]\Z"""),
    "Facebook Oauth": re.compile(r"""['|"]([0-9a-f]{32})['|"]\Z"""),
    "Google Oauth": re.compile(r'"client_secret":"([a-zA-Z0-9_-]{24})"\Z'),
    "Heroku API Key": re.compile(r"([0-9A-F]{8}(?:-[0-9A-F]{4}){3}-[0-9A-F]{12})\Z"),
    "Password in URL": re.compile(
        r"""\A([a-zA-Z]{3,10}://[^/\s:@]{3,20}:[^/\s:@]{3,20}@[^"'\s]+)"""
    ),
}
# v2's entropy check cuts words into runs of base64 characters, '=' included: "AccountKey=<key>"
# is one run. Padding only ends a base64 value, so a run with '=' inside is name=value.
_LEGACY_NAMED_B64 = re.compile(r"[A-Za-z0-9+/]+=+([A-Za-z0-9+/]{20,}={0,2})")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_AWS_ACCOUNT = re.compile(r"\d{12}")
_EPOCH = re.compile(r"\d{9,13}(\.\d+)?")
_GO_TIME = re.compile(
    r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? ([+-]\d\d)(\d\d)"
    r"(?: [A-Za-z0-9+-]+)?(?: m=[+-][\d.]+)?"  # zone name, monotonic clock reading
)


@guarded
def parse(stream: IO[bytes], where: list[str]) -> Iterator[Item]:
    stream, ch = first_char(stream, EMPTY_LINES)
    head = peek(stream)
    try:
        yield from _records(stream, ch, where)
    except ImportFormatError as exc:
        hint = sniff(head) if exc.location.startswith(("line 1:", "$[0]", "near byte")) else ""
        if hint and "trufflehog" not in hint:
            raise ImportFormatError(hint, exc.location) from None
        raise


def _records(stream: IO[bytes], ch: str, where: list[str]) -> Iterator[Item]:
    if ch == "[":
        records = iter_json_array(stream, max_depth=MAX_DEPTH)
    elif ch == "{" and pretty_printed(stream):  # the output piped through jq
        records = iter_json_documents(stream, what="a finding object")
    elif ch == "{":
        records = _json_lines(stream, where)
    else:
        raise ImportFormatError(
            "expected TruffleHog JSON lines (--json) or a JSON array of findings", "line 1"
        )
    for loc, obj in records:
        where[0] = loc
        if not isinstance(obj, dict):
            raise ImportFormatError(f"expected a finding object, found {type_name(obj)}", loc)
        if "SourceMetadata" not in obj and "DetectorName" not in obj and "DetectorType" not in obj:
            if any(k in obj for k in _LOG_KEYS):
                continue  # a TruffleHog log record, not a finding
            if any(k in obj for k in _V2_KEYS):
                yield from legacy_findings(obj, loc)
                continue
            if isinstance(obj.get("rule"), dict) and ("secret" in obj or "path" in obj):
                yield trufflehog3_finding(obj, loc)
                continue
            hint = sniff(json.dumps(obj)[:65536].encode())
            raise ImportFormatError(hint or "not a TruffleHog finding (no SourceMetadata)", loc)
        yield finding(obj, loc)


def _json_lines(stream: IO[bytes], where: list[str]) -> Iterator[tuple[str, Any]]:
    """Like base.iter_json_lines, but every error (also json's ValueError for 4,300+ digit
    numbers) names its line."""
    for lineno, raw in enumerate(read_lines(stream), start=1):
        if not raw.strip():
            continue
        loc = f"line {lineno}"
        where[0] = loc
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFormatError("not UTF-8 text", f"{loc} byte {exc.start}") from None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(f"malformed JSON: {exc.msg}", f"{loc}:{exc.colno}") from None
        except RecursionError:
            raise ImportFormatError("JSON nested too deeply", loc) from None
        except ValueError:
            raise ImportFormatError("a number in the JSON is too long", loc) from None
        yield loc, obj


def finding(obj: dict[str, Any], where: str) -> Observation:
    detector = text(obj, "DetectorName", where)
    detector_type = text(obj, "DetectorType", where)
    rule = detector or detector_type
    if not rule:
        raise ImportFormatError("missing required field 'DetectorName'", where)
    redacted_form = text(obj, "Redacted", where)
    if rule.lower() == _GCP_ADC:
        # The refresh token's first 3 characters, "...", then all of it from the 48th on.
        redacted_form = ""
    raw = text(obj, "Raw", where)
    if raw:
        raw = _decode_old_raw(obj, raw, redacted_form)
    raw_v2 = text(obj, "RawV2", where)
    value = raw or raw_v2 or None
    account_refs: list[Reference] = []
    if raw and raw_v2:
        value, account_refs = _credential_in_raw_v2(rule, raw, raw_v2)
    source_name, source = _source(obj, where)
    extra = mapping(obj, "ExtraData", where)
    custom = _custom_detector(rule, extra, value)
    secret_type = secret_type_for(
        SECRET_TYPES,
        rule,
        value,
        custom,
        _credential_words(text(obj, "DetectorDescription", where)),
    )
    if secret_type == _GENERIC and not custom and _SERVICE_CREDENTIAL.search(rule):
        # Detectors are named <Service><Credential> in CamelCase ("SnykKey", "MailgunToken",
        # "SquareAppSecret"), which the keyword guess, looking for words, doesn't read.
        secret_type = SecretType.API_KEY.value
    if value and _LEGACY_MARKER.fullmatch(value.strip()):
        # A custom detector whose regex matches only a PEM header ("-----BEGIN RSA PRIVATE
        # KEY-----") reports the header as Raw: it names the kind of secret, not the secret.
        # As a value it would make every key it finds one secret; the place identifies it.
        value = None

    obs = Observation(
        rule=rule,
        secret_type=secret_type,
        secret_value=value,
        redacted=safe_redacted(redacted_form, value),
        validity=_validity(obj, where),
    )
    if source:
        _place(obs, source_name, source, f"{where}.SourceMetadata.Data")

    ids = {}
    for key, name in (
        ("DetectorType", "detector_type"),
        ("DecoderName", "decoder"),
        ("SourceType", "source_type"),
        ("SourceID", "source_id"),
        ("SourceName", "source_name"),
    ):
        v = text(obj, key, where)
        if v:
            ids[name] = v
    if source_name:
        ids["source"] = source_name
    if custom:
        ids["custom_detector"] = custom
    ids.update(obs.tool_ids)  # what the place added (a staged change)
    obs.tool_ids = ids

    ref = aws_key_id_reference(value)
    if ref:
        obs.references.append(ref)
    obs.references.extend(_references(extra, value, obj))
    obs.references.extend(r for r in account_refs if r not in obs.references)
    # RawV2 beyond Raw is secret material too (AWS: the secret access key after the key id).
    rest = raw_v2[len(raw) :] if raw and raw_v2.startswith(raw) else ""
    return scrub(obs, rest.strip())


# Detectors whose Raw names the account, not the credential, while RawV2 holds the credential:
# the GCP detector's Raw is the service account's client_email (every key of the account has
# it) and its RawV2 the key file as JSON; GCPApplicationDefaultCredentials' Raw is the OAuth
# client id (gcloud's own, the same in every user's application_default_credentials.json)
# and its RawV2 that id followed by the user's refresh token. Raw as the value would make
# every key of an account, or every user's credentials, one secret.
_GCP_KEY_FILE = "gcp"
_GCP_ADC = "gcpapplicationdefaultcredentials"


def _credential_in_raw_v2(rule: str, raw: str, raw_v2: str) -> tuple[str, list[Reference]]:
    """The credential itself for the detectors above: the service account key's private key
    (the same value TruffleHog's PrivateKey detector reports for the same file, so both are
    one secret), the refresh token; references name the account (client_email,
    private_key_id, project_id). Raw for every other detector, and when RawV2 is not of that
    shape."""
    detector = rule.lower()
    if detector == _GCP_ADC:
        token = raw_v2[len(raw) :].strip() if raw_v2.startswith(raw) else ""
        return (token or raw), []
    if detector != _GCP_KEY_FILE:
        return raw, []
    try:
        key = json.loads(raw_v2)
    except (ValueError, RecursionError):  # a malformed RawV2 leaves Raw
        return raw, []
    if not isinstance(key, dict):
        return raw, []
    private_key = key.get("private_key")
    if not isinstance(private_key, str) or "PRIVATE KEY" not in private_key:
        return raw, []
    refs = []
    for field in ("client_email", "private_key_id", "project_id"):
        found = key.get(field)
        if isinstance(found, str) and found.strip() and len(found) <= 512:
            found = found.strip()
            if found not in private_key:
                refs.append(Reference("other", f"{field}={found}"))
    return private_key, refs


def _custom_detector(rule: str, extra: dict, value: str | None) -> str:
    """The name a user gave a custom regex detector (``--config``): every one of them reports
    as DetectorName "CustomRegex" (DetectorType 904) with its own name in ``ExtraData.name``.
    Kept as a tool id (and read for the type), not as the rule, so that a finding keeps its
    identity whatever the detector is called."""
    name = extra.get("name")
    if rule.lower() != "customregex" or not isinstance(name, str):
        return ""
    name = name.strip()
    if not name or len(name) > 200:
        return ""
    # A name that shows the value (or a long piece of it) is left out; "api" in a key is not.
    if value and (value in name or (len(name) >= 8 and name in value)):
        return ""
    return name


def legacy_findings(obj: dict[str, Any], where: str) -> Iterator[Observation]:
    """One v2 / ``--json-legacy`` line: an Observation per distinct string in ``stringsFound``
    (the matched text, or v3's ``Raw``), at ``path`` in ``commitHash``. A string that is only
    a marker (a PEM header) is no value: the finding is kept without one. ``diff``,
    ``printDiff`` (both show the secret) and the commit message are never read."""
    rule = text(obj, "reason", where)
    if not rule:
        raise ImportFormatError("missing required field 'reason'", where)
    found = obj.get("stringsFound")
    if found is None:
        found = []
    if not isinstance(found, list):
        raise ImportFormatError(
            f"'stringsFound' should be an array, found {type_name(found)}", f"{where}.stringsFound"
        )
    values: list[str | None] = []
    seen: set[str | None] = set()  # not `in values`: quadratic in a line's found strings
    for index, item in enumerate(found):
        if not isinstance(item, str):
            raise ImportFormatError(
                f"a found string should be text, found {type_name(item)}",
                f"{where}.stringsFound[{index}]",
            )
        value = text({"stringsFound": item}, "stringsFound", where)  # refuses lone surrogates
        if not value.strip() or _DIFF_LINE_MARKER.fullmatch(value.strip()):
            candidates: list[str | None] = [None]
        elif rule == _TH3_ENTROPY:
            candidates = _th3_entropy_values(value)
        else:
            candidates = [_legacy_value(rule, value)]
        for candidate in candidates:
            if candidate not in seen:
                seen.add(candidate)
                values.append(candidate)
    path = text(obj, "path", where)
    commit = text(obj, "commitHash", where)
    branch = text(obj, "branch", where)
    try:
        committed_at = to_datetime(obj, "date", where)
    except ImportFormatError:
        committed_at = None
    for value in values or [None]:
        obs = Observation(
            rule=rule,
            secret_type=secret_type_for(SECRET_TYPES, rule, value),
            secret_value=value,
            path=path,
            commit=commit,
            committed_at=committed_at,
            tool_ids={"branch": branch} if branch else {},
        )
        ref = aws_key_id_reference(value)
        if ref:
            obs.references.append(ref)
        yield scrub(obs)


def trufflehog3_finding(obj: dict[str, Any], where: str) -> Observation:
    """One finding of trufflehog3 (feeltheajf/trufflehog3, a Python rewrite of TruffleHog v2)
    3.x ``--format json``: ``{"rule": {"id", "message", "severity"}, "path", "line", "secret",
    "context", "id", "branch", "message", "author", "commit", "date"}`` (no commit fields for
    a file scan). ``secret`` is the rule's whole match, as v2's ``stringsFound``: the value is
    taken from it the same way (a PEM header alone is no value). ``context`` (the lines around
    it), the commit ``message`` and ``id`` (a UUID the tool derives from the secret) are never
    read."""
    rloc = f"{where}.rule"
    rule_obj = mapping(obj, "rule", where)
    rule_id = text(rule_obj, "id", rloc)
    title = text(rule_obj, "message", rloc)
    rule = rule_id or title
    if not rule:
        raise ImportFormatError("missing required field 'rule.id'", rloc)
    secret = text(obj, "secret", where)
    value: str | None = None
    if secret.strip() and not _LEGACY_MARKER.fullmatch(secret.strip()):
        value = _legacy_value(title, secret)
    if not value and not text(obj, "path", where):
        raise ImportFormatError("a finding without 'secret' or 'path' (nothing to track)", where)
    try:
        committed_at = to_datetime(obj, "date", where)
    except ImportFormatError:
        committed_at = None
    branch = text(obj, "branch", where)
    obs = Observation(
        rule=rule,
        secret_type=secret_type_for(SECRET_TYPES, rule, value, title),
        secret_value=value,
        path=text(obj, "path", where),
        line=number(obj, "line", where),
        commit=text(obj, "commit", where),
        author=person(text(obj, "author", where), ""),
        committed_at=committed_at,
        severity=map_severity(text(rule_obj, "severity", rloc) or None),
        title=title if title != rule else "",
        tool_ids={"branch": branch} if branch else {},
    )
    ref = aws_key_id_reference(value)
    if ref:
        obs.references.append(ref)
    return scrub(obs)


def _th3_entropy_values(line: str) -> list[str | None]:
    """The values in a line trufflehog3 2.x's entropy engine reported ("High entropy", lower
    case). Unlike truffleHog v2, which reports the high-entropy string, it reports the whole
    (stripped) line it was found in, diff marker and all: the same hash is ``+  "password":
    "…"`` in the commit that added it, ``-  …`` in the one that removed it and without a marker
    in a file scan, three secrets. Its own search is repeated (``lib/search.py``: each
    whitespace-separated word cut into runs of base64 characters, ``=`` included, or of hex
    digits, longer than 20, whose Shannon entropy over that alphabet is above 4.5 or 3.0), and
    each run is taken as v2's "High Entropy" run is. A line where no run passes (another
    min-length setting) is kept as found, less its diff marker."""
    found: list[str | None] = []
    for word in line.split():
        for alphabet, threshold in ((_TH3_B64, 4.5), (_TH3_HEX, 3.0)):
            for run in _th3_runs(word, alphabet):
                if _shannon(run, alphabet) > threshold:
                    value = _legacy_value("High Entropy", run)
                    if value not in found:
                        found.append(value)
    if not found:
        stripped = line.strip()
        stripped = stripped[1:].strip() if stripped[:1] in "+-" else stripped
        found.append(stripped or None)
    return found


def _th3_runs(word: str, alphabet: frozenset[str]) -> Iterator[str]:
    run: list[str] = []
    for char in word + "\0":  # NUL is in neither alphabet: it ends the last run
        if char in alphabet:
            run.append(char)
            continue
        if len(run) > _TH3_MIN_LENGTH:
            yield "".join(run)
        run = []


def _shannon(data: str, alphabet: frozenset[str]) -> float:
    return -sum(p * math.log2(p) for p in (data.count(c) / len(data) for c in alphabet) if p > 0)


def _legacy_value(rule: str, found: str) -> str:
    """The secret in a v2 match: the value a default rule's context surrounds, the value of a
    name=value entropy run; anything else (v3 --json-legacy's Raw, a custom rule's match) as
    found."""
    pattern = _LEGACY_VALUE.get(rule)
    if pattern is not None:
        match = pattern.search(found.strip())
        return match.group(1) if match else found
    if rule == "High Entropy":
        match = _LEGACY_NAMED_B64.fullmatch(found.strip())
        return match.group(1) if match else found
    return found


def _source(obj: dict, where: str) -> tuple[str, dict]:
    meta = mapping(obj, "SourceMetadata", where)
    data = mapping(meta, "Data", f"{where}.SourceMetadata")
    for name, source in data.items():
        if source is None:
            continue
        if not isinstance(source, dict):
            raise ImportFormatError(
                f"source metadata should be an object, found {type_name(source)}",
                f"{where}.SourceMetadata.Data",
            )
        # Forager ({"Metadata": {"Github": {...}}}) and Webhook ({"Data": {"Vector": {...}}})
        # wrap another source kind one level down.
        inner = source.get("Metadata", source.get("metadata", source.get("Data")))
        if len(source) == 1 and isinstance(inner, dict) and len(inner) == 1:
            ((inner_name, inner_source),) = inner.items()
            if isinstance(inner_source, dict):
                name, source = inner_name, inner_source
        return (name if isinstance(name, str) and name.isidentifier() else ""), source
    return "", {}


# Where each source kind (proto/source_metadata.proto) says which container, item and person:
# the first non-empty field wins. Git-like kinds (Git, Github, Gitlab, AzureRepos, Bitbucket,
# Huggingface, Gerrit) have repository/project, file, line, commit, email, timestamp, link.
_REPO_FIELDS = (
    "repository",  # Git, Github, Gitlab, AzureRepos, Bitbucket, Huggingface, CircleCI, ECR...
    "repo",  # Artifactory
    "project",  # Gerrit
    "container",  # Azure blob storage
    "image",  # Docker, ECR
    "registry",  # ECR
    "hostname",  # Syslog
    "host",  # Webhook/Vector
    "package",  # NPM, PyPi
    "project_name",  # Jenkins
    "pipeline",  # Buildkite
    "space",  # Confluence
    "channel_name",  # Slack, Teams
    "team_name",  # Teams
    "workspace_name",  # Postman
    "collection_name",  # Postman
    "index",  # Elasticsearch
    "project_slug",  # Sentry
)
_PATH_FIELDS = (
    "file",
    "filename",  # GCS
    "path",  # Artifactory, GoogleDrive
    "issue",  # Jira
    "page",  # Confluence
    "title",  # SharePoint, Bitbucket snippets
    "request_name",  # Postman
    "document_id",  # Elasticsearch
    "locator",  # Webhook/Vector
)
_AUTHOR_FIELDS = ("username", "user", "author", "last_modified_by")
_TIME_FIELDS = ("timestamp", "uploaded", "date_created", "updated_at", "created_at")


def _first(source: dict, keys: tuple[str, ...], loc: str) -> str:
    for key in keys:
        found = text(source, key, loc)  # other types than text are errors, as everywhere
        if found:
            return found
    return ""


_STAGED = "Staged"


def _place(obs: Observation, source_name: str, source: dict, loc: str) -> None:
    """Repository (or other container), path, line, commit, link, author and date from one
    source's metadata (fields of other kinds, such as enums and ACL lists, are not read)."""
    bucket = text(source, "bucket", loc)
    obs.url = text(source, "link", loc)
    obs.repo = (_bucket_url(source_name, bucket) if bucket else "") or _repo_from_link(
        _ssh_remote_as_url(_first(source, _REPO_FIELDS, loc)), obs.url
    )
    if source_name == "Docker" and obs.repo and isinstance(source.get("tag"), str):
        tag = source["tag"].strip()
        if tag and ":" not in obs.repo.rsplit("/", 1)[-1]:
            obs.repo = f"{obs.repo}:{tag}"
    obs.path = _first(source, _PATH_FIELDS, loc)
    obs.line = number(source, "line", loc)
    obs.commit = text(source, "commit", loc)
    if obs.commit == _STAGED:
        # The git source's scan of staged changes (`git diff --cached`, what a pre-commit hook
        # sees) names no commit but this word; the change is in the work tree, not history.
        obs.commit = ""
        obs.tool_ids["staged"] = "true"
    email = text(source, "email", loc)
    obs.author = person(_first(source, _AUTHOR_FIELDS, loc), email)
    obs.committed_at = _lenient_time(source, loc)
    if source_name in _CI_SOURCES:
        _ci_place(obs, source, loc)


# CI sources name the project by its owner's login ("username") and its bare repository name
# (TruffleHog's circleci and travisci sources: proj.Username / job.Owner.Login, RepoName /
# repo.Name): the username is the repository's owner, not a person who wrote the secret.
_CI_SOURCES = frozenset({"Circleci", "CircleCI", "TravisCI", "Travisci"})
_VCS_HOSTS = {"github": "github.com", "gh": "github.com", "bitbucket": "bitbucket.org"}
_TRAVIS_LINK = re.compile(r"^https://app\.travis-ci\.(?:com|org)/(github|bitbucket)/")


def _ci_place(obs: Observation, source: dict, loc: str) -> None:
    owner = text(source, "username", loc).strip()
    name = text(source, "repository", loc).strip()
    obs.author = person("", text(source, "email", loc))
    if not owner or not name or "/" in name or "/" in owner:
        return
    vcs = text(source, "vcs_type", loc).lower()
    if not vcs and (travis := _TRAVIS_LINK.match(obs.url)):
        vcs = travis.group(1)
    host = _VCS_HOSTS.get(vcs)
    obs.repo = f"https://{host}/{owner}/{name}" if host else f"{owner}/{name}"


def _lenient_time(source: dict, loc: str):
    """The source's date. Sources write it in their own ways (git dates, RFC 3339, Slack's
    "1612345678.000200", protobuf {seconds, nanos}); one that can't be read is no reason to
    reject the finding, so it is left out."""
    for key in _TIME_FIELDS:
        value = source.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, dict) and isinstance(value.get("seconds"), int | str):
            value = value["seconds"]
        if isinstance(value, str) and _EPOCH.fullmatch(value.strip()):
            value = float(value.strip())
        elif isinstance(value, str) and (go := _GO_TIME.fullmatch(value.strip())):
            # Go's time.String() with fractional seconds (object stores' dates):
            # "2024-01-02 03:04:05.123456789 +0000 UTC"
            day, clock, fraction, hours, minutes = go.groups()
            value = f"{day}T{clock}{(fraction or '')[:7]}{hours}:{minutes}"
        try:
            return to_datetime({key: value}, key, loc)
        except ImportFormatError:
            return None
    return None


def _bucket_url(source_name: str, bucket: str) -> str:
    # The key is the Go field of the protobuf oneof, which encoding/json writes as it is named:
    # "S3", but "Gcs" (proto field `gcs`), not the message's name "GCS".
    scheme = {"s3": "s3", "gcs": "gs"}.get(source_name.lower())
    return f"{scheme}://{bucket}" if scheme else bucket


# A git remote over SSH as the Git source was given it: scp-like "git@github.com:o/r.git" or
# "ssh://git@github.com/o/r.git". Forges (GitHub, GitLab, Bitbucket, Gitea) serve the same
# repository at https://<host>/<path>; Azure DevOps (ssh.dev.azure.com:v3/...) does not, nor
# does a remote with its own port (Bitbucket Server's 7999) or another user's account.
# Path segments without slashes: matched in linear time (a class that also took "/" tried every
# split of a long path that fails to match).
_SCP_REMOTE = re.compile(
    r"git@([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([^\s:\\/]+(?:/[^\s:\\/]+)+/?)"
)
_SSH_REMOTE = re.compile(
    r"ssh://git@([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)/([^\s:\\/]+(?:/[^\s:\\/]+)+/?)"
)
_NOT_FORGE_HOSTS = ("ssh.dev.azure.com", "vs-ssh.visualstudio.com")


def _ssh_remote_as_url(repo: str) -> str:
    """The https URL of a forge repository named by its SSH remote, so that a scan of the
    clone over SSH and one over https name the same repository (and ownership rules written
    for https://host/owner/name match both)."""
    remote = repo.strip()
    match = _SCP_REMOTE.fullmatch(remote) or _SSH_REMOTE.fullmatch(remote)
    if not match:
        return repo
    host, path = match.groups()
    if host.lower() in _NOT_FORGE_HOSTS or host.lower().endswith(".visualstudio.com"):
        return repo
    return f"https://{host}/{path}"


def _repo_from_link(repo: str, link: str) -> str:
    """The Github source names the repository of an issue or pull request comment by its bare
    name ("ralph"); the comment's link (https://github.com/allegro/ralph/issues/2298#...) also
    gives its owner, which the name alone would lose (ownership rules match owner/name)."""
    if not repo or not link or any(c in repo for c in "/:\\"):
        return repo
    try:
        parts = urlsplit(link)
    except ValueError:
        return repo
    segments = parts.path.split("/")
    if (
        parts.scheme in ("http", "https")
        and parts.netloc
        and "@" not in parts.netloc  # no user:password@ of a link into the repository
        and len(segments) > 2
        and segments[1]
        and segments[2].lower() == repo.lower()
    ):
        return f"{parts.scheme}://{parts.netloc}/{segments[1]}/{segments[2]}"
    return repo


def _validity(obj: dict, where: str) -> str:
    if flag(obj, "Verified", where):
        return "valid"
    # Verified=false covers both "the check failed" and "there is no check" (and
    # VerificationError means the check could not run): TruffleHog never says "invalid".
    return "unknown"


def _references(extra: dict, value: str | None, obj: dict) -> list[Reference]:
    raw_v2 = obj.get("RawV2") if isinstance(obj.get("RawV2"), str) else ""
    refs = []
    for key, v in extra.items():
        kind = _EXTRA_REFERENCES.get(key.lower()) if isinstance(key, str) else None
        if kind is None or not isinstance(v, str) or not v.strip() or len(v) > 512:
            continue
        v = v.strip()
        if (value and (value in v or v in value)) or (raw_v2 and v in raw_v2):
            continue
        if kind == "aws-account" and not _AWS_ACCOUNT.fullmatch(v):
            kind = "other"
        if kind == "arn" and not v.startswith("arn:"):
            kind = "other"
        if kind == "url" and "://" not in v:
            kind = "other"
        refs.append(Reference(kind, v if kind != "other" else f"{key.lower()}={v}"))
    return refs


def _credential_words(description: str) -> str:
    """A DetectorDescription is "<Service> is <what it does>. <Its credential> can be used to
    ...". The first sentence describes the service and may name others (Travis CI: "hosted on
    GitHub"; Alchemy: "decentralized", which reads as Entra): only the rest names the
    credential, and a one-sentence description is taken whole."""
    _, dot, rest = description.partition(". ")
    return rest if dot and rest.strip() else description


def _decode_old_raw(obj: dict, raw: str, redacted: str) -> str:
    """Undo the base64 of releases that printed ``Raw`` as Go ``[]byte``.

    Decoded only when all hold: the record has no ``DecoderName`` key (every release that
    prints ``DecoderName`` prints ``Raw`` as text); ``Raw`` is canonical padded base64; it
    decodes to UTF-8 with only printable characters (and newlines/tabs); and, when there is
    a ``Redacted`` form, the decoded text starts with Redacted's unmasked head while the raw
    text does not (Redacted is computed from the decoded value)."""
    if "DecoderName" in obj or len(raw) % 4 or not _B64.fullmatch(raw):
        return raw
    try:
        decoded = base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return raw
    if not decoded or not all(c.isprintable() or c in "\r\n\t" for c in decoded):
        return raw
    if redacted:
        head = re.split(r"\*|\.\.\.|REDACTED", redacted, maxsplit=1)[0][:8]
        if head and (raw.startswith(head) or not decoded.startswith(head)):
            return raw
    return decoded
