import copy
import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers import get_parser
from hygiene.importers.aws_cloudtrail import console_url, parse
from hygiene.importers.base import ImportFormatError, Reference, RotationEvent

FIXTURES = Path(__file__).parents[2] / "fixtures"
CT = FIXTURES / "aws-cloudtrail"
C = "111122223333"
DB_SECRET = f"arn:aws:secretsmanager:eu-west-1:{C}:secret:prod/db/password-Ab12Cd"
API_SECRET = f"arn:aws:secretsmanager:eu-west-1:{C}:secret:prod/api-key-Zz99Yy"
NEW_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


def load(name: str) -> list[RotationEvent]:
    with (CT / name).open("rb") as fh:
        return list(parse(fh))


def parse_bytes(data: bytes) -> list[RotationEvent]:
    return list(parse(io.BytesIO(data)))


def records() -> list[dict]:
    return json.loads((CT / "generated_cloudtrail_log.json").read_text())["Records"]


def test_registered():
    assert get_parser("aws-cloudtrail") is parse


# --- the published sample ----------------------------------------------------------------


def test_sample_eventbridge_rotation_succeeded():
    (event,) = load("RotationSucceeded_eventbridge_excerpt.json")
    arn = "arn:aws:secretsmanager:us-west-2:accountid:secret:Appuser-pyodbc-WoDpmU"
    assert event.action == "rotated"
    assert event.event_name == "RotationSucceeded"
    assert event.references == [Reference("arn", arn), Reference("other", "Appuser-pyodbc")]
    assert event.occurred_at == datetime(2021, 8, 13, 19, 17, 16, tzinfo=UTC)
    assert event.actor == "secretsmanager.amazonaws.com"
    assert event.event_id == "638c6d2d-e098-4100-a3e0-a4b7b87e5b92"
    assert event.evidence_url == (
        "https://us-west-2.console.aws.amazon.com/cloudtrail/home?region=us-west-2"
        "#/events/638c6d2d-e098-4100-a3e0-a4b7b87e5b92"
    )
    assert "RotationSucceeded" in event.detail


# --- generated log file -------------------------------------------------------------------


EXPECTED = [
    # (eventName, action, first reference)
    ("CreateAccessKey", "created", Reference("aws-access-key-id", "AKIAEXAMPLENEWKEY001")),
    ("UpdateAccessKey", "revoked", Reference("aws-access-key-id", "AKIAEXAMPLEOLDKEY001")),
    ("DeleteAccessKey", "revoked", Reference("aws-access-key-id", "AKIAEXAMPLEOLDKEY001")),
    ("DeleteAccessKey", "revoked", Reference("aws-access-key-id", "AKIAEXAMPLEADMINKEY0")),
    ("RotateSecret", "rotation_started", Reference("other", "prod/db/password")),
    ("RotationStarted", "rotation_started", Reference("arn", DB_SECRET)),
    ("RotationSucceeded", "rotated", Reference("arn", DB_SECRET)),
    ("RotationFailed", "rotation_failed", Reference("arn", API_SECRET)),
    ("PutSecretValue", "rotated", Reference("arn", API_SECRET)),
    ("RotateSecret", "rotation_failed", Reference("other", "legacy/token")),
    ("UpdateSecret", "rotated", Reference("other", "legacy/token")),
]


def test_log_file_events():
    events = load("generated_cloudtrail_log.json")
    assert [(e.event_name, e.action, e.references[0]) for e in events] == EXPECTED
    # skipped: UpdateAccessKey Active (3), DeleteAccessKey with AccessDenied (5),
    # GetSecretValue (10), ConsoleLogin (13), RotationAbandoned (14: a new value put by hand
    # took the place of a pending rotation), UpdateSecret without a new value (16)
    ids = [e.event_id[:8] for e in events]
    assert ids == [f"e{n:07d}" for n in (1, 2, 4, 6, 7, 8, 9, 11, 12, 15, 17)]


def test_gzip_log_file_same_as_plain():
    assert load("generated_cloudtrail_log.json.gz") == load("generated_cloudtrail_log.json")


def test_iam_references_and_actor():
    events = load("generated_cloudtrail_log.json")
    create, deactivate, delete, delete_own = events[:4]
    user_arn = f"arn:aws:iam::{C}:user/deploy-bot"
    assert create.references == [
        Reference("aws-access-key-id", "AKIAEXAMPLENEWKEY001"),
        Reference("arn", user_arn),
        Reference("other", "deploy-bot"),
    ]
    assert create.actor == f"arn:aws:iam::{C}:user/admin"
    assert create.occurred_at == datetime(2024, 6, 1, 9, tzinfo=UTC)
    assert create.detail == "IAM access key AKIA…Y001 of user deploy-bot created"
    assert deactivate.references[1:] == [
        Reference("arn", user_arn),
        Reference("other", "deploy-bot"),
    ]
    assert deactivate.detail.endswith("deactivated")
    assert delete.actor == f"arn:aws:sts::{C}:assumed-role/SecOps/ops"
    assert delete.detail.endswith("deleted")
    # no userName: IAM acted on the caller's own key
    assert delete_own.references == [
        Reference("aws-access-key-id", "AKIAEXAMPLEADMINKEY0"),
        Reference("arn", f"arn:aws:iam::{C}:user/admin"),
    ]
    assert create.evidence_url == console_url("us-east-1", create.event_id)


def test_secrets_manager_references():
    events = load("generated_cloudtrail_log.json")
    rotate = events[4]
    assert rotate.references == [
        Reference("other", "prod/db/password"),
        Reference("arn", DB_SECRET),
    ]
    assert rotate.actor == f"arn:aws:sts::{C}:assumed-role/SecOps/ops"
    failed = events[9]
    assert failed.detail.endswith("(error AccessDeniedException)")
    assert failed.references == [Reference("other", "legacy/token")]
    assert all(e.evidence_url.startswith("https://") for e in events)


def test_secret_access_key_never_lands_anywhere():
    for event in load("generated_cloudtrail_log.json"):
        assert NEW_SECRET_KEY not in repr(event)
        assert "HIDDEN_DUE_TO_SECURITY_REASONS" not in repr(event)
    # even when the access key id field is missing and the secret is the only value
    rec = copy.deepcopy(records()[0])
    rec["responseElements"]["accessKey"] = {"secretAccessKey": NEW_SECRET_KEY}
    rec["requestParameters"] = {"userName": "deploy-bot"}
    events = parse_bytes(json.dumps({"Records": [rec]}).encode())
    assert NEW_SECRET_KEY not in repr(events)
    assert events[0].references == [
        Reference("arn", f"arn:aws:iam::{C}:user/deploy-bot"),
        Reference("other", "deploy-bot"),
    ]


def test_eventbridge_json_lines_and_array():
    events = load("generated_eventbridge.jsonl")
    # 4 envelopes: RotationSucceeded, UpdateAccessKey, GetSecretValue (skipped), EC2 (skipped)
    assert [(e.event_name, e.action) for e in events] == [
        ("RotationSucceeded", "rotated"),
        ("UpdateAccessKey", "revoked"),
    ]
    lines = (CT / "generated_eventbridge.jsonl").read_text().splitlines()
    as_array = ("[" + ",".join(lines) + "]").encode()
    assert parse_bytes(as_array) == events
    pretty = json.dumps(json.loads(lines[0]), indent=4).encode()
    assert parse_bytes(pretty) == events[:1]


def test_lookup_events_output():
    (event,) = load("generated_lookup_events.json")
    assert event.event_name == "DeleteAccessKey"
    assert event.action == "revoked"
    assert event.references[0] == Reference("aws-access-key-id", "AKIAEXAMPLEOLDKEY001")


def test_bare_records_array_and_records_not_first():
    recs = records()
    assert len(parse_bytes(json.dumps(recs).encode())) == 11
    doc = json.dumps({"Other": 1, "Records": recs}, indent=2).encode()
    assert len(parse_bytes(doc)) == 11


def test_update_access_key_active_is_skipped():
    rec = records()[2]
    assert rec["requestParameters"]["status"] == "Active"
    assert parse_bytes(json.dumps({"Records": [rec]}).encode()) == []


def test_envelope_region_and_id_fallback():
    env = json.loads((CT / "RotationSucceeded_eventbridge_excerpt.json").read_text())
    del env["detail"]["eventID"]
    del env["detail"]["awsRegion"]
    (event,) = parse_bytes(json.dumps(env).encode())
    assert event.event_id == "dd5fd657-7361-f5d2-0c0f-0fe27390611b"
    assert event.evidence_url.startswith("https://us-west-2.console.aws.amazon.com/")


@pytest.mark.parametrize(
    ("region", "prefix"),
    [
        ("eu-west-1", "https://eu-west-1.console.aws.amazon.com/cloudtrail/home?region=eu-west-1"),
        ("cn-north-1", "https://console.amazonaws.cn/cloudtrail/home?region=cn-north-1"),
        (
            "us-gov-west-1",
            "https://console.amazonaws-us-gov.com/cloudtrail/home?region=us-gov-west-1",
        ),
    ],
)
def test_console_url(region, prefix):
    assert console_url(region, "abc") == prefix + "#/events/abc"
    assert console_url("", "abc") == ""


@pytest.mark.parametrize(
    ("region", "event_id"),
    [
        ("<REGION>", "abc"),  # placeholders of a documented sample
        ("attacker.example/x?", "abc"),  # the host of the link
        ("evil.example#", "abc"),
        ("eu-west-1", "abc/../../x"),
        ("eu-west-1", "a" * 129),
        ("eu-west-1\n", "abc"),
    ],
)
def test_no_console_url_from_what_is_no_region_or_event_id(region, event_id):
    # The region goes into the link's host: a record whose awsRegion is anything else made the
    # event's evidence link point to another site.
    assert console_url(region, event_id) == ""
    rec = {**records()[1], "awsRegion": region, "eventID": event_id}
    (event,) = parse_bytes(json.dumps({"Records": [rec]}).encode())
    assert event.evidence_url == ""


def test_real_put_secret_value_from_the_console_with_placeholders():
    # A real event (PutSecretValue from the console, 2022) published with <REGION>,
    # <ACCOUNT_ID>, <SECRET_NAME> placeholders: no secretString in the request, null response.
    (event,) = load("real_postmangovsg_put_secret_value_console_eventbridge.json")
    assert (event.action, event.event_name, event.event_id) == ("rotated", "PutSecretValue", "abc")
    assert event.references == [
        Reference(
            "other",
            "arn:aws:secretsmanager:<REGION>:<ACCOUNT_ID>:secret:<SECRET_NAME>-<RANDOM_CHARACTERS>",
        )
    ]
    assert event.actor == "arn:aws:iam::<ACCOUNT_ID>:user/username"
    assert event.evidence_url == ""  # was https://<REGION>.console.aws.amazon.com/...


def test_partition_in_built_user_arn():
    rec = copy.deepcopy(records()[1])
    rec["awsRegion"] = "cn-north-1"
    (event,) = parse_bytes(json.dumps({"Records": [rec]}).encode())
    assert Reference("arn", f"arn:aws-cn:iam::{C}:user/deploy-bot") in event.references


def test_empty_records():
    assert parse_bytes(b'{"Records": []}') == []
    assert parse_bytes(b'{"Events": []}') == []


def test_one_line_log_file_and_lookup_events():
    one_line = json.dumps({"Other": 1, "Records": records()}).encode()
    assert len(parse_bytes(one_line)) == 11
    lookup = json.loads((CT / "generated_lookup_events.json").read_text())
    assert len(parse_bytes(json.dumps(lookup).encode())) == 1


# --- bad input -------------------------------------------------------------------------------


def expect_error(data: bytes) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        parse_bytes(data)
    return info.value


def test_empty_binary_text():
    assert "empty" in expect_error(b"").message
    assert "binary" in expect_error(b"\x00\x00\x00").message
    assert expect_error(b"eventName,eventTime\n").location == "byte 0"


def test_truncated():
    data = (CT / "generated_cloudtrail_log.json").read_bytes()
    err = expect_error(data[:5000])
    assert "truncated" in err.message
    assert err.location.startswith("near byte")
    assert "$.Records[" in err.location


def test_truncated_gzip():
    data = (CT / "generated_cloudtrail_log.json.gz").read_bytes()
    err = expect_error(data[: len(data) // 2])
    assert "gzip" in err.message
    err = expect_error(gzip.compress(b'{"Records": [{"eventName": '))
    assert "truncated" in err.message


def test_wrong_format_other_tools():
    vault = (FIXTURES / "vault-audit" / "vault_audit_kv_read_excerpt.jsonl").read_bytes()
    err = expect_error(vault)
    assert err.location == "line 1"
    assert "not a CloudTrail record" in err.message
    prowler = (FIXTURES / "prowler" / "example_output_aws.ocsf.json").read_bytes()
    assert expect_error(prowler).location == "$[0]"
    azure = (
        FIXTURES / "azure-storage-accounts" / "refused" / "az_storage_account_show_sasPolicy.json"
    )
    assert expect_error(azure.read_bytes()).location == "$"


def test_wrong_shapes():
    assert expect_error(b'{"Records": [1]}').location == "$.Records[0]"
    assert expect_error(b'{"Records": {"a": 1}}').location == "$.Records"
    rec = records()[1]
    rec["requestParameters"] = "status=Inactive"
    err = expect_error(json.dumps({"Records": [rec]}).encode())
    assert err.location == "$.Records[0].requestParameters"
    rec = records()[8]
    rec["eventTime"] = "last tuesday"
    err = expect_error(json.dumps({"Records": [rec]}).encode())
    assert err.location == "$.Records[0].eventTime"
    assert "tuesday" not in str(err)
    env = json.loads((CT / "RotationSucceeded_eventbridge_excerpt.json").read_text())
    env["detail"] = ["x"]
    assert expect_error(json.dumps(env).encode()).location == "line 1.detail"
    assert expect_error(json.dumps(env, indent=2).encode()).location == "$.detail"
    bad_lookup = {"Events": [{"CloudTrailEvent": "{not json"}]}
    err = expect_error(json.dumps(bad_lookup).encode())
    assert err.location == "line 1 $.Events[0].CloudTrailEvent"
    err = expect_error(json.dumps(bad_lookup, indent=1).encode())
    assert err.location == "$.Events[0].CloudTrailEvent"
    assert expect_error(b'{"Events": 3}').location == "line 1 $.Events"


def test_deep_nesting():
    deep = b'{"Records": [{"eventName": "x", "a": ' + b"[" * 50000 + b"]" * 50000 + b"}]}"
    assert "nested" in expect_error(deep).message
    deep_lines = b'{"eventName": "x", "a": ' + b"[" * 50000 + b"]" * 50000 + b"}\n"
    assert "nested" in expect_error(deep_lines).message


def test_brackets_left_open_in_strings_are_not_nesting():
    # 3,000 records under "Records", each with an open bracket in a string: a few levels deep,
    # not 3,000 (this was refused as "JSON nested deeper than 2048 levels").
    rec = records()[1]
    many = [
        {**rec, "eventID": f"e{i}", "userAgent": f'aws-cli/2.15.0 [cfg["k{i}"] {{ \\'}
        for i in range(3000)
    ]
    events = parse_bytes(json.dumps({"Records": many}).encode())
    assert [e.event_id for e in events] == [f"e{i}" for i in range(3000)]


def test_out_of_range_time_is_a_format_error():
    rec = records()[8]
    rec["eventTime"] = "9999-12-31T23:59:59-05:00"
    err = expect_error(json.dumps({"Records": [rec]}).encode())
    assert err.location == "$.Records[0].eventTime"


# --- real events from public repositories (origins: tests/fixtures/README-auditors.md) -------

REAL = CT


def load_real(name: str) -> list:
    with (REAL / name).open("rb") as fh:
        return list(parse(fh))


def test_real_elastic_iam_access_key_records_as_json_lines():
    # AWS's documentation examples as Elastic's CloudTrail pipeline tests feed them: one bare
    # record per line. Their key ids ("EXAMPLE_KEY_ID") and 13-digit account are not real
    # ones, so the only reference left is the user name.
    items = load_real("real_elastic_integrations_iam_access_keys.jsonl")
    assert [(e.action, e.event_name, e.event_id) for e in items] == [
        ("created", "CreateAccessKey", "EXAMPLE-3cab-40f8-938b-EXAMPLE"),
        ("revoked", "UpdateAccessKey", "EXAMPLE-0ef0-42cd-8551-EXAMPLE"),
        ("revoked", "DeleteAccessKey", "EXAMPLE-0698-46bd-998d-EXAMPLE"),
    ]
    assert all(e.references == [Reference("other", "Bob")] for e in items)
    assert all(e.actor == "arn:aws:iam::0123456789012:user/Alice" for e in items)
    assert [e.occurred_at for e in items] == [
        datetime(2020, 1, 8, 20, 43, 6, tzinfo=UTC),
        datetime(2020, 1, 10, 15, 1, 23, tzinfo=UTC),
        datetime(2020, 1, 8, 19, 9, 36, tzinfo=UTC),
    ]
    assert items[1].detail == "IAM access key of user Bob deactivated"
    assert items[0].evidence_url == (
        "https://us-east-1.console.aws.amazon.com/cloudtrail/home?region=us-east-1"
        "#/events/EXAMPLE-3cab-40f8-938b-EXAMPLE"
    )


def test_real_elastic_records_with_valid_ids_give_key_and_user_refs():
    lines = (REAL / "real_elastic_integrations_iam_access_keys.jsonl").read_text()
    lines = lines.replace("0123456789012", "123456789012").replace(
        '"EXAMPLE_KEY_ID"', '"AKIAIOSFODNN7EXAMPLE"'
    )
    items = list(parse(io.BytesIO(lines.encode())))
    user = "arn:aws:iam::123456789012:user/Bob"
    assert items[0].references == [
        Reference("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE"),
        Reference("arn", user),
        Reference("other", "Bob"),
    ]
    assert items[1].references == items[0].references
    assert items[1].detail == "IAM access key AKIA…MPLE of user Bob deactivated"


def test_real_rotation_failed_eventbridge_without_error_code():
    # A real RotationFailed event: errorMessage but no errorCode, ARNs shortened with "...".
    (event,) = load_real("real_umccr_rotation_failed_eventbridge.json")
    arn = "arn:aws:secretsmanager:ap-southeast-2:843407916570:secret:IcaS...icA"
    assert event.action == "rotation_failed"
    assert event.references == [Reference("arn", arn), Reference("other", "IcaS...icA")]
    assert event.occurred_at == datetime(2021, 9, 1, 0, 50, 20, tzinfo=UTC)
    assert event.actor == "secretsmanager.amazonaws.com"
    assert event.event_id == "e3b69cfe-b70e-4c94-baa9-9decc3c150b9"
    assert "lambda" not in event.detail  # the error message is not copied


def test_real_put_secret_value_eventbridge_without_event_source():
    # The envelope's "source": "aws.secretsmanager" stands in for a missing detail.eventSource.
    (event,) = load_real("real_external_secrets_reloader_put_secret_value_eventbridge.json")
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/test-secret-123456"
    assert (event.action, event.event_name) == ("rotated", "PutSecretValue")
    assert event.references == [Reference("arn", arn), Reference("other", "prod/test-secret")]
    assert event.occurred_at == datetime(2024, 10, 23, 12, 26, 45, tzinfo=UTC)
    assert event.event_id == "12345678-1234-1234-1234-123456789012"
    assert "4d383ea9" not in event.detail  # clientRequestToken not copied


@pytest.mark.parametrize(
    ("stages", "kept"),
    [(["AWSPENDING"], False), (["AWSCURRENT"], True), (["AWSCURRENT", "custom"], True)],
)
def test_put_secret_value_staged_without_awscurrent_is_not_a_rotation(stages, kept):
    # AWS's rotation function templates put the new value with VersionStages ["AWSPENDING"]
    # in their createSecret step: the leaked value stays current until RotationSucceeded
    # (and for good if the rotation then fails). The real reloader event, with the stages.
    doc = json.loads(
        (REAL / "real_external_secrets_reloader_put_secret_value_eventbridge.json").read_text()
    )
    doc["detail"]["requestParameters"]["versionStages"] = stages
    items = parse_bytes(json.dumps(doc).encode())
    assert [(e.action, e.event_name) for e in items] == (
        [("rotated", "PutSecretValue")] if kept else []
    )


PENDING_VERSION = "c8a1f1de-7c2b-4a61-9b1e-2f0c5d3e4a10"  # the clientRequestToken of the put
OLD_VERSION = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


def stage_event(**request) -> dict:
    """The real PutSecretValue EventBridge event turned into the UpdateSecretVersionStage call
    that follows it (requestParameters as CloudTrail logs the API's SecretId, VersionStage,
    MoveToVersionId, RemoveFromVersionId; responseElements its ARN and Name)."""
    doc = json.loads(
        (REAL / "real_external_secrets_reloader_put_secret_value_eventbridge.json").read_text()
    )
    arn = doc["detail"]["requestParameters"]["secretId"]
    doc["detail"]["eventName"] = "UpdateSecretVersionStage"
    doc["detail"]["requestParameters"] = {"secretId": arn, **request}
    doc["detail"]["responseElements"] = {"arn": arn, "name": "prod/test-secret"}
    return doc


def test_update_secret_version_stage_making_a_version_current_is_a_rotation():
    # finishSecret of a rotation function (and a staged manual rotation): AWSCURRENT moves to
    # the new version. It gets the references a PutSecretValue of that secret gets.
    (put,) = load_real("real_external_secrets_reloader_put_secret_value_eventbridge.json")
    doc = stage_event(
        versionStage="AWSCURRENT", moveToVersionId=PENDING_VERSION, removeFromVersionId=OLD_VERSION
    )
    (event,) = parse_bytes(json.dumps(doc).encode())
    assert (event.action, event.event_name) == ("rotated", "UpdateSecretVersionStage")
    assert event.references == put.references
    assert event.occurred_at == put.occurred_at
    assert event.event_id == put.event_id
    assert event.evidence_url == put.evidence_url
    assert event.detail == (
        "Secrets Manager UpdateSecretVersionStage for "
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/test-secret-123456"
    )
    assert PENDING_VERSION not in repr(event) and OLD_VERSION not in repr(event)
    # without removeFromVersionId (AWSCURRENT is then moved from wherever it is)
    doc = stage_event(versionStage="AWSCURRENT", moveToVersionId=PENDING_VERSION)
    assert [e.action for e in parse_bytes(json.dumps(doc).encode())] == ["rotated"]


@pytest.mark.parametrize(
    "request_parameters",
    [
        # another label moved: no current value changes
        {"versionStage": "AWSPENDING", "moveToVersionId": PENDING_VERSION},
        {"versionStage": "AWSPREVIOUS", "moveToVersionId": OLD_VERSION},
        {"versionStage": "deploy-blue", "moveToVersionId": PENDING_VERSION},
        # a label only removed
        {"versionStage": "AWSPENDING", "removeFromVersionId": PENDING_VERSION},
        {"versionStage": "AWSCURRENT", "removeFromVersionId": OLD_VERSION},
        # AWSCURRENT "moved" onto the version it is on
        {
            "versionStage": "AWSCURRENT",
            "moveToVersionId": OLD_VERSION,
            "removeFromVersionId": OLD_VERSION,
        },
        {"versionStage": "awscurrent", "moveToVersionId": PENDING_VERSION},  # labels are exact
        {},
    ],
)
def test_update_secret_version_stage_of_other_labels_is_not_a_rotation(request_parameters):
    doc = stage_event(**request_parameters)
    assert parse_bytes(json.dumps(doc).encode()) == []


def test_failed_update_secret_version_stage_is_skipped():
    doc = stage_event(versionStage="AWSCURRENT", moveToVersionId=PENDING_VERSION)
    doc["detail"]["errorCode"] = "InvalidParameterException"
    doc["detail"]["responseElements"] = None
    assert parse_bytes(json.dumps(doc).encode()) == []


def test_lambda_rotation_in_a_log_file():
    # A rotation function's steps as a trail logs them: createSecret puts the new value as
    # AWSPENDING (not yet current), finishSecret moves AWSCURRENT onto it (the rotation), then
    # Secrets Manager reports RotationSucceeded.
    base = {
        "eventVersion": "1.09",
        "eventSource": "secretsmanager.amazonaws.com",
        "awsRegion": "eu-west-1",
        "recipientAccountId": C,
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{C}:assumed-role/db-rotation-lambda/rotator",
        },
    }
    recs = [
        {
            **base,
            "eventName": "PutSecretValue",
            "eventTime": "2025-03-02T10:00:01Z",
            "eventID": "e0000001-0000-4000-8000-000000000001",
            "requestParameters": {
                "secretId": DB_SECRET,
                "clientRequestToken": PENDING_VERSION,
                "versionStages": ["AWSPENDING"],
            },
            "responseElements": {"arn": DB_SECRET},
        },
        {
            **base,
            "eventName": "UpdateSecretVersionStage",
            "eventTime": "2025-03-02T10:00:04Z",
            "eventID": "e0000001-0000-4000-8000-000000000002",
            "requestParameters": {
                "secretId": DB_SECRET,
                "versionStage": "AWSCURRENT",
                "moveToVersionId": PENDING_VERSION,
                "removeFromVersionId": OLD_VERSION,
            },
            "responseElements": {"arn": DB_SECRET, "name": "prod/db/password"},
        },
        {
            **base,
            "eventName": "RotationSucceeded",
            "eventTime": "2025-03-02T10:00:05Z",
            "eventID": "e0000001-0000-4000-8000-000000000003",
            "userIdentity": {"accountId": C, "invokedBy": "secretsmanager.amazonaws.com"},
            "eventType": "AwsServiceEvent",
            "requestParameters": None,
            "responseElements": None,
            "additionalEventData": {"SecretId": DB_SECRET},
        },
    ]
    events = parse_bytes(json.dumps({"Records": recs}).encode())
    assert [(e.action, e.event_name) for e in events] == [
        ("rotated", "UpdateSecretVersionStage"),
        ("rotated", "RotationSucceeded"),
    ]
    refs = [Reference("arn", DB_SECRET), Reference("other", "prod/db/password")]
    assert events[0].references == refs
    assert events[1].references == refs
    assert events[0].actor == f"arn:aws:sts::{C}:assumed-role/db-rotation-lambda/rotator"
    assert events[0].occurred_at == datetime(2025, 3, 2, 10, 0, 4, tzinfo=UTC)


# --- a trail's CloudWatch Logs group ------------------------------------------------------


def test_real_get_log_events_output_is_read():
    # `aws logs get-log-events` on a trail's log group (a CloudShell lab's sample results):
    # each record is the JSON string in "message"; a CloudShell heartbeat and a Health call,
    # nothing about secrets or keys, so nothing comes out, and nothing is rejected.
    assert load("real_committed_cloudshell_lab_get_log_events.json") == []


def elastic_records() -> list[dict]:
    lines = (REAL / "real_elastic_integrations_iam_access_keys.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def summary(items):
    return [(e.action, e.event_name, e.event_id, e.references, e.occurred_at) for e in items]


def test_cloudwatch_logs_shapes_give_the_same_events():
    # The real IAM records as CloudWatch Logs holds them: get-log-events / filter-log-events
    # output (one line or pretty-printed), a subscription filter's payload and an S3 export.
    expected = summary(load_real("real_elastic_integrations_iam_access_keys.jsonl"))
    assert len(expected) == 3
    recs = elastic_records()
    published = json.loads((CT / "real_committed_cloudshell_lab_get_log_events.json").read_text())
    shell = published["events"][0]
    events = [{**shell, "message": json.dumps(r, separators=(",", ":"))} for r in recs]
    get_log_events = {"events": events, "nextForwardToken": "f/1", "nextBackwardToken": "b/1"}
    filter_log_events = {
        "events": [
            {"logStreamName": f"{C}_CloudTrail_us-east-1", "eventId": "1", **e} for e in events
        ],
        "searchedLogStreams": [],
    }
    subscription = {
        "messageType": "DATA_MESSAGE",
        "owner": C,
        "logGroup": "CloudTrail/DefaultLogGroup",
        "logStream": f"{C}_CloudTrail_us-east-1",
        "subscriptionFilters": ["Destination"],
        "logEvents": [
            {"id": str(i), "timestamp": 1578516186000, "message": json.dumps(r)}
            for i, r in enumerate(recs)
        ],
    }
    for doc in (get_log_events, filter_log_events, subscription):
        assert summary(parse_bytes(json.dumps(doc).encode())) == expected
        assert summary(parse_bytes(json.dumps(doc, indent=4).encode())) == expected
    export = b"".join(b"2020-01-08T20:43:06.000Z " + json.dumps(r).encode() + b"\n" for r in recs)
    assert summary(parse_bytes(export)) == expected


def test_cloudwatch_logs_bad_messages():
    doc = {"events": [{"timestamp": 1, "message": "START RequestId: 1f0e Version: $LATEST"}]}
    err = expect_error(json.dumps(doc, indent=2).encode())
    assert err.location == "$.events[0].message"
    assert "RequestId" not in str(err)
    doc = {"events": [{"timestamp": 1, "message": {"eventName": "x"}}]}
    assert expect_error(json.dumps(doc, indent=2).encode()).location == "$.events[0].message"
    doc = {"events": [{"timestamp": 1, "message": "[1]"}]}
    assert expect_error(json.dumps(doc, indent=2).encode()).location == "$.events[0].message"
    export = b"2020-01-08T20:43:06.000Z {not json\n"
    assert expect_error(export).location.startswith("line 1")
    long_number = {"Events": [{"CloudTrailEvent": '{"a": ' + "1" * 5000 + "}"}]}
    err = expect_error(json.dumps(long_number, indent=1).encode())
    assert err.location == "$.Events[0].CloudTrailEvent"


class CountingReader(io.RawIOBase):
    """A report read in 64 KB pieces, counting how far the parser has read."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        piece = self.data[self.pos : self.pos + min(len(buffer), 65536)]
        buffer[: len(piece)] = piece
        self.pos += len(piece)
        return len(piece)


def cli_items(key: str, recs: list[dict]) -> list[dict]:
    """The real IAM records as each list holds them: get-log-events' "events" (the record as
    "message"), lookup-events' "Events" ("CloudTrailEvent"), a log file's "Records"."""
    if key == "events":
        return [{"timestamp": 1, "message": json.dumps(r)} for r in recs]
    if key == "Events":
        return [{"EventId": r["eventID"], "CloudTrailEvent": json.dumps(r)} for r in recs]
    return recs


@pytest.mark.parametrize("key", ["events", "Events", "Records"])
def test_large_cli_output_is_streamed(key):
    # `aws logs filter-log-events` over a busy trail's log group (the CLI pages through all of
    # it) or `aws cloudtrail lookup-events`: hundreds of MB, pretty-printed, the list first.
    # Read as it goes, not loaded whole: the first event comes out with most of it unread.
    recs = elastic_records()
    doc = {key: cli_items(key, recs) * 3000, "nextToken": "t/1"}
    reader = CountingReader(json.dumps(doc, indent=4).encode())
    events = parse(io.BufferedReader(reader))
    first = next(events)
    assert first.event_name == recs[0]["eventName"]
    assert reader.pos < len(reader.data) / 4
    assert len([first, *events]) == 3 * 3000
    assert reader.pos == len(reader.data)


def test_large_cli_output_errors_say_where():
    recs = elastic_records()
    doc = {"events": [{"timestamp": 1, "message": json.dumps(r)} for r in recs]}
    doc["events"].append({"timestamp": 1, "message": "[1]"})
    assert expect_error(json.dumps(doc, indent=2).encode()).location == "$.events[3].message"
    truncated = json.dumps(doc, indent=2).encode()[:-40]
    err = expect_error(truncated)
    assert err.message.startswith("malformed or truncated JSON")
    assert "$.events[2]" in err.location
    assert expect_error(b'{\n  "events": 3\n}').location == "$.events"


@pytest.mark.parametrize("key", ["events", "Events", "Records"])
def test_streamed_output_with_a_byte_order_mark(key):
    # PowerShell's Out-File and Windows editors write a UTF-8 BOM first.
    pretty = json.dumps({key: cli_items(key, elastic_records())}, indent=4).encode()
    expected = summary(parse_bytes(pretty))
    assert len(expected) == 3
    assert summary(parse_bytes(b"\xef\xbb\xbf" + pretty)) == expected


# --- a trail bucket's other files ------------------------------------------------------------


def digest() -> dict:
    return json.loads(gzip.decompress((CT / "generated_cloudtrail_digest.json.gz").read_bytes()))


def test_digest_file_holds_no_events():
    # A synced trail bucket holds a digest file (log file integrity validation) per hour and
    # region next to the log files; imported file by file, each must not fail the loop.
    assert load("generated_cloudtrail_digest.json.gz") == []
    assert parse_bytes(json.dumps(digest(), indent=2).encode()) == []
    # The first digest of a chain has no previous one; an hour without log files lists none.
    first = {**digest(), "logFiles": []}
    first.update(dict.fromkeys([k for k in first if k.startswith("previousDigest")]))
    assert parse_bytes(json.dumps(first).encode()) == []


def test_digest_files_among_log_files_in_json_lines():
    # zcat of a bucket's files: log files and digests, one document a line.
    log_file = json.dumps({"Records": records()}).encode()
    lines = json.dumps(digest()).encode() + b"\n" + log_file + b"\n" + json.dumps(digest()).encode()
    assert summary(parse_bytes(lines)) == summary(parse_bytes(log_file))
    assert len(parse_bytes(lines)) == 11


def test_an_object_with_only_some_digest_fields_is_still_refused():
    err = expect_error(json.dumps({"digestStartTime": "2024-06-21T08:00:00Z"}).encode())
    assert "not a CloudTrail record" in err.message


@pytest.mark.django_db
def test_a_digest_import_is_a_succeeded_run_without_events():
    from hygiene.models import ImportRun, Source
    from hygiene.models import RotationEvent as StoredEvent
    from hygiene.services.imports import import_report

    source = Source.objects.create(slug="trail", name="trail", kind="rotator")
    with (CT / "generated_cloudtrail_log.json.gz").open("rb") as fh:
        logged = import_report(source=source, format_key="aws-cloudtrail", stream=fh, via="cli")
    events = StoredEvent.objects.count()
    assert logged.events == 11 and events
    with (CT / "generated_cloudtrail_digest.json.gz").open("rb") as fh:
        run = import_report(source=source, format_key="aws-cloudtrail", stream=fh, via="cli")
    run.refresh_from_db()
    assert (run.status, run.error, run.events, run.received) == ("succeeded", "", 0, 0)
    assert run.missing == 0
    assert StoredEvent.objects.count() == events
    assert ImportRun.objects.filter(status="failed").count() == 0


def lake_results() -> dict:
    rows = [
        [
            {"eventID": "0c2b5f4e-7d9a-4b8e-9f1a-2b3c4d5e6f70"},
            {"eventTime": "2024-06-20 10:05:00.000"},
            {"eventName": "UpdateAccessKey"},
            {"eventSource": "iam.amazonaws.com"},
            {"requestParameters": "{userName=deployer, accessKeyId=AKIAEXAMPLEOLDKEY001}"},
        ]
    ]
    return {
        "QueryStatus": "FINISHED",
        "QueryStatistics": {"ResultsCount": 1, "TotalResultsCount": 1, "BytesScanned": 1234},
        "QueryResultRows": rows,
    }


def test_cloudtrail_lake_query_results_are_refused_saying_what_they_are():
    err = expect_error(json.dumps(lake_results(), indent=2).encode())
    assert err.location == "$"
    assert "CloudTrail Lake" in err.message and "get-query-results" in err.message
    assert '{"Records": [...]}' in err.message and "lookup-events" in err.message
    assert "AKIA" not in str(err) and "deployer" not in str(err)
    assert expect_error(json.dumps(lake_results()).encode()).location == "line 1"


# --- several documents one after another ----------------------------------------------------


def log_files() -> list[bytes]:
    """The generated log file cut in two, as CloudTrail writes each: one line, no newline."""
    recs = records()
    return [json.dumps({"Records": part}).encode() for part in (recs[:5], recs[5:])]


@pytest.mark.parametrize("between", [b"", b"\n", b"\r\n", b"\n\n  "])
def test_a_buckets_files_run_together_by_zcat(between):
    # `zcat AWSLogs/*/CloudTrail*/*/*/*/*/*.json.gz > trail.json` (or cat of the .gz files, a
    # gzip of several members): each log file's records, then the digest files' none. Was
    # refused as "malformed or truncated JSON" after the first file's last record.
    expected = summary(parse_bytes(json.dumps({"Records": records()}).encode()))
    assert len(expected) == 11
    first, second = log_files()
    files = [first, second, json.dumps(digest()).encode()]
    assert summary(parse_bytes(between.join(files))) == expected
    packed = b"".join(gzip.compress(f + between) for f in files)
    assert summary(parse_bytes(packed)) == expected
    # the digest first (a folder listed in another order) and pretty-printed copies
    pretty = [json.dumps(json.loads(f), indent=2).encode() for f in files]
    assert summary(parse_bytes(between.join([pretty[2], *pretty[:2]]))) == expected


def test_pages_of_cli_output_appended_to_one_file():
    # `aws cloudtrail lookup-events --next-token ... >> events.json` in a loop: pretty-printed
    # pages, one after another (each holds its NextToken after the list).
    recs = elastic_records()
    pages = [
        json.dumps({"Events": cli_items("Events", recs[:2]), "NextToken": "t/1"}, indent=4),
        json.dumps({"Events": cli_items("Events", recs[2:])}, indent=4),
    ]
    expected = summary(load_real("real_elastic_integrations_iam_access_keys.jsonl"))
    assert summary(parse_bytes("\n".join(pages).encode())) == expected


def test_pretty_printed_eventbridge_events_one_after_another():
    # Events copied from a rule's target log (a Lambda printing each event with indent=2).
    env = json.loads((CT / "RotationSucceeded_eventbridge_excerpt.json").read_text())
    other = json.loads((CT / "real_umccr_rotation_failed_eventbridge.json").read_text())
    text = json.dumps(env, indent=2) + "\n" + json.dumps(other, indent=2) + "\n"
    events = parse_bytes(text.encode())
    assert [e.action for e in events] == ["rotated", "rotation_failed"]


def test_arrays_of_records_one_after_another():
    # `jq .Records` of each log file, written to one file: arrays run together.
    first, second = (json.loads(f)["Records"] for f in log_files())
    expected = summary(parse_bytes(json.dumps({"Records": records()}).encode()))
    assert summary(parse_bytes(json.dumps(first).encode() + json.dumps(second).encode())) == (
        expected
    )
    pretty = json.dumps(first, indent=2) + "\n" + json.dumps(second, indent=2) + "\n"
    assert summary(parse_bytes(pretty.encode())) == expected
    err = expect_error(json.dumps(first).encode() + b"[1]")
    assert err.location == "document 2 $[0]"


def test_boundaries_inside_strings_are_not_boundaries():
    # "}{" and "] [" inside a string value: one document, not two.
    rec = {**records()[1], "userAgent": 'x}{"Records": [ ]}  [{y'}
    first, _ = log_files()
    data = json.dumps({"Records": [rec]}).encode() + first
    assert [e.event_id for e in parse_bytes(data)] == [records()[1]["eventID"]] + [
        e.event_id for e in parse_bytes(first)
    ]


def test_a_broken_document_among_several_says_which():
    first, second = log_files()
    err = expect_error(first + second[:-30])
    assert err.message.startswith("malformed or truncated JSON")
    assert err.location.startswith(f"document 2 (from byte {len(first)}) near byte ")
    rec = records()[8]
    rec["eventTime"] = "last tuesday"
    err = expect_error(first + b"\n" + json.dumps({"Records": [rec]}).encode())
    assert err.location == "document 2 $.Records[0].eventTime"
    err = expect_error(first + b"\n" + json.dumps({"Records": 3}).encode())
    assert err.location == f"document 2 (from byte {len(first) + 1}) $.Records"
    # what follows a document is another one, or nothing
    err = expect_error(first + b"\n" + b"eventName,eventTime\n")
    assert "malformed" in err.message
    assert err.location.startswith("near byte")
    assert "eventName" not in str(err)


# --- RotateSecret that only sets up rotation -------------------------------------------------


def rotate_secret(**request_parameters) -> dict:
    rec = copy.deepcopy(records()[6])
    assert rec["eventName"] == "RotateSecret"
    rec["requestParameters"] = {"secretId": "prod/db/password", **request_parameters}
    return rec


@pytest.mark.parametrize("immediately", [False, "false"])
def test_rotate_secret_not_rotating_immediately_starts_no_rotation(immediately):
    # `aws secretsmanager rotate-secret --no-rotate-immediately` (Terraform's
    # aws_secretsmanager_secret_rotation with rotate_immediately = false): the schedule and the
    # function are set, the value is rotated in the next window. Was "rotation_started".
    rec = rotate_secret(
        rotationLambdaARN="arn:aws:lambda:eu-west-1:111122223333:function:rotate-pg",
        rotationRules={"automaticallyAfterDays": 30},
        rotateImmediately=immediately,
    )
    assert parse_bytes(json.dumps({"Records": [rec]}).encode()) == []
    # set up to rotate now (true, or not said: the default), it starts one
    for params in ({"rotateImmediately": True}, {}):
        (event,) = parse_bytes(json.dumps({"Records": [rotate_secret(**params)]}).encode())
        assert event.action == "rotation_started"
    # a failed call still says rotation is not working
    failed = {**rec, "errorCode": "AccessDeniedException"}
    (event,) = parse_bytes(json.dumps({"Records": [failed]}).encode())
    assert event.action == "rotation_failed"


def test_rotation_abandoned_is_not_a_failure():
    # Secrets Manager logs RotationAbandoned when a new version put by hand takes the place of
    # a pending rotation's (its PutSecretValue is the rotation). Was "rotation_failed", which
    # alerted "Rotation failed" on an incident whose secret had just been rotated.
    (rec,) = [r for r in records() if r["eventName"] == "RotationAbandoned"]
    assert parse_bytes(json.dumps({"Records": [rec]}).encode()) == []
    env = json.loads((CT / "real_umccr_rotation_failed_eventbridge.json").read_text())
    env["detail"]["eventName"] = "RotationAbandoned"
    del env["detail"]["errorMessage"]
    assert parse_bytes(json.dumps(env).encode()) == []


def data_message(recs: list[dict]) -> dict:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": C,
        "logGroup": "aws-cloudtrail-logs-111122223333",
        "logStream": f"{C}_CloudTrail_us-east-1",
        "subscriptionFilters": ["to-firehose"],
        "logEvents": [
            {"id": str(i), "timestamp": 1578516186000, "message": json.dumps(r)}
            for i, r in enumerate(recs)
        ],
    }


# CloudWatch Logs checking a new subscription's destination (sent as the first record).
CONTROL_MESSAGE = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [
        {
            "id": "",
            "timestamp": 1578516180000,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        }
    ],
}


def test_firehose_delivery_of_a_cloudwatch_logs_subscription():
    # A trail's log group subscribed to Firehose, delivered to S3: each record the
    # subscription's gzipped payload, the object their concatenation (gzip members one after
    # another: no newline between the documents once unpacked). Was refused ("malformed JSON:
    # Extra data" on line 1, and the control message as "not a CloudTrail record").
    recs = elastic_records()
    expected = summary(load_real("real_elastic_integrations_iam_access_keys.jsonl"))
    docs = [CONTROL_MESSAGE, data_message(recs[:1]), data_message(recs[1:])]
    packed = b"".join(gzip.compress(json.dumps(d).encode()) for d in docs)
    assert summary(parse_bytes(packed)) == expected
    assert summary(parse_bytes(gzip.decompress(packed))) == expected
    assert parse_bytes(json.dumps(CONTROL_MESSAGE).encode()) == []
    # on several lines (zcat of several objects): numbered as lines still
    lines = b"\n".join(json.dumps(d).encode() for d in docs) + b"\n" + gzip.decompress(packed)
    assert summary(parse_bytes(lines)) == expected * 2
    bad = data_message(recs[:1])
    bad["logEvents"][0]["message"] = "START RequestId: 1f0e Version: $LATEST"
    err = expect_error(
        json.dumps(data_message(recs)).encode()
        + b"\n"
        + gzip.decompress(packed)
        + json.dumps(bad).encode()
    )
    assert err.location == "line 2 document 4 $.logEvents[0].message"
    assert "RequestId" not in str(err)
    err = expect_error(json.dumps(CONTROL_MESSAGE).encode() + b'{"logEvents": [{"a": }')
    assert err.message.startswith("malformed JSON")
    assert err.location.startswith("line 1 document 2 line 1 column ")


def test_an_eventbridge_rules_log_group():
    # A rule on Secrets Manager / IAM events with a CloudWatch Logs target (/aws/events/...):
    # each message is the EventBridge event. Read through get-log-events / filter-log-events or
    # a subscription it gave nothing (the envelope was taken for the record); an export did.
    env = json.loads((CT / "RotationSucceeded_eventbridge_excerpt.json").read_text())
    failed = json.loads((CT / "real_umccr_rotation_failed_eventbridge.json").read_text())
    expected = summary(parse_bytes(json.dumps(env).encode() + json.dumps(failed).encode()))
    assert [e[0] for e in expected] == ["rotated", "rotation_failed"]
    messages = [
        {"timestamp": 1628882236000, "message": json.dumps(e), "ingestionTime": 1628882237000}
        for e in (env, failed)
    ]
    get_log_events = {"events": messages, "nextForwardToken": "f/1"}
    subscription = {**data_message([]), "logGroup": "/aws/events/secrets-rotation"}
    subscription["logEvents"] = [
        {"id": str(i), "timestamp": m["timestamp"], "message": m["message"]}
        for i, m in enumerate(messages)
    ]
    for doc in (get_log_events, subscription):
        assert summary(parse_bytes(json.dumps(doc).encode())) == expected
        assert summary(parse_bytes(json.dumps(doc, indent=2).encode())) == expected
    # the envelope's region and id stand in for the record's, as for the event itself
    env["detail"].pop("eventID")
    doc = {"events": [{"timestamp": 1, "message": json.dumps(env)}]}
    (event,) = parse_bytes(json.dumps(doc).encode())
    assert event.event_id == env["id"]
    bad = {"events": [{"timestamp": 1, "message": json.dumps({**env, "detail": "x"})}]}
    assert expect_error(json.dumps(bad).encode()).location == "line 1 $.events[0].message.detail"


def test_other_aws_event_notifications_are_refused_not_read_as_nothing():
    # An S3 notification of a new log file in the trail's bucket (what a trail's SNS topic or
    # an S3 event sends), and a Lambda function's SQS batch: {"Records": [...]} too. Were
    # imported as log files holding no rotation event.
    s3 = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2024-06-01T09:05:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "trail-bucket"},
                    "object": {
                        "key": f"AWSLogs/{C}/CloudTrail/us-east-1/2024/06/01/x.json.gz",
                        "size": 1024,
                    },
                },
            }
        ]
    }
    env = (CT / "RotationSucceeded_eventbridge_excerpt.json").read_text()
    sqs = {
        "Records": [
            {
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "body": env,
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:{C}:rotation-events",
                "awsRegion": "us-east-1",
            }
        ]
    }
    for doc in (s3, sqs):
        err = expect_error(json.dumps(doc).encode())
        assert err.location == "$.Records[0]"
        assert err.message.startswith("an AWS event notification (S3, SQS...), not a CloudTrail")
        assert "trail-bucket" not in str(err) and "Appuser" not in str(err)


@pytest.mark.parametrize("format_key", ["aws-cloudtrail", "vault-audit"])
def test_a_gzip_that_decompresses_past_the_limit_is_refused_as_it_is_read(format_key, monkeypatch):
    """The size limit applies to the bytes sent: a few KB of gzip can hold gigabytes (of blanks
    within a document here, which both formats would otherwise read to the end)."""
    import hygiene.importers.base as base

    monkeypatch.setattr(base, "MAX_INFLATED_BYTES", 1_000_000)
    blanks = b" " * 5_000_000
    if format_key == "aws-cloudtrail":
        document = b'{"Records": [' + blanks + b"]}"
    else:
        document = b'{"type": "request",' + blanks + b'"time": "2024-05-01T10:00:00Z"}\n'
    bomb = gzip.compress(document)
    assert len(bomb) < 10_000
    with pytest.raises(ImportFormatError) as exc:
        list(get_parser(format_key)(io.BytesIO(bomb)))
    assert "decompresses to more than 1,000,000 bytes" in exc.value.message
    # Within the limit the same log reads.
    monkeypatch.setattr(base, "MAX_INFLATED_BYTES", 6_000_000)
    assert list(get_parser(format_key)(io.BytesIO(bomb))) == []


@pytest.mark.parametrize(
    ("format_key", "sample"),
    [
        ("aws-cloudtrail", "aws-cloudtrail/generated_eventbridge.jsonl"),
        ("vault-audit", "vault-audit/generated_audit.log"),
        ("trufflehog", "trufflehog/README_example_output.jsonl"),
        ("prowler", "prowler/real_defectdojo_v2_one_vuln.jsonl"),
    ],
)
def test_a_line_past_16_mb_is_refused_before_it_is_read_whole(format_key, sample):
    """A line is held whole (and copied by the JSON reader): a gzip-compressed log of a few
    KB held a line of gigabytes. Refused at the line, whatever the line-based format."""
    from hygiene.importers.base import MAX_LINE_BYTES

    first = (Path(__file__).resolve().parents[2] / "fixtures" / sample).read_bytes()
    first = first.splitlines()[0] + b"\n"
    report = first + b'{"x": "' + b"a" * MAX_LINE_BYTES + b'"}\n'
    for data in (gzip.compress(report), report):
        if format_key not in ("aws-cloudtrail", "vault-audit") and data[:2] == b"\x1f\x8b":
            continue  # only the rotators' logs may come gzip-compressed
        with pytest.raises(ImportFormatError) as exc:
            list(get_parser(format_key)(io.BytesIO(data)))
        assert (exc.value.message, exc.value.location) == ("a line longer than 16 MB", "line 2")
