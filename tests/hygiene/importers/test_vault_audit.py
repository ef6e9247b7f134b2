import copy
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers import get_parser
from hygiene.importers.base import ImportFormatError, Reference
from hygiene.importers.vault_audit import parse

FIXTURES = Path(__file__).parents[2] / "fixtures"
VAULT = FIXTURES / "vault-audit"
HMAC = "hmac-sha256:" + "ab" * 32


def load(name: str, **kwargs) -> list:
    with (VAULT / name).open("rb") as fh:
        return list(parse(fh, **kwargs))


def entries() -> list[dict]:
    return [json.loads(line) for line in (VAULT / "generated_audit.log").read_text().splitlines()]


def to_bytes(objs) -> bytes:
    return "".join(json.dumps(o) + "\n" for o in objs).encode()


def parse_objs(objs, **kwargs) -> list:
    return list(parse(io.BytesIO(to_bytes(objs)), **kwargs))


def response(path: str, operation: str = "update", error: str = "", **request) -> dict:
    sample = json.loads((VAULT / "vault_audit_kv_read_excerpt.jsonl").read_text().splitlines()[1])
    entry = copy.deepcopy(sample)
    entry["request"]["path"] = path
    entry["request"]["operation"] = operation
    entry["request"].update(request)
    entry["error"] = error
    return entry


def summary(events):
    return [(e.action, e.event_name, [r.value for r in e.references]) for e in events]


def test_registered():
    assert get_parser("vault-audit") is parse


# --- the published sample ----------------------------------------------------------------


def test_sample_read_yields_nothing():
    # A request and a response of a KV read: not a rotation, no events.
    assert load("vault_audit_kv_read_excerpt.jsonl") == []


def test_sample_as_write_is_a_rotation():
    sample = [json.loads(line) for line in (VAULT / "vault_audit_kv_read_excerpt.jsonl").open()]
    for entry in sample:
        entry["request"]["operation"] = "update"
    (event,) = parse_objs(sample)
    assert event.action == "rotated"
    assert event.event_name == "kv-v1-write"  # "secret" is a default KV mount
    assert event.references == [Reference("vault-path", "secret/password")]
    assert event.actor == "root"
    assert event.event_id == "d999de96-943f-b547-faf7-842c52c1150f"
    assert event.occurred_at == datetime(2019, 1, 8, 6, 43, 50, 161653, tzinfo=UTC)
    assert event.detail == "Vault update secret/password"


# --- generated log -------------------------------------------------------------------------


def test_generated_log_default_mounts():
    events = load("generated_audit.log")
    assert summary(events) == [
        ("rotated", "kv-v2-write", ["secret/app/db", "secret/data/app/db"]),
        ("revoked", "revoke-prefix", ["aws/creds/deploy"]),
        ("revoked", "revoke", ["database/creds/readonly/2f6a614c-4aa2-7b19-24b9-ad944a8d4de6"]),
        ("rotated", "rotate-root", ["database/rotate-root/postgres-prod"]),
        ("rotation_failed", "rotate-role", ["database/rotate-role/app-static"]),
        ("rotated", "rotate-root", ["aws/config/rotate-root"]),
        ("rotated", "kv-v2-write", ["team-a/secret/team/api", "team-a/secret/data/team/api"]),
    ]
    # skipped: kv1/ write (not a known KV mount), a read, plain sys/leases/revoke (lease id
    # only in the HMAC'd body), a KV v2 metadata write, a failed KV write, pki/issue, sys/rotate,
    # a failed revoke-force, and a request with no response.
    assert all(e.references[0].kind == "vault-path" for e in events)


def test_generated_log_fields():
    events = load("generated_audit.log")
    first = events[0]
    assert first.actor == "ops-admin"
    assert first.event_id == "5a0c0001-943f-b547-faf7-842c52c1150f"
    # the response entry's time
    assert first.occurred_at == datetime(2024, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    failed = events[4]
    assert failed.detail == "Vault update database/rotate-role/app-static failed"
    assert "connection refused" not in repr(failed)


def test_kv_mounts_option():
    events = load("generated_audit.log", kv_mounts=["kv1/", "secret"])
    kv1 = [e for e in events if e.event_name == "kv-v1-write"]
    assert summary(kv1) == [("rotated", "kv-v1-write", ["kv1/payments/stripe"])]
    # no display_name: the auth metadata's username
    assert kv1[0].actor == "jdoe"
    assert len(load("generated_audit.log", kv_mounts=[])) == 7


def test_hmac_values_never_read():
    for event in load("generated_audit.log", kv_mounts=["kv1"]):
        assert "hmac-sha256" not in repr(event)


def test_request_without_response_is_not_proof():
    requests_only = [e for e in entries() if e["type"] == "request"]
    assert parse_objs(requests_only) == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("sys/leases/revoke-prefix/aws/creds/", ("revoked", "revoke-prefix", ["aws/creds"])),
        ("sys/leases/revoke-force/gcp/", ("revoked", "revoke-force", ["gcp"])),
        ("sys/revoke-prefix/old/path", ("revoked", "revoke-prefix", ["old/path"])),
        ("sys/revoke/aws/creds/x/abc", ("revoked", "revoke", ["aws/creds/x/abc"])),
        ("ldap/rotate-root", ("rotated", "rotate-root", ["ldap/rotate-root"])),
        ("ldap/rotate-role/svc", ("rotated", "rotate-role", ["ldap/rotate-role/svc"])),
        ("transit/keys/payments/rotate", ("rotated", "rotate", ["transit/keys/payments/rotate"])),
        (
            "auth/aws/config/rotate-root",
            ("rotated", "rotate-root", ["auth/aws/config/rotate-root"]),
        ),
        ("team/kv/data/a/b", ("rotated", "kv-v2-write", ["team/kv/a/b", "team/kv/data/a/b"])),
        ("/secret/data/lead", ("rotated", "kv-v2-write", ["secret/lead", "secret/data/lead"])),
        ("secret/data/rotate", ("rotated", "kv-v2-write", ["secret/rotate", "secret/data/rotate"])),
        ("kv/app/token", ("rotated", "kv-v1-write", ["kv/app/token"])),
    ],
)
def test_paths(path, expected):
    (event,) = parse_objs([response(path)])
    assert summary([event])[0] == expected


@pytest.mark.parametrize(
    "path",
    [
        "sys/leases/revoke",
        "sys/rotate",
        "sys/policies/acl/admin",
        "auth/token/create",
        "identity/entity",
        "cubbyhole/notes",
        "secret/metadata/app",
        "secret/destroy/app",
        "secret/data/",
        "secret/",
        "other/value",
    ],
)
def test_paths_ignored(path):
    assert parse_objs([response(path)]) == []


def test_mount_type_from_the_log():
    # Vault 1.13+ logs the mount type: a KV mount of any name counts...
    (event,) = parse_objs(
        [response("team-secrets/app", mount_type="kv", mount_point="team-secrets/")]
    )
    assert summary([event]) == [("rotated", "kv-v1-write", ["team-secrets/app"])]
    (event,) = parse_objs([response("kv2/data/app", mount_type="kv", mount_point="kv2/")])
    assert summary([event]) == [("rotated", "kv-v2-write", ["kv2/app", "kv2/data/app"])]
    # ...and a non-KV mount never does, even named "secret"
    assert parse_objs([response("secret/issue/x", mount_type="pki", mount_point="secret/")]) == []
    assert parse_objs([response("kv/data/x", mount_type="database", mount_point="kv/")]) == []


# The rotate endpoints of Vault's secrets engines (paths as the plugins register them:
# vault-plugin-secrets-gcp roleset/<name>/rotate, roleset/<name>/rotate-key,
# static-account/<name>/rotate-key, config/rotate-root; -gcpkms keys/rotate/<key>; -azure and
# -openldap rotate-root; openldap and database rotate-role/<name>; AWS config/rotate-root),
# logged with the mount type Vault 1.13+ adds.
ENGINE_ROTATIONS = [
    ("gcp/roleset/ci-deployer/rotate-key", "gcp", "rotate-key"),
    ("gcp/static-account/build-sa/rotate-key", "gcp", "rotate-key"),
    ("gcp/roleset/ci-deployer/rotate", "gcp", "rotate"),
    ("gcp/config/rotate-root", "gcp", "rotate-root"),
    ("gcpkms/keys/rotate/payments", "gcpkms", "rotate"),
    ("azure/rotate-root", "azure", "rotate-root"),
    ("aws/config/rotate-root", "aws", "rotate-root"),
    ("ldap/rotate-role/svc-reports", "openldap", "rotate-role"),
    ("database/rotate-role/app-static", "database", "rotate-role"),
    ("transit/keys/payments/rotate", "transit", "rotate"),
]


@pytest.mark.parametrize(("path", "mount_type", "name"), ENGINE_ROTATIONS)
def test_engine_rotate_endpoints(path, mount_type, name):
    mount = path.split("/", 1)[0] + "/"
    (event,) = parse_objs([response(path, mount_type=mount_type, mount_point=mount)])
    assert summary([event]) == [("rotated", name, [path])]
    assert event.detail == f"Vault update {path}"
    # without the mount type (Vault before 1.13): the same
    assert summary(parse_objs([response(path)])) == [("rotated", name, [path])]


@pytest.mark.parametrize(("path", "mount_type", "name"), ENGINE_ROTATIONS)
def test_engine_rotate_endpoints_failed(path, mount_type, name):
    mount = path.split("/", 1)[0] + "/"
    error = "1 error occurred: googleapi: Error 403"
    entry = response(path, error=error, mount_type=mount_type, mount_point=mount)
    (event,) = parse_objs([entry])
    assert summary([event]) == [("rotation_failed", name, [path])]
    assert event.detail == f"Vault update {path} failed"
    assert "googleapi" not in repr(event)


def test_gcp_rotate_key_in_a_namespace():
    entry = response(
        "gcp/static-account/build-sa/rotate-key",
        mount_type="gcp",
        mount_point="team-a/gcp/",
        namespace={"id": "Xk2pQ", "path": "team-a/"},
    )
    (event,) = parse_objs([entry])
    assert summary([event]) == [
        ("rotated", "rotate-key", ["team-a/gcp/static-account/build-sa/rotate-key"])
    ]


@pytest.mark.parametrize(
    "path",
    [
        "gcp/roleset/ci-deployer",  # roleset configuration
        "gcp/static-account/build-sa",
        "gcp/roleset/ci-deployer/key",  # a new service account key issued: not a rotation
        "gcp/static-account/build-sa/token",
        "gcp/impersonated-account/deployer/token",  # impersonated accounts: no rotate endpoint
        "gcpkms/keys/payments",
    ],
)
def test_gcp_paths_that_are_not_rotations(path):
    mount = path.split("/", 1)[0]
    assert parse_objs([response(path, mount_type=mount, mount_point=mount + "/")]) == []
    assert parse_objs([response(path)]) == []


def test_errors_and_operations():
    assert parse_objs([response("secret/data/a", error="permission denied")]) == []
    (event,) = parse_objs([response("database/rotate-root/pg", error="permission denied")])
    assert event.action == "rotation_failed"
    assert parse_objs([response("sys/leases/revoke-prefix/x", error="denied")]) == []
    assert parse_objs([response("secret/data/a", operation="read")]) == []
    assert parse_objs([response("secret/data/a", operation="list")]) == []
    assert parse_objs([response("secret/data/a", operation="delete")]) == []
    (event,) = parse_objs([response("secret/data/a", operation="patch")])
    assert event.action == "rotated"
    (event,) = parse_objs([response("secret/data/a", operation="create")])
    assert event.action == "rotated"


def test_null_auth_and_namespace():
    entry = response("secret/data/a")
    entry["auth"] = None
    entry["request"]["namespace"] = None
    (event,) = parse_objs([entry])
    assert event.actor == ""
    assert event.references[0] == Reference("vault-path", "secret/a")


def test_blank_lines_ok():
    data = b"\n" + to_bytes([response("secret/data/a")]) + b"\n\n"
    assert len(list(parse(io.BytesIO(data)))) == 1


# --- bad input -------------------------------------------------------------------------------


def expect_error(data: bytes) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        list(parse(io.BytesIO(data)))
    return info.value


def test_empty_and_binary():
    assert "empty" in expect_error(b"").message
    assert "binary" in expect_error(b"\x00\x01").message


def test_truncated():
    data = (VAULT / "generated_audit.log").read_bytes()
    err = expect_error(data[: len(data) // 2])
    assert err.location.startswith("line ")
    assert "malformed JSON" in err.message


def test_wrong_format_other_tools():
    trail = (FIXTURES / "aws-cloudtrail" / "generated_eventbridge.jsonl").read_bytes()
    err = expect_error(trail)
    assert err.location == "line 1"
    assert "not a Vault audit entry" in err.message
    prowler = (FIXTURES / "prowler" / "example_output_aws.ocsf.json").read_bytes()
    err = expect_error(prowler)  # an array, read as jq -s would write a log
    assert (err.location, "not a Vault audit entry" in err.message) == ("$[0]", True)


def test_wrong_shapes():
    entry = response("secret/data/a")
    entry["request"] = "secret/data/a"
    assert expect_error(to_bytes([entry])).location == "line 1.request"
    entry = response(["secret"])
    assert expect_error(to_bytes([entry])).location == "line 1.request"
    entry = response("secret/data/a")
    entry["time"] = "noon"
    err = expect_error(to_bytes([entry]))
    assert err.location == "line 1.time"
    assert "noon" not in str(err)
    assert expect_error(b'{"type": "response"}\n[1]\n').location == "line 2"
    entry = response("secret/data/a")
    entry["auth"] = {"display_name": {"x": 1}}
    assert expect_error(to_bytes([entry])).location == "line 1.auth"


def test_deep_nesting():
    deep = b'{"type": "response", "x": ' + b"[" * 50000 + b"]" * 50000 + b"}\n"
    assert "nested" in expect_error(deep).message


def test_secret_in_error_text_not_quoted():
    entry = response("secret/data/a")
    entry["request"]["path"] = 12
    # A non-string type is not an audit entry (unknown string types are skipped: kmip-*).
    data = to_bytes([entry]).replace(b'"type": "response"', b'"type": ["resp"]')
    err = expect_error(data)
    assert "resp" not in err.message.replace("response", "")


def test_out_of_range_time_is_a_format_error():
    entry = response("secret/data/a")
    entry["time"] = "9999-12-31T23:59:59-05:00"
    assert expect_error(to_bytes([entry])).location == "line 1.time"


# --- real audit logs from public repositories (origins: tests/fixtures/README-auditors.md) ---


def test_real_elastic_audit_log_with_kmip_entries_imports():
    # Elastic's Vault audit pipeline test input: capabilities-self, a denied PKI issue, a KV v2
    # read, a help request and Vault Enterprise KMIP entries (type kmip-request/-response),
    # with nanosecond times. Nothing in it rotates or revokes, and nothing is rejected.
    with (FIXTURES / "vault-audit" / "real_elastic_integrations_test_audit.log").open("rb") as fh:
        assert list(parse(fh)) == []


def test_real_elastic_entries_turned_into_writes():
    # The same real KV v2 response line as a write, and the denied PKI line as a rotation.
    lines = (FIXTURES / "vault-audit" / "real_elastic_integrations_test_audit.log").read_bytes()
    kv_read = lines.splitlines()[5]
    write = kv_read.replace(b'"operation":"read"', b'"operation":"update"')
    (event,) = list(parse(io.BytesIO(write + b"\n")))
    assert event.action == "rotated"
    assert event.event_name == "kv-v2-write"
    assert event.references == [
        Reference("vault-path", "secret/apps/continuous-delivery/aws-bucket-sse-c"),
        Reference("vault-path", "secret/data/apps/continuous-delivery/aws-bucket-sse-c"),
    ]
    assert event.actor == "token-375f9cb3-4355-42c7-eab5-029f8a310ca7-runner"
    assert event.event_id == "0042ad1b-1400-7eb7-5e25-1dfc898c1998"
    assert event.occurred_at == datetime(2021, 6, 29, 17, 26, 11, 409840, tzinfo=UTC)
    assert "hmac-sha256" not in event.detail
    denied = lines.splitlines()[3].replace(b"internal-ca/issue/internal-server", b"pki/rotate-root")
    (failed,) = list(parse(io.BytesIO(denied + b"\n")))
    assert (failed.action, failed.references) == (
        "rotation_failed",
        [Reference("vault-path", "pki/rotate-root")],
    )
    assert "permission denied" not in failed.detail


def test_real_vault_0_7_pair_with_empty_error_and_null_metadata():
    # Vault 0.7 (2017): "error": "" on both entries, "metadata": null, "wrap_ttl", "headers".
    # A KV v1 read: nothing. The same response as a write counts, the empty error is no failure.
    assert load("real_notes_vault_0_7_kv_read_audit.log") == []
    lines = (VAULT / "real_notes_vault_0_7_kv_read_audit.log").read_bytes()
    write = lines.replace(b'"operation":"read"', b'"operation":"update"')
    (event,) = list(parse(io.BytesIO(write)))
    assert (event.action, event.event_name, event.actor) == ("rotated", "kv-v1-write", "root")
    assert event.references == [Reference("vault-path", "secret/hello")]
    assert event.event_id == "5c257f25-2f3f-a4c2-a81b-200aa58f31d0"
    assert event.occurred_at == datetime(2017, 7, 31, 4, 8, 36, tzinfo=UTC)
    assert "hmac-sha256" not in repr(event)


def test_real_approle_login_and_ssh_sign_are_not_rotations():
    # AppRole login (request and response, a blank line between) and an SSH certificate signing
    # request: an update outside the KV mounts, with no mount_type.
    assert load("real_vagrant_approle_ssh_audit.log") == []


def test_real_vault_1_19_namespace_kv_v2_put_and_patch():
    # Vault Enterprise 1.19 in namespace "admin/": request.path is relative to the namespace
    # ("shared-secrets/data/retail") but mount_point is not ("admin/shared-secrets/"); a put
    # (update) and a patch, each a new version of the secret.
    put, patch = load("real_jessicaahm_vault_1_19_namespace_kv_v2_put_patch.log")
    for event in (put, patch):
        assert (event.action, event.event_name, event.actor) == ("rotated", "kv-v2-write", "token")
        assert event.references == [
            Reference("vault-path", "admin/shared-secrets/retail"),
            Reference("vault-path", "admin/shared-secrets/data/retail"),
        ]
        assert "hmac-sha256" not in repr(event)
    assert put.event_id == "181a55d1-3302-7a62-191b-c55a7902ace9"
    assert put.occurred_at == datetime(2025, 6, 26, 4, 12, 45, 323282, tzinfo=UTC)
    assert (patch.event_id, patch.detail) == (
        "2f75ee2e-34a0-04c5-4507-dd65c7a658c2",
        "Vault patch admin/shared-secrets/data/retail",
    )


def test_namespace_mount_point_kv_v1_and_rotate():
    # The same entries on a KV v1 mount and on a rotate endpoint: the namespace-prefixed
    # mount_point must not hide them (a KV v1 write in a namespace used to be skipped).
    data = (VAULT / "real_jessicaahm_vault_1_19_namespace_kv_v2_put_patch.log").read_bytes()
    v1 = data.replace(b"shared-secrets/data/retail", b"shared-secrets/retail")
    assert (
        summary(parse(io.BytesIO(v1)))
        == [("rotated", "kv-v1-write", ["admin/shared-secrets/retail"])] * 2
    )
    db = (
        data.replace(b"shared-secrets/data/retail", b"database/rotate-root/pg")
        .replace(b'"admin/shared-secrets/"', b'"admin/database/"')
        .replace(b'"mount_type":"kv"', b'"mount_type":"database"')
    )
    assert (
        summary(parse(io.BytesIO(db)))
        == [("rotated", "rotate-root", ["admin/database/rotate-root/pg"])] * 2
    )


@pytest.mark.parametrize(
    "prefix",
    [
        b"Jun 26 04:12:45 vault-0 vault[812]: ",  # /var/log/syslog (syslog device)
        b"2025-06-26T04:12:45+0000 vault-0 vault[812]: ",  # journalctl -o short-iso
        b"<134>1 2025-06-26T04:12:45Z vault-0 vault 812 - - ",  # RFC 5424 (socket to a collector)
        b"vault-audit: ",  # the devices' prefix option
    ],
)
def test_prefixed_lines(prefix):
    data = (VAULT / "real_jessicaahm_vault_1_19_namespace_kv_v2_put_patch.log").read_bytes()
    expected = summary(parse(io.BytesIO(data)))
    prefixed = b"".join(prefix + line + b"\n" for line in data.splitlines())
    assert summary(parse(io.BytesIO(prefixed))) == expected
    # Mixed with unprefixed lines, and a prefixed line that is not an entry: an error there.
    mixed = data + prefix + b"starting audit device\n"
    err = expect_error(mixed)
    assert err.location.startswith("line 3")
    assert b"starting" not in str(err).encode()
    # A prefix with quotes or braces is not a prefix: the line is not JSON.
    assert expect_error(b'x"y: ' + data).location.startswith("line 1")


# --- syslog exports that carry Vault's own server log too ----------------------------------

SYSLOG_EXPORT = "generated_syslog_with_server_log.log"
REAL_PUT_PATCH = "real_jessicaahm_vault_1_19_namespace_kv_v2_put_patch.log"
SERVER_LOG_ONLY = b"".join(
    line + b"\n" for line in (VAULT / SYSLOG_EXPORT).read_bytes().splitlines() if b'{"' not in line
)


def test_syslog_export_skips_vaults_server_log():
    """journalctl -u vault (or /var/log/syslog) holds the syslog audit device's entries and,
    from the same process, the startup banner and hclog lines: the entries import alone."""
    expected = summary(load(REAL_PUT_PATCH))
    assert len(expected) == 2
    events = load(SYSLOG_EXPORT)
    assert summary(events) == expected
    assert [e.event_id for e in events] == [e.event_id for e in load(REAL_PUT_PATCH)]


@pytest.mark.parametrize(
    "header",
    [
        b"2025-06-26T04:12:45+0000 vault-0 vault[812]: ",  # journalctl -o short-iso
        b"Jun 26 04:12:45.323282 vault-0 vault[812]: ",  # journalctl -o short-precise
        b"<134>1 2025-06-26T04:12:45.323Z vault-0 vault 812 - - ",  # RFC 5424
        b"",  # docker logs: an audit device with file_path=stdout, beside the server log
    ],
)
def test_server_log_skipped_after_any_header(header):
    data = b"".join(
        header + line.split(b"vault[812]: ", 1)[1] + b"\n"
        for line in (VAULT / SYSLOG_EXPORT).read_bytes().splitlines()
    )
    assert summary(parse(io.BytesIO(data))) == summary(load(REAL_PUT_PATCH))


def test_json_server_log_is_skipped():
    """Vault's log_format = "json" writes its server log as hclog JSON: no audit "type"."""
    server = [
        {"@level": "info", "@message": "core: successfully unsealed", "@module": "core",
         "@timestamp": "2025-06-26T04:10:03.412123Z"},
        {"@level": "error", "@message": "core: failed to run existence check", "@module": "core",
         "@timestamp": "2025-06-26T04:15:10.870001Z", "error": "permission denied"},
        {"@level": "info", "@message": "enabled audit backend", "@module": "core",
         "@timestamp": "2025-06-26T04:10:03.512001Z", "path": "syslog/", "type": "syslog"},
    ]  # fmt: skip
    data = (VAULT / REAL_PUT_PATCH).read_bytes()
    put, patch = data.splitlines(keepends=True)
    mixed = to_bytes(server[:1]) + put + to_bytes(server[1:]) + patch
    assert summary(parse(io.BytesIO(mixed))) == summary(load(REAL_PUT_PATCH))
    prefixed = b"".join(b"Jun 26 04:12:45 vault-0 vault[812]: " + line for line in
                        mixed.splitlines(keepends=True))  # fmt: skip
    assert summary(parse(io.BytesIO(prefixed))) == summary(load(REAL_PUT_PATCH))
    err = expect_error(to_bytes(server))
    assert "server log" in err.message


def test_server_log_without_audit_entries_is_refused():
    """The vault unit's journal before an audit device was enabled (or a server log sent by
    mistake): nothing to import, and the error says what was expected."""
    err = expect_error(SERVER_LOG_ONLY)
    assert err.location == "line 1"
    assert "expected Vault audit JSON lines" in err.message
    assert "found only Vault's own server log" in err.message
    # The same lines without their syslog header (a container's log).
    bare = b"".join(
        line.split(b"vault[812]: ", 1)[1] + b"\n" for line in SERVER_LOG_ONLY.splitlines()
    )
    err = expect_error(bare)
    assert err.location == "line 1"
    assert "found only Vault's own server log" in err.message


def test_server_log_does_not_hide_a_broken_entry():
    """Only Vault's own log lines are skipped: a cut audit entry (syslog's message size limit)
    or another program's line is still an error, at its line of the export."""
    data = (VAULT / SYSLOG_EXPORT).read_bytes()
    lines = data.splitlines(keepends=True)
    entry_at = next(i for i, line in enumerate(lines) if b'{"' in line)
    cut = [*lines[: entry_at + 1], lines[entry_at][:900] + b"\n", *lines[entry_at + 1 :]]
    err = expect_error(b"".join(cut))
    assert err.location.startswith(f"line {entry_at + 2}")
    other = data + b"Jun 26 04:21:00 vault-0 systemd[1]: vault.service: Consumed 2.1s CPU time.\n"
    err = expect_error(other)
    assert err.location.startswith(f"line {len(lines) + 1}")


def test_another_tools_records_with_a_type_are_refused_not_skipped():
    """A Nosey Parker report (records typed "finding") or ggshield's (typed "path_scan")
    sent as vault-audit: an error, not a log of nothing."""
    noseyparker = FIXTURES / "noseyparker" / "generated_report_v0_20.jsonl"
    ggshield = json.loads((FIXTURES / "ggshield" / "one_finding.json").read_text())
    for data in (noseyparker.read_bytes(), to_bytes([ggshield])):
        with pytest.raises(ImportFormatError) as error:
            list(parse(io.BytesIO(data)))
        assert error.value.location == "line 1"
        assert "not a Vault audit entry" in error.value.message


# --- logs rotated by logrotate ---------------------------------------------------------------


def test_a_rotated_gzipped_log_is_read():
    # logrotate's compress (audit.log.2.gz next to audit.log), and `cat audit.log.*.gz` (a
    # gzip of several members). Was refused: "the report is gzip-compressed".
    import gzip

    names = ["real_jessicaahm_vault_1_19_namespace_kv_v2_put_patch.log", "generated_audit.log"]
    plain = [(VAULT / n).read_bytes() for n in names]
    expected = [summary(load(n)) for n in names]
    assert expected[0] and expected[1]
    assert summary(parse(io.BytesIO(gzip.compress(plain[0])))) == expected[0]
    both = gzip.compress(plain[0]) + gzip.compress(plain[1])
    assert summary(parse(io.BytesIO(both))) == expected[0] + expected[1]
    # with the syslog device's header and the server log around it, as before
    syslog = (VAULT / "generated_syslog_with_server_log.log").read_bytes()
    assert summary(parse(io.BytesIO(gzip.compress(syslog)))) == summary(
        load("generated_syslog_with_server_log.log")
    )
    # kv_mounts still apply
    kv = gzip.compress(to_bytes([response("vault-kv/app/db")]))
    assert summary(parse(io.BytesIO(kv), kv_mounts=["vault-kv"])) == [
        ("rotated", "kv-v1-write", ["vault-kv/app/db"])
    ]


def test_a_broken_gzipped_log_is_refused():
    import gzip

    data = gzip.compress((VAULT / "generated_audit.log").read_bytes())
    err = expect_error(data[: len(data) // 2])
    assert err.message == "corrupt or truncated gzip data"
    err = expect_error(gzip.compress(b"eventName,eventTime\n"))
    assert err.message.startswith("expected Vault audit JSON lines")
    assert expect_error(gzip.compress(b"")).message.startswith("the report is empty")


def test_a_log_raw_device_keeps_its_raw_values_out_of_the_events():
    # `vault audit enable file log_raw=true`: tokens, accessors, the written secret and the
    # response's new credentials are logged in clear. None of them reaches an event.
    token = "hvs.CAESIKx9QmVtZXhhbXBsZXRva2VuMDEyMzQ1Njc4OQ"
    accessor = "Yx1sLm0ExampleAccessor01"
    written = "n3w-Pa55w0rd-f0r-the-app!"
    issued = "A1a-vault-issued-db-password-77"
    entries = []
    for path, data in (
        ("secret/data/app", {"data": {"password": written}}),
        ("database/rotate-root/pg", None),
        (f"sys/leases/revoke/database/creds/ro/{accessor}X", None),
        ("auth/token/revoke", {"token": token}),
        ("auth/approle/role/ci/secret-id/destroy", {"secret_id": written}),
    ):
        entry = response(path, mount_type="", client_token=token, client_token_accessor=accessor)
        entry["request"]["data"] = data
        entry["auth"] = {
            "client_token": token,
            "accessor": accessor,
            "display_name": "approle",
            "metadata": {"role_name": "ci"},
        }
        entry["response"] = {"data": {"password": issued, "secret_id": written}}
        entries.append(entry)
    events = parse_objs(entries)
    assert [e.event_name for e in events] == ["kv-v2-write", "rotate-root", "revoke"]
    for event in events:
        for raw in (token, written, issued):
            assert raw not in repr(event)
        assert event.actor == "approle"


def jq_forms(name: str) -> dict[str, bytes]:
    """The log as jq shows it: each entry pretty-printed (``jq . audit.log``), and all of them
    in one array (``jq -s .``)."""
    entries = [json.loads(line) for line in (VAULT / name).read_bytes().splitlines() if line]
    return {
        "pretty": "".join(json.dumps(e, indent=2) + "\n" for e in entries).encode(),
        "array": json.dumps(entries, indent=2).encode(),
    }


@pytest.mark.parametrize("form", ["pretty", "array"])
def test_a_log_as_jq_shows_it_gives_the_same_events(form):
    data = jq_forms("generated_audit.log")[form]
    assert summary(parse(io.BytesIO(data))) == summary(load("generated_audit.log"))
    assert [e.event_id for e in parse(io.BytesIO(data))] == [
        e.event_id for e in load("generated_audit.log")
    ]


@pytest.mark.parametrize(
    "data, message, location",
    [
        (
            b'{\n  "type": "response",\n  "time": 5\n}\n{\n  "type"',
            "malformed or truncated",
            "byte",
        ),
        (b'{\n  "type": "response"\n}\n[\n  1\n]\n', "found an array", "object 2"),
        (b"[\n  1\n]\n", "found a number", "$[0]"),
        (b'{\n  "type": "reply"\n}\n', "type should be request or response", "object 1"),
        (b"[]", "expected Vault audit JSON lines", "line 1"),
    ],
)
def test_a_log_as_jq_shows_it_with_errors_says_where(data, message, location):
    with pytest.raises(ImportFormatError) as exc:
        list(parse(io.BytesIO(data)))
    assert message in exc.value.message and location in exc.value.location


def test_a_prefix_in_brackets_is_still_a_prefix():
    # The audit device's prefix option: "[vault-audit] {...}" (not a JSON array).
    data = b"".join(
        b"[vault-audit] " + line + b"\n"
        for line in (VAULT / "generated_audit.log").read_bytes().splitlines()
        if line
    )
    assert summary(parse(io.BytesIO(data))) == summary(load("generated_audit.log"))


def test_server_log_alone_as_jq_shows_it_is_refused_saying_so():
    server_log = [
        {"@level": "info", "@message": "core: post-unseal setup complete", "@module": "core"},
        {"@level": "warn", "@message": "core: no audit device", "@module": "core"},
    ]
    data = "".join(json.dumps(o, indent=2) + "\n" for o in server_log).encode()
    err = expect_error(data)
    assert "found only Vault's own server log (2 objects)" in err.message


def test_a_log_as_jq_shows_it_after_blank_lines():
    data = b"\n" * 5000 + jq_forms("generated_audit.log")["pretty"]
    assert summary(parse(io.BytesIO(data))) == summary(load("generated_audit.log"))
