"""Identity without storage: HMAC fingerprints and redacted previews.

fingerprint = HMAC-SHA256(LEAKLINE_FINGERPRINT_KEY, "secret:v1:" + sha1(value)). Going through
SHA-1 is what lets detect-secrets (which reports only SHA-1 of the value) match the same secret
that gitleaks or TruffleHog report with the value. The raw value is never returned or stored.
"""

import hashlib
import hmac
import re
import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_key_mac = None  # an HMAC keyed with settings.FINGERPRINT_KEY: built on first use
# Building and forgetting the keyed HMAC take turns: a thread keying with a key that another
# thread's override_settings has just restored must not store it after the reset.
_key_lock = threading.Lock()


def _keyed():
    # Keying HMAC is most of its cost for short messages: key once, copy per use. Copying
    # OpenSSL's HMAC object itself skips hmac.HMAC's Python wrapper; both give the same digest.
    global _key_mac
    with _key_lock:
        if _key_mac is None:
            mac = hmac.new(settings.FINGERPRINT_KEY.encode(), digestmod=hashlib.sha256)
            _key_mac = getattr(mac, "_hmac", None) or mac
        return _key_mac


@receiver(setting_changed)
def _forget_key(*, setting: str, **kwargs) -> None:
    # override_settings (and pytest-django's settings fixture) announce a new key: reading
    # settings once per message instead cost a third of each HMAC.
    global _key_mac
    if setting == "FINGERPRINT_KEY":
        with _key_lock:
            _key_mac = None


def _hmac(message: str) -> str:
    mac = (_key_mac or _keyed()).copy()
    mac.update(message.encode())
    return mac.hexdigest()


def canonical(value: str) -> str:
    """Tools differ in surrounding whitespace (a PEM block's final newline), and in a PEM
    block's line ends: gitleaks reports a key as the file has it (CRLF; "\\n" escapes in an
    .env or JSON value), TruffleHog with LF. Nothing else."""
    value = value.strip()
    return _pem_lines(value) if "-----BEGIN" in value else value


def _pem_lines(value: str) -> str:
    """A PEM block's lines ended by LF: a key's base64 body holds no backslash or CR."""
    if "\\" in value:
        value = value.replace("\\r\\n", "\n").replace("\\n", "\n")
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def sha1_of(value: str) -> str:
    return hashlib.sha1(canonical(value).encode(), usedforsecurity=False).hexdigest()


def fingerprint_from_sha1(sha1_hex: str) -> str:
    return _hmac("secret:v1:" + sha1_hex.strip().lower())


def fingerprint(value: str) -> str:
    # fingerprint_from_sha1(sha1_of(value)) inlined (once per finding): a hexdigest is
    # already stripped and lower-case.
    digest = hashlib.sha1(canonical(value).encode(), usedforsecurity=False).hexdigest()
    return _hmac("secret:v1:" + digest)


def fingerprint_of_place(*parts: object) -> str:
    """For a finding whose tool gave neither value nor hash (gitleaks --redact): the secret is
    identified by the place it was found, so it is its own secret."""
    return _hmac("place:v1:" + "\x1f".join("" if p is None else str(p) for p in parts))


def location_key(*parts: object) -> str:
    """A finding's identity within its source: not secret, but digested to a fixed width."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(joined.encode()).hexdigest()


def secret_location_key(fp: str, repo: str, path: str, line: int | None, commit: str) -> str:
    """``location_key(fp, repo, path, line or "", commit)``, spelt out for the import's hot
    path (once per finding): the same digest, without the generic join."""
    joined = f"{fp}\x1f{repo or ''}\x1f{path or ''}\x1f{line or ''}\x1f{commit or ''}"
    return hashlib.sha256(joined.encode()).hexdigest()


def normalise_reference(kind: str, value: str) -> str:
    value = value.strip()
    if kind == "vault-path":
        value = value.strip("/")
    elif kind in ("aws-access-key-id", "aws-account"):
        value = value.upper()
    elif kind == "storage-account":
        value = value.lower()
    return value


def reference_hash(kind: str, value: str) -> str:
    return _hmac(f"ref:v1:{kind}:{normalise_reference(kind, value)}")


_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
_SAS_URL = re.compile(
    r"^(?P<scheme>https?)://(?P<host>[a-z0-9.-]{1,63}\.(?:blob|file|queue|table|dfs)\.core\."
    r"(?:windows\.net|chinacloudapi\.cn|usgovcloudapi\.net))(?P<path>/[^?#\s]*)?\?[^#\s]*sig=",
    re.IGNORECASE,
)
_URI_WITH_PASSWORD = re.compile(
    r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<user>[^:/@\s]{1,40}):(?P<password>[^@\s]+)@"
    r"(?P<host>[^/:?\s]{1,60})"
)


def redact(value: str) -> str:
    """A preview that helps a person recognise a credential without revealing it: a known
    prefix and the last two characters of long values, nothing of short ones."""
    value = canonical(value)
    # The substring tests only skip regexes that could not match (most values).
    pem = _PEM.search(value) if "-----BEGIN " in value else None
    if pem:
        # Not the header itself: a scanner may report just the header as the "secret".
        return f"{pem.group(1).strip()} (PEM) …"
    uri = _URI_WITH_PASSWORD.match(value) if "://" in value else None
    if uri:
        # The scheme, user and host say which credential it is; the password stays out, and
        # so does a user that is (or holds, or is part of) the password: guest:guest.
        user, password = uri["user"], uri["password"]
        if user in password or password in user:
            user = "…"
        return f"{uri['scheme']}://{user}:…@{uri['host']}"[:80]
    sas = _SAS_URL.match(value) if "sig=" in value else None
    if sas:
        # A SAS URL: its account and path say what it opens; the signature stays out.
        return f"{sas['scheme']}://{sas['host']}{(sas['path'] or '')[:30]}?… (SAS)"
    n = len(value)
    if n >= 20:
        return f"{value[:4]}…{value[-2:]}"
    if n >= 12:
        return f"{value[:3]}…"
    return "…" if n else ""


# A tool's mask: asterisks, an ellipsis, bullets, "REDACTED", a run of x.
_MASK_RUN = re.compile(r"\*+|\u2026+|\.{3,}|\u2022+|REDACTED|REDACT|[xX]{4,}")


def tighten_redacted(text: str) -> str:
    """A tool's redacted form of a value it didn't give, showing no more than ``redact`` shows
    of a value as long: four leading characters at most, and the last two only of one of 20
    or more. ggshield keeps a sixth at each end ("Xq7**********Z8k": 6 of 16 characters), a
    long token's ten. Forms with a scheme or spaces (a URL, a sentence) are left as they are."""
    if "://" in text or " " in text:
        return text
    runs = list(_MASK_RUN.finditer(text))
    if not runs:
        return text
    lead, trail = text[: runs[0].start()], text[runs[-1].end() :]
    long = len(text) >= 20
    if len(lead) <= 4 and (not trail or (long and len(trail) <= 2)):
        return text
    return f"{lead[:4]}\u2026{trail[-2:] if long else ''}"


def redact_identifier(value: str) -> str:
    """For identifiers that were themselves the leaked value (an AWS key id)."""
    value = value.strip()
    return f"{value[:4]}…{value[-4:]}" if len(value) >= 16 else "…"
