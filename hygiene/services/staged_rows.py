"""Staged rows from parsed items, without a database: fingerprint, redact and analyse each raw
value while it is in memory, and keep only what a finished Finding may hold. The raw value goes
no further than this module.

No models and no database connection here: the process that parses the second half of a large
report (services.parse_child) builds its rows with this module alone.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from psycopg._copy_base import TextFormatter  # internal, but psycopg is pinned (pyproject.toml)
from psycopg.adapt import Transformer

from hygiene.fingerprints import (
    fingerprint,
    fingerprint_from_sha1,
    fingerprint_of_place,
    location_key,
    redact,
    redact_identifier,
    reference_hash,
    secret_location_key,
    tighten_redacted,
)
from hygiene.importers import Observation
from hygiene.importers.base import SURROGATE, path_in_checkout, storable, unstorable
from hygiene.importers.gitleaks import scrub
from hygiene.secretinfo import analyse_or_none, raise_severity
from hygiene.taxonomy import DEFAULT_SEVERITY, SEVERITY_RANK, SecretType, Severity

BATCH = 5000
# Young-generation collections while a report is parsed (see few_collections).
PARSE_GC_THRESHOLD = 20_000
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_quote = json.encoder.encode_basestring  # what _encode writes for a str (ensure_ascii=False)
_GENERIC = {SecretType.GENERIC_SECRET, SecretType.GENERIC_PASSWORD, SecretType.API_KEY}
# What a rule captured that can't be a credential's value: a few characters, only a password
# hash's scheme ("$apr1$": a custom htpasswd rule captures it and nothing after), or only a PEM
# header (GitLab's default "RSA private key" and "PKCS8 private key" rules, custom gitleaks and
# 2ms rules: "-----BEGIN RSA PRIVATE KEY-----" names the kind of key, not the key). As a
# secret's identity it would make one secret of every finding anywhere that captured the same.
MIN_VALUE_LEN = 6
_SCHEME = re.compile(r"\$[0-9a-z]{1,8}\$")
_PEM_HEADER = re.compile(r"-----(?:BEGIN|END) [A-Z0-9 ]{1,60}-----")


def _not_a_value(value: str) -> bool:
    value = value.strip()
    return (
        len(value) < MIN_VALUE_LEN
        or _SCHEME.fullmatch(value) is not None
        or _PEM_HEADER.fullmatch(value) is not None
    )


BUMP = {"low": "medium", "medium": "high", "high": "critical"}  # a valid secret: one step up
_VALIDITY = {"valid", "invalid", "unknown", "revoked"}
_RESOLUTIONS = {
    "false_positive",
    "used_in_tests",
    "accepted_risk",
    "revoked",
    "wont_fix",
    "resolved",
    "reopened",  # a webhook says the tool reopened it: undo the tool's earlier dismissal
    "open",  # the tool says it is open: undo a dismissal that was the tool's own
}

FINDING_COLUMNS = [
    "run_id",
    "location_key",
    "fingerprint",
    "category",
    "rule",
    "secret_type",
    "severity",
    "validity",
    "preview",
    "analysis",
    "repo",
    "path",
    "line",
    "commit",
    "url",
    "author",
    "committed_at",
    "title",
    "description",
    "resource",
    "account",
    "region",
    "tool_ids",
    "tool_resolution",
    "passed",
]
VALIDITY = FINDING_COLUMNS.index("validity")  # in a staged row
REFERENCE_COLUMNS = ["run_id", "fingerprint", "kind", "display", "value_hash"]
_FINDING_COLUMNS = ", ".join(f'"{c}"' for c in FINDING_COLUMNS)


def _clip(value: str | None, n: int) -> str:
    return (value or "")[:n]


# An observation's text that ends up in a staged row or a location key (besides tool_ids and
# references, and the value, which keeps a NUL: it is only digested).
_TEXT_FIELDS = (
    "rule",
    "secret_type",
    "redacted",
    "repo",
    "path",
    "commit",
    "url",
    "author",
    "title",
    "description",
    "resource",
    "account",
    "region",
)


def _storable_analysis(analysis) -> None:
    """What was learnt from a value with a NUL (a SAS's ``sr=%00``), as storable."""
    analysis.facts = {
        k: storable(v) if v.__class__ is str else v for k, v in analysis.facts.items()
    }
    analysis.references = [
        (kind, storable(value), storable(display)) for kind, value, display in analysis.references
    ]


def _make_storable(obs: Observation) -> None:
    """The observation's text as storable (``storable``), before its keys are computed, so
    that the same report read again gives the same keys. A value with a lone surrogate (no
    bytes to digest) takes U+FFFD for it too; its NULs stay (a digest takes them)."""
    for name in _TEXT_FIELDS:
        value = getattr(obs, name)
        if value.__class__ is str and unstorable(value):
            setattr(obs, name, storable(value))
    value = obs.secret_value
    if value and not value.isascii() and SURROGATE.search(value):
        obs.secret_value = SURROGATE.sub("\ufffd", value)
    if obs.tool_ids:
        obs.tool_ids = {
            storable(str(k)): storable(v) if v.__class__ is str else v
            for k, v in obs.tool_ids.items()
        }
    for ref in obs.references:
        if ref.value.__class__ is str and unstorable(ref.value):
            ref.value = storable(ref.value)


def _display(kind: str, value: str) -> str:
    # An AWS key id is an identifier, but often it is also the very value a scanner reported:
    # show it the way we show secrets.
    return redact_identifier(value) if kind == "aws-access-key-id" else _clip(value, 300)


def _tool_ids_json(tool_ids: dict) -> str:
    """``_encode({str(k): str(v)[:300] ...})``: the same text, a third of the time when every key
    and value is a str (as all importers give them)."""
    parts = []
    for k, v in tool_ids.items():
        if k.__class__ is not str or v.__class__ is not str:
            return _encode({str(k): str(v)[:300] for k, v in tool_ids.items()})
        parts.append(f"{_quote(k)}:{_quote(v[:300])}")
    return "{" + ",".join(parts) + "}"


def _url(value: str | None) -> str:
    """A link the pages may offer: http(s) only (a report can say javascript:), and without the
    user:password@ a clone or API URL may carry."""
    if not value:
        return ""
    if value.startswith("https://"):
        rest = value[8:]
    elif value[:8].lower().startswith(("https://", "http://")):
        rest = value.split("://", 1)[1]
    else:
        return ""
    host = rest.split("/", 1)[0]
    if "@" in host:
        value = value[: len(value) - len(rest)] + rest[host.rindex("@") + 1 :]
    return value[:1000]


def place_of_link(url: str) -> str:
    """What tells a place without a file, line or commit apart (a comment on an issue or pull
    request, a Postman environment, a CI build, a chat message): its link, as stored. Two such
    places of one secret are two findings, not one with the first place's link."""
    return _url(url)


# A URL's user information: "https://gitlab-ci-token:<token>@host/…" (a CI job's clone URL, as
# Qodana's SARIF and TruffleHog's git source write it), "https://user:p@ss@host/…".
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def repo_without_credentials(value: str) -> str:
    """A repository as a tool named it, without the ``user:password@`` a clone URL may carry
    (the password is often a token): nothing shown or searched holds it."""
    return _USERINFO.sub(r"\1", value) if "@" in value else value


def normal_repo(value: str) -> str:
    """A repository as it is stored: trimmed, without credentials, ".git" or a final "/"."""
    if not value:
        return ""
    value = repo_without_credentials(value.strip())
    return value[:-4] if value.endswith(".git") else value.rstrip("/")


@contextlib.contextmanager
def few_collections():
    """Parsing allocates a dict and an Observation per finding and drops both at once, none in
    a cycle: at the collector's default threshold (700 allocations) a young-generation pass
    ran every few findings and promoted the batch's rows to be scanned again, 8 % of staging
    CPU. Raised while a report is parsed, then restored (it is process-wide: other threads
    collect less often meanwhile, nothing more)."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], PARSE_GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


@dataclass
class StageCounts:
    received: int = 0
    findings: int = 0
    passed: int = 0
    events: int = 0
    event_ids: list[int] = field(default_factory=list)


class StagedRows:
    """One run's staged rows, built item by item; a location key already seen is skipped (a
    report may list the same finding twice: the first one is kept, so SQL needn't dedupe)."""

    def __init__(
        self, run_id: int, source_id: int, format_key: str, now: datetime, source_repo: str = ""
    ):
        self.run_id = run_id
        self.source_id = source_id
        # Where the findings are whose report names no repository (Source.repo), as stored.
        self.source_repo = normal_repo(source_repo)[:300]
        self.format_key = format_key
        self.now = now
        self.findings: list[tuple] = []
        self.references: list[tuple] = []
        self.counts = StageCounts()
        self.seen_keys: set[str] = set()
        # Posture checks staged as passed, and those of them a later FAIL in the same report
        # overrode after their row was written (Stager deletes those rows at the end).
        self.passed_keys: set[str] = set()
        self.superseded_passes: set[str] = set()
        # Places reported again, verified, after a first row that was not (Stager marks their
        # rows valid at the end): TruffleHog writes a line per (id, secret) candidate pair of a
        # two-part credential (AWS, Twilio), with the id as Raw, and only the pair that
        # verified says so, in whatever order the candidates came.
        self.verified_repeats: set[str] = set()

    def add_observation(self, obs: Observation) -> None:
        if obs.secret_value and obs.category != "posture":
            # Whatever the importer did: the value goes nowhere but into its fingerprint and
            # preview (importers.gitleaks.scrub, for every format).
            scrub(obs)
        # One probe of all the text for the rare NUL or lone surrogate (PostgreSQL stores
        # neither): a JSON \u escape, a binary file's match, a CSV cell.
        probe = (
            f"{obs.rule}{obs.repo}{obs.path}{obs.commit}{obs.url}{obs.author}{obs.title}"
            f"{obs.description}{obs.resource}{obs.account}{obs.region}{obs.redacted}"
            f"{obs.secret_type}{obs.secret_value or ''}"
        )
        if obs.tool_ids:
            probe += "".join(map(str, obs.tool_ids)) + "".join(map(str, obs.tool_ids.values()))
        if obs.references:
            probe += "".join(map(str, (r.value for r in obs.references)))
        if "\x00" in probe or (not probe.isascii() and SURROGATE.search(probe)):
            _make_storable(obs)
        repo = normal_repo(obs.repo)
        if not repo and obs.category != "posture":
            repo = self.source_repo
        # A scanner run in CI reports paths in its checkout: the path in the repository is
        # the one its findings (and ownership rules) go by, whatever the format.
        path = path_in_checkout(obs.path) if obs.path else ""
        if not path.isascii():
            # One file, whichever form of its name the tool wrote: "é" precomposed (git on
            # Linux, most tools) or decomposed (a scan of a macOS checkout, HFS+).
            path = unicodedata.normalize("NFC", path)
        facts: dict = {}
        preview = ""
        secret_type = obs.secret_type or SecretType.GENERIC_SECRET
        refs = (
            [(r.kind, r.value, _display(r.kind, r.value)) for r in obs.references if r.value]
            if obs.references
            else []
        )
        floor = None
        if obs.category == "posture":
            fp = ""
            key = location_key("posture", obs.rule, obs.resource, obs.account, obs.region)
            severity = obs.severity or Severity.MEDIUM
        else:
            value = obs.secret_value
            if (
                value
                and (len(value) < MIN_VALUE_LEN or value[0] in "$ -\t\n")
                and _not_a_value(value)
            ):
                value = None  # the place identifies the finding
            if value:
                fp = fingerprint(value)
                preview = redact(value)
                analysis = analyse_or_none(value, now=self.now)
                if "\x00" in value:  # what is shown of it, and learnt from it, is stored
                    preview = storable(preview)
                    if analysis:
                        _storable_analysis(analysis)
                if analysis:
                    facts = analysis.facts
                    floor = analysis.severity
                    for ref in analysis.references:
                        # gitleaks names an AWS key id already: the same row once is enough
                        # (reconcile groups a secret's references by kind and hash).
                        if ref not in refs:
                            refs.append(ref)
                    if analysis.secret_type and (
                        secret_type in _GENERIC or analysis.secret_type == SecretType.AZURE_SAS
                    ):
                        secret_type = analysis.secret_type
            elif obs.secret_sha1:
                fp = fingerprint_from_sha1(obs.secret_sha1)
            else:
                fp = fingerprint_of_place(
                    self.source_id, obs.rule, obs.repo, path, obs.line, obs.commit
                )
            if not preview and obs.redacted and len(obs.redacted) <= 80:
                preview = tighten_redacted(obs.redacted)
            alert = (obs.tool_ids or {}).get("number")
            if alert and self.format_key == "github-secret-scanning":
                # One GitHub alert is one finding, whether it came from the REST list (with the
                # value) or a webhook delivery (without it).
                key = location_key("github-alert", repo, alert)
            elif path or obs.line or obs.commit or not obs.url:
                key = secret_location_key(fp, repo, path, obs.line, obs.commit)
            else:
                key = secret_location_key(fp, repo, place_of_link(obs.url), None, "")
            if floor and secret_type == SecretType.AZURE_SAS:
                # What a SAS grants (scope, rights, expiry) is its severity, whatever the rule.
                severity = floor
            else:
                severity = obs.severity or DEFAULT_SEVERITY.get(secret_type, Severity.MEDIUM)
                if floor:
                    severity = raise_severity(severity, floor)
            if obs.validity == "valid":
                severity = BUMP.get(severity, severity)
            if refs:
                append = self.references.append
                for kind, value, display in refs:
                    append(
                        (self.run_id, fp, kind, _clip(display, 300), reference_hash(kind, value))
                    )
        if severity not in SEVERITY_RANK:
            severity = Severity.MEDIUM
        if key in self.seen_keys:
            if obs.passed or key not in self.passed_keys:
                # The first row of a place stays (a FAIL is never undone by a PASS), but not
                # as unverified when a repeat was verified.
                if obs.validity == "valid":
                    self.verified_repeats.add(key)
                return
            # The same check on the same resource passed earlier in this report and fails now
            # (Prowler reports each of a user's two access keys on the user's ARN): it fails.
            self.passed_keys.discard(key)
            self.counts.passed -= 1
            kept = [row for row in self.findings if row[1] != key]
            if len(kept) == len(self.findings):
                self.superseded_passes.add(key)  # written already
            self.findings = kept
        self.seen_keys.add(key)
        if obs.passed:
            self.counts.passed += 1
            if obs.category == "posture":
                self.passed_keys.add(key)
        else:
            self.counts.findings += 1
        resolution = obs.tool_resolution if obs.tool_resolution in _RESOLUTIONS else ""
        line = obs.line
        self.findings.append(
            (
                self.run_id,
                key,
                fp,
                "posture" if obs.category == "posture" else "secret",
                (obs.rule or "unknown")[:200],
                secret_type[:40],
                severity,
                obs.validity if obs.validity in _VALIDITY else "unknown",
                preview[:80],
                _encode(facts) if facts else "{}",
                repo[:300],
                path[:1000],
                line if line.__class__ is int and -(2**31) < line < 2**31 else None,
                (obs.commit or "")[:64],
                _url(obs.url),
                (obs.author or "")[:300],
                obs.committed_at,
                (obs.title or "")[:300],
                obs.description or "",
                (obs.resource or "")[:500],
                (obs.account or "")[:100],
                (obs.region or "")[:50],
                _tool_ids_json(obs.tool_ids) if obs.tool_ids else "{}",
                resolution,
                bool(obs.passed),
            )
        )


class CopyText:
    """Rows as PostgreSQL COPY text, formatted the way ``Copy.write_row`` does (psycopg's C
    formatter, without a connection: the child process must not use the parent's)."""

    def __init__(self):
        self._formatter = TextFormatter(Transformer())

    def rows(self, rows: list[tuple]) -> bytes:
        """Staged finding rows (FINDING_COLUMNS) as COPY text."""
        out = bytearray()
        write_row = self._formatter.write_row
        for row in rows:
            out += write_row(row)
        out += self._formatter.end()
        return bytes(out)
