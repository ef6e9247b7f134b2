"""Azure storage accounts: ``az storage account list`` / ``show`` JSON.

Accepts one account object, an array of them (streamed), an ARM REST list response
(``{"value": [...]}``), an Azure Resource Graph result (``az graph query -q "resources | where
type =~ 'microsoft.storage/storageaccounts'"``: ``{"count": N, "data": [...], "skip_token":
..., "total_records": N}``, or the REST API's ``{"totalRecords": N, "data": [...]}``) and the
ARM shape with the settings under ``properties``. Keys are
matched case-insensitively, so PowerShell's ``Get-AzStorageAccount | ConvertTo-Json``
(``KeyCreationTime``, ``SasPolicy``...) reads too.

Rules (posture Observations, resource = the account's resource id; ``passed=True`` when fine):

* ``storage_key_rotation`` (key-rotation, medium): key1 or key2 is older than the account's
  key expiration policy (``keyPolicy.keyExpirationPeriodInDays``) or, without a policy,
  ``max_key_age_days``. A null creation time (keys never rotated since before Azure tracked
  it) counts as too old.
* ``storage_key_expiration_policy`` (key-policy, medium): no key expiration policy, or one
  longer than ``max_key_age_days``.
* ``storage_sas_expiration_policy`` (sas-policy, medium): no SAS expiration policy, or a
  ``sasExpirationPeriod`` ("D.HH:MM:SS") longer than 7 days.
* ``storage_shared_key_access`` (shared-key-access, high): ``allowSharedKeyAccess`` true or
  null (null means allowed). An account SAS can only be revoked by rotating the key.

A rule is evaluated only when its field is in the object: ``az`` prints every property (null
when unset), so a missing field means the output was filtered (``--query``), not "unset".
ARM REST bodies (settings under ``properties``) are different: ARM leaves unset properties
out. When such a body has ``keyCreationTime`` (so its API version, 2021-04-01 or later, knows
``keyPolicy``, ``sasPolicy`` and ``allowSharedKeyAccess``), a missing one of those three
means unset, and its rule is evaluated.

Also yields one RotationEvent per account when both key creation times are known:
``rotated`` with ``occurred_at`` = the older of the two, i.e. both account keys were created at
or after that time, so any key (and any SAS signed with it) leaked before it is dead.

``now`` defaults to the current time (the output carries no timestamp of its own).
See docs/formats/azure-storage-accounts.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from .base import (
    ImportFormatError,
    Item,
    Observation,
    Reference,
    RotationEvent,
    expect_dict,
    first_char,
    load_json,
    type_name,
)
from .leakline import arrays_in_turn
from .prowler import safe_datetime

MAX_SAS_PERIOD = timedelta(days=7)
_PERIOD = re.compile(r"^(?:(\d{1,5})\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$")
_ID = re.compile(r"^/subscriptions/([^/]+)/", re.I)

REMEDIATION = {
    "rotation": (
        "Rotate the account keys (az storage account keys renew --key primary, then "
        "secondary), after moving clients to the new key or, better, to Entra ID."
    ),
    "key_policy": (
        "Set a key expiration policy (az storage account update "
        "--key-exp-days 90) so that overdue keys are reported."
    ),
    "sas_policy": (
        "Set a SAS expiration policy of 7 days or less (az storage account update "
        "--sas-exp 7.00:00:00) and prefer user delegation SAS."
    ),
    "shared_key": (
        "Disallow shared key authorization (az storage account update "
        "--allow-shared-key-access false): an account SAS can only be revoked by rotating "
        "the key it was signed with."
    ),
}


def parse_period(value: Any, where: str) -> timedelta:
    """A .NET TimeSpan as Azure prints it: "D.HH:MM:SS" or "HH:MM:SS"."""
    if not isinstance(value, str):
        raise ImportFormatError(f"expected a period string, found {type_name(value)}", where)
    match = _PERIOD.match(value.strip())
    if not match:
        raise ImportFormatError("not a period of the form D.HH:MM:SS", where)
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ImportFormatError("not a period of the form D.HH:MM:SS", where)
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


# Windows PowerShell 5.1's ConvertTo-Json writes a DateTime as "\/Date(<ms since the epoch>)\/"
# ("/Date(...)/" once the JSON is read), a DateTimeOffset with the offset it had, e.g.
# "/Date(1715328000000+0200)/": the milliseconds count from the epoch in UTC either way.
_DOTNET_DATE = re.compile(r"^/Date\((-?\d{1,15})(?:[+-]\d{4})?\)/$")


def _date(value: Any, where: str) -> datetime | None:
    """A date as az (ISO 8601) or PowerShell 5.1 (/Date(ms)/) writes it, in UTC."""
    if isinstance(value, str):
        match = _DOTNET_DATE.match(value.strip())
        if match:
            try:
                return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
                    milliseconds=int(match.group(1))
                )
            except OverflowError:
                raise ImportFormatError("date/time out of range", where) from None
    return safe_datetime(value, where)


class _Fields:
    """Case-insensitive view of an object; ``properties`` (ARM shape) merged in."""

    def __init__(self, obj: dict, where: str):
        self.where = where
        self.map: dict[str, tuple[str, Any]] = {}
        props = obj.get("properties")
        # A complete ARM body: unset properties are omitted rather than null (see above).
        self.arm_complete = isinstance(props, dict) and any(
            str(k).lower() == "keycreationtime" for k in props
        )
        if isinstance(props, dict):
            for key, value in props.items():
                self.map[str(key).lower()] = (f"{where}.properties.{key}", value)
        for key, value in obj.items():
            self.map.setdefault(str(key).lower(), (f"{where}.{key}", value))

    def has(self, key: str) -> bool:
        return key.lower() in self.map

    def evaluated(self, key: str) -> bool:
        """Whether the rule on this opt-in setting can be judged (see the module docs)."""
        return self.has(key) or self.arm_complete

    def get(self, key: str) -> Any:
        return self.map.get(key.lower(), ("", None))[1]

    def path(self, key: str) -> str:
        return self.map.get(key.lower(), (f"{self.where}.{key}", None))[0]

    def text(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            return ""
        if isinstance(value, dict | list | bool):
            raise ImportFormatError(
                f"'{key}' should be a string, found {type_name(value)}", self.path(key)
            )
        return str(value)

    def sub(self, key: str) -> _Fields | None:
        value = self.get(key)
        if value is None:
            return None
        return _Fields(expect_dict(value, self.path(key)), self.path(key))


def _accounts(stream: IO[bytes]) -> Iterator[tuple[str, dict]]:
    stream, char = first_char(stream)
    if char == "[":
        yield from _arrays(stream)
        return
    if char != "{":
        raise ImportFormatError("expected az CLI JSON (an object or an array)", "byte 0")
    doc = load_json(stream)
    doc = expect_dict(doc, "$")
    if _is_key_listing(doc):  # one key ({"keyName", "value"}): not an ARM {"value": [...]}
        yield "$", doc
        return
    for key in ("value", "data"):
        value = doc.get(key)
        if key in doc and not _looks_like_account(doc):
            if key == "data" and not set(doc) <= _GRAPH_KEYS:
                continue
            if not isinstance(value, list):
                raise ImportFormatError(f"expected an array, found {type_name(value)}", f"$.{key}")
            _refuse_a_page(doc)
            for i, obj in enumerate(value):
                where = f"$.{key}[{i}]"
                yield where, expect_dict(obj, where, "a storage account object")
            return
    yield "$", doc


def _arrays(stream: IO[bytes]) -> Iterator[tuple[str, dict]]:
    """An array of accounts, streamed; also several one after another, as a loop over
    subscriptions writes them (``for s in ...; do az storage account list --subscription $s;
    done > all.json``): the second array's accounts are at "array 2 $[i]"."""
    last = ""  # the last account read, for errors in the JSON after it
    try:
        for here, value in arrays_in_turn(stream, "another array of storage accounts", "array"):
            last = here
            yield here, expect_dict(value, here, "a storage account object")
    except ImportFormatError as exc:
        if exc.location.startswith("near byte") and last:
            raise ImportFormatError(exc.message, f"{exc.location} (after {last})") from None
        raise


def _refuse_a_page(doc: dict) -> None:
    """One page of a longer listing (az graph query's first 100 rows by default, an ARM list with
    a nextLink) is no full inventory: the accounts on the other pages would be marked no longer
    seen. Refused, with how to get them all."""
    for key in ("skip_token", "$skipToken", "skipToken", "nextLink"):
        if doc.get(key):
            raise ImportFormatError(
                "this is one page of a longer listing (it has a next-page token): fetch every "
                "page (az graph query --first 1000 with --skip-token until none is left, or "
                "az storage account list) and import them together",
                f"$.{key}",
            )
    if doc.get("resultTruncated") in (True, "true", "True"):
        raise ImportFormatError(
            "this Resource Graph result is truncated: fetch every page and import them together",
            "$.resultTruncated",
        )


# The keys of an Azure Resource Graph result: az graph query (snake_case) and the REST API.
_GRAPH_KEYS = {
    "count",
    "data",
    "skip_token",
    "total_records",
    "totalRecords",
    "$skipToken",
    "resultTruncated",
    "facets",
}


_ACCOUNT_KEYS = {
    "keycreationtime",
    "keypolicy",
    "saspolicy",
    "allowsharedkeyaccess",
    "primaryendpoints",
    "storageaccountname",
}
_STORAGE_ID = re.compile(r"/providers/microsoft\.storage/storageaccounts/[^/]+/?$", re.I)


def _looks_like_account(obj: dict) -> bool:
    """A storage account: storage-specific settings, or a storage account id/type."""
    props = obj.get("properties")
    keys = {str(k).lower() for k in obj}
    if isinstance(props, dict):
        keys |= {str(k).lower() for k in props}
    if keys & _ACCOUNT_KEYS:
        return True
    ident, kind = obj.get("id"), obj.get("type")
    return (isinstance(ident, str) and bool(_STORAGE_ID.search(ident))) or (
        isinstance(kind, str) and kind.lower() == "microsoft.storage/storageaccounts"
    )


def _is_key_listing(obj: dict) -> bool:
    """One key of ``az storage account keys list`` ({"creationTime", "keyName", "permissions",
    "value"}) or the ARM listKeys body ({"keys": [...]})."""
    keys = {str(k).lower() for k in obj}
    if keys == {"keys"} and isinstance(obj.get("keys"), list):
        return all(isinstance(k, dict) and _is_key_listing(k) for k in obj["keys"])
    return {"keyname", "value"} <= keys and keys <= {
        "keyname",
        "value",
        "permissions",
        "creationtime",
    }


def parse(
    stream: IO[bytes], *, now: datetime | None = None, max_key_age_days: int = 90
) -> Iterator[Item]:
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    max_age = timedelta(days=max_key_age_days)
    for where, obj in _accounts(stream):
        if _is_key_listing(obj):
            raise ImportFormatError(
                "this is the output of az storage account keys list (or ARM listKeys): the "
                "account keys themselves, which Leakline never needs. Import az storage account "
                "list or show, which tell each key's age (keyCreationTime)",
                where,
            )
        if not _looks_like_account(obj):
            raise ImportFormatError(
                "not a storage account (no storage account id, keyCreationTime, keyPolicy, "
                "sasPolicy or allowSharedKeyAccess)",
                where,
            )
        account = _Fields(obj, where)
        if not (account.text("id") or account.text("name") or account.text("storageAccountName")):
            # A filtered output (--query) without them: its findings would belong to no account,
            # and one such PASS would resolve another unnamed account's FAIL.
            raise ImportFormatError(
                "a storage account without 'id' or 'name': nothing says which account it is "
                "(keep id and name in your --query)",
                where,
            )
        yield from _account_items(account, now, max_age)


def _account_items(acc: _Fields, now: datetime, max_age: timedelta) -> Iterator[Item]:
    account_id = acc.text("id")
    name = acc.text("name") or acc.text("storageAccountName")
    if not name and account_id:
        name = account_id.rstrip("/").rsplit("/", 1)[-1]
    resource = account_id or name
    subscription = _ID.match(account_id)
    refs = []
    if name:
        refs.append(Reference("storage-account", name))
    if account_id:
        refs.append(Reference("other", account_id))
    base = {
        "category": "posture",
        "resource": resource,
        "account": subscription.group(1) if subscription else "",
        "region": acc.text("location") or acc.text("primaryLocation"),
    }

    def obs(rule: str, secret_type: str, severity: str, title: str, fix: str, ok: bool):
        return Observation(
            rule=rule,
            secret_type=secret_type,
            severity=severity,
            title=title,
            description=REMEDIATION[fix],
            passed=ok,
            references=list(refs),
            tool_ids={"name": name} if name else {},
            **base,
        )

    # Key expiration policy.
    policy_days: int | None = None
    if acc.evaluated("keyPolicy"):
        policy = acc.sub("keyPolicy")
        if policy is not None and policy.get("keyExpirationPeriodInDays") is not None:
            raw = policy.get("keyExpirationPeriodInDays")
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise ImportFormatError(
                    "'keyExpirationPeriodInDays' should be a number",
                    policy.path("keyExpirationPeriodInDays"),
                )
            try:
                policy_days = int(raw)
            except (ValueError, OverflowError):
                policy_days = -1
            if not 0 < policy_days <= 100_000:
                raise ImportFormatError(
                    "'keyExpirationPeriodInDays' should be a whole number of days (1 or more)",
                    policy.path("keyExpirationPeriodInDays"),
                )
        ok = policy_days is not None and policy_days <= max_age.days
        yield obs(
            "storage_key_expiration_policy",
            "key-policy",
            "medium",
            "No key expiration policy"
            if policy_days is None
            else f"Key expiration policy longer than {max_age.days} days",
            "key_policy",
            ok,
        )

    # Key age.
    if acc.has("keyCreationTime"):
        times = acc.sub("keyCreationTime")
        limit = timedelta(days=policy_days) if policy_days else max_age
        created: dict[str, datetime | None] = {}
        for key in ("key1", "key2"):
            value = times.get(key) if times else None
            where = times.path(key) if times else acc.path("keyCreationTime")
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, str | int | float)
            ):
                raise ImportFormatError(f"expected a date, found {type_name(value)}", where)
            created[key] = _date(value, where) if value is not None else None
        old = [k for k, t in created.items() if t is None or now - t > limit]
        yield obs(
            "storage_key_rotation",
            "key-rotation",
            "medium",
            f"Account key(s) {', '.join(old)} not rotated in {limit.days} days"
            if old
            else "Account keys rotated",
            "rotation",
            not old,
        )
        if all(created.values()) and refs:
            oldest = min(t for t in created.values() if t)
            yield RotationEvent(
                action="rotated",
                references=list(refs),
                occurred_at=oldest,
                event_name="KeyCreationTime",
                event_id=f"azure-storage-keys:{resource}:{oldest.isoformat()}",
                detail=f"both keys of storage account {name} created at or after "
                f"{oldest.isoformat()}",
            )

    # SAS expiration policy.
    if acc.evaluated("sasPolicy"):
        sas = acc.sub("sasPolicy")
        period = None
        if sas is not None and sas.get("sasExpirationPeriod") is not None:
            period = parse_period(sas.get("sasExpirationPeriod"), sas.path("sasExpirationPeriod"))
        ok = period is not None and period <= MAX_SAS_PERIOD
        yield obs(
            "storage_sas_expiration_policy",
            "sas-policy",
            "medium",
            "No SAS expiration policy"
            if period is None
            else (
                "SAS expiration policy of 7 days or less"
                if ok
                else "SAS expiration policy longer than 7 days"
            ),
            "sas_policy",
            ok,
        )

    # Shared key authorization.
    if acc.evaluated("allowSharedKeyAccess"):
        allowed = acc.get("allowSharedKeyAccess")
        if allowed is not None and not isinstance(allowed, bool):
            if isinstance(allowed, str) and allowed.strip().lower() in ("true", "false"):
                allowed = allowed.strip().lower() == "true"
            else:
                raise ImportFormatError(
                    "'allowSharedKeyAccess' should be true, false or null",
                    acc.path("allowSharedKeyAccess"),
                )
        yield obs(
            "storage_shared_key_access",
            "shared-key-access",
            "high",
            "Shared key authorization allowed",
            "shared_key",
            allowed is False,
        )
