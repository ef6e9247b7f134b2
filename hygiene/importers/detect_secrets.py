"""detect-secrets baselines (``.secrets.baseline``, also ``detect-secrets scan`` output).

1.x: ``{"version", "plugins_used", "filters_used", "results": {filename: [{"type", "filename",
"hashed_secret", "is_verified", "line_number", "is_secret"?}]}, "generated_at"}``.
0.x: the same ``results`` mapping, but items carry no ``filename`` (the key is the file).

detect-secrets never writes the value: ``hashed_secret`` (SHA-1 of the value) goes to
``secret_sha1``. ``is_secret: false`` (audited as not a secret) → ``tool_resolution``
"false_positive"; ``is_verified: true`` → validity "valid". There is no repository or commit.

IBM's fork (``"version": "0.13.1+ibm…"``) adds ``verified_result``, and its ``is_verified`` means
only that a plugin tried: ``verified_result`` true is a live credential, false one that failed
verification (written with ``--output-verified-false``), null not verified. Where an item has
``verified_result`` it decides the validity.

One value found by several plugins on one line is one item per plugin, with the same
``hashed_secret`` and ``line_number``: one finding (the same place), whose first row names it.
1.x sorts a line's items by type name, so the entropy plugins' ("Base64 High Entropy String")
often come first: of those items a file lists, the specific plugins' ("Slack Token") are
yielded before the generic ones (entropy strings, "Secret Keyword"), and those before
"Public IP (ipv4)", otherwise in order. That type (1.5's IPPublicDetector, on by default) is
no credential: a generic secret at severity info, as Nosey Parker's identifier rules are.

``detect-secrets audit --report [--json]`` (1.1+) writes a report instead: ``{"results":
[{"category", "filename", "lines": {"<line number>": <line text>}, "secrets": <raw value>,
"types": [...]}]}`` (1.4+; 1.1-1.3 write the bare array, ``[{"category", ...}]``), one entry
per secret and file with every line where it occurs. The value
goes to ``secret_value`` only (its fingerprint is the one of the baseline's ``hashed_secret``);
the line texts are never read. ``category`` is the audit label: VERIFIED_TRUE (``is_secret:
true``), VERIFIED_FALSE (a false positive) or UNVERIFIED.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import IO

from hygiene.taxonomy import SecretType

from .base import ImportFormatError, Item, Observation, first_char, type_name
from .gitleaks import (
    _encodes,
    flag,
    guarded,
    load_document,
    number,
    peek,
    scrub,
    secret_type_for,
    sniff,
    text,
)

SECRET_TYPES: dict[str, SecretType] = {
    "aws access key": SecretType.AWS_ACCESS_KEY,
    "azure storage account access key": SecretType.AZURE_STORAGE_KEY,
    "base64 high entropy string": SecretType.GENERIC_SECRET,
    "hex high entropy string": SecretType.GENERIC_SECRET,
    "secret keyword": SecretType.GENERIC_SECRET,
    "basic auth credentials": SecretType.GENERIC_PASSWORD,
    "json web token": SecretType.JWT,
    "private key": SecretType.PRIVATE_KEY,
    "slack token": SecretType.SLACK_TOKEN,
    "stripe access key": SecretType.STRIPE_KEY,
    "github token": SecretType.GITHUB_TOKEN,
    "gitlab token": SecretType.GITLAB_TOKEN,
    "discord bot token": SecretType.SLACK_TOKEN,
    "telegram bot token": SecretType.SLACK_TOKEN,
    "artifactory credentials": SecretType.API_KEY,
    "cloudant credentials": SecretType.DATABASE_CREDENTIAL,
    "db2 credentials": SecretType.DATABASE_CREDENTIAL,  # IBM's fork (Db2Detector)
    "box credentials": SecretType.API_KEY,  # IBM's fork (BoxDetector): a Box API client
    "ibm cloud iam key": SecretType.API_KEY,
    "ibm cos hmac credentials": SecretType.API_KEY,
    "mailchimp access key": SecretType.API_KEY,
    "npm tokens": SecretType.API_KEY,
    "sendgrid api key": SecretType.API_KEY,
    "softlayer credentials": SecretType.API_KEY,
    "square oauth secret": SecretType.API_KEY,
    "twilio api key": SecretType.API_KEY,
    "openai token": SecretType.API_KEY,
    "pypi upload token": SecretType.API_KEY,
}

# What the keyword and entropy plugins report: any value, so a type that says little.
_GENERIC_TYPES = frozenset(
    {"secret keyword", "base64 high entropy string", "hex high entropy string"}
)

# Plugins that find what is no credential: detect-secrets 1.5's IPPublicDetector (on by default)
# reports public IPv4 addresses. Imported at severity info with a generic type, as Nosey
# Parker's identifier rules are (importers.noseyparker.NOT_CREDENTIALS): a place to look at,
# nothing to rotate; and after any plugin's credential found at the same place.
NOT_CREDENTIALS = frozenset({"public ip (ipv4)"})

_SHA1 = re.compile(r"[0-9a-fA-F]{40}")


@guarded
def parse(stream: IO[bytes], where: list[str]) -> Iterator[Item]:
    stream, ch = first_char(stream)
    head = peek(stream)
    if ch not in ("{", "["):
        hint = sniff(head)
        raise ImportFormatError(
            hint
            or "expected a detect-secrets baseline (a JSON object with 'results') or audit report",
            "$",
        )
    doc = load_document(stream)
    if isinstance(doc, list):
        # ``audit --report --json`` of 1.1-1.3: the entries without the "results" wrapper.
        if not doc:
            # Any tool's clean scan looks like this: taken as a clean report it would mark
            # every finding of the source missing.
            raise ImportFormatError(
                "an empty array is no detect-secrets baseline; send the .secrets.baseline "
                "(an audit report of 1.1-1.3 with nothing in it has nothing to import)",
                "$",
            )
        if not _is_report_entry(doc[0]):
            hint = sniff(head)
            if hint and "detect-secrets" not in hint:  # another tool's array of findings
                raise ImportFormatError(hint, "$")
        yield from _report(doc, where, "$")
        return
    if not isinstance(doc, dict):
        raise ImportFormatError(f"expected a JSON object or array, found {type_name(doc)}", "$")
    if "results" not in doc and isinstance(doc.get("secrets"), list) and "stats" in doc:
        # IBM's fork: ``audit --report --json`` lists the failed checks only (no hash, no
        # value), so it can't tell the secrets apart nor say which are gone.
        raise ImportFormatError(
            "this is the IBM fork's 'detect-secrets audit --report --json' (failed checks "
            "only, no hashed secrets); send the .secrets.baseline it was run on",
            "$.secrets",
        )
    if "results" not in doc:
        hint = sniff(head)
        raise ImportFormatError(
            hint
            if hint and "detect-secrets" not in hint
            else "not a detect-secrets baseline: no 'results'",
            "$",
        )
    results = doc["results"]
    if isinstance(results, list):
        yield from _report(results, where, "$.results")
        return
    if not isinstance(results, dict):
        raise ImportFormatError(
            f"'results' should be an object (file → findings), found {type_name(results)}",
            "$.results",
        )
    for file_no, (filename, items) in enumerate(results.items()):
        file_loc = f"$.results[file {file_no}]"
        where[0] = file_loc
        if not isinstance(items, list):
            raise ImportFormatError(
                f"expected an array of findings, found {type_name(items)}", file_loc
            )
        observations = []
        for index, item in enumerate(items):
            loc = f"{file_loc}[{index}]"
            where[0] = loc
            observations.append(finding(item, loc, filename))
        yield from _specific_first(observations)


def _specific_first(observations: list[Observation]) -> list[Observation]:
    """One file's findings, where several share a place (the same value on the same line,
    found by several plugins) the specific plugins' first: staging keeps a place's first row,
    and "Slack Token" says more than "Base64 High Entropy String". Otherwise in order."""
    places: dict[tuple, list[int]] = {}
    for index, obs in enumerate(observations):
        places.setdefault((obs.path, obs.line, obs.secret_sha1), []).append(index)
    ordered = list(observations)
    for indexes in places.values():
        if len(indexes) > 1:
            # A stable sort: within each rank, file order.
            best_first = sorted((observations[i] for i in indexes), key=lambda o: _rank(o.rule))
            for index, obs in zip(indexes, best_first, strict=True):
                ordered[index] = obs
    return ordered


def _rank(rule: str) -> int:
    """How little a plugin's type says: a credential's (0), any value's (1), no credential (2)."""
    name = rule.lower()
    return 2 if name in NOT_CREDENTIALS else 1 if name in _GENERIC_TYPES else 0


def _typing(rule: str, value: str | None) -> tuple[str, str | None]:
    """The secret type and severity (None: the type's) of a plugin's finding."""
    if rule.lower() in NOT_CREDENTIALS:
        return SecretType.GENERIC_SECRET.value, "info"
    return secret_type_for(SECRET_TYPES, rule, value), None


# What detect-secrets' PrivateKeyDetector "finds": the header it matched ("BEGIN RSA PRIVATE
# KEY"; plugins/private_key.py), whose SHA-1 is every such key's hashed_secret. As a secret's
# identity it made one secret of every RSA key anywhere: the place identifies the finding.
_KEY_HEADERS = (
    "BEGIN DSA PRIVATE KEY",
    "BEGIN EC PRIVATE KEY",
    "BEGIN OPENSSH PRIVATE KEY",
    "BEGIN PGP PRIVATE KEY BLOCK",
    "BEGIN PRIVATE KEY",
    "BEGIN RSA PRIVATE KEY",
    "BEGIN SSH2 ENCRYPTED PRIVATE KEY",
    "PuTTY-User-Key-File-2",
)
_KEY_HEADER_DIGESTS = frozenset(
    hashlib.sha1(header.encode(), usedforsecurity=False).hexdigest() for header in _KEY_HEADERS
)


def finding(item: object, where: str, filename: str) -> Observation:
    if not isinstance(item, dict):
        raise ImportFormatError(f"expected a finding object, found {type_name(item)}", where)
    rule = text(item, "type", where)
    if not rule:
        raise ImportFormatError("missing required field 'type'", where)
    hashed = text(item, "hashed_secret", where)
    if not hashed:
        raise ImportFormatError("missing required field 'hashed_secret'", where)
    if not _SHA1.fullmatch(hashed):
        raise ImportFormatError(
            "'hashed_secret' is not a SHA-1 hex digest", f"{where}.hashed_secret"
        )
    is_secret = flag(item, "is_secret", where)
    if "verified_result" in item:  # IBM's fork
        verified = flag(item, "verified_result", where)
        validity = {True: "valid", False: "invalid"}.get(verified, "unknown")
    else:
        validity = "valid" if flag(item, "is_verified", where) else "unknown"
    secret_type, severity = _typing(rule, None)
    return Observation(
        rule=rule,
        secret_type=secret_type,
        severity=severity,
        secret_sha1=None if hashed.lower() in _KEY_HEADER_DIGESTS else hashed.lower(),
        path=text(item, "filename", where) or text({"filename": filename}, "filename", where),
        line=number(item, "line_number", where),
        validity=validity,
        tool_resolution="false_positive" if is_secret is False else "",
        # Audited as a real secret: it stays open (confirmed is not verified live), and the
        # finding page says someone confirmed it.
        tool_ids={"audit": "confirmed a secret"} if is_secret else {},
    )


_CATEGORIES = {"VERIFIED_TRUE": True, "VERIFIED_FALSE": False, "UNVERIFIED": None}


def _is_report_entry(entry: object) -> bool:
    return isinstance(entry, dict) and "secrets" in entry and "types" in entry


def _report(results: list, where: list[str], at: str) -> Iterator[Observation]:
    """``detect-secrets audit --report``: one Observation per line of each reported secret.
    ``at``: the JSON path of the entries' array ("$.results", or "$" for 1.1-1.3)."""
    for index, entry in enumerate(results):
        loc = f"{at}[{index}]"
        where[0] = loc
        if not isinstance(entry, dict):
            raise ImportFormatError(
                f"expected a report entry object, found {type_name(entry)}", loc
            )
        if not _is_report_entry(entry):
            raise ImportFormatError(
                "not a detect-secrets audit report entry: 'secrets' and 'types' are required", loc
            )
        value = entry["secrets"]
        if not isinstance(value, str) or not value.strip():
            raise ImportFormatError("should be a non-empty string", f"{loc}.secrets")
        if not _encodes(value):
            raise ImportFormatError(
                "an invalid \\u escape (half of a surrogate pair)", f"{loc}.secrets"
            )
        types = entry["types"]
        if not isinstance(types, list) or not types:
            raise ImportFormatError("should be a non-empty array of names", f"{loc}.types")
        names = []
        for i, name in enumerate(types):
            if not isinstance(name, str) or not name.strip() or not _encodes(name):
                raise ImportFormatError("should be a plugin's secret type", f"{loc}.types[{i}]")
            names.append(name)
        category = text(entry, "category", loc).upper()
        if category not in _CATEGORIES:
            raise ImportFormatError(
                "should be VERIFIED_TRUE, VERIFIED_FALSE or UNVERIFIED", f"{loc}.category"
            )
        is_secret = _CATEGORIES[category]
        path = text(entry, "filename", loc)
        lines = entry.get("lines") or {}
        if not isinstance(lines, dict):
            raise ImportFormatError(
                f"should be an object (line number → line), found {type_name(lines)}",
                f"{loc}.lines",
            )
        numbers = []
        for key in lines:
            # The keys only: the values are the lines' text, the secret with them.
            number_text = str(key).strip()
            if (
                not (number_text.isascii() and number_text.isdigit())
                or len(number_text) > 10
                or int(number_text) < 1
            ):
                raise ImportFormatError("a key is not a line number", f"{loc}.lines")
            numbers.append(int(number_text))
        # A specific plugin's type names the secret better than the keyword/entropy ones,
        # and those better than a type that is no credential's.
        rule = min(names, key=_rank)
        secret_type, severity = _typing(rule, value)
        if value in _KEY_HEADERS:
            value = None  # a private key's header, not the key (the place identifies it)
        for line in sorted(set(numbers)) or [None]:
            yield scrub(
                Observation(
                    rule=rule,
                    secret_type=secret_type,
                    severity=severity,
                    secret_value=value,
                    path=path,
                    line=line,
                    tool_resolution="false_positive" if is_secret is False else "",
                    tool_ids={"audit": "confirmed a secret"} if is_secret else {},
                )
            )
