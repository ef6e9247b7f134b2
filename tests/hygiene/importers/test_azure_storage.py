import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hygiene.importers import get_parser
from hygiene.importers.azure_storage import parse, parse_period
from hygiene.importers.base import ImportFormatError, Observation, Reference, RotationEvent

FIXTURES = Path(__file__).parents[2] / "fixtures"
AZ = FIXTURES / "azure-storage-accounts"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SUB = "8b1c2d3e-0000-4a7c-9940-4d9779fbce91"
SAMPLE_ID = (
    "/subscriptions/1cb67706-f0c0-4a7c-9940-4d9779fbce91/resourceGroups/readit-app-rg/"
    "providers/Microsoft.Storage/storageAccounts/bkrreaditfuncstorage"
)


def account_id(name: str, rg: str = "data-rg") -> str:
    return (
        f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Storage/"
        f"storageAccounts/{name}"
    )


def load(name: str, **kwargs) -> list:
    kwargs.setdefault("now", NOW)
    with (AZ / name).open("rb") as fh:
        return list(parse(fh, **kwargs))


def parse_obj(obj, **kwargs) -> list:
    kwargs.setdefault("now", NOW)
    return list(parse(io.BytesIO(json.dumps(obj).encode()), **kwargs))


def results(items):
    """{(account name, rule): passed}"""
    return {
        (i.resource.rsplit("/", 1)[-1], i.rule): i.passed
        for i in items
        if isinstance(i, Observation)
    }


def test_registered():
    assert get_parser("azure-storage-accounts") is parse


# --- the published samples ----------------------------------------------------------------


def test_sample_key_creation_time():
    items = load("az_storage_account_show_keyCreationTime_excerpt.json")
    obs = [i for i in items if isinstance(i, Observation)]
    assert [(o.rule, o.secret_type, o.severity, o.passed) for o in obs] == [
        ("storage_key_expiration_policy", "key-policy", "medium", False),  # keyPolicy null
        ("storage_key_rotation", "key-rotation", "medium", False),  # keys from 2022
    ]
    # sasPolicy and allowSharedKeyAccess are not in the excerpt: not evaluated
    for o in obs:
        assert o.category == "posture"
        assert o.resource == SAMPLE_ID
        assert o.account == "1cb67706-f0c0-4a7c-9940-4d9779fbce91"
        assert o.region == "eastasia"
        assert o.references == [
            Reference("storage-account", "bkrreaditfuncstorage"),
            Reference("other", SAMPLE_ID),
        ]
        assert o.tool_ids == {"name": "bkrreaditfuncstorage"}
    assert obs[1].title == "Account key(s) key1, key2 not rotated in 90 days"
    (event,) = [i for i in items if isinstance(i, RotationEvent)]
    assert event.action == "rotated"
    assert event.occurred_at == datetime(2022, 3, 6, 17, 33, 57, 403844, tzinfo=UTC)
    assert event.event_name == "KeyCreationTime"
    assert event.references == obs[0].references


def test_sample_key_creation_time_fresh_when_now_is_close():
    items = load(
        "az_storage_account_show_keyCreationTime_excerpt.json",
        now=datetime(2022, 4, 1, tzinfo=UTC),
    )
    assert results(items)[("bkrreaditfuncstorage", "storage_key_rotation")] is True


def test_sample_sas_policy_pascal_case():
    # The docs' sample: just {"SasPolicy": {...}}, "1.12:05:06" = 1.5 days <= 7 days. Named, it
    # is read; alone it names no account: refused (a finding of no account, which a PASS of
    # another unnamed one would resolve).
    sample = json.loads((AZ / "refused" / "az_storage_account_show_sasPolicy.json").read_text())
    (obs,) = parse_obj({**sample, "name": "acc", "id": account_id("acc")})
    assert obs.rule == "storage_sas_expiration_policy"
    assert obs.secret_type == "sas-policy"
    assert obs.passed is True
    assert obs.resource == account_id("acc")
    with pytest.raises(ImportFormatError) as info:
        load("refused/az_storage_account_show_sasPolicy.json")
    assert "without 'id' or 'name'" in info.value.message
    assert "keep id and name in your --query" in info.value.message


# --- generated list ---------------------------------------------------------------------


def test_generated_list():
    items = load("generated_az_storage_account_list.json")
    got = results(items)
    assert got == {
        ("leaklinegood", "storage_key_expiration_policy"): True,
        ("leaklinegood", "storage_key_rotation"): True,
        ("leaklinegood", "storage_sas_expiration_policy"): True,
        ("leaklinegood", "storage_shared_key_access"): True,
        ("leaklinedata", "storage_key_expiration_policy"): False,
        ("leaklinedata", "storage_key_rotation"): False,
        ("leaklinedata", "storage_sas_expiration_policy"): False,
        ("leaklinedata", "storage_shared_key_access"): False,  # null means allowed
        ("legacyblobs", "storage_key_expiration_policy"): False,  # 365 > 90
        ("legacyblobs", "storage_key_rotation"): False,  # null creation times
        ("legacyblobs", "storage_sas_expiration_policy"): False,  # 30 days
        ("legacyblobs", "storage_shared_key_access"): False,
        ("halfrotated", "storage_key_expiration_policy"): True,
        ("halfrotated", "storage_key_rotation"): False,  # key2 from 2023-12-01
        ("halfrotated", "storage_sas_expiration_policy"): True,  # exactly 7 days
        ("halfrotated", "storage_shared_key_access"): True,
    }
    obs = {(i.resource, i.rule): i for i in items if isinstance(i, Observation)}
    shared = obs[(account_id("leaklinedata"), "storage_shared_key_access")]
    assert (shared.secret_type, shared.severity) == ("shared-key-access", "high")
    assert shared.region == "westeurope"
    assert shared.account == SUB
    half = obs[(account_id("halfrotated", "app-rg"), "storage_key_rotation")]
    assert half.title == "Account key(s) key2 not rotated in 90 days"
    legacy = obs[(account_id("legacyblobs"), "storage_key_rotation")]
    # the key policy (365 days) is the limit when set
    assert legacy.title == "Account key(s) key1, key2 not rotated in 365 days"


def test_generated_events():
    events = [
        i for i in load("generated_az_storage_account_list.json") if isinstance(i, RotationEvent)
    ]
    assert [(e.references[0].value, e.occurred_at) for e in events] == [
        ("leaklinegood", datetime(2024, 5, 1, 8, tzinfo=UTC)),
        ("leaklinedata", datetime(2021, 3, 1, 10, tzinfo=UTC)),
        ("halfrotated", datetime(2023, 12, 1, tzinfo=UTC)),  # the older of the two
    ]
    assert {e.action for e in events} == {"rotated"}
    # legacyblobs has no key creation times: no event


def test_key_policy_is_the_age_limit():
    good = json.loads((AZ / "generated_az_storage_account_list.json").read_text())[0]
    # leaklinegood: policy 60 days, key1 from 2024-05-01
    assert (
        results(parse_obj(good, now=datetime(2024, 6, 30, 7, tzinfo=UTC)))[
            ("leaklinegood", "storage_key_rotation")
        ]
        is True
    )
    assert (
        results(parse_obj(good, now=datetime(2024, 7, 1, 9, tzinfo=UTC)))[
            ("leaklinegood", "storage_key_rotation")
        ]
        is False
    )
    good["keyPolicy"] = None
    assert (
        results(parse_obj(good, now=datetime(2024, 7, 1, 9, tzinfo=UTC)))[
            ("leaklinegood", "storage_key_rotation")
        ]
        is True
    )  # 90 days without a policy
    assert (
        results(parse_obj(good, now=datetime(2024, 7, 1, 9, tzinfo=UTC), max_key_age_days=30))[
            ("leaklinegood", "storage_key_rotation")
        ]
        is False
    )


def test_arm_rest_list_response():
    items = load("generated_arm_list_response.json")
    assert {rule: ok for (_, rule), ok in results(items).items()} == {
        "storage_key_expiration_policy": True,
        "storage_key_rotation": True,
        "storage_sas_expiration_policy": True,
        "storage_shared_key_access": True,
    }
    assert items[0].region == "westeurope"
    assert items[0].references[0] == Reference("storage-account", "armaccount")


def test_powershell_shape():
    ps = {
        "StorageAccountName": "psaccount",
        "Id": account_id("psaccount"),
        "Location": "uksouth",
        "KeyCreationTime": {"Key1": "2024-05-30T00:00:00Z", "Key2": "2024-05-30T00:00:00Z"},
        "KeyPolicy": {"KeyExpirationPeriodInDays": 30},
        "SasPolicy": {"SasExpirationPeriod": "14.00:00:00", "ExpirationAction": "Block"},
        "AllowSharedKeyAccess": False,
    }
    got = results(parse_obj(ps))
    assert got == {
        ("psaccount", "storage_key_expiration_policy"): True,
        ("psaccount", "storage_key_rotation"): True,
        ("psaccount", "storage_sas_expiration_policy"): False,
        ("psaccount", "storage_shared_key_access"): True,
    }


def test_single_object_shared_key_variants():
    base = {"id": account_id("acc"), "name": "acc"}
    for value, ok in [(True, False), (None, False), (False, True), ("false", True)]:
        (obs,) = parse_obj({**base, "allowSharedKeyAccess": value})
        assert obs.passed is ok, value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.12:05:06", timedelta(days=1, hours=12, minutes=5, seconds=6)),
        ("7.00:00:00", timedelta(days=7)),
        ("00:30:00", timedelta(minutes=30)),
        ("365.00:00:00", timedelta(days=365)),
    ],
)
def test_parse_period(text, expected):
    assert parse_period(text, "$") == expected


@pytest.mark.parametrize("text", ["7 days", "1.25:00:00", "P7D", "", "1.12:60:00"])
def test_parse_period_rejects(text):
    with pytest.raises(ImportFormatError) as info:
        parse_period(text, "$.sasPolicy.sasExpirationPeriod")
    assert info.value.location == "$.sasPolicy.sasExpirationPeriod"


def test_sas_just_over_seven_days_fails():
    (obs,) = parse_obj({"name": "a", "sasPolicy": {"sasExpirationPeriod": "7.00:00:01"}})
    assert obs.passed is False
    (obs,) = parse_obj({"name": "a", "sasPolicy": None})
    assert obs.passed is False
    assert obs.title == "No SAS expiration policy"


def test_empty_array():
    assert parse_obj([]) == []


def test_default_now_is_current_time():
    fresh = datetime.now(UTC).isoformat()
    obj = {"name": "a", "keyCreationTime": {"key1": fresh, "key2": fresh}}
    assert (
        results(list(parse(io.BytesIO(json.dumps(obj).encode()))))[("a", "storage_key_rotation")]
        is True
    )


# --- bad input -------------------------------------------------------------------------------


def expect_error(data: bytes) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        list(parse(io.BytesIO(data), now=NOW))
    return info.value


def test_empty_binary_not_json():
    assert "empty" in expect_error(b"").message
    assert "gzip-compressed; decompress it" in expect_error(b"\x1f\x8b\x08\x00\x00\x00").message
    assert expect_error(b"name,id\n").location == "byte 0"


def test_truncated():
    data = (AZ / "generated_az_storage_account_list.json").read_bytes()
    err = expect_error(data[:3000])
    assert "truncated" in err.message
    assert err.location.startswith("near byte")
    data = (AZ / "az_storage_account_show_keyCreationTime_excerpt.json").read_bytes()
    assert expect_error(data[:200]).location.startswith("line ")


def test_wrong_format_other_tools():
    eventbridge = FIXTURES / "aws-cloudtrail" / "RotationSucceeded_eventbridge_excerpt.json"
    err = expect_error(eventbridge.read_bytes())
    assert err.location == "$"
    assert "not a storage account" in err.message
    prowler = (FIXTURES / "prowler" / "example_output_aws.ocsf.json").read_bytes()
    assert expect_error(prowler).location == "$[0]"


def test_wrong_shapes_have_locations():
    assert expect_error(b"[1]").location == "$[0]"
    assert expect_error(b'{"name": "a", "keyPolicy": []}').location == "$.keyPolicy"
    err = expect_error(b'{"name": "a", "keyPolicy": {"keyExpirationPeriodInDays": "ninety"}}')
    assert err.location == "$.keyPolicy.keyExpirationPeriodInDays"
    assert "ninety" not in str(err)
    err = expect_error(b'{"name": "a", "keyCreationTime": {"key1": "soon", "key2": null}}')
    assert err.location == "$.keyCreationTime.key1"
    err = expect_error(b'{"name": "a", "keyCreationTime": {"key1": [1], "key2": null}}')
    assert err.location == "$.keyCreationTime.key1"
    err = expect_error(b'{"name": "a", "sasPolicy": {"sasExpirationPeriod": "forever"}}')
    assert err.location == "$.sasPolicy.sasExpirationPeriod"
    assert "forever" not in str(err)
    err = expect_error(b'{"name": "a", "allowSharedKeyAccess": "sometimes"}')
    assert err.location == "$.allowSharedKeyAccess"
    err = expect_error(b'{"name": ["a"], "keyPolicy": null}')
    assert err.location == "$.name"


def test_deep_nesting():
    deep = b'[{"name": "a", "tags": ' + b"[" * 50000 + b"]" * 50000 + b"}]"
    assert "nested" in expect_error(deep).message
    deep_obj = b'{"name": "a", "tags": ' + b"[" * 50000 + b"]" * 50000 + b"}"
    assert "nested" in expect_error(deep_obj).message


def test_out_of_range_values_are_format_errors():
    err = expect_error(b'{"name": "a", "keyCreationTime": {"key1": "9999-12-31T23:00:00-05:00"}}')
    assert err.location == "$.keyCreationTime.key1"
    err = expect_error(b'{"name": "a", "keyPolicy": {"keyExpirationPeriodInDays": 1e300}}')
    assert err.location == "$.keyPolicy.keyExpirationPeriodInDays"
    err = expect_error(b'{"name": "a", "keyPolicy": {"keyExpirationPeriodInDays": 0}}')
    assert err.location == "$.keyPolicy.keyExpirationPeriodInDays"


# --- real ARM bodies from public repositories (origins: tests/fixtures/README-auditors.md) ----

SPECS_ID = (
    "/subscriptions/{subscription-id}/resourceGroups/res9407/providers/Microsoft.Storage/"
    "storageAccounts/sto8596"
)
SPECS_KEYS = datetime(2021, 3, 18, 4, 42, 22, 432283, tzinfo=UTC)  # "...22.4322836Z"


def by_rule(items):
    return {i.rule: i for i in items if isinstance(i, Observation)}


def test_real_arm_get_properties_unset_settings_are_judged():
    # ARM omits unset properties: no allowSharedKeyAccess (= allowed), no keyPolicy, no sasPolicy.
    items = load("real_azure_rest_api_specs_StorageAccountGetProperties_body.json")
    got = by_rule(items)
    assert {rule: o.passed for rule, o in got.items()} == {
        "storage_key_expiration_policy": False,
        "storage_key_rotation": False,
        "storage_sas_expiration_policy": False,
        "storage_shared_key_access": False,
    }
    shared = got["storage_shared_key_access"]
    assert (shared.resource, shared.account, shared.region, shared.severity) == (
        SPECS_ID,
        "{subscription-id}",
        "eastus2(stage)",
        "high",
    )
    assert shared.references == [
        Reference("storage-account", "sto8596"),
        Reference("other", SPECS_ID),
    ]
    assert got["storage_key_expiration_policy"].title == "No key expiration policy"
    assert got["storage_sas_expiration_policy"].title == "No SAS expiration policy"
    (event,) = [i for i in items if isinstance(i, RotationEvent)]
    assert (event.action, event.occurred_at) == ("rotated", SPECS_KEYS)  # 7-digit fraction
    assert event.references[0] == Reference("storage-account", "sto8596")


def test_real_arm_update_response_with_policies():
    got = by_rule(load("real_azure_rest_api_specs_StorageAccountUpdate_body.json"))
    assert {rule: o.passed for rule, o in got.items()} == {
        "storage_key_expiration_policy": True,  # 20 days
        "storage_key_rotation": False,  # keys of 2021, policy 20 days
        "storage_sas_expiration_policy": True,  # 1.15:59:59
        "storage_shared_key_access": False,  # allowSharedKeyAccess true
    }
    assert got["storage_key_rotation"].title == "Account key(s) key1, key2 not rotated in 20 days"
    # Recent keys under the 20-day policy pass.
    later = load(
        "real_azure_rest_api_specs_StorageAccountUpdate_body.json",
        now=SPECS_KEYS + timedelta(days=19),
    )
    assert by_rule(later)["storage_key_rotation"].passed is True


def test_arm_body_without_key_creation_time_stays_partial():
    # An old API version (no keyCreationTime) may not know the opt-in settings: not judged.
    body = json.loads(
        (AZ / "real_azure_rest_api_specs_StorageAccountGetProperties_body.json").read_bytes()
    )
    del body["properties"]["keyCreationTime"]
    assert parse_obj(body) == []


def test_real_az_cli_2026_output_with_newer_properties():
    # az storage account create output of 2026: new properties (allowSharedKeyAccessForServices,
    # dualStackEndpointPreference, ipv6Endpoints, placement, zones) beside the usual nulls.
    name = "real_tutorial_az_storage_account_create_2026.json"
    got = by_rule(load(name, now=datetime(2026, 8, 1, tzinfo=UTC)))
    assert {rule: o.passed for rule, o in got.items()} == {
        "storage_key_expiration_policy": False,  # keyPolicy null
        "storage_key_rotation": True,  # keys of 2026-07-09
        "storage_sas_expiration_policy": False,  # sasPolicy null
        "storage_shared_key_access": False,  # allowSharedKeyAccess null = allowed
    }
    rotation = got["storage_key_rotation"]
    assert rotation.resource.endswith(
        "/resourceGroups/leoGroup/providers/Microsoft.Storage/storageAccounts/leorage"
    )
    assert (rotation.account, rotation.region) == (
        "9fa4c38e-dcb2-4ca0-b292-89006f020e7a",
        "francecentral",
    )
    assert Reference("storage-account", "leorage") in rotation.references
    later = by_rule(load(name, now=datetime(2026, 11, 1, tzinfo=UTC)))
    assert later["storage_key_rotation"].passed is False
    (event,) = [i for i in load(name) if isinstance(i, RotationEvent)]
    assert event.occurred_at == datetime(2026, 7, 9, 15, 31, 22, 88205, tzinfo=UTC)


def test_real_arm_list_body_of_an_older_shape_is_read_but_not_judged():
    # The ARM list example: no keyCreationTime (nor keyPolicy, sasPolicy,
    # allowSharedKeyAccess), a "{subscription-id}" placeholder in the ids. Read without error;
    # nothing to judge, as for an API version that predates those settings.
    assert load("real_azure_rest_api_specs_StorageAccountList_body.json") == []


def test_resource_graph_results():
    # Azure Resource Graph holds the ARM body (unset properties left out), with its type in
    # lower case and the subscription beside it: az graph query's {"count", "data",
    # "skip_token", "total_records"} and the REST API's {"totalRecords", "data", ...}.
    body = json.loads(
        (AZ / "real_azure_rest_api_specs_StorageAccountGetProperties_body.json").read_text()
    )
    expected = load("real_azure_rest_api_specs_StorageAccountGetProperties_body.json", now=NOW)
    row = {
        **body,
        "type": "microsoft.storage/storageaccounts",
        "subscriptionId": "{subscription-id}",
    }
    az_graph = {"count": 2, "data": [row, row], "skip_token": None, "total_records": 2}
    rest = {"totalRecords": 1, "count": 1, "data": [row], "facets": [], "resultTruncated": "false"}
    assert parse_obj(az_graph, now=NOW) == expected * 2
    assert parse_obj(rest, now=NOW) == expected
    assert parse_obj({"count": 0, "data": [], "skip_token": None, "total_records": 0}) == []
    err = expect_error(json.dumps({"count": 1, "data": {"a": 1}, "total_records": 1}).encode())
    assert err.location == "$.data"
    err = expect_error(json.dumps({"count": 1, "data": [1], "total_records": 1}).encode())
    assert err.location == "$.data[0]"
    # Another document with a "data" key is not a Resource Graph result.
    err = expect_error(json.dumps({"data": [row], "kind": "other"}).encode())
    assert (err.location, "not a storage account" in err.message) == ("$", True)


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"count": 1, "data": [], "skip_token": "ew0KICAi", "total_records": 400}, "$.skip_token"),
        ({"totalRecords": 400, "data": [], "$skipToken": "ew0K"}, "$.$skipToken"),
        ({"totalRecords": 400, "data": [], "resultTruncated": "true"}, "$.resultTruncated"),
        ({"value": [], "nextLink": "https://management.azure.com/x?$skiptoken=1"}, "$.nextLink"),
    ],
)
def test_one_page_of_a_longer_listing_is_refused(doc, where):
    # Imported as a full scan, the accounts on the other pages would be resolved as no longer
    # seen: the user is told to fetch every page.
    err = expect_error(json.dumps(doc).encode())
    assert err.location == where
    assert "every page" in err.message


# --- several subscriptions, PowerShell 5.1 ---------------------------------------------------


def other_subscription_list() -> list:
    other = "11111111-2222-3333-4444-555555555555"
    account = json.loads((AZ / "generated_az_storage_account_list.json").read_text())[1]
    return [
        {**account, "name": "othersubdata", "id": account_id("othersubdata").replace(SUB, other)}
    ]


def test_arrays_one_after_another_from_a_loop_over_subscriptions():
    # for s in ...; do az storage account list --subscription $s; done > all.json
    first = (AZ / "generated_az_storage_account_list.json").read_bytes()
    second = json.dumps(other_subscription_list(), indent=2).encode()
    items = list(parse(io.BytesIO(first + b"\n" + second + b"\n"), now=NOW))
    expected = results(load("generated_az_storage_account_list.json"))
    expected.update(
        {
            ("othersubdata", rule): False
            for rule in (
                "storage_key_expiration_policy",
                "storage_key_rotation",
                "storage_sas_expiration_policy",
                "storage_shared_key_access",
            )
        }
    )
    assert results(items) == expected
    other = [
        i for i in items if isinstance(i, Observation) and i.references[0].value == "othersubdata"
    ]
    assert {i.account for i in other} == {"11111111-2222-3333-4444-555555555555"}
    # Compact, on one line, with an empty subscription's [] in between.
    compact = b"".join(
        json.dumps(doc).encode() for doc in (json.loads(first), [], other_subscription_list())
    )
    assert results(parse(io.BytesIO(compact), now=NOW)) == expected


def test_errors_in_a_later_array_say_where():
    first = (AZ / "generated_az_storage_account_list.json").read_bytes()
    bad = [{**other_subscription_list()[0], "keyPolicy": []}]
    err = expect_error(first + json.dumps(bad).encode())
    assert err.location == "array 2 $[0].keyPolicy"
    assert expect_error(first + b"[1]").location == "array 2 $[0]"
    second = json.dumps(other_subscription_list() * 2, indent=2).encode()
    err = expect_error(first + second[:-60])
    assert "truncated" in err.message
    assert err.location.startswith("near byte") and err.location.endswith("(after array 2 $[0])")
    err = expect_error(first + b'{"name": "a", "keyPolicy": null}')
    assert "expected another array of storage accounts after the first" in err.message
    assert err.location == "after array 1"


def test_powershell_5_1_dates():
    # Windows PowerShell 5.1: Get-AzStorageAccount | ConvertTo-Json writes "\/Date(ms)\/".
    items = load("generated_powershell51_convertto_json.json")
    assert results(items) == {
        ("psrotated", "storage_key_expiration_policy"): True,
        ("psrotated", "storage_key_rotation"): True,  # 2024-05-10 and 05-24, policy 60 days
        ("psrotated", "storage_sas_expiration_policy"): True,
        ("psrotated", "storage_shared_key_access"): True,
        ("pslegacy", "storage_key_expiration_policy"): False,
        ("pslegacy", "storage_key_rotation"): False,
        ("pslegacy", "storage_sas_expiration_policy"): False,
        ("pslegacy", "storage_shared_key_access"): False,
    }
    (event,) = [i for i in items if isinstance(i, RotationEvent)]
    assert event.occurred_at == datetime(2024, 5, 10, 8, tzinfo=UTC)  # the older key, in UTC
    assert event.references[0] == Reference("storage-account", "psrotated")
    assert (
        results(load("generated_powershell51_convertto_json.json", now=NOW + timedelta(days=60)))[
            ("psrotated", "storage_key_rotation")
        ]
        is False
    )


def ps_key_times(key1: str, key2: str | None) -> bytes:
    """An account with these key times, written as PowerShell 5.1 writes them ("\\/Date(")."""
    doc = json.dumps({"name": "a", "KeyCreationTime": {"Key1": key1, "Key2": key2}})
    return doc.replace("/", "\\/").encode()


@pytest.mark.parametrize(
    "text", ["/Date(1715328000000)/", "/Date(1715328000000+0200)/", "/Date(1715328000000-0500)/"]
)
def test_powershell_date_forms_are_the_same_instant(text):
    # The offset says where the date was written; the milliseconds count from the epoch in UTC.
    (_, event) = list(parse(io.BytesIO(ps_key_times(text, text)), now=NOW))
    assert event.occurred_at == datetime(2024, 5, 10, 8, tzinfo=UTC)


def test_bad_powershell_dates_have_locations():
    for text in ["/Date(soon)/", "/Date(999999999999999)/", "/Date(1715328000000+02)/"]:
        err = expect_error(ps_key_times(text, None))
        assert err.location == "$.KeyCreationTime.Key1", text


KEY_1 = "y+U5+9dSFakeKeyValueForLeaklineTests000000000000000000000000000000Ryx0k4+ASt0iuHlQ=="
KEY_2 = "TfdkgSUYFakeKeyValueForLeaklineTests00000000000000000000000000000000000000000000AA=="


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        # az storage account keys list (az 2.x, with creationTime; a public AKS tutorial's
        # output, values replaced)
        (
            [
                {
                    "creationTime": "2023-12-27T17:51:34.896182+00:00",
                    "keyName": "key1",
                    "permissions": "FULL",
                    "value": KEY_1,
                },
                {
                    "creationTime": "2023-12-27T14:03:44.634621+00:00",
                    "keyName": "key2",
                    "permissions": "FULL",
                    "value": KEY_2,
                },
            ],
            "$[0]",
        ),
        # older az output without creationTime (tutorials of 2019-2021)
        ([{"keyName": "key1", "permissions": "Full", "value": KEY_1}], "$[0]"),
        # one key (--query "[0]"): its "value" is no ARM list
        ({"keyName": "key1", "permissions": "FULL", "value": KEY_1}, "$"),
        # ARM listKeys as the template reference documents it
        (
            {
                "keys": [
                    {"keyName": "key1", "permissions": "Full", "value": KEY_1},
                    {"keyName": "key2", "permissions": "Full", "value": KEY_2},
                ]
            },
            "$",
        ),
    ],
)
def test_key_listing_is_refused_with_what_to_import_instead(doc, where):
    err = expect_error(json.dumps(doc).encode())
    assert err.location == where
    assert "keys list" in err.message and "az storage account list or show" in err.message
    assert KEY_1 not in str(err) and KEY_2 not in str(err)
