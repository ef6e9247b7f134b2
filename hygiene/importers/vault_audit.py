"""HashiCorp Vault audit device log (file/socket/syslog device: one JSON entry per line).

Only ``type: "response"`` entries count: a request entry alone does not prove the operation
happened. Other entry types (Vault Enterprise's ``kmip-request`` / ``kmip-response``) are
skipped; a line without a ``type`` is not an audit entry (an error). A response with an
``error`` is a failure: ``rotation_failed`` for the rotate endpoints, skipped otherwise.
Yields RotationEvents:

* lease revocation, ``sys/leases/revoke/<lease id>``, ``sys/leases/revoke-prefix/<prefix>``,
  ``sys/leases/revoke-force/<prefix>`` (and the old ``sys/revoke*`` paths) -> ``revoked``
  with Reference("vault-path", lease id or prefix). A plain ``sys/leases/revoke`` carries the
  lease id only in the (HMAC'd) body, so it has nothing to match and is skipped;
* ``<mount>/rotate-root``, ``<mount>/config/rotate-root``, ``<mount>/rotate-role/<name>``,
  ``database/rotate-root/<connection>``, ``transit/keys/<name>/rotate``, the GCP engine's
  ``<mount>/roleset/<name>/rotate``, ``<mount>/roleset/<name>/rotate-key`` and
  ``<mount>/static-account/<name>/rotate-key``, GCP KMS's ``<mount>/keys/rotate/<key>``
  -> ``rotated`` with Reference("vault-path", request path);
* a write (create/update/patch) of a KV v2 secret, ``<mount>/data/<path>`` -> ``rotated``
  (a new version) with Reference("vault-path", "<mount>/<path>") and the raw request path;
  a write to a KV v1 mount -> ``rotated`` with Reference("vault-path", path). Which mounts are
  KV: ``request.mount_type`` when the log has it (Vault 1.13+), otherwise the mounts named in
  ``kv_mounts`` (default "secret" and "kv").

Paths in a namespace are prefixed with the namespace path ("team-a/secret/app"): Vault logs
``request.path`` relative to the namespace but ``request.mount_point`` with the namespace in front
("admin/shared-secrets/" for "shared-secrets/data/retail" in namespace "admin/").

The log may be gzip-compressed (rotated by logrotate), and so may several logs run together.
Lines may carry a prefix before the JSON entry: the devices' ``prefix`` option, or the syslog
header ("Jun 26 04:12:45 host vault[812]: ") when the syslog device's messages are exported from
/var/log/syslog or journalctl. Such an export also holds Vault's own server log, written by
the same process (and so does a container's log when an audit device writes to stdout): hclog
lines ("2026-11-29T03:12:00.123Z [INFO]  core: ...", or hclog JSON with "@level"/"@message"),
their "  | " continuation lines and the startup banner are skipped. Any other line that is not
an audit entry is an error, and so is a log holding no audit entry at all. The log as jq shows
it is read too: entries pretty-printed one after another (``jq . audit.log``) or in one array
(``jq -s``).
Values in the log are HMAC'd; request.data and response.data are
never read.
See docs/formats/vault-audit.md.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any

from .base import (
    ImportFormatError,
    Item,
    Reference,
    RotationEvent,
    expect_dict,
    first_char,
    get_str,
    gunzip,
    iter_json_documents,
    iter_json_lines,
    pretty_printed,
    read_lines,
)
from .prowler import safe_datetime

DEFAULT_KV_MOUNTS = ("secret", "kv")
WRITE_OPERATIONS = {"create", "update", "patch"}
_REVOKE = re.compile(r"^sys/(?:leases/)?(revoke|revoke-prefix|revoke-force)/(.+)$")
_ROTATE = re.compile(r"(?:^|/)(rotate-root|rotate-role|rotate-key|rotate)(?:/|$)")
_KV_V2_VERBS = {"data", "metadata", "delete", "undelete", "destroy", "config", "subkeys"}
_SYSTEM_MOUNTS = {"sys", "auth", "identity", "cubbyhole"}


def _sub(obj: dict, key: str, where: str) -> dict:
    value = obj.get(key)
    if value is None or value == "":
        return {}
    return expect_dict(value, f"{where}.{key}")


def parse(stream: IO[bytes], *, kv_mounts: Iterable[str] | None = None) -> Iterator[Item]:
    mounts = {m.strip("/") for m in (kv_mounts if kv_mounts is not None else DEFAULT_KV_MOUNTS)}
    if not isinstance(stream, io.BufferedReader):
        stream = io.BufferedReader(stream)  # type: ignore[arg-type]
    if stream.peek(2)[:2] != b"\x1f\x8b":
        yield from _parse(stream, mounts)
        return
    # A log rotated by logrotate with compress (audit.log.2.gz), or several run together
    # (cat audit.log.*.gz: a gzip of several members).
    try:
        yield from _parse(gunzip(stream), mounts)
    except (OSError, EOFError, zlib.error):
        raise ImportFormatError("corrupt or truncated gzip data") from None


def _parse(stream: IO[bytes], mounts: set[str]) -> Iterator[Item]:
    stream, char = first_char(stream)
    head = stream.peek(4096)[:4096]  # type: ignore[attr-defined]
    first_line = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0]
    # (A "[" may also start a line prefix, the audit device's "prefix": "[vault-audit] {...".)
    array = char == "[" and _prefix_end(first_line) is None
    if array or pretty_printed(stream):
        # The log as jq shows it: ``jq . audit.log`` writes each entry over many lines (an
        # entry alone is never just "{"), ``jq -s`` all of them in one array.
        yield from _parse_documents(stream, mounts, array=array)
        return
    if char != "{" and _prefix_end(first_line) is None and not _is_server_log(first_line):
        raise ImportFormatError(NO_ENTRY, "line 1")
    lines = _Lines(stream)
    entries = 0
    for where, entry in iter_json_lines(lines):
        if isinstance(entry, dict) and _is_server_log_object(entry):
            lines.server_log += 1
            continue
        event = _entry(entry, where, mounts)
        entries += 1
        if event is not None:
            yield event
    if not entries and lines.server_log:
        raise ImportFormatError(_no_entry(lines.server_log, "lines"), "line 1")


def _no_entry(server_log: int, what: str) -> str:
    if not server_log:
        return NO_ENTRY
    return (
        f"{NO_ENTRY}; found only Vault's own server log ({server_log} {what}), "
        "not its audit log (an audit device's file, socket or syslog output)"
    )


def _parse_documents(stream: IO[bytes], mounts: set[str], array: bool) -> Iterator[Item]:
    entries = server_log = 0
    for where, entry in iter_json_documents(stream, array=array, what="a Vault audit entry"):
        if isinstance(entry, dict) and _is_server_log_object(entry):
            server_log += 1
            continue
        entries += 1
        event = _entry(entry, where, mounts)
        if event is not None:
            yield event
    if not entries:
        raise ImportFormatError(_no_entry(server_log, "objects"), "line 1")


NO_ENTRY = 'expected Vault audit JSON lines (one object per line, with "type" request or response)'
# A line prefix: the syslog header ("Jun 26 04:12:45 host vault[812]: ",
# "<134>1 2025-06-26T04:12:45Z host vault 812 - - ") or the audit device's ``prefix`` option.
# Short, without quotes or braces.
MAX_PREFIX = 512


def _prefix_end(line: bytes) -> int | None:
    """Where the JSON entry of a prefixed line starts (None: no prefix followed by an entry)."""
    start = line.find(b'{"')
    if start <= 0 or start > MAX_PREFIX or b'"' in line[:start] or b"}" in line[:start]:
        return None
    return start


# The header a syslog export puts before each message of the vault process: /var/log/syslog's
# "Nov 29 03:12:01 host vault[812]: " (journalctl's default, and -o short-precise with
# fractions), "2026-11-29T03:12:01+0000 host vault[812]: " (journalctl -o short-iso, rsyslog's
# high-precision format), and RFC 5424's "<134>1 2026-11-29T03:12:01Z host vault 812 - - ".
_TIME = rb"\d\d:\d\d:\d\d(?:[.,]\d+)?"
_SYSLOG_HEADER = re.compile(
    rb"(?:<\d{1,3}>)?(?:"
    rb"[A-Z][a-z]{2} [ \d]?\d " + _TIME + rb"(?: [A-Z]{2,5})?"
    rb"|(?:[A-Z][a-z]{2} )?\d{4}-\d\d-\d\d[T ]" + _TIME + rb"(?: ?(?:Z|[+-]\d\d:?\d\d|[A-Z]{2,5}))?"
    rb") [^\s\[]\S* [^\s:\[\]]+(?:\[\d+\])?: ?"
    rb"|<\d{1,3}>1 \S+ \S+ \S+ \S+ \S+ (?:-|(?:\[[^\]]*\])+) ?"
)
# Vault's own server log, which the same process writes to the same syslog stream (or, with
# an audit device's file_path=stdout, the same container log). Not audit entries: skipped.
# hclog's standard lines ("2026-11-29T03:12:00.123Z [INFO]  core: successfully unsealed"):
_SERVER_LOG_LINE = re.compile(
    rb"\d{4}-\d\d-\d\dT" + _TIME + rb"(?:Z|[+-]\d\d:?\d\d)? +\[(?:TRACE|DEBUG|INFO|WARN|ERROR)\] "
)
# and, unless the line holds a prefixed entry, the indented continuation lines of a multi-line
# value ("  | 1 error occurred:") and the startup banner ("==> Vault server configuration:",
# "             Api Address: https://...", its longest key unindented).
_SERVER_LOG_MORE = re.compile(
    rb"\s+\| ?|==> | {2,}[A-Z][A-Za-z0-9 ]{0,40}: |Administrative Namespace:"
)


def _message_start(line: bytes) -> int:
    """Where the message starts: after the syslog header, if there is one."""
    header = _SYSLOG_HEADER.match(line)
    return header.end() if header else 0


def _is_server_log(line: bytes, entry_start: int | None = None) -> bool:
    """A line of Vault's own server log, bare or after a syslog header (``entry_start``:
    where a prefixed audit entry starts in it, if it holds one)."""
    line = line.removeprefix(b"\xef\xbb\xbf")
    message = _message_start(line)
    if message and not line[message:].strip():
        return True  # a blank message (the banner's blank lines)
    for start in dict.fromkeys((0, message)):
        if _SERVER_LOG_LINE.match(line, start):
            return True
        if entry_start is None and _SERVER_LOG_MORE.match(line, start):
            return True
    return False


def _is_server_log_object(entry: dict) -> bool:
    """A server log line in hclog's JSON format (Vault's log_format = "json"): "@level" and
    "@message", which no audit entry has (its fields may include a "type": "enabled audit
    backend" path=syslog/ type=syslog)."""
    return "@message" in entry and "@level" in entry


class _Lines:
    """The lines of the log, each with its prefix (if any) cut off before the JSON entry.
    Lines of Vault's own server log become blank lines (which the JSON-lines reader skips and
    still counts), and are counted in ``server_log``."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.server_log = 0

    def __iter__(self) -> Iterator[bytes]:
        for raw in read_lines(self.stream):
            if raw.lstrip(b"\xef\xbb\xbf \t").startswith(b"{"):
                yield raw
                continue
            start = _prefix_end(raw)
            if raw.strip() and _is_server_log(raw, start):
                self.server_log += 1
                yield b"\n"
                continue
            yield raw if start is None else raw[start:]


def _entry(entry: Any, where: str, mounts: set[str]) -> RotationEvent | None:
    entry = expect_dict(entry, where, "a Vault audit entry")
    kind = entry.get("type")
    if not isinstance(kind, str) or not kind:
        raise ImportFormatError(
            "not a Vault audit entry (type should be request or response)", where
        )
    if not kind.endswith(("request", "response")):
        # Another tool's object with a "type" (a Nosey Parker finding, an az resource):
        # skipped, a log of them read as a log of nothing.
        raise ImportFormatError(
            "not a Vault audit entry (type should be request or response)", where
        )
    if kind != "response":
        return None  # requests, and other entry types (Enterprise KMIP: kmip-request/-response)
    request = _sub(entry, "request", where)
    rwhere = f"{where}.request"
    path = get_str(request, "path", rwhere).lstrip("/")
    operation = get_str(request, "operation", rwhere).lower()
    if not path or operation in ("read", "list", "help", ""):
        return None
    error = entry.get("error")
    failed = bool(error) if not isinstance(error, str) else bool(error.strip())
    namespace = get_str(_sub(request, "namespace", rwhere), "path", f"{rwhere}.namespace")
    ns = namespace.strip("/") + "/" if namespace.strip("/") else ""

    classified = _classify(path, request, rwhere, mounts, failed, ns)
    if classified is None:
        return None
    action, name, values = classified
    refs = [Reference("vault-path", ns + v) for v in dict.fromkeys(values)]
    auth = _sub(entry, "auth", where)
    awhere = f"{where}.auth"
    metadata = _sub(auth, "metadata", awhere)
    actor = get_str(auth, "display_name", awhere) or get_str(
        metadata, "username", f"{awhere}.metadata"
    )
    return RotationEvent(
        action=action,
        references=refs,
        occurred_at=safe_datetime(entry.get("time"), f"{where}.time"),
        actor=actor,
        event_name=name,
        event_id=get_str(request, "id", rwhere),
        detail=f"Vault {operation} {ns}{path}" + (" failed" if failed else ""),
    )


def _classify(
    path: str, request: dict, rwhere: str, mounts: set[str], failed: bool, ns: str = ""
) -> tuple[str, str, list[str]] | None:
    revoke = _REVOKE.match(path)
    if revoke:
        return None if failed else ("revoked", revoke.group(1), [revoke.group(2).rstrip("/")])
    first = path.split("/", 1)[0]
    if first == "sys":
        return None
    operation = get_str(request, "operation", rwhere).lower()
    mount_type = get_str(request, "mount_type", rwhere).lower()
    mount_point = _relative_mount(get_str(request, "mount_point", rwhere).strip("/"), path, ns)
    is_kv = mount_type in ("kv", "generic") if mount_type else None

    rotate = _ROTATE.search(path)
    if rotate and not is_kv and not _kv_v2_data(path, mount_point):
        return ("rotation_failed" if failed else "rotated", rotate.group(1), [path])
    if failed or operation not in WRITE_OPERATIONS or first in _SYSTEM_MOUNTS:
        return None

    if is_kv is False:
        return None  # the log says this mount is not a KV engine
    v2 = _kv_v2_data(path, mount_point)
    if v2 is not None:
        mount, secret = v2
        return ("rotated", "kv-v2-write", [f"{mount}/{secret}", path])
    mount = mount_point or first
    if is_kv is None and mount not in mounts:
        return None
    rest = path[len(mount) :].strip("/") if path.startswith(mount + "/") else ""
    if rest and rest.split("/", 1)[0] not in _KV_V2_VERBS:
        return ("rotated", "kv-v1-write", [path])  # KV v1: the value at this path was replaced
    return None


def _relative_mount(mount_point: str, path: str, ns: str) -> str:
    """The mount point relative to the request's namespace, as ``path`` is: Vault Enterprise
    logs "admin/shared-secrets" for the path "shared-secrets/data/retail" in namespace "admin/"."""
    if ns and mount_point.startswith(ns) and not path.startswith(mount_point + "/"):
        return mount_point[len(ns) :].strip("/")
    return mount_point


def _kv_v2_data(path: str, mount_point: str) -> tuple[str, str] | None:
    """(mount, secret path) of a KV v2 ``<mount>/data/<path>``, or None."""
    if mount_point and path.startswith(mount_point + "/"):
        rest = path[len(mount_point) + 1 :]
        if rest.startswith("data/") and rest[5:].strip("/"):
            return mount_point, rest[5:].strip("/")
        return None
    parts = path.split("/")
    for i in range(1, len(parts) - 1):
        if parts[i] == "data":
            secret = "/".join(parts[i + 1 :]).strip("/")
            if secret:
                return "/".join(parts[:i]), secret
            return None
    return None
