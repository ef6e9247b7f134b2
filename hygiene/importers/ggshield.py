"""GitGuardian ``ggshield secret scan ... --json`` output (schema: doc/schemas/secret.json).

``{"id", "type", "entities_with_incidents": [...], "scans": [{"id": <commit sha>, "type":
"commit", "extra_info": {"author", "email", "date"}, "entities_with_incidents": [{"filename",
"mode", "incidents": [{"policy", "type", "validity", "ignore_sha", "total_occurrences",
"incident_url", "known_secret", "ignore_reason"?, "incident_details"?, "occurrences": [{"match",
"type", "line_start", "line_end", "index_start", "index_end", "pre_line_start"?,
"post_line_start"?}]}]}]}], ...}``

One Observation per occurrence of the incident's secret part. ``match`` is the matched value
of one part of the secret (not the line). Without ``--show-secrets`` ggshield censors it (first
and last sixth kept, the rest ``*``): then it is not a value; it is kept as ``redacted`` only
when it shows at most 4 leading characters. With ``--show-secrets`` the secret part goes to
``secret_value``; identifier parts (client_id, host, username...) become references. An
incident with identifier parts only has no value to fingerprint: its GitGuardian incident id
(else a digest of its rule and identifier parts) stands for the secret, so that two such
incidents in one file stay two findings.
A censored secret part (ggshield's default: no ``--show-secrets``) is not a value either: the
same secret in three commits of a range, or in two files, is one secret all the same. What
names it is ggshield's ``ignore_sha``, the secret's own hash (what ``ggshield secret ignore``
writes to ``.gitguardian.yaml``'s ``matches-ignore``: SHA-256 over the incident's
``match,type`` pairs, taken before the output censors them): one secret wherever it is seen,
known to the dashboard or not yet; else its GitGuardian incident. A shown value always wins
(the same value found by gitleaks is the same secret); a censored and a shown report of one
secret are two.
``ignore_sha`` is never kept: an unkeyed hash of the value, only digested in memory into
that identity, which the import keys (HMAC) like any SHA-1; nor are
``incident_details.secret_hash`` / ``hmsl_hash``. Non-secret policies (older
"Filenames"/"File extensions" breaks) become posture observations.

Places: ggshield's docker scans that name a layer's file
``sha256:<layer id>:/<path>``: the path in the image is ``/<path>`` and the layer a tool id
(``docker_layer``), as the SARIF importer splits ggshield's SARIF; one file copied into two
layers is one place. ``pypi`` and ``archive`` scans unpack into a new temporary directory
every run (``/tmp/tmp<8 characters>ggshield/``): the path is the one in the package
(``acme_sdk-2.3.1/acme_sdk/config.py``), so that the next scan finds the same places.

With ``--all-secrets`` ggshield also lists what it would ignore, with ``ignore_reason.kind``:
``not_introduced`` is a secret on a deleted or context line of a commit's patch, which that
commit did not add (the commit that added it reports it): it is skipped, as ggshield itself
does without the flag. A secret stored in a vault (``secret_vaulted`` with
``vault_type``/``vault_name``/``vault_path``) gets the vault path as a reference, so that the
vault's own events about that path match it.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from hygiene.taxonomy import SecretType, map_severity

from .base import (
    ImportFormatError,
    Item,
    Observation,
    Reference,
    first_char,
    path_in_checkout,
    type_name,
)
from .gitleaks import (
    aws_key_id_reference,
    flag,
    guarded,
    listing,
    load_document,
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
    "aws keys": SecretType.AWS_SECRET_KEY,
    "django secret key": SecretType.GENERIC_SECRET,
    "generic high entropy secret": SecretType.GENERIC_SECRET,
    "generic password": SecretType.GENERIC_PASSWORD,
    "generic database assignment": SecretType.DATABASE_CREDENTIAL,
    "github token": SecretType.GITHUB_TOKEN,
    "github personal access token": SecretType.GITHUB_TOKEN,
    "github app keys": SecretType.GITHUB_TOKEN,
    "gitlab token": SecretType.GITLAB_TOKEN,
    "slack bot token": SecretType.SLACK_TOKEN,
    "slack user token": SecretType.SLACK_TOKEN,
    "slack webhook url": SecretType.CHAT_WEBHOOK,
    "json web token": SecretType.JWT,
    "google api key": SecretType.GCP_KEY,
    "stripe keys": SecretType.STRIPE_KEY,
}

# Occurrence types that name a part of a multi-part secret which is not itself secret.
ID_TYPES = frozenset(
    {
        "client_id",
        "username",
        "user",
        "login",
        "host",
        "hostname",
        "port",
        "database",
        "db",
        "scheme",
        "protocol",
        "domain",
        "url",
        "endpoint",
        "tenant",
        "tenant_id",
        "account",
        "account_id",
        "email",
        "app_id",
        "application_id",
        "key_id",
        "access_key_id",
        "region",
        "bucket",
        "organization",
        "project_id",
        "subdomain",
    }
)
SCAN_TYPES = frozenset(
    {
        "archive_scan",
        "docset",
        "commit-range",
        "path_scan",
        "pre-commit",
        "scan_docker_archive",
        "pre-push",
        "pre-receive",
        "commit",
        "ci",
    }
)
_IGNORE_REASONS = {
    "test_credential": "used_in_tests",
    "false_positive": "false_positive",
    "low_risk": "accepted_risk",
    "invalid": "resolved",
}
_LOCAL_IGNORES = {
    "ignored_match": "accepted_risk",
    "ignored_detector": "accepted_risk",
    "ignored_path": "accepted_risk",
    "backend_excluded": "accepted_risk",
}
# Secrets ggshield lists only with --all-secrets, and that are not a leak of the scanned place.
_NOT_LEAKS_HERE = frozenset({"not_introduced"})
_INCIDENT_ID = re.compile(r"/incidents/(\d+)")
_WORKSPACE = re.compile(r"/workspace/(\d+)/")
_IGNORE_SHA = re.compile(r"[0-9a-f]{64}")
# ggshield's docker scans (as its SARIF): "<layer id>:/<path in the image>".
_DOCKER_LAYER = re.compile(r"(sha256:[0-9a-f]{64}):(/.*)", re.DOTALL)
# tempfile.TemporaryDirectory(suffix="ggshield"), where ggshield unpacks a package (pypi) or
# an archive: "tmp" and 8 random characters, under /tmp, macOS's /var/folders/…/T or
# Windows' …\AppData\Local\Temp.
_TEMP_DIR = re.compile(
    r"(?:/|[A-Za-z]:[/\\])(?:.*?[/\\])?tmp[a-z0-9_]{8}ggshield([/\\])(?=.)", re.DOTALL
)
# Where a scan lists its files: "entities_with_incidents"; ggshield 1.2-1.4 wrote
# "entities_with_issues", some later 1.x releases "results".
_ENTITY_KEYS = ("entities_with_incidents", "entities_with_issues", "results")


@guarded
def parse(stream: IO[bytes], where: list[str]) -> Iterator[Item]:
    stream, ch = first_char(stream)
    head = peek(stream)
    if ch == "[":
        raise ImportFormatError(
            sniff(head) or "expected ggshield's JSON object (ggshield secret scan --json)", "$"
        )
    if ch != "{":
        stream = _after_log_lines(stream, head)
        try:
            doc = load_document(stream)
        except ImportFormatError as error:
            hint = sniff(head)
            if hint and "ggshield" not in hint:  # another tool's JSON lines or log
                raise ImportFormatError(hint, "$") from None
            raise error from None
    else:
        doc = load_document(stream)
    if not isinstance(doc, dict):
        raise ImportFormatError(f"expected a JSON object, found {type_name(doc)}", "$")
    for engine, command in (("iac_engine_version", "iac"), ("sca_engine_version", "sca")):
        # ggshield's IaC and SCA scans write the same envelope (entities_with_incidents…)
        # about misconfigurations or vulnerable packages: taken as a secret scan, an empty one
        # would mark every secret of the source missing.
        if engine in doc and "secrets_engine_version" not in doc:
            raise ImportFormatError(
                f"this is a ggshield {command} scan report, not a secret scan; "
                "send ggshield secret scan --json",
                f"$.{engine}",
            )
    known = (
        "entities_with_incidents",
        "entities_with_issues",
        "scans",
        "total_incidents",
        "total_issues",
        "secrets_engine_version",
    )
    if not any(k in doc for k in known) and doc.get("type") not in SCAN_TYPES:
        hint = sniff(head)
        raise ImportFormatError(
            hint if hint and "ggshield" not in hint else "not a ggshield secret scan report",
            "$",
        )
    yield from _scan(doc, "$", where, "", "", None)


def _after_log_lines(stream: IO[bytes], head: bytes) -> IO[bytes]:
    """The JSON after what ggshield (or a command it ran) wrote to stdout before it, when the
    report is its stdout: ``--verbose`` lists the files it scans (``- /home/me/app/setup.cfg``,
    ggshield issue #157), and a docker scan of an image not pulled yet runs ``docker pull``
    without capturing its output (``latest: Pulling from library/nginx``…; 1.48 "prevent docker
    scan stdout from leaking into JSON output"). The lines before the first one that starts
    with ``{`` are blanked, so that JSON errors still name the right line."""
    lines = stream.read().split(b"\n")
    for index, line in enumerate(lines):
        bare = line.removeprefix(b"\xef\xbb\xbf") if index == 0 else line
        if bare.lstrip().startswith(b"{"):
            lines[index] = bare
            return io.BytesIO(b"\n".join(lines))
        if bare.lstrip().startswith(b"["):
            break  # a JSON array: another tool's report
        lines[index] = b""
    raise ImportFormatError(
        sniff(head) or "expected ggshield's JSON object (ggshield secret scan --json)", "$"
    )


def _scan(
    scan: dict,
    loc: str,
    where: list[str],
    commit: str,
    author: str,
    committed_at: datetime | None,
) -> Iterator[Item]:
    where[0] = loc
    if text(scan, "type", loc) == "commit":
        commit = text(scan, "id", loc) or commit
    extra = mapping(scan, "extra_info", loc)
    if extra:
        eloc = f"{loc}.extra_info"
        author = person(text(extra, "author", eloc), text(extra, "email", eloc)) or author
        committed_at = to_datetime(extra, "date", eloc) or committed_at
    key = next((k for k in _ENTITY_KEYS if k in scan), "results")
    for i, entity in enumerate(listing(scan, key, loc)):
        eloc = f"{loc}.{key}[{i}]"
        where[0] = eloc
        if not isinstance(entity, dict):
            raise ImportFormatError(f"expected an object, found {type_name(entity)}", eloc)
        path, layer = _place(text(entity, "filename", eloc))
        mode = text(entity, "mode", eloc).upper()
        # ggshield 1.2-1.4 called incidents "issues" (entities_with_issues, total_issues).
        incidents_key = (
            "issues" if "issues" in entity and "incidents" not in entity else "incidents"
        )
        for j, incident in enumerate(listing(entity, incidents_key, eloc)):
            iloc = f"{eloc}.{incidents_key}[{j}]"
            where[0] = iloc
            if not isinstance(incident, dict):
                raise ImportFormatError(f"expected an object, found {type_name(incident)}", iloc)
            context = {
                "path": path,
                "layer": layer,
                "commit": commit,
                "author": author,
                "committed_at": committed_at,
            }
            yield from _incident(incident, iloc, mode, context, where)
    for j, sub in enumerate(listing(scan, "scans", loc)):
        sloc = f"{loc}.scans[{j}]"
        if not isinstance(sub, dict):
            raise ImportFormatError(f"expected a scan object, found {type_name(sub)}", sloc)
        yield from _scan(sub, sloc, where, commit, author, committed_at)


def _incident(
    inc: dict, loc: str, mode: str, context: dict[str, Any], where: list[str]
) -> Iterator[Observation]:
    rule = text(inc, "type", loc) or text(inc, "break_type", loc) or text(inc, "detector", loc)
    if not rule:
        raise ImportFormatError("missing required field 'type'", loc)
    if _ignore_kind(inc, loc) in _NOT_LEAKS_HERE:
        return
    policy = text(inc, "policy", loc)
    details = mapping(inc, "incident_details", loc)
    dloc = f"{loc}.incident_details"
    url = _link(text(inc, "incident_url", loc)) or _link(text(details, "gitguardian_url", dloc))

    # ignore_sha (SHA-256 over the uncensored matches) is not kept: an unkeyed hash of the
    # value, which a guess at a weak secret could be checked against.
    tool_ids = {}
    if policy:
        tool_ids["policy"] = policy
    incident_id = text(details, "id", dloc)
    if not incident_id and url:
        m = _INCIDENT_ID.search(url)
        incident_id = m.group(1) if m else ""
    if incident_id:
        tool_ids["incident_id"] = incident_id
    detector = mapping(details, "detector", dloc)
    if detector:
        name = text(detector, "name", f"{dloc}.detector")
        if name:
            tool_ids["detector"] = name
    if flag(inc, "known_secret", loc):
        tool_ids["known_secret"] = "true"  # noqa: S105 (a flag, not a password)
    if context.get("layer"):
        tool_ids["docker_layer"] = context["layer"]

    validity = text(inc, "validity", loc) or text(details, "validity", dloc)
    severity = map_severity(text(inc, "severity", loc) or text(details, "severity", dloc) or None)
    resolution = _resolution(inc, loc, details, dloc)

    base = {
        "rule": rule,
        "path": context["path"],
        "commit": context["commit"],
        "author": context["author"],
        "committed_at": context["committed_at"],
        "url": url,
        "validity": {"valid": "valid", "invalid": "invalid"}.get(validity.lower(), "unknown"),
        "severity": severity,
        "tool_resolution": resolution,
        "description": _vault_note(inc, loc),
    }

    occurrences = []
    for k, occ in enumerate(listing(inc, "occurrences", loc)):
        oloc = f"{loc}.occurrences[{k}]"
        where[0] = oloc
        if not isinstance(occ, dict):
            raise ImportFormatError(f"expected an object, found {type_name(occ)}", oloc)
        occurrences.append(
            (
                oloc,
                occ,
                text(occ, "match", oloc),
                (text(occ, "type", oloc) or text(occ, "match_type", oloc)).lower(),
            )
        )

    if policy and policy.lower() != "secrets detection":
        # Sensitive file names/extensions: a hygiene problem, not a leaked value.
        yield Observation(
            **base,
            secret_type=SecretType.POSTURE_OTHER.value,
            category="posture",
            title=f"{policy}: {rule}",
            line=None,
            tool_ids=tool_ids,
        )
        return

    # Only identifier parts (a patch showing a connection's host and user but not its
    # password): no secret part to stand for the secret, which is named by its incident.
    main = [o for o in occurrences if o[3] not in ID_TYPES]
    if main:
        main = [o for o in main if o[3] == main[0][3]]
    references: list[Reference] = _vault_references(inc, loc)
    for _oloc, _occ, match, mtype in occurrences:
        if mtype in ID_TYPES and match and not censored(match):
            ref = aws_key_id_reference(match)
            references.append(
                ref
                or Reference(
                    "url" if "://" in match else "other",
                    match if "://" in match else f"{mtype}={match}",
                )
            )

    if not main:
        yield scrub(
            Observation(
                **base,
                secret_type=secret_type_for(SECRET_TYPES, rule, None),
                secret_sha1=_identity_digest(
                    rule, incident_id, url, path_in_checkout(context["path"]), occurrences
                ),
                tool_ids=tool_ids,
                references=references,
            )
        )
        return
    # A censored secret part is no value: the secret ggshield hashed stands for it.
    hidden_identity = _censored_identity(inc.get("ignore_sha"), incident_id, url)
    for oloc, occ, match, mtype in main:
        hidden = censored(match)
        value = None if hidden or not match else match
        line = number(occ, "post_line_start", oloc)
        if line is None and mode in ("FILE", ""):
            # A whole file's line: ggshield 1.29-1.30 wrote a wrong line_start for it (line 1
            # for line 2 in its PR #949; fixed in 1.31) beside the right pre_line_start, which
            # earlier releases wrote equal to it.
            line = number(occ, "pre_line_start", oloc)
            start = number(occ, "line_start", oloc)
            line = start if line is None else line
        else:
            number(occ, "line_start", oloc)  # still type-checked
        ids = dict(tool_ids)
        if mtype:
            ids["match_type"] = mtype
        obs = Observation(
            **base,
            secret_type=secret_type_for(SECRET_TYPES, rule, value, mtype),
            secret_value=value,
            secret_sha1=None if value else hidden_identity,
            redacted=safe_redacted(match) if hidden else "",
            line=line,
            tool_ids=ids,
            references=[r for r in references if not value or value not in r.value],
        )
        yield scrub(obs)


def _identity_digest(
    rule: str, incident_id: str, url: str, path: str, occurrences: list[tuple]
) -> str | None:
    """What stands for a secret ggshield shows only the identifier parts of (a connection's
    host and user, not its password), in place of the value's SHA-1: the GitGuardian
    incident (of its workspace: ids are numbered per workspace), which is one secret wherever
    it occurs, or else the rule, the file and the identifier parts as reported (censored or
    not): "localhost" and "postgres" in two files are not one secret. Two such incidents in
    one file, which have no line, are then two findings, not one named by the file alone. In
    memory only: the import keys it (HMAC) like any SHA-1 it is given; None when there is
    neither (the place names it)."""
    if incident_id:
        basis = _incident_basis(incident_id, url)
    else:
        parts = sorted({f"{mtype}={match}" for _oloc, _occ, match, mtype in occurrences if match})
        if not parts:
            return None
        basis = "\x1f".join(("ggshield-identifiers", rule, path, *parts))
    return hashlib.sha1(basis.encode(), usedforsecurity=False).hexdigest()


def _incident_basis(incident_id: str, url: str) -> str:
    """The GitGuardian incident, of its workspace (ids are numbered per workspace)."""
    workspace = _WORKSPACE.search(url)
    return "\x1f".join(("ggshield-incident", workspace.group(1) if workspace else "", incident_id))


def _censored_identity(ignore_sha: Any, incident_id: str, url: str) -> str | None:
    """What stands for a secret whose secret part ggshield censored, in place of the value's
    SHA-1: its ``ignore_sha``, the SHA-256 ggshield computes over the uncensored matches (the
    secret, and the identifier parts it goes with), the same in every commit, file and layer
    and whether the dashboard knows the secret or not; else its GitGuardian incident. Only
    the digest of either: ``ignore_sha`` itself is an unkeyed hash of the value. In memory
    only, keyed (HMAC) by the import; None when there is neither (the place names it)."""
    sha = ignore_sha.strip().lower() if isinstance(ignore_sha, str) else ""
    if _IGNORE_SHA.fullmatch(sha):
        basis = "\x1f".join(("ggshield-secret", sha))
    elif incident_id:
        basis = _incident_basis(incident_id, url)
    else:
        return None
    return hashlib.sha1(basis.encode(), usedforsecurity=False).hexdigest()


def _place(filename: str) -> tuple[str, str]:
    """The path a file has wherever ggshield scans it, and the docker layer it is in: a layer
    id is taken off as the SARIF importer does (``sha256:<id>:/app/.env``: ``/app/.env``),
    and the temporary directory a package or archive is unpacked into, new every run, with
    it (``/tmp/tmpq8w3e_x1ggshield/acme_sdk-2.3.1/setup.py``: ``acme_sdk-2.3.1/setup.py``)."""
    layer = ""
    in_layer = _DOCKER_LAYER.fullmatch(filename)
    if in_layer:
        layer, filename = in_layer.group(1), in_layer.group(2)
    unpacked = _TEMP_DIR.match(filename)
    if unpacked:
        filename = filename[unpacked.end() :]
        if unpacked.group(1) == "\\":
            filename = filename.replace("\\", "/")  # Windows' temporary directory
    return filename, layer


def _link(url: str) -> str:
    """An incident URL, or "" for ggshield's placeholders: from 1.16 every incident has an
    ``incident_url``, "N/A" (later "") when the dashboard does not know the secret."""
    return url if url.startswith(("https://", "http://")) else ""


def censored(match: str) -> bool:
    """ggshield's censor keeps the first and last ceil(n/6) characters (at most 60) and turns
    every other character but ``+``, ``-`` and whitespace into ``*``."""
    n = len(match)
    if n == 0:
        return False
    if n <= 3:
        return set(match[: max(n - 1, 1)]) == {"*"}
    keep = min(math.ceil(n / 6), 60)
    middle = match[keep : n - keep]
    return "*" in middle and not middle.strip("*+- \t\r\n")


def _resolution(inc: dict, loc: str, details: dict, dloc: str) -> str:
    status = text(details, "status", dloc).upper()
    if status == "IGNORED":
        return _IGNORE_REASONS.get(text(details, "ignore_reason", dloc).lower(), "accepted_risk")
    if status == "RESOLVED":
        return "revoked" if flag(details, "secret_revoked", dloc) else "resolved"
    return _LOCAL_IGNORES.get(_ignore_kind(inc, loc), "")


def _ignore_kind(inc: dict, loc: str) -> str:
    """ggshield's own ignore reason (``{"kind", "detail"}``, or the kind alone), lower-cased."""
    reason: Any = inc.get("ignore_reason")
    if isinstance(reason, dict):
        reason = reason.get("kind") or reason.get("type")
    if isinstance(reason, str):
        return reason.lower()
    if reason is not None:
        raise ImportFormatError(
            "'ignore_reason' should be a string or an object", f"{loc}.ignore_reason"
        )
    return ""


def _vault_note(inc: dict, loc: str) -> str:
    if not flag(inc, "secret_vaulted", loc):
        return ""
    kind = text(inc, "vault_type", loc) or "a secrets manager"
    name = text(inc, "vault_name", loc)
    return f"GitGuardian found this secret stored in {kind}{f' ({name})' if name else ''}."


def _vault_references(inc: dict, loc: str) -> list[Reference]:
    """Where the secret is stored (``secret_vaulted``): a HashiCorp Vault path, an ARN (AWS
    Secrets Manager), or another vault's path named with its vault type."""
    path = text(inc, "vault_path", loc).strip()
    if not path:
        return []
    kind = text(inc, "vault_type", loc)
    if path.startswith("arn:"):
        return [Reference("arn", path)]
    if not kind or "hashicorp" in kind.lower() or kind.lower() == "vault":
        return [Reference("vault-path", path)]
    return [Reference("other", f"{kind}: {path}")]
