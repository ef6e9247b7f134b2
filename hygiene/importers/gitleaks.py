"""Gitleaks reports: JSON (v8 keys and v7 keys, with or without ``--redact``) and CSV.

v8 JSON  ``[{"RuleID", "Description", "Secret", "Match", "File", "StartLine", "Commit", "Link",
           "Author", "Email", "Date", "Message", "Fingerprint", ...}]``
v7 JSON  ``[{"rule", "offender", "line", "file", "lineNumber", "commit", "repo", "repoURL",
           "leakURL", "author", "email", "date", "commitMessage", ...}]``
CSV      v8's ``--report-format csv`` (RuleID,Commit,File,SymlinkFile,Secret,Match,StartLine,...);
         v4-v7's (``--report=x.csv`` / ``--format=csv``: repo,line,commit,offender,[leakURL,]rule,
         [info,]tags,[severity,]commitMsg,author,email,file,date: no line number).
v1.x-v3 JSON ``[{"line", "commit", "offender", "reason", "commitMsg", "author", "file", "branch",
         "repo", "date"}]`` (between v1's ``string`` and v4's ``rule``).
v1-v7 ``--verbose`` stdout: findings as indented objects one after another (no array), with
         log lines or a CI wrapper's banner around them (skipped); v1's keys are ``reason``,
         ``string``, ``time``, ``repoURL``; the first v8 releases printed v8 findings so too
         (tab-indented). Later v8's ``--verbose`` console text and JUnit XML
         (``--report-format junit``) are refused, naming ``--report-format json``.

betterleaks, a gitleaks fork, writes the same findings; some of its releases also wrote them as
JSON lines (``--report-format jsonl``, one v8 finding per line), or moved the place into
``Metadata`` (``{"path", "commit_sha", "author_name", ...}``; CSV columns ``meta:path``...).
betterleaks 2 writes a report of its own (``"schema_version": "1"``, findings with ``rule_id``,
``match``, ``location``, ``attributes``), as one document or as JSON lines.

Before v8, ``repo`` is the scanned directory's name: "." and "workspace" (gitleaks-action v1
scanned a container action's checkout, /github/workspace) name no repository, and a ``file``
under /github/workspace/ is made relative to it; ``repoURL`` names the repository when given.

``Secret``/``offender`` go to ``secret_value`` only. ``Match``, ``Line``/``line`` and commit
messages are never read. ``--redact`` reports (``REDACTED``, early v8's ``REDACT``, or v8.19+'s
partial ``abcd...``) give no value: the tool's form goes to ``redacted`` when it shows at most
4 leading characters.

The first part of this module also holds small helpers the other scanner importers
(trufflehog, detect_secrets, ggshield) share; they are candidates for base.py.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import operator
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import repeat
from typing import IO, Any, BinaryIO, NamedTuple
from urllib.parse import quote

from hygiene.taxonomy import SecretType, guess_secret_type, guess_secret_type_from_value

from .base import (
    ImportFormatError,
    Item,
    Observation,
    Reference,
    first_char,
    iter_json_array,
    load_json,
    parse_datetime,
    path_in_checkout,
    type_name,
)

# --- shared helpers (used by the other scanner importers too) ----------------------------

MAX_DEPTH = 64
_UNREADABLE = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    UnicodeError,
    RecursionError,
    OverflowError,
    csv.Error,
)


def guarded(inner: Callable[[IO[bytes], list[str]], Iterator[Item]]):
    """Wrap a parser so that nothing but ImportFormatError escapes it.

    ``inner(stream, where)`` keeps ``where[0]`` up to date with the location it is reading;
    any unexpected exception becomes an ImportFormatError at that location, and so does an
    ImportFormatError without a location (base's "the report is empty"). The original
    exception is dropped (its message could quote the input)."""

    @functools.wraps(inner)
    def parse(stream: BinaryIO) -> Iterator[Item]:
        where = ["byte 0"]
        try:
            yield from inner(stream, where)
        except ImportFormatError as exc:
            if exc.location:
                raise
            raise ImportFormatError(exc.message, where[0]) from None
        except _UNREADABLE as exc:
            raise ImportFormatError(f"unreadable value ({type(exc).__name__})", where[0]) from None

    return parse


def load_document(stream: IO[bytes]) -> Any:
    """base.load_json with this module's depth limit."""
    return load_json(stream, max_depth=MAX_DEPTH)


def sniff(head: bytes) -> str:
    """A hint naming the format a misrouted report probably is ("" when unsure)."""
    h = head[:65536]
    if b'"runs"' in h and (b"sarif" in h.lower() or b'"version"' in h):
        return "this looks like SARIF; use format sarif"
    if b'"SourceMetadata"' in h or b'"DetectorName"' in h or b'"stringsFound"' in h:
        return "this looks like TruffleHog output; use format trufflehog"
    audit_report = b'"results"' in h and b'"category"' in h and b'"secrets"' in h
    if b'"plugins_used"' in h or (b'"results"' in h and b'"hashed_secret"' in h) or audit_report:
        return "this looks like detect-secrets output; use format detect-secrets"
    if b'"entities_with_incidents"' in h or b'"secrets_engine_version"' in h:
        return "this looks like ggshield output; use format ggshield"
    if b'"RuleID"' in h or b'"offender"' in h:
        return "this looks like a gitleaks report; use format gitleaks"
    if b'"vulnerabilities"' in h and b'"scan"' in h:
        return "this looks like a GitLab security report; use format gitlab-secret-detection"
    if (
        (b'"finding_info"' in h and b'"status_code"' in h)
        or (b'"CheckID"' in h and b'"Status"' in h)
        or (b'"ProductArn"' in h and b'"SchemaVersion"' in h)
    ):
        return "this looks like a Prowler report; use format prowler"
    if b'"rule_name"' in h and (b'"matches"' in h or b'"finding_id"' in h):
        return "this looks like Nosey Parker output; use format noseyparker"
    if b'"secret_type"' in h and b'"html_url"' in h and b'"number"' in h:
        return "this looks like GitHub secret scanning alerts; use format github-secret-scanning"
    # (lookup-events output holds each record as a JSON string: its quotes are escaped.)
    named = b'"eventSource"' in h or b'eventSource\\"' in h
    if b'"CloudTrailEvent"' in h or (named and b"eventName" in h):
        return "this looks like AWS CloudTrail records; use format aws-cloudtrail"
    if b'"hmac-sha256:' in h or (b'"request"' in h and b'"auth"' in h and b'"type"' in h):
        return "this looks like a Vault audit log; use format vault-audit"
    if b'"version"' in h and (b'"findings"' in h or b'"events"' in h):
        return "this looks like a Leakline document; use format leakline"
    return ""


def peek(stream: IO[bytes], size: int = 65536) -> bytes:
    if isinstance(stream, io.BufferedReader):
        return stream.peek(size)[:size]
    return b""


def text(obj: dict, key: str, where: str) -> str:
    """A string field ("" when absent or null). Numbers are accepted as text; booleans,
    objects and arrays are not. Lone surrogates (json.loads lets them through) are refused."""
    value = obj.get(key)
    if value.__class__ is str:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ImportFormatError(f"'{key}' is not valid Unicode", f"{where}.{key}") from None
        return value
    if value is None:
        return ""
    if isinstance(value, bool | dict | list):
        raise ImportFormatError(
            f"'{key}' should be a string, found {type_name(value)}", f"{where}.{key}"
        )
    return str(value)


MAX_NUMBER = 2**31 - 1  # line numbers and the like: what a database integer holds


def number(obj: dict, key: str, where: str) -> int | None:
    """A whole number 0..2**31-1 (also from a numeric string); None when absent, null or ""."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if value.__class__ is not int:
        if isinstance(value, bool | dict | list):
            raise ImportFormatError(
                f"'{key}' should be a number, found {type_name(value)}", f"{where}.{key}"
            )
        try:
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                value = int(value)
            else:
                text_value = str(value).strip()
                if len(text_value) > 18:
                    raise ValueError
                value = int(text_value)
        except (ValueError, OverflowError):
            raise ImportFormatError(f"'{key}' should be a whole number", f"{where}.{key}") from None
    if not 0 <= value <= MAX_NUMBER:
        raise ImportFormatError(f"'{key}' is out of range", f"{where}.{key}")
    return value


def flag(obj: dict, key: str, where: str) -> bool | None:
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ImportFormatError(f"'{key}' should be true or false", f"{where}.{key}")


def mapping(obj: dict, key: str, where: str) -> dict:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImportFormatError(
            f"'{key}' should be an object, found {type_name(value)}", f"{where}.{key}"
        )
    return value


def listing(obj: dict, key: str, where: str) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ImportFormatError(
            f"'{key}' should be an array, found {type_name(value)}", f"{where}.{key}"
        )
    return value


_EXTRA_DATE_FORMATS = (
    "%a %b %d %H:%M:%S %Y %z",  # git log default: "Mon Jul 5 12:54:43 2021 +0530"
    "%m-%d-%Y",  # gitleaks' own test data: "10-19-2003"
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%d",
)


_UNPARSEABLE = datetime.min.replace(tzinfo=UTC)


@functools.lru_cache(maxsize=4096)
def _to_datetime_text(value: str) -> datetime | None:
    """None for "no date" spellings, _UNPARSEABLE when no known format fits."""
    value = value.strip()
    try:
        return parse_datetime(value)
    except ImportFormatError:
        pass
    except (ValueError, OverflowError, OSError):
        return _UNPARSEABLE
    cleaned = " ".join(value.split())
    for fmt in _EXTRA_DATE_FORMATS:
        for candidate in (cleaned, " ".join(cleaned.split()[:6])):
            try:
                parsed = datetime.strptime(candidate, fmt)
            except ValueError:
                continue
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
    return _UNPARSEABLE


def to_datetime(obj: dict, key: str, where: str) -> datetime | None:
    """A date/time field as aware UTC; None when absent. Unparseable → ImportFormatError."""
    value = obj.get(key)
    if value.__class__ is str:
        parsed = _to_datetime_text(value) if value else None
    elif value is None:
        return None
    elif isinstance(value, bool | dict | list):
        raise ImportFormatError(
            f"'{key}' should be a date/time, found {type_name(value)}", f"{where}.{key}"
        )
    elif isinstance(value, int | float):
        try:
            return parse_datetime(value)
        except (ValueError, OverflowError, OSError):
            raise ImportFormatError(f"'{key}' is out of range", f"{where}.{key}") from None
    else:
        parsed = _to_datetime_text(str(value))
    if parsed is _UNPARSEABLE:
        raise ImportFormatError(f"'{key}' is not a date/time", f"{where}.{key}")
    if parsed is not None and parsed.year <= 1:
        return None  # Go's zero time ("0001-01-01T00:00:00Z"): the tool had no date
    return parsed


def person(name: str, email: str) -> str:
    """ "Name <email>", or whichever part there is. An email that already reads
    "Name <email>" (TruffleHog) is kept as it is."""
    name, email = name.strip(), email.strip()
    if "<" in email:
        return email
    if name and email:
        return f"{name} <{email}>"
    return name or email


_MASKS = ("*", "REDACTED", "...", "\u2026", "\u2022", "xxxx", "XXXX")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def safe_redacted(redacted: str, secret: str | None = None) -> str:
    """The tool's redacted form, or "" if it would show the secret: it must contain a mask
    ("*", "REDACTED", "...") within its first 5 characters (after a URL scheme, which is no
    part of a secret) and must not contain the secret itself."""
    if not redacted:
        return ""
    if secret and (secret in redacted or redacted in secret):
        return ""
    body = _SCHEME.sub("", redacted, count=1)
    positions = [i for i in (body.find(m) for m in _MASKS) if i >= 0]
    if not positions or min(positions) > 4:
        return ""
    return redacted


_AWS_KEY_ID = re.compile(r"(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}")


def aws_key_id_reference(value: str | None) -> Reference | None:
    """AWS documents access key ids as identifiers, not secrets; rotation events name them."""
    if value and _AWS_KEY_ID.fullmatch(value.strip()):
        return Reference("aws-access-key-id", value.strip())
    return None


_SCRUBBED_FIELDS = (
    "rule",
    "title",
    "description",
    "repo",
    "path",
    "commit",
    "url",
    "author",
    "resource",
    "account",
    "region",
)


_scrubbed_values = operator.attrgetter(*_SCRUBBED_FIELDS)


def scrub(obs: Observation, *more: str) -> Observation:
    """Last line of defence: the raw value (and ``more`` secret material the tool gave, such as
    the secret half of TruffleHog's RawV2) must not travel in any other field."""
    for secret in (obs.secret_value, *more):
        # A word ("Password", a placeholder) is also the rule's name, the file's: no secret
        # material to take out of them.
        if secret and len(secret) >= 8 and not secret.replace(" ", "").isalpha():
            _scrub(obs, secret)
    return obs


def _scrub(obs: Observation, secret: str) -> None:
    joined = "\x00".join(v or "" for v in _scrubbed_values(obs))
    # As written, and URL-encoded (a file named after it, in a link).
    forms = [secret]
    if "%" in joined:
        encoded = quote(secret, safe="")
        if encoded != secret:
            forms.append(encoded)
    for form in forms:
        if form in joined:
            for name in _SCRUBBED_FIELDS:
                value = getattr(obs, name)
                if value and form in value:
                    setattr(obs, name, value.replace(form, "[REDACTED]"))
    if obs.redacted and secret in obs.redacted:
        obs.redacted = ""
    if obs.tool_ids:
        for key, value in list(obs.tool_ids.items()):
            if secret in key or (isinstance(value, str) and secret in value):
                del obs.tool_ids[key]
                if isinstance(value, str):
                    value = value.replace(secret, "[REDACTED]")
                obs.tool_ids[key.replace(secret, "[REDACTED]")] = value
    if obs.references:
        obs.references = [
            r for r in obs.references if r.kind == "aws-access-key-id" or secret not in r.value
        ]


def secret_type_for(table: dict[str, SecretType], rule: str, value: str | None, *names: str) -> str:
    """Tool table (by lower-cased rule) → well-known value prefixes → rule/description words.
    A rule the table calls generic (an entropy check, "generic-api-key") yields to the value's
    prefix: an sk_live_ key an entropy plugin found is a Stripe key."""
    exact = table.get(rule.lower())
    if exact is not None and exact not in _GENERIC_RULE_TYPES:
        return _TYPE_VALUES[exact]
    by_value = guess_secret_type_from_value(value)
    if by_value is not None:
        return by_value.value
    if exact is not None:
        return _TYPE_VALUES[exact]
    return _guess_by_names(rule, *names)


_GENERIC_RULE_TYPES = frozenset({SecretType.GENERIC_SECRET, SecretType.API_KEY})


_TYPE_VALUES = {member: str(member.value) for member in SecretType}


@functools.lru_cache(maxsize=1024)
def _guess_by_names(*names: str) -> str:
    return guess_secret_type(*names).value


# --- gitleaks -----------------------------------------------------------------------------

# gitleaks v8 rule ids and v7 rule names whose words mislead the generic guess.
SECRET_TYPES: dict[str, SecretType] = {
    "aws-access-token": SecretType.AWS_ACCESS_KEY,
    "aws access key": SecretType.AWS_ACCESS_KEY,
    "aws-secret-key": SecretType.AWS_SECRET_KEY,
    "aws secret key": SecretType.AWS_SECRET_KEY,
    "aws-mws-key": SecretType.API_KEY,
    "aws manager id": SecretType.AWS_ACCESS_KEY,
    "private-key": SecretType.PRIVATE_KEY,
    "asymmetric private key": SecretType.PRIVATE_KEY,
    "pkcs8": SecretType.PRIVATE_KEY,
    "rsa-pk": SecretType.PRIVATE_KEY,
    "github-pat": SecretType.GITHUB_TOKEN,
    "github-fine-grained-pat": SecretType.GITHUB_TOKEN,
    "github-oauth": SecretType.GITHUB_TOKEN,
    "github-app-token": SecretType.GITHUB_TOKEN,
    "github-refresh-token": SecretType.GITHUB_TOKEN,
    "gitlab-pat": SecretType.GITLAB_TOKEN,
    "gitlab-ptt": SecretType.GITLAB_TOKEN,
    "gitlab-rrt": SecretType.GITLAB_TOKEN,
    "slack-webhook-url": SecretType.CHAT_WEBHOOK,
    "slack webhook": SecretType.CHAT_WEBHOOK,
    "discord-webhook": SecretType.CHAT_WEBHOOK,
    "microsoft-teams-webhook": SecretType.CHAT_WEBHOOK,
    "gcp-api-key": SecretType.GCP_KEY,
    "gcp-service-account": SecretType.GCP_KEY,
    "google (gcp) service-account": SecretType.GCP_KEY,
    "azure-ad-client-secret": SecretType.AZURE_CREDENTIAL,
    "jwt": SecretType.JWT,
    "jwt-base64": SecretType.JWT,
    "generic-api-key": SecretType.API_KEY,
    "generic credential": SecretType.GENERIC_PASSWORD,
    "stripe-access-token": SecretType.STRIPE_KEY,
    # Rule ids whose words the generic guess misreads: gitleaks v8's first id for Slack webhooks
    # (Trivy's still), a Mailgun webhook's HMAC key ("signing"), Yandex Cloud's S3-compatible
    # key ("aws"), 1Password's keys ("password").
    "slack-web-hook": SecretType.CHAT_WEBHOOK,
    "mailgun-signing-key": SecretType.API_KEY,
    "yandex-aws-access-token": SecretType.API_KEY,
    "1password-secret-key": SecretType.GENERIC_SECRET,
    "1password-service-account-token": SecretType.API_KEY,
}

# gitleaks v8 links a finding as <remote>/blob/<commit>/<path> (GitHub, GitLab; GitLab's own
# links have /-/blob/), <remote>/commit/<commit>?path=/<path> (Azure DevOps),
# <remote>/src/commit/<commit>/<path> (Gitea, Forgejo, Codeberg), <remote>/src/<commit>/<path>
# (Bitbucket). The remote is read up to the marker just before the finding's commit: the first
# "/src/" or "/tree/" of the link may be a repository's or a GitLab subgroup's name.
_LINK_MARKERS = ("/-/blob/", "/blob/", "/src/commit/", "/src/")
_AZURE_MARKER = ("/commit/",)  # the commit is followed by "?path=/<path>"
_LINK_REMOTE = re.compile(r"https?://[^/?#]+/[^?#]+")
_LINK_REPO = re.compile(r"^(https?://[^/?#]+/.+?)(?:/-)?/(?:blob|tree|commit|src)/")
CSV_REQUIRED = ("RuleID", "File", "Secret", "StartLine")


@guarded
def parse(stream: IO[bytes], where: list[str]) -> Iterator[Item]:
    try:
        yield from _parse(stream, where)
    finally:
        _forget_link()


def _parse(stream: IO[bytes], where: list[str]) -> Iterator[Item]:
    stream, ch = first_char(stream)
    head = peek(stream)
    if ch == "[":
        for loc, obj in iter_json_array(stream, max_depth=MAX_DEPTH):
            where[0] = loc
            try:
                item = finding(obj, loc)
            except ImportFormatError as exc:
                # Another tool's report chosen as gitleaks: say which, at its first element.
                hint = sniff(head) if loc == "$[0]" else ""
                if hint and "gitleaks" not in hint and "looks like" not in exc.message:
                    raise ImportFormatError(hint, loc) from None
                raise
            yield item
    elif ch == "{" and b'"schema_version"' in head:
        yield from _parse_schema_v1(stream, head, where)
    elif ch == "{":
        hint = sniff(head)
        if hint and "gitleaks" not in hint:
            raise ImportFormatError(hint, "$")
        yield from _parse_json_lines(stream, head, where)
    elif head.strip() == b"null":  # an empty Go slice marshalled as null
        return
    elif ch == "<":
        raise ImportFormatError(_XML, "byte 0")
    elif _V8_CONSOLE.search(head):
        raise ImportFormatError(_CONSOLE, "line 1")
    elif _INDENTED_FINDING_KEY.search(head) and _OPENING_LINE.search(head):
        # A saved v1-v7 --verbose stdout whose findings come after log lines or a banner.
        yield from _parse_concatenated(stream, where)
    else:
        yield from _parse_csv(stream, where)


# gitleaks v8 --verbose prints each finding as "Finding:", "Secret:", "RuleID:"... lines.
_V8_CONSOLE = re.compile(rb"^(?:\x1b\[[0-9;]*m)?RuleID:\s+\S", re.M)
_CONSOLE = (
    "this is gitleaks' --verbose console output, not a report: run gitleaks again with "
    "--report-format json --report-path <file>"
)
_XML = (
    "this is XML (gitleaks --report-format junit, or another tool's report): Leakline reads "
    "gitleaks' json, csv and sarif formats; run gitleaks again with --report-format json"
)


_NOT_A_LIST = (
    "expected a JSON array of gitleaks findings (or one finding per line), found an object"
)
# One finding per line is a few KB (gitleaks' own Line field holds a source line, minified
# ones included): a longer line is not a finding, and is refused before it is parsed.
MAX_LINE = 16 * 1024 * 1024
_FINDING_KEYS = (b'"RuleID"', b'"rule"', b'"offender"')
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _json_lines(
    stream: IO[bytes], where: list[str], first_malformed: str = "malformed JSON"
) -> Iterator[tuple[str, Any]]:
    """(location, value) of each non-blank line read as JSON; a line that isn't is refused
    where it is (the first one with ``first_malformed``), as is a lone surrogate escape, which
    json.loads keeps as is and no text column could hold."""
    lineno = 0
    first = True
    while raw := stream.readline(MAX_LINE + 1):
        lineno += 1
        loc = f"line {lineno}"
        where[0] = loc
        if len(raw) > MAX_LINE:
            raise ImportFormatError(f"a line longer than {MAX_LINE // 2**20} MB", loc)
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8-sig" if first else "utf-8"))
        except UnicodeDecodeError as exc:
            raise ImportFormatError("not UTF-8 text", f"{loc} byte {exc.start}") from None
        except json.JSONDecodeError:
            raise ImportFormatError(first_malformed if first else "malformed JSON", loc) from None
        except ValueError:  # numbers of 4,300+ digits
            raise ImportFormatError("a number in the JSON is too long", loc) from None
        if _SURROGATE_ESCAPE.search(raw) and not _encodes(obj):
            raise ImportFormatError("an invalid \\u escape (half of a surrogate pair)", loc)
        first = False
        yield loc, obj


def _parse_json_lines(stream: IO[bytes], head: bytes, where: list[str]) -> Iterator[Item]:
    """One v8 finding per line (betterleaks ``--report-format jsonl``). A first line that is
    not a whole finding object means the report is some other JSON object: refused from its
    first 64 KB when they name no finding key, before a large document is read whole."""
    first_line = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    if first_line.strip() == b"{" and _INDENTED_FINDING_KEY.search(head):
        yield from _parse_concatenated(stream, where)
        return
    if first_line and not any(key in first_line for key in _FINDING_KEYS):
        raise ImportFormatError(_NOT_A_LIST, "$")
    first = True
    for loc, obj in _json_lines(stream, where, first_malformed=_NOT_A_LIST):
        if first and not (isinstance(obj, dict) and ("RuleID" in obj or "rule" in obj)):
            raise ImportFormatError(_NOT_A_LIST, "$")
        first = False
        yield finding(obj, loc)


# v7's own key, as its indented output writes it; v1-v3 printed "string" (the match) and
# "reason" (the rule) instead. The first v8 releases printed each finding with
# json.MarshalIndent(f, "", "\t"): a tab-indented "RuleID" (later ones print "Finding:" lines).
_INDENTED_FINDING_KEY = re.compile(rb'^(?:[ \t]{1,8}"(?:offender|string)"|\t"RuleID")[ \t]*:', re.M)
_OPENING_LINE = re.compile(rb"^[ \t]*\{[ \t]*\r?$", re.M)
_ESCAPED = re.compile(rb"\\.", re.S)
# A line between findings that starts like a piece of JSON, or is a JSON value, is no log line
# (log lines may start with a date: "2018/05/09 13:53:39 cloning ...", or a tag in brackets:
# pre-commit's "[INFO] Installing environment for ..." before the hook's output).
_JSONISH = re.compile(rb'[\]{}",:]|\[(?![A-Za-z])')


def _is_json_line(stripped: bytes) -> bool:
    if _JSONISH.match(stripped):
        return True
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


_NO_FINDING = (
    "no gitleaks finding in this text: expected a JSON report (--report-format json), or a "
    "saved --verbose stdout with findings printed as indented JSON objects"
)


# What every finding the first v8 releases printed has (their whole Finding struct).
_V8_PRINTED_KEYS = ("RuleID", "Secret", "Match", "File", "StartLine")


def _is_old_finding(obj: Any) -> bool:
    return isinstance(obj, dict) and (
        ("rule" in obj and "offender" in obj)
        or ("reason" in obj and ("string" in obj or "offender" in obj))
        or all(key in obj for key in _V8_PRINTED_KEYS)
    )


def _parse_concatenated(stream: IO[bytes], where: list[str]) -> Iterator[Item]:
    """gitleaks v1-v7 ``--verbose`` print each finding to stdout as an indented JSON object,
    one after another, with no array around them, and their log lines (``INFO[0000] scan
    time: ...``, ``time="..." level=warning msg="leaks found: 2"``, a CI wrapper's banner)
    between them: a saved stdout is such a run. Objects are read line by line (a finding is
    a few KB); a line outside them is skipped as a log line unless it starts like JSON. Taken
    only when the first 64 KB show an indented ``offender`` (or v1's ``string``) key on its own
    line after a lone ``{``, and the first object is a v1-v7 finding: one indented object of
    any other kind is no report."""
    decoder = json.JSONDecoder()
    index = depth = size = start = lineno = 0
    chunk: list[bytes] = []
    while raw := stream.readline(MAX_LINE + 1):
        lineno += 1
        loc = f"line {lineno}"
        where[0] = loc
        if len(raw) > MAX_LINE:
            raise ImportFormatError(f"a line longer than {MAX_LINE // 2**20} MB", loc)
        if depth == 0:
            stripped = raw.strip()
            if lineno == 1:
                stripped = stripped.removeprefix(b"\xef\xbb\xbf").strip()
            if not stripped.startswith(b"{"):
                if _is_json_line(stripped):
                    raise ImportFormatError(
                        "expected a gitleaks finding object or a log line, found other JSON",
                        f"{loc} (object {index + 1})",
                    )
                continue  # a log line or a banner
            start, size, chunk = lineno, 0, []
        chunk.append(raw)
        size += len(raw)
        if size > MAX_LINE:
            raise ImportFormatError(f"a finding longer than {MAX_LINE // 2**20} MB", loc)
        # Brackets outside strings: escapes dropped, then every other piece between quotes
        # (linear: a string regex restarted at each escaped quote of an unterminated string).
        body = b"".join(_ESCAPED.sub(b"", raw).split(b'"')[0::2])
        depth += body.count(b"{") + body.count(b"[") - body.count(b"}") - body.count(b"]")
        if depth > MAX_DEPTH:
            raise ImportFormatError(f"JSON nested deeper than {MAX_DEPTH} levels", loc)
        if depth > 0:
            continue
        after = f" (after object {index})" if index else ""
        joined = b"".join(chunk)
        try:
            text_ = joined.decode("utf-8-sig" if start == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ImportFormatError("not UTF-8 text", f"line {start}{after}") from None
        pos, end = 0, len(text_)
        while pos < end:
            try:
                obj, pos = decoder.raw_decode(text_, pos)
            except ValueError:  # JSONDecodeError, and numbers of 4,300+ digits
                raise ImportFormatError(
                    "malformed or truncated JSON", f"line {start}{after}"
                ) from None
            while pos < end and text_[pos].isspace():
                pos += 1
            index += 1
            obj_loc = f"object {index}"
            where[0] = obj_loc
            if index == 1 and not _is_old_finding(obj):
                raise ImportFormatError(_NOT_A_LIST, "$")
            if not isinstance(obj, dict):
                raise ImportFormatError(
                    f"expected a gitleaks finding, found {type_name(obj)}", obj_loc
                )
            if _SURROGATE_ESCAPE.search(joined) and not _encodes(obj):
                raise ImportFormatError("an invalid \\u escape (half of a surrogate pair)", obj_loc)
            yield finding(obj, obj_loc)
        depth = 0
    if depth:
        after = f" (after object {index})" if index else ""
        raise ImportFormatError("malformed or truncated JSON", f"line {start}{after}")
    if index == 0:
        raise ImportFormatError(_NO_FINDING, "$")


# betterleaks 2 (schema_version "1"): {"schema_version", "findings": [...], "scan": {...}} as one
# document, or with --report-format jsonl one {"schema_version", "finding": {...}} per line and
# a last {"schema_version", "scan": {...}} line.
#   finding: rule_id, description, confidence, severity?, status? (validation), match {full,
#   value, fingerprint}, location {path, start_line, ...}, attributes {"git.sha",
#   "git.author_name", "git.author_email", "git.date", "git.message", "git.remote_url", ...},
#   component_sets [{components: [{rule_id, match, location}]}] (the parts found beside it:
#   an Azure account name beside its key, an AWS key id beside its secret).
# match.full (the matched text around the value) and git.message are never read, nor
# match.fingerprint: a plain hash of the value, which a guess could be checked against.
_SCHEMA_VERSIONS = {"1"}
_STATUS_VALIDITY = {"valid": "valid", "invalid": "invalid", "revoked": "revoked"}
_SEVERITIES = {"critical", "high", "medium", "low", "info"}


def _parse_schema_v1(stream: IO[bytes], head: bytes, where: list[str]) -> Iterator[Item]:
    """betterleaks 2's report: JSON lines when the first line is a whole finding (or scan)
    record, else one document whose findings are streamed."""
    first_line = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    if b'"findings"' not in first_line and (b'"finding"' in first_line or b'"scan"' in first_line):
        yield from _schema_v1_lines(stream, where)
        return
    for loc, obj in iter_json_array(stream, prefix="findings.item", max_depth=MAX_DEPTH):
        where[0] = loc
        yield _schema_v1_finding(obj, loc)


def _schema_v1_lines(stream: IO[bytes], where: list[str]) -> Iterator[Item]:
    for loc, obj in _json_lines(stream, where):
        if not isinstance(obj, dict):
            raise ImportFormatError(f"expected an object, found {type_name(obj)}", loc)
        version = obj.get("schema_version")
        if version not in _SCHEMA_VERSIONS:
            raise ImportFormatError(
                f'unknown betterleaks schema_version {str(version)[:20]!r} (expected "1")',
                f"{loc}.schema_version",
            )
        if "finding" in obj:
            yield _schema_v1_finding(obj["finding"], f"{loc}.finding")
        elif "scan" not in obj:
            raise ImportFormatError("expected a 'finding' or a 'scan' on each line", loc)


def _schema_v1_finding(obj: Any, where: str) -> Observation:
    if not isinstance(obj, dict):
        raise ImportFormatError(f"expected a finding object, found {type_name(obj)}", where)
    rule = text(obj, "rule_id", where)
    if not rule:
        raise ImportFormatError("missing required field 'rule_id'", where)
    description = text(obj, "description", where)
    match = mapping(obj, "match", where)
    value, redacted = _value_and_redacted(text(match, "value", f"{where}.match"))
    place = mapping(obj, "location", where)
    ploc = f"{where}.location"
    attrs = mapping(obj, "attributes", where)
    aloc = f"{where}.attributes"
    severity = text(obj, "severity", where).lower()
    status = text(obj, "status", where).lower()
    confidence = text(obj, "confidence", where)
    obs = Observation(
        rule=rule,
        secret_type=secret_type_for(SECRET_TYPES, rule, value, description),
        secret_value=value,
        redacted=redacted,
        repo=_without_credentials(text(attrs, "git.remote_url", aloc)),
        path=text(place, "path", ploc),
        line=number(place, "start_line", ploc),
        commit=text(attrs, "git.sha", aloc),
        author=person(text(attrs, "git.author_name", aloc), text(attrs, "git.author_email", aloc)),
        committed_at=to_datetime(attrs, "git.date", aloc),
        validity=_STATUS_VALIDITY.get(status, "unknown"),
        severity=severity if severity in _SEVERITIES else None,
        title=description,
        tool_ids={"confidence": confidence} if confidence else {},
    )
    refs = [aws_key_id_reference(value)]
    for i, group in enumerate(listing(obj, "component_sets", where)):
        gloc = f"{where}.component_sets[{i}]"
        if not isinstance(group, dict):
            raise ImportFormatError(f"expected an object, found {type_name(group)}", gloc)
        for j, part in enumerate(listing(group, "components", gloc)):
            refs.append(_component_reference(part, f"{gloc}.components[{j}]"))
    seen = set()
    for ref in refs:
        if ref and (ref.kind, ref.value) not in seen:
            seen.add((ref.kind, ref.value))
            obs.references.append(ref)
    return scrub(obs)


def _component_reference(part: Any, where: str) -> Reference | None:
    """What a component found beside the secret names, when it is an identifier we match
    rotation events by: an AWS key id, an Azure storage account."""
    if not isinstance(part, dict):
        raise ImportFormatError(f"expected an object, found {type_name(part)}", where)
    rule = text(part, "rule_id", where).lower()
    value = text(mapping(part, "match", where), "value", f"{where}.match").strip()
    if not value:
        return None
    if "storage-account-name" in rule and len(value) <= 24:
        return Reference("storage-account", value)
    return aws_key_id_reference(value)


def _without_credentials(url: str) -> str:
    """A remote URL without the user:token@ a clone URL may carry."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


def _encodes(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


# betterleaks releases that moved the place into "Metadata" (JSON) / "meta:" columns (CSV).
_METADATA_KEYS = {
    "path": "File",
    "symlink_file": "SymlinkFile",
    "commit_sha": "Commit",
    "author_name": "Author",
    "author_email": "Email",
    "commit_date": "Date",
}


def _from_metadata(obj: dict, where: str) -> dict:
    metadata = mapping(obj, "Metadata", where)
    merged = dict(obj)
    for key, name in _METADATA_KEYS.items():
        if not merged.get(name) and key in metadata:
            merged[name] = metadata[key]
    return merged


def finding(obj: Any, where: str) -> Observation:
    if not isinstance(obj, dict):
        raise ImportFormatError(f"expected a finding object, found {type_name(obj)}", where)
    if "RuleID" in obj:
        if "Metadata" in obj and not obj.get("File"):
            return _v8(_from_metadata(obj, where), where)
        return _v8(obj, where)
    if "offender" in obj and "reason" in obj and "rule" not in obj:
        return _old_finding(obj, where, _V2_KEYS)
    if "rule" in obj or "offender" in obj:
        return _v7(obj, where)
    if "reason" in obj and "string" in obj:
        return _v1(obj, where)
    hint = (
        "this looks like TruffleHog output; use format trufflehog"
        if "SourceMetadata" in obj
        else ""
    )
    raise ImportFormatError(hint or "not a gitleaks finding (no 'RuleID' or 'rule')", where)


# What a rule matched that is no credential, so no value (the place identifies the finding):
# a bare PEM header (gitleaks v4-v7's "Asymmetric Private Key" rule, custom v8 rules) names the
# kind of key, not the key, and as a value it would make every key found one secret; a v4-v7
# file rule (a rule on file names, "PEM Files") reports the file's name.
_PEM_HEADER_ONLY = re.compile(r"\s*-----BEGIN [A-Z0-9 ]{1,60}-----\s*")
_FILE_RULE_OFFENDER = "Filename/path offender:"


# gitleaks' first v8 releases redacted the secret as "REDACT" (and the match as "REDACTED").
REDACT = "REDACT"


def _value_and_redacted(secret: str) -> tuple[str | None, str]:
    """gitleaks --redact writes "REDACTED" (v7, v8), "REDACT" (early v8) or "abcd..." (v8.19+
    --redact=N). Taken as a value, "REDACT" would make every redacted finding one secret."""
    if not secret or secret.startswith(_FILE_RULE_OFFENDER) or _PEM_HEADER_ONLY.fullmatch(secret):
        return None, ""
    if secret.strip() == REDACT:
        return None, REDACT
    if "REDACTED" in secret or secret.endswith("..."):
        return None, safe_redacted(secret)
    return secret, ""


_V8_TEXT = (
    "RuleID",
    "Description",
    "Secret",
    "Link",
    "Fingerprint",
    "File",
    "SymlinkFile",
    "Commit",
    "Author",
    "Email",
)
_PLAIN = {str}
# betterleaks (the gitleaks fork) writes the v8 finding's Fingerprint as
# "{source}!{kind}!{identity}!{rule}!{hash}#L1-1#C2-3" (some releases "!L1-1!C2-3"), where
# {hash} is the first 8 hex digits of an unkeyed XXH3 hash of the secret, and a composite
# rule appends "!{rule}!{hash}#L…#C…" for each required finding: a guess at a weak secret
# could be checked against it. The place is kept, each hash is dropped.
_VALUE_HASH_IN_FINGERPRINT = re.compile(r"(?<=!)[^!#]*(?=[#!]L\d+-\d+[#!]C\d+-\d+)")


def _tool_fingerprint(fingerprint: str) -> str:
    """gitleaks' own Fingerprint ("commit:file:rule:line") as it is; betterleaks' without the
    hash of the value it carries."""
    if "!" not in fingerprint:
        return fingerprint
    return _VALUE_HASH_IN_FINGERPRINT.sub("", fingerprint)


def _v8(obj: dict, where: str) -> Observation:
    values = tuple(map(obj.get, _V8_TEXT, repeat("")))
    if set(map(type, values)) == _PLAIN:  # fast path: all strings (or absent)
        rule, description, secret, link, fingerprint, file, symlink, commit, author, email = values
    else:
        rule, description, secret, link, fingerprint, file, symlink, commit, author, email = (
            text(obj, key, where) for key in _V8_TEXT
        )
    if not rule:
        raise ImportFormatError("missing required field 'RuleID'", where)
    if not (secret or file or symlink or link or commit or fingerprint):
        # Nothing to track: no secret (or its redacted form) and no place it was found.
        raise ImportFormatError("a finding without 'Secret' or 'File' (nothing to track)", where)
    if secret and "REDACT" not in secret and not secret.endswith("..."):
        value, redacted = secret, ""
    else:
        value, redacted = _value_and_redacted(secret)
    line = obj.get("StartLine")
    if line.__class__ is not int or not 0 <= line <= MAX_NUMBER:
        line = number(obj, "StartLine", where)
    # With --follow-symlinks, File is the link's target (filepath.EvalSymlinks: maybe outside
    # the scanned tree) and SymlinkFile the path scanned: gitleaks' own SARIF and GitLab reports
    # place the finding at SymlinkFile, and so does Leakline, whichever report it reads.
    path = symlink or file
    if author and email and "<" not in email:
        author = f"{author} <{email}>"
    else:
        author = person(author, email)
    # Positional up to committed_at (Observation's field order), and no default factory left to
    # run: keyword arguments made the Observation cost 1.07 µs instead of 0.58 (once per finding).
    obs = Observation(
        rule,
        secret_type_for(SECRET_TYPES, rule, value, description),
        "secret",
        value,
        None,
        redacted,
        _repo_from_link(link, commit) if link else "",
        path,
        line,
        commit,
        link,
        author,
        to_datetime(obj, "Date", where),
        title=description,
        references=[],
        tool_ids={"fingerprint": _tool_fingerprint(fingerprint)} if fingerprint else {},
    )
    if value and value[0] == "A":
        ref = aws_key_id_reference(value)
        if ref:
            obs.references.append(ref)
    # scrub() only where the value shows up: with a value, redacted is "" and the only reference
    # is the key id itself (kept), so these are all the fields it could change (1.2 µs a call).
    if (
        value
        and len(value) >= 8
        and value in "\x00".join((rule, description, link, path, commit, author, fingerprint))
    ):
        return scrub(obs)
    return obs


# The last link's match: (the text it matched, up to ".../blob/", and its repository).
_link_match = ("", "")


def _forget_link() -> None:
    """A link may carry credentials (https://user:token@host/...): not kept past a report."""
    global _link_match
    _link_match = ("", "")


def _repo_from_link(link: str, commit: str) -> str:
    # The links of a report share their repository: a link that starts with the text up to
    # the marker before the last one's commit ("…/acme/src/blob/") has the same. 1.1 µs → 0.2.
    global _link_match
    matched, repo = _link_match
    if matched and link.startswith(matched):
        return repo
    at = link.find("/" + commit) if commit else -1
    if at > 0:
        head = link[: at + 1]
        after = link[at + 1 + len(commit) : at + 2 + len(commit)]
        for marker in _AZURE_MARKER if after == "?" else _LINK_MARKERS:
            if head.endswith(marker) and _LINK_REMOTE.fullmatch(head, 0, len(head) - len(marker)):
                _link_match = (head, head[: -len(marker)])
                return head[: -len(marker)]
    # No commit in the link (not one gitleaks wrote): the first marker.
    m = _LINK_REPO.match(link)
    return m.group(1) if m else ""


# gitleaks before v8 had no secret group: ``offender`` is the whole regex match, which for
# rules written as ``KEY_NAME = "value"`` includes the variable name and quotes
# (``GITHUB_TOKEN="c77e…"``). Only the value identifies the credential across tools. A bare
# ``a:b`` (user:password, host:port) is not an assignment: ":" needs a space or quote after it.
_V7_ASSIGNMENT = re.compile(
    r"""^\s*[A-Za-z_][A-Za-z0-9_.-]{0,100}\s*(?::=|=>|=|:(?=[\s"'`]))\s*(["'`]?)([^\s"'`;,]+)\1\s*[;,]?\s*$"""
)


def _v7_offender_value(offender: str) -> str:
    if "://" in offender:  # a URL's scheme is not a variable name
        return offender
    match = _V7_ASSIGNMENT.match(offender)
    return match.group(2) if match else offender


class _OldKeys(NamedTuple):
    """Where a gitleaks finding before v8 keeps each fact ("": that version has no such key)."""

    rule: str
    value: str  # the whole regex match (see _v7_offender_value)
    date: str
    line: str = ""
    tags: str = ""
    url: str = ""
    repo_name: str = ""


# v4-v7: {"line", "lineNumber", "offender", "commit", "repo", "repoURL", "leakURL", "rule",
# "commitMessage", "author", "email", "file", "date", "tags"}.
_V7_KEYS = _OldKeys("rule", "offender", "date", "lineNumber", "tags", "leakURL", "repo")
# v1-v3 (2018): {"line", "commit", "string", "reason", "commitMsg", "time", "author", "file",
# "repoURL"}.
_V1_KEYS = _OldKeys("reason", "string", "time")
# Later v1 releases to v3, after "string" became "offender" and before "reason" became "rule":
# {"line", "commit", "offender", "reason", "commitMsg", "author", "file", "branch", "repo",
# "date"}; ``author`` may be "Name <email>".
_V2_KEYS = _OldKeys("reason", "offender", "date", repo_name="repo")
# gitleaks before v8 names the repository after the scanned directory (``repo`` is
# filepath.Base of --path, "." for the current one): a GitHub container action's checkout,
# /github/workspace (gitleaks-action v1), is "workspace", which names no repository.
_NO_REPO_NAMES = frozenset({".", "./", "workspace"})


def _v7(obj: dict, where: str) -> Observation:
    return _old_finding(obj, where, _V7_KEYS)


def _v1(obj: dict, where: str) -> Observation:
    """gitleaks v1-v3 (2018): ``string`` is the whole regex match, as v7's offender."""
    return _old_finding(obj, where, _V1_KEYS)


def _old_finding(obj: dict, where: str, keys: _OldKeys) -> Observation:
    """A gitleaks v1-v7 finding. ``repo`` (a directory's name) counts only when it could name a
    repository; ``repoURL`` (given with --repo-url) wins over it."""

    def field(key: str) -> str:
        return text(obj, key, where) if key else ""

    rule = field(keys.rule)
    if not rule:
        raise ImportFormatError(f"missing required field '{keys.rule}'", where)
    value, redacted = _value_and_redacted(_v7_offender_value(field(keys.value)))
    repo_url = field("repoURL")
    repo_name = field(keys.repo_name)
    obs = Observation(
        rule=rule,
        secret_type=secret_type_for(SECRET_TYPES, rule, value, field(keys.tags)),
        secret_value=value,
        redacted=redacted,
        repo=repo_url or ("" if repo_name in _NO_REPO_NAMES else repo_name),
        path=path_in_checkout(field("file")),  # gitleaks-action v1: /github/workspace/
        line=number(obj, keys.line, where) if keys.line else None,
        commit=field("commit"),
        url=field(keys.url),
        author=person(field("author"), field("email")),
        committed_at=to_datetime(obj, keys.date, where),
    )
    ref = aws_key_id_reference(value)
    if ref:
        obs.references.append(ref)
    return scrub(obs)


def _parse_csv(stream: IO[bytes], where: list[str]) -> Iterator[Item]:
    wrapper = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(wrapper)
    where[0] = "line 1"
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFormatError("the report is empty")
        header = [h.strip() for h in header]
        header = [_METADATA_KEYS.get(h[5:], h) if h.startswith("meta:") else h for h in header]
        old = "offender" in header and ("rule" in header or "reason" in header)
        missing = [] if old else [c for c in CSV_REQUIRED if c not in header]
        if missing:
            raise ImportFormatError(
                "CSV with wrong headers: missing column(s) "
                + ", ".join(missing)
                + " (expected a gitleaks JSON array or CSV report)",
                "line 1",
            )
        width = len(header)
        for row in reader:
            loc = f"line {reader.line_num}"
            where[0] = loc
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                raise ImportFormatError(f"row has {len(row)} columns, the header has {width}", loc)
            obj = dict(zip(header, row, strict=True))
            yield finding(obj, loc) if old else _v8(obj, loc)
    except UnicodeDecodeError:
        raise ImportFormatError("not UTF-8 text", where[0]) from None
    except csv.Error:
        raise ImportFormatError("malformed CSV", where[0]) from None
