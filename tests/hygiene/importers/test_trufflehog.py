"""TruffleHog v3 importer: JSON lines and arrays, old base64 Raw, log lines, bad input."""

import base64
import contextlib
import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers.base import ImportFormatError, Observation
from hygiene.importers.trufflehog import parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DIR = FIXTURES / "trufflehog"

AWS_ID = "AKIAYVP4CIPPERUVIFXG"
URI = "https://admin:admin@the-internet.herokuapp.com/basic_auth"
REPO = "https://github.com/trufflesecurity/test_keys"


def load(name: str) -> bytes:
    return (DIR / name).read_bytes()


def records(name: str) -> list[dict]:
    return [json.loads(line) for line in load(name).splitlines() if line.strip()]


def run(data: bytes) -> list[Observation]:
    return list(parse(io.BytesIO(data)))


def lines(*objs: dict) -> bytes:
    return b"\n".join(json.dumps(o).encode() for o in objs) + b"\n"


def assert_no_leak(items: list[Observation], secrets: list[str]) -> None:
    """No field but secret_value may contain a secret (raw, base64 Raw or RawV2)."""
    secrets = [s for s in secrets if s]
    for obs in items:
        texts = [
            (f.name, getattr(obs, f.name))
            for f in dataclasses.fields(obs)
            if f.name != "secret_value" and isinstance(getattr(obs, f.name), str)
        ]
        texts += [(f"tool_ids[{k}]", v) for k, v in obs.tool_ids.items()]
        # AWS access key ids are identifiers: the one reference kind allowed to repeat one.
        texts += [
            (f"references {r.kind}", r.value)
            for r in obs.references
            if not (r.kind == "aws-access-key-id" and r.value == obs.secret_value)
        ]
        for name, value in texts:
            for secret in secrets:
                assert secret not in value, f"{name} holds secret material"


def all_raw(name: str) -> list[str]:
    out = []
    for rec in records(name):
        for key in ("Raw", "RawV2"):
            if rec.get(key):
                out.append(rec[key])
                with contextlib.suppress(ValueError):
                    out.append(base64.b64decode(rec[key], validate=True).decode())
    return out


def test_readme_example():
    (obs,) = run(load("README_example_output.jsonl"))
    assert obs.rule == "AWS"
    assert obs.secret_type == "aws-access-key"
    assert obs.secret_value == AWS_ID
    assert obs.redacted == ""  # TruffleHog's "Redacted" here is the whole key id
    assert obs.repo == REPO
    assert (obs.path, obs.line) == ("keys", 4)
    assert obs.commit == "fbc14303ffbf8fb1c2c1914e8dda7d0121633aca"
    assert obs.author == "counter <counter@counters-MacBook-Air.local>"
    assert obs.committed_at == datetime(2022, 6, 16, 17, 17, 40, tzinfo=UTC)
    assert obs.validity == "valid"
    assert obs.severity is None
    assert obs.tool_ids == {
        "detector_type": "2",
        "decoder": "PLAIN",
        "source_type": "16",
        "source_id": "0",
        "source_name": "trufflehog - git",
        "source": "Git",
    }
    assert [(r.kind, r.value) for r in obs.references] == [
        ("aws-access-key-id", AWS_ID),
        ("aws-account", "595918472158"),
        ("arn", "arn:aws:iam::595918472158:user/canarytokens.com@@mirux23ppyky6hx3l6vclmhnj"),
        ("other", "user_id=AIDAYVP4CIPPJ5M54LRCY"),
    ]
    assert_no_leak([obs], all_raw("README_example_output.jsonl"))


def test_old_format_base64_raw():
    items = run(load("v3_git.json"))
    assert len(items) == 4
    aws, uri, key, uri_again = items
    assert aws.secret_value == AWS_ID
    assert aws.secret_type == "aws-access-key"
    assert aws.committed_at == datetime(2022, 6, 16, 17, 17, 40, tzinfo=UTC)
    assert "decoder" not in aws.tool_ids
    assert uri.rule == "URI"
    assert uri.secret_value == URI
    assert uri.secret_type == "generic-password"
    assert uri.redacted == "https://*****:*****@the-internet.herokuapp.com/basic_auth"
    assert (uri.line, uri.commit) == (3, "77b2a3e56973785a52ba4ae4b8dac61d4bac016f")
    assert key.rule == "PrivateKey"
    assert key.secret_type == "private-key"
    assert key.secret_value.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert key.secret_value.endswith("-----END OPENSSH PRIVATE KEY-----\n")
    assert key.redacted == ""  # shows the key header and 28 characters of it
    assert key.line == 1
    assert uri_again.secret_value == URI
    assert all(o.validity == "valid" and o.repo == REPO for o in items)
    assert_no_leak(items, all_raw("v3_git.json"))


def test_json_array_of_findings():
    data = b"[\n" + b",\n".join(load("v3_git.json").splitlines()) + b"\n]\n"
    items = run(data)
    assert [o.secret_value for o in items] == [o.secret_value for o in run(load("v3_git.json"))]


def test_log_lines_are_skipped():
    log = {"level": "info-0", "ts": "2024-01-01T00:00:00Z", "logger": "trufflehog", "msg": "x"}
    done = {"level": "info-0", "msg": "finished scanning", "chunks": 3, "verified_secrets": 1}
    data = lines(log) + load("README_example_output.jsonl") + b"\n\n" + lines(done)
    assert [o.secret_value for o in run(data)] == [AWS_ID]
    assert run(lines(log, done)) == []


def test_new_format_raw_is_never_decoded():
    rec = records("README_example_output.jsonl")[0]
    rec.update(Raw="QUtJQVlWUDRDSVBQRVJVVklGWEc=", Redacted="")
    (obs,) = run(lines(rec))
    assert obs.secret_value == "QUtJQVlWUDRDSVBQRVJVVklGWEc="


def test_old_format_plain_raw_that_looks_like_base64():
    rec = records("v3_git.json")[0]
    rec.update(Raw="dGVzdHRlc3Q=", Redacted="dGVz****")  # Redacted shows Raw is plain
    (obs,) = run(lines(rec))
    assert obs.secret_value == "dGVzdHRlc3Q="
    rec.update(Raw="bm90IHByaW50YWJsZQ==", Redacted="")  # no Redacted: decoded
    (obs,) = run(lines(rec))
    assert obs.secret_value == "not printable"
    rec.update(Raw=base64.b64encode(b"\x00\x01binary").decode(), Redacted="")
    (obs,) = run(lines(rec))
    assert obs.secret_value == base64.b64encode(b"\x00\x01binary").decode()


def test_rawv2_and_sources():
    rec = records("README_example_output.jsonl")[0]
    rec.update(
        Raw="",
        RawV2="AKIAYVP4CIPPERUVIFXGsecretpart0123456789",
        Verified=False,
        ExtraData={"resource_type": "Access key", "message": "some text", "rotation_guide": "u"},
        SourceMetadata={"Data": {"S3": {"bucket": "acme-b", "file": "k.txt", "link": "https://l"}}},
    )
    (obs,) = run(lines(rec))
    assert obs.secret_value == "AKIAYVP4CIPPERUVIFXGsecretpart0123456789"
    assert obs.validity == "unknown"
    assert (obs.repo, obs.path, obs.url, obs.line, obs.commit) == (
        "s3://acme-b",
        "k.txt",
        "https://l",
        None,
        "",
    )
    assert [(r.kind, r.value) for r in obs.references] == [("other", "resource_type=Access key")]
    assert obs.tool_ids["source"] == "S3"
    assert_no_leak([obs], ["AKIAYVP4CIPPERUVIFXGsecretpart0123456789", "secretpart0123456789"])

    rec["SourceMetadata"] = {"Data": {"Filesystem": {"file": "/etc/app.env", "line": "7"}}}
    (obs,) = run(lines(rec))
    assert (obs.repo, obs.path, obs.line) == ("", "/etc/app.env", 7)

    rec["SourceMetadata"] = {
        "Data": {
            "Github": {
                "link": "https://github.com/o/r/blob/c/f#L2",
                "repository": "https://github.com/o/r.git",
                "commit": "c",
                "email": "dev@example.com",
                "username": "dev",
                "file": "f",
                "line": 2,
                "timestamp": "2024-02-03 04:05:06 +0000",
            }
        }
    }
    (obs,) = run(lines(rec))
    assert obs.url == "https://github.com/o/r/blob/c/f#L2"
    assert obs.repo == "https://github.com/o/r.git"
    assert obs.author == "dev <dev@example.com>"
    assert obs.committed_at == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_extra_data_never_repeats_the_secret():
    rec = records("README_example_output.jsonl")[0]
    rec.update(Raw="xoxb-123456789012-abcdefghijkl", DetectorName="Slack", DecoderName="PLAIN")
    rec["ExtraData"] = {"username": "xoxb-123456789012-abcdefghijkl", "team": "acme"}
    (obs,) = run(lines(rec))
    assert obs.secret_type == "slack-token"
    assert [(r.kind, r.value) for r in obs.references] == [("other", "team=acme")]
    assert_no_leak([obs], ["xoxb-123456789012-abcdefghijkl"])


# --- bad input --------------------------------------------------------------------------------

SECRETS = [AWS_ID, URI, "QUtJQVlWUDRDSVBQRVJVVklGWEc=", "admin:admin"]


def _bad(data: bytes) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        run(data)
    err = info.value
    assert err.location, "the error must say where"
    assert err.location in str(err)
    for secret in SECRETS:
        assert secret not in str(err)
    return err


def _rec(**changes) -> bytes:
    rec = records("README_example_output.jsonl")[0]
    rec.update(changes)
    return lines(rec)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b" \n \n", "empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b"[" * 100_000, "nested"),
        (b'{"SourceMetadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "nested"),
        (b"hello\n", "expected TruffleHog JSON lines"),
        (b'{"a": 1}\n', "not a TruffleHog finding"),
        (b"[1]", "expected a finding object"),
        (b'{"branch": "main", "stringsFound": ["x"], "commitHash": "c"}\n', "'reason'"),
        (b'{"reason": "AWS", "stringsFound": "x", "commitHash": "c"}\n', "stringsFound"),
        (b'{"reason": "AWS", "stringsFound": [1], "commitHash": "c"}\n', "stringsFound[0]"),
        (_rec(SourceMetadata="git"), "SourceMetadata"),
        (_rec(SourceMetadata={"Data": {"Git": ["x"]}}), "source metadata"),
        (_rec(SourceMetadata={"Data": {"Git": {"line": "four"}}}), "line"),
        (_rec(SourceMetadata={"Data": {"Git": {"file": {"x": 1}}}}), "file"),
        (_rec(Verified="yes"), "Verified"),
        (_rec(ExtraData=["a"]), "ExtraData"),
        (_rec(Raw=["x"]), "Raw"),
        (_rec(DetectorName="", DetectorType=None), "DetectorName"),
        (_rec(Raw="\ud800"), "Unicode"),
        (load("README_example_output.jsonl") + b'{"SourceMetadata": \n', "line 2"),
        (load("README_example_output.jsonl") + b"\xff\xfe{}\n", "UTF-8"),
        (b'{"SourceMetadata": {}, "DetectorName": "x", "Raw": ' + b"1" * 5000 + b"}\n", "line 1"),
    ],
)
def test_bad_input(data, expected):
    assert expected in str(_bad(data))


def test_truncated():
    data = load("v3_git.json")
    err = _bad(data[: len(data) // 2])
    assert err.location.startswith("line ")


@pytest.mark.parametrize(
    ("folder", "name", "hint"),
    [
        ("gitleaks", "gitleaks8_many.json", "use format gitleaks"),
        ("gitleaks", "sarif_simple.sarif", "use format sarif"),
        ("detect-secrets", "many_findings.json", "use format detect-secrets"),
        ("ggshield", "many_findings.json", "use format ggshield"),
        ("gitleaks", "csv_simple.csv", "expected TruffleHog JSON lines"),
    ],
)
def test_wrong_format(folder, name, hint):
    assert hint in str(_bad((FIXTURES / folder / name).read_bytes()))


def test_one_line_wrong_format():
    data = json.dumps(json.loads((FIXTURES / "ggshield" / "one_finding.json").read_bytes()))
    assert "use format ggshield" in str(_bad(data.encode() + b"\n"))


# --- real reports (tests/fixtures/README.md says where each comes from) -------------------

TEST_KEYS = "https://github.com/trufflesecurity/test_keys"


def test_real_github_source_with_base64_raw():
    aws, uri, key, uri_again = run(load("real_defectdojo_v3_github.jsonl"))
    assert aws.rule == "AWS"
    assert aws.secret_type == "aws-access-key"
    assert aws.secret_value == AWS_ID  # decoded from the old []byte Raw
    assert aws.validity == "valid"
    assert aws.repo == TEST_KEYS + ".git"
    assert aws.path == "keys"
    assert aws.line == 4
    assert aws.commit == "fbc14303ffbf8fb1c2c1914e8dda7d0121633aca"
    assert aws.url == f"{TEST_KEYS}/blob/fbc14303ffbf8fb1c2c1914e8dda7d0121633aca/keys"
    assert aws.author == "counter <counter@counters-MacBook-Air.local>"
    assert aws.committed_at == datetime(2022, 6, 16, 17, 17, 40, tzinfo=UTC)
    assert aws.tool_ids["source"] == "Github"
    assert aws.tool_ids["source_name"] == "trufflehog - github"
    assert ("aws-access-key-id", AWS_ID) in [(r.kind, r.value) for r in aws.references]
    assert ("aws-account", "595918472158") in [(r.kind, r.value) for r in aws.references]

    assert uri.secret_value == URI
    assert uri.secret_type == "generic-password"
    assert uri.redacted == "https://*****:*****@the-internet.herokuapp.com/basic_auth"
    assert (uri.line, uri.commit) == (3, "77b2a3e56973785a52ba4ae4b8dac61d4bac016f")
    assert uri_again.secret_value == URI

    assert key.rule == "PrivateKey"
    assert key.secret_type == "private-key"
    assert key.secret_value.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt")
    assert key.secret_value.endswith("-----END OPENSSH PRIVATE KEY-----\n")
    assert key.redacted == ""  # TruffleHog's Redacted shows 28 characters of the key
    assert key.line == 1
    raws = [r["Raw"] for r in records("real_defectdojo_v3_github.jsonl")]
    assert_no_leak([aws, uri, key], [*raws, key.secret_value[40:80], "admin:admin"])


def test_real_filesystem_output_with_log_records():
    (obs,) = run(load("real_th3_88_25_filesystem_with_logs.jsonl"))
    assert obs.rule == "SlackWebhook"
    assert obs.secret_type == "chat-webhook"
    assert obs.secret_value.startswith("https://hooks.slack.com/services/T00000000/")
    assert (obs.repo, obs.path, obs.line, obs.commit) == ("", "test.env", 24, "")
    assert obs.validity == "unknown"
    assert obs.redacted == ""
    assert obs.tool_ids["source"] == "Filesystem"
    assert obs.tool_ids["decoder"] == "PLAIN"
    assert obs.references == []  # the rotation guide names no credential
    assert_no_leak([obs], [obs.secret_value])


def test_real_git_output_3_79_with_logs_and_verification_error():
    """TruffleHog 3.79.0 `git --json`: log records around the findings, a Slack token whose
    check failed (VerificationError) and a verified AWS canary with its key pair in RawV2."""
    slack, aws = run(load("real_pdso_th3_79_git_with_logs.jsonl"))
    repo = "http://gitlab-ce-rmaa3gra.lab.practical-devsecops.training/root/django-nv.git"
    assert (slack.rule, slack.secret_type) == ("Slack", "slack-token")
    assert slack.secret_value == "xoxp-4797898847-4799393255-4778181812-f140b6"
    assert slack.validity == "unknown"  # token_revoked is a verification error, not a verdict
    assert (slack.repo, slack.path, slack.line) == (repo, "taskManager/settings.py", 22)
    assert slack.commit == "bf10953956e328f232d444c9ead87da715f18614"
    assert slack.author == "root <root@gitlab-ce-rmaa3gra.lab.practical-devsecops.training>"
    assert slack.committed_at == datetime(2024, 7, 6, 6, 27, 24, tzinfo=UTC)
    assert slack.references == []  # token_type and the rotation guide name no credential
    assert (aws.secret_value, aws.validity, aws.line) == (AWS_ID, "valid", 19)
    assert sorted((r.kind, r.value) for r in aws.references) == [
        ("arn", "arn:aws:iam::595918472158:user/canarytokens.com@@mirux23ppyky6hx3l6vclmhnj"),
        ("aws-access-key-id", AWS_ID),
        ("aws-account", "595918472158"),
        ("other", "resource_type=Access key"),
    ]
    assert aws.tool_ids == {
        "detector_type": "2",
        "decoder": "PLAIN",
        "source_type": "16",
        "source_id": "1",
        "source_name": "trufflehog - git",
        "source": "Git",
    }
    raw_v2 = records("real_pdso_th3_79_git_with_logs.jsonl")[3]["RawV2"]
    assert_no_leak([slack, aws], [slack.secret_value, raw_v2, raw_v2[len(AWS_ID) :]])


def test_real_decoders_and_verification_overlap():
    """Recent output (DetectorDescription, VerificationFromCache): one canary key found through
    three decoders, and a key three detectors matched, two of them custom regexes."""
    items = run(load("real_th_investigation_decoders_overlap.jsonl"))
    escaped, b64, plain, postman, custom1, custom2 = items
    for obs, decoder, path, line in (
        (escaped, "ESCAPED_UNICODE", "caseE.txt", 1),
        (b64, "BASE64", "caseD.txt", 1),
        (plain, "PLAIN", "caseD.txt", 2),
    ):
        assert (obs.rule, obs.secret_type, obs.secret_value) == (
            "AWS",
            "aws-access-key",
            "AKIASP2TPHJSQH3FJRUX",
        )
        assert obs.tool_ids["decoder"] == decoder
        assert (obs.path, obs.line) == (f"/tmp/th_investigation/{path}", line)
        assert ("aws-account", "171436882533") in [(r.kind, r.value) for r in obs.references]
    assert (postman.rule, postman.secret_type) == ("Postman", "api-key")
    assert postman.validity == "unknown"  # verification disabled by the overlap
    assert "custom_detector" not in postman.tool_ids
    assert (custom1.rule, custom1.tool_ids["detector_type"]) == ("CustomRegex", "904")
    assert custom1.tool_ids["custom_detector"] == "detector1"
    assert custom2.tool_ids["custom_detector"] == "detector2"
    assert custom2.secret_value == postman.secret_value.removeprefix("PMAK-")
    assert all(o.references == [] for o in (postman, custom1, custom2))
    assert_no_leak(items, ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", postman.secret_value])


def test_custom_detector_name_that_shows_the_value_is_left_out():
    rec = records("real_th_investigation_decoders_overlap.jsonl")[4]
    rec["ExtraData"] = {"name": rec["Raw"]}
    (obs,) = run(lines(rec))
    assert "custom_detector" not in obs.tool_ids
    assert_no_leak([obs], [rec["Raw"]])


def test_real_filesystem_postman_and_github_comment_sources():
    aws, postman, comment = run(load("real_pfjson_filesystem_postman_github_comment.jsonl"))
    assert (aws.secret_value, aws.path, aws.line) == ("AKIAQYLPMN5HHHFPZAM2", "/pwd/new_key", 1)
    assert ("aws-account", "052310077262") in [(r.kind, r.value) for r in aws.references]
    # Postman: the workspace holds the request; the link opens the request's auth tab.
    assert (postman.rule, postman.secret_type) == ("Github", "github-token")
    assert (postman.repo, postman.path) == ("Tredence Inc", "createRepo")
    assert postman.url.startswith("https://go.postman.co/request/26596579-8627d75c")
    assert postman.tool_ids["source"] == "Postman"
    # Github issue comment: no file or commit; the bare repository name gets its owner back
    # from the comment's link.
    assert (comment.rule, comment.secret_type) == ("LDAP", "generic-password")
    assert comment.secret_value == "ldap://dc.com:389\tgivenName\t1234567"
    assert comment.repo == "https://github.com/allegro/ralph"
    assert comment.url == "https://github.com/allegro/ralph/issues/2298#issuecomment-299789367"
    assert (comment.path, comment.line, comment.commit) == ("", None, "")
    assert comment.author == "roteme13"
    assert comment.committed_at == datetime(2017, 5, 8, 7, 5, 14, tzinfo=UTC)
    raw_v2 = records("real_pfjson_filesystem_postman_github_comment.jsonl")[0]["RawV2"]
    assert_no_leak([aws, postman, comment], [postman.secret_value, raw_v2[len(aws.secret_value) :]])


@pytest.mark.parametrize(
    ("repository", "link", "expected"),
    [
        (
            "ralph",
            "https://github.com/allegro/ralph/pull/7#discussion_r1",
            "https://github.com/allegro/ralph",
        ),
        ("ralph", "https://github.com/allegro/other/issues/1", "ralph"),  # not its link
        ("ralph", "https://u:p@github.example/allegro/ralph/issues/1", "ralph"),
        ("o/ralph", "https://github.com/o/ralph/issues/1", "o/ralph"),
        ("ralph", "", "ralph"),
    ],
)
def test_github_comment_repository_from_its_link(repository, link, expected):
    (obs,) = run(_source_rec("Github", {"repository": repository, "link": link}))
    assert obs.repo == expected


def test_real_docker_image_history():
    """The image's tag joins its name; the GitHub account the token belongs to is a
    reference, the account's display name and location are not kept."""
    (obs,) = run(load("real_cultureamp_buildkite_docker_history.jsonl"))
    assert (obs.rule, obs.secret_type, obs.validity) == ("Github", "github-token", "valid")
    assert obs.secret_value.startswith("github_pat_11")
    assert obs.repo == "liamstevensca/truffletest:latest"
    assert obs.path == "image-metadata:history:16:created-by"
    assert (obs.line, obs.commit) == (None, "")
    assert sorted((r.kind, r.value) for r in obs.references) == [
        ("other", "username=liamstevens"),
        ("url", "https://github.com/liamstevens"),
    ]
    kept = json.dumps(dataclasses.asdict(obs), default=str)
    assert "Liam Stevens" not in kept and "Australia" not in kept
    assert_no_leak([obs], [obs.secret_value])


def test_real_3_97_secret_parts_are_never_read():
    """TruffleHog 3.97 adds SecretParts (the secret again, by part); a private key's Redacted
    is its first 36 characters: neither is kept anywhere but in the value."""
    webhook, key = run(load("real_sarifconvert_th3_97_git_secretparts.jsonl"))
    assert (webhook.rule, webhook.secret_type, webhook.validity) == (
        "SlackWebhook",
        "chat-webhook",
        "unknown",
    )
    assert webhook.secret_value.startswith("https://hooks.slack.invalid/services/T00000000/")
    assert (webhook.repo, webhook.path, webhook.line) == ("file:///tmp/thtest3", "secret.txt", 1)
    assert webhook.commit == "cc31cbf991892f3ff02416f39b4dffa9421f22a6"
    assert webhook.committed_at == datetime(2026, 8, 24, 12, 40, 24, tzinfo=UTC)
    assert (key.rule, key.secret_type, key.validity) == ("PrivateKey", "private-key", "valid")
    assert key.secret_value.endswith("-----END PRIVATE KEY-----\n")
    assert key.redacted == ""
    assert (key.repo, key.path) == ("file:///tmp/thtest5", "key.pem")
    assert_no_leak([webhook, key], [webhook.secret_value, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw"])


def test_real_stripe_key_in_a_file():
    (obs,) = run(load("real_solos_daemon_stripe_filesystem.jsonl"))
    assert (obs.rule, obs.secret_type) == ("Stripe", "stripe-key")
    assert obs.secret_value == "sk_live_12345678901234567890123456789012"
    assert (obs.path, obs.line) == ("/data/data/track/std/1717685008498189280.out", 6)
    assert obs.references == []
    assert_no_leak([obs], [obs.secret_value])


def _source_rec(kind: str, data: dict) -> bytes:
    rec = records("README_example_output.jsonl")[0]
    rec["SourceMetadata"] = {"Data": {kind: data}}
    return lines(rec)


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (
            "Docker",
            {"file": "/app/.env", "image": "acme/api", "layer": "sha256:ab", "tag": "1.2"},
            {"repo": "acme/api:1.2", "path": "/app/.env"},
        ),
        (
            "S3",
            {
                "bucket": "acme-logs",
                "file": "a/b.txt",
                "email": "o@example.com",
                "timestamp": "2023-04-07 21:27:23 +0000 UTC",
                "link": "https://acme-logs.s3.amazonaws.com/a/b.txt",
            },
            {
                "repo": "s3://acme-logs",
                "path": "a/b.txt",
                "author": "o@example.com",
                "committed_at": datetime(2023, 4, 7, 21, 27, 23, tzinfo=UTC),
            },
        ),
        (
            "GCS",
            {
                "bucket": "b",
                "filename": "x.json",
                "acls": ["allUsers"],
                "created_at": "2024-01-02T03:04:05Z",
            },
            {
                "repo": "gs://b",
                "path": "x.json",
                "committed_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            },
        ),
        (
            "Gcs",  # the key real output has (the protobuf oneof's Go field name)
            {
                "bucket": "b",
                "filename": "x.json",
                "content_type": "application/json",
                "created_at": "2024-01-02 03:04:05.123456789 +0000 UTC",  # Go's time.String()
            },
            {
                "repo": "gs://b",
                "path": "x.json",
                "committed_at": datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
            },
        ),
        (
            "Gitlab",
            {
                "commit": "c0ffee",
                "file": "ci.yml",
                "link": "https://gitlab.com/g/p/-/blob/c0ffee/ci.yml",
                "email": "dev <dev@example.com>",
                "repository": "https://gitlab.com/g/p.git",
                "timestamp": "2024-02-03 04:05:06 +0000",
                "line": 7,
                "project_id": 42,
            },
            {
                "repo": "https://gitlab.com/g/p.git",
                "path": "ci.yml",
                "line": 7,
                "commit": "c0ffee",
                "author": "dev <dev@example.com>",
            },
        ),
        (
            "Gerrit",
            {"commit": "abc", "file": "f.py", "project": "platform/core", "line": 3},
            {"repo": "platform/core", "path": "f.py", "line": 3, "commit": "abc"},
        ),
        (
            "Jira",
            {
                "issue": "SEC-12",
                "author": "Sam",
                "email": "sam@example.com",
                "link": "https://acme.atlassian.net/browse/SEC-12",
                "location": "comment",
            },
            {
                "path": "SEC-12",
                "author": "Sam <sam@example.com>",
                "url": "https://acme.atlassian.net/browse/SEC-12",
            },
        ),
        (
            "Slack",
            {
                "channel_id": "C1",
                "channel_name": "deploys",
                "timestamp": "1612345678.000200",
                "user_id": "U1",
                "link": "https://acme.slack.com/archives/C1/p1612345678000200",
                "visibility": 1,
            },
            {"repo": "deploys", "committed_at": datetime(2021, 2, 3, 9, 47, 58, 200, tzinfo=UTC)},
        ),
        (
            "Artifactory",
            {"repo": "libs-release", "path": "com/acme/app.jar", "username": "ci"},
            {"repo": "libs-release", "path": "com/acme/app.jar", "author": "ci"},
        ),
        (
            "Postman",
            {
                "link": "https://go.postman.co/x",
                "workspace_name": "Team",
                "collection_name": "API",
                "request_name": "Login",
                "location_type": 2,
            },
            {"repo": "Team", "path": "Login", "url": "https://go.postman.co/x"},
        ),
        (
            "Forager",
            {
                "Metadata": {
                    "Github": {"repository": "https://github.com/o/r", "file": "k", "line": 2}
                }
            },
            {"repo": "https://github.com/o/r", "path": "k", "line": 2},
        ),
        (
            "Webhook",
            {
                "Data": {
                    "Vector": {
                        "timestamp": {"seconds": 1700000000, "nanos": 5},
                        "host": "web-1",
                        "locator": "/var/log/app.log",
                    }
                }
            },
            {
                "repo": "web-1",
                "path": "/var/log/app.log",
                "committed_at": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
            },
        ),
        (
            "Git",
            {"file": "f", "timestamp": "someday"},  # an unreadable date is left out, not fatal
            {"path": "f", "committed_at": None},
        ),
    ],
)
def test_every_source_kind_gives_a_place(kind, data, expected):
    (obs,) = run(_source_rec(kind, data))
    for field, value in expected.items():
        assert getattr(obs, field) == value, field
    assert obs.secret_value == AWS_ID


def test_real_v2_json_lines():
    """TruffleHog v2 --json (v3 --json-legacy writes the same shape): one Observation per found
    string, at the file and commit; a private-key rule that matched only the PEM header has no
    value; the diff, printDiff and commit message (they show the secret) are never kept."""
    items = run(load("real_defectdojo_v2_many_vulns.jsonl"))
    assert [(o.rule, o.secret_type, o.path) for o in items] == [
        ("Generic Secret", "generic-secret", "test_all.py"),
        ("Generic Secret", "generic-secret", "test_all.py"),
        ("SSH (EC) private key", "private-key", "README.md"),
    ]
    first, second, key = items
    assert first.commit == "288f35ed2e73145e3578207e896a4cf1600bea45"
    assert first.committed_at == datetime(2021, 1, 30, 19, 50, 9, tzinfo=UTC)
    assert first.tool_ids == {"branch": "origin/dev"}
    # The rule's match is `secret = '<value>'`: only the value is the secret.
    assert first.secret_value == "d15627104d07846ac2914a976e8e347a663bbd9b"
    assert second.secret_value == "9ed54617547cfca783e0f81f8dc5c927e3d1e345"
    assert key.secret_value is None and key.commit == "caa709db5b599dbe67afbad2eee4ae632cc3c12e"
    for obs in items:
        kept = json.dumps(dataclasses.asdict(obs), default=str)
        assert "Fixed since_commit" not in kept and "@@" not in kept


def test_json_legacy_from_v3():
    """v3 --json-legacy: reason is the detector name, stringsFound holds Raw."""
    rec = {
        "branch": "refs/heads/main",
        "commit": "add config\n",
        "commitHash": "0416560b1330d8ac42045813251d85c688717eaf",
        "date": "2022-06-20 19:00:00",
        "diff": "@@ -0,0 +1 @@\n+aws_access_key_id = " + AWS_ID + "\n",
        "path": "keys",
        "printDiff": "aws_access_key_id = \u001b[93m" + AWS_ID + "\u001b[0m",
        "reason": "AWS",
        "stringsFound": [AWS_ID, AWS_ID],
    }
    (obs,) = run(lines(rec))
    assert (obs.rule, obs.secret_type, obs.secret_value) == ("AWS", "aws-access-key", AWS_ID)
    assert [(r.kind, r.value) for r in obs.references] == [("aws-access-key-id", AWS_ID)]


def test_json_legacy_repeats_of_a_found_string_are_one_finding_even_in_a_long_line():
    strings = [f"tok_{i:06d}_abcdefgh" for i in range(20_000)]
    rec = {"reason": "Generic", "path": "a", "commitHash": "c" * 40, "stringsFound": strings * 2}
    items = run(lines(rec))
    assert [o.secret_value for o in items] == strings


@pytest.mark.parametrize(
    ("reason", "found", "value"),
    [
        (
            "Generic Secret",
            "secret = '9ed54617547cfca783e0f81f8dc5c927e3d1e345'",
            "9ed54617547cfca783e0f81f8dc5c927e3d1e345",
        ),
        (
            "Generic API Key",
            'api_key: "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2Rl"',
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2Rl",
        ),
        (
            "GitHub",
            'github_token = "0123456789abcdefABCDEF0123456789abcdefAB"',
            "0123456789abcdefABCDEF0123456789abcdefAB",
        ),
        ("Google Oauth", '"client_secret":"aBcDeFgHiJkLmNoPqRsTuVwX"', "aBcDeFgHiJkLmNoPqRsTuVwX"),
        (
            "Heroku API Key",
            "HEROKU_KEY=01234567-89AB-CDEF-0123-456789ABCDEF",
            "01234567-89AB-CDEF-0123-456789ABCDEF",
        ),
        # The rule's `.{1,100}` runs past the URL's closing quote, up to the last quote/space.
        (
            "Password in URL",
            'mysql://admin:s3cretpw@db.example.com/shop", "x": "y"\n',
            "mysql://admin:s3cretpw@db.example.com/shop",
        ),
        ("High Entropy", "AccountKey=" + "QUJD" * 11 + "QQ==", "QUJD" * 11 + "QQ=="),
        ("High Entropy", "QUJD" * 11 + "QQ==", "QUJD" * 11 + "QQ=="),
        # Not the rule's shape (a custom rule, v3 --json-legacy's Raw): kept as found.
        ("Generic Secret", "secret=abc123abc123abc123", "secret=abc123abc123abc123"),
        ("URI", "https://admin:admin@example.com/x'", "https://admin:admin@example.com/x'"),
    ],
)
def test_legacy_matches_are_cut_to_the_value(reason, found, value):
    rec = {"reason": reason, "path": "a", "commitHash": "c" * 40, "stringsFound": [found]}
    (obs,) = run(lines(rec))
    assert obs.secret_value == value


# --- reports committed to public repositories by the people who ran TruffleHog -------------


def test_real_committed_wrongsecrets_git_scan():
    name = "real_committed_udit_uniyal_trufflehog_testing_wrongsecrets_git.jsonl"
    github, aws, key = run(load(name))
    wrongsecrets = "https://github.com/OWASP/wrongsecrets.git"
    assert (github.rule, github.secret_type) == ("Github", "github-token")
    assert github.secret_value.startswith("github_pat_")
    assert (github.repo, github.path, github.line) == (
        wrongsecrets,
        "scripts/sort_contibutors/main.py",
        81,
    )
    assert github.commit == "bccdbe86c36dba5dd5dba2ff1a31877b1a4e2620"
    assert github.author == "Rodolfo Cabral Neves <roddas360@gmail.com>"
    assert github.committed_at == datetime(2023, 10, 7, 18, 50, 1, tzinfo=UTC)
    assert github.validity == "unknown"
    assert github.references == []  # rotation guide and ExtraData "version" name nothing
    # The verified canary: its account and ARN are references, the canary message is not.
    assert aws.validity == "valid"
    assert aws.secret_value == "AKIAQYLPMN5HHHFPZAM2"
    assert ("aws-account", "052310077262") in [(r.kind, r.value) for r in aws.references]
    assert "arn" in [r.kind for r in aws.references]
    assert not any("canarytokens.org" in r.value for r in aws.references)
    # A BASE64-decoded private key: the whole PEM is the value, the decoder a tool id.
    assert (key.secret_type, key.path, key.line) == ("private-key", "k8s/main.key", 34)
    assert key.secret_value.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert key.tool_ids["decoder"] == "BASE64"
    assert_no_leak([github, aws, key], all_raw(name))


def test_real_committed_windows_filesystem_scan():
    name = "real_committed_nu_ink_chaos_observatory_windows_filesystem.jsonl"
    items = run(load(name))
    assert [o.rule for o in items] == ["Box", "Box", "Box", "Myfreshworks", "URI", "URI"]
    box, cached, other_line, freshworks, pyc, py = items
    # Windows paths are kept as the tool wrote them.
    assert box.path == ".git\\objects\\19\\e6aa4306888395cf29e02df0c54c88c332a470"
    assert (box.line, other_line.line) == (1756, 1738)
    assert box.repo == box.commit == ""
    assert box.secret_type == cached.secret_type == "api-key"
    assert cached.secret_value == box.secret_value  # VerificationFromCache: the same finding
    # A failed check (HTTP 404) is no verdict.
    assert freshworks.validity == "unknown"
    assert freshworks.secret_type == "api-key"
    assert py.path == ".venv\\Lib\\site-packages\\httpx\\_urls.py"
    assert py.secret_type == "generic-password"
    assert pyc.path.endswith("\\__pycache__\\_urls.cpython-310.pyc")
    assert_no_leak(items, [*all_raw(name), "a%20secret", "a secret"])


def test_real_committed_v3_findings_as_a_json_array():
    """A user's `jq -s` of TruffleHog's lines: a pretty-printed array of v3 findings."""
    name = "real_committed_kaizoku73_json_reports_webgoat_git_array.json"
    jdbc, sonar, github, aws = run(load(name))
    webgoat = "https://github.com/WebGoat/WebGoat"
    assert {o.repo for o in (jdbc, sonar, github, aws)} == {webgoat}
    assert (jdbc.secret_type, jdbc.validity) == ("database-credential", "unknown")
    assert jdbc.path == "src/it/java/org/owasp/webgoat/test.java"
    assert sonar.secret_type == "api-key"
    assert (github.secret_type, github.path) == ("github-token", "test secret")
    assert github.committed_at == datetime(2024, 6, 3, 14, 14, 17, tzinfo=UTC)
    assert aws.path == "\u201c.aws/credentials\u201d"  # the committer's curly quotes
    assert aws.secret_value == "AKIAZ7FAKEKEY0H6QXMP"  # the key id, not RawV2's id:secret
    assert ("aws-account", "123456789012") in [(r.kind, r.value) for r in aws.references]
    recs = json.loads(load(name))
    assert_no_leak([jdbc, sonar, github, aws], [r["Raw"] for r in recs] + [recs[3]["RawV2"]])


def test_real_committed_filesystem_scan_with_verification_errors():
    name = "real_committed_herinantenainatojo_flask_filesystem_verification_errors.jsonl"
    items = run(load(name))
    by_rule = {o.rule: o for o in items}
    assert [o.rule for o in items] == [
        "FTP",
        "Postgres",
        "Postgres",
        "URI",
        "TravisCI",
        "Gitlab",
        "Alchemy",
    ]
    assert all(o.validity == "unknown" for o in items)  # DNS and HTTP failures: no verdict
    assert by_rule["FTP"].redacted == "ftp://foo:********@ftp.example.org"
    assert by_rule["Postgres"].secret_type == "database-credential"
    assert by_rule["Postgres"].references == []  # ExtraData sslmode "<unset>" names nothing
    assert items[2].path.endswith("/__pycache__/environment.cpython-313.pyc")
    # Gitlab v1: the value is Raw; RawV2 has the endpoint glued on.
    assert by_rule["Gitlab"].secret_value == "to_gitlab_severity_327"
    # The description's first sentence names other services ("hosted on GitHub",
    # "decentralized"): the type comes from the sentence that names the credential.
    assert by_rule["TravisCI"].secret_type == "api-key"
    assert by_rule["Alchemy"].secret_type == "api-key"
    assert_no_leak(items, [*all_raw(name), "foo:bar", "scott:tiger", "user:pass"])


def test_real_committed_v2_report_as_a_json_array():
    """truffleHog 2's --json findings saved as one indented array; diff and printDiff (with
    ANSI colours) quote the secret and other findings' values."""
    name = "real_committed_henrysachs_nestjsscanner_v2_json_array.json"
    recs = json.loads(load(name))
    items = run(load(name))
    assert [(o.rule, o.path, o.commit) for o in items] == [
        ("High Entropy", "my-report.json", "91ccc035379ca7f1dde2256a0467ea3e4b811448"),
        ("High Entropy", "README.md", "1ec616839db72b76f91c15e588e87f55d5a55f59"),
        ("High Entropy", "my-report.json", "1ec616839db72b76f91c15e588e87f55d5a55f59"),
    ]
    assert items[1].secret_value == "ABCDEF+c2L7yXeGvUyrPgYsDnWRRC1AYEXAMPLE"
    assert items[1].committed_at == datetime(2020, 12, 24, 23, 55, 39, tzinfo=UTC)
    assert items[1].tool_ids == {"branch": "origin/main"}
    secrets = [s for r in recs for s in r["stringsFound"]] + ["AKIAIOSFODNN7EXAMPLE"]
    assert_no_leak(items, secrets)


def test_real_committed_v2_lines_with_diff_and_printdiff():
    name = "real_committed_rapid7_plugin_help_v2_diff_printdiff.jsonl"
    pkg, readme = run(load(name))
    assert (pkg.path, pkg.commit) == (
        "awssec_pkg.egg-info/PKG-INFO",
        "31f671b298c122ee35855395ef4a137fb261c545",
    )
    assert pkg.secret_value == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    # The base64 run took the diff's "+" marker in: kept as the tool found it.
    assert readme.secret_value == "+wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert pkg.url == pkg.repo == ""  # the wrapper's commit "url" is not TruffleHog's
    assert_no_leak([pkg, readme], ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "Metadata-Version"])


def test_ci_sources_name_the_repository_by_owner_and_name():
    """TruffleHog's CircleCI and Travis CI sources write the project's owner as "username" and
    the bare repository name (the metadata below is what their own tests expect): the
    repository is owner/name on its host, and the owner is no author."""
    base = {
        "DetectorType": 2,
        "DetectorName": "AWS",
        "DecoderName": "PLAIN",
        "Verified": False,
        "Raw": "AKIAQYLPMN5HHHFPZAM2",
    }
    circle = {
        "Circleci": {
            "vcs_type": "github",
            "username": "dustin-decker",
            "repository": "circle-ci",
            "build_number": 2,
            "build_step": "Spin up environment",
            "link": "https://app.circleci.com/pipelines/github/dustin-decker/circle-ci/2",
        }
    }
    travis = {
        "TravisCI": {
            "username": "truffle-sandbox",
            "repository": "test-repo",
            "build_number": "1",
            "job_number": "1.1",
            "link": "https://app.travis-ci.com/github/truffle-sandbox/test-repo/jobs/611053994",
        }
    }
    c, t = run(
        lines(
            {**base, "SourceMetadata": {"Data": circle}, "SourceName": "trufflehog - circleci"},
            {**base, "SourceMetadata": {"Data": travis}, "SourceName": "trufflehog - travisci"},
        )
    )
    assert c.repo == "https://github.com/dustin-decker/circle-ci"
    assert c.url == "https://app.circleci.com/pipelines/github/dustin-decker/circle-ci/2"
    assert t.repo == "https://github.com/truffle-sandbox/test-repo"
    assert c.author == t.author == ""
    assert (c.tool_ids["source"], t.tool_ids["source"]) == ("Circleci", "TravisCI")
    assert c.secret_type == t.secret_type == "aws-access-key"
    # Without a known host, owner/name; a repository that already has an owner is kept.
    circle["Circleci"]["vcs_type"] = "other"
    travis["TravisCI"]["repository"] = "org/test-repo"
    c, t = run(
        lines(
            {**base, "SourceMetadata": {"Data": circle}},
            {**base, "SourceMetadata": {"Data": travis}},
        )
    )
    assert (c.repo, t.repo) == ("dustin-decker/circle-ci", "org/test-repo")


def test_real_custom_regex_of_pem_headers_over_an_ssh_remote():
    """A custom detector that matches only the PEM header reports the header as Raw: that is
    the same text for every key, no value. And the Git source names the repository by the SSH
    remote it was given, which is the forge's https://host/owner/name."""
    items = run(load("real_committed_0x736e_loc_bug_git_ssh_remote_pem_header.jsonl"))
    assert len(items) == 4  # the two log records are skipped
    assert {o.secret_value for o in items} == {None}
    assert {o.secret_type for o in items} == {"private-key"}
    assert {o.repo for o in items} == {"https://github.com/0x736E/trufflehog_v3_loc_bug.git"}
    assert [(o.path, o.line, o.tool_ids["decoder"]) for o in items] == [
        ("results/loc_accurate.json", 2, "BASE64"),
        ("results/loc_accurate.json", 3, "BASE64"),
        ("samples/headers/combined.txt", 5, "PLAIN"),
        ("samples/headers/combined.txt", 1, "PLAIN"),
    ]
    first = items[0]
    assert first.commit == "b4fce2ba4ecfbc3f4ecceccae095377d0f0502ec"
    assert first.author == "0x736E <281460+0x736E@users.noreply.github.com>"
    assert first.committed_at == datetime(2024, 2, 24, 11, 22, 24, tzinfo=UTC)
    assert first.tool_ids["custom_detector"] == "GENERIC_PRIVATE_KEY"
    assert first.validity == "unknown"


@pytest.mark.parametrize(
    ("remote", "repo"),
    [
        (
            "git@gitlab.example.com:group/sub/project.git",
            "https://gitlab.example.com/group/sub/project.git",
        ),
        ("ssh://git@github.com/o/r.git", "https://github.com/o/r.git"),
        # Not the forge's web address: another port, Azure DevOps, another account, a path.
        (
            "ssh://git@bitbucket.example.com:7999/proj/repo.git",
            "ssh://git@bitbucket.example.com:7999/proj/repo.git",
        ),
        ("git@ssh.dev.azure.com:v3/org/project/repo", "git@ssh.dev.azure.com:v3/org/project/repo"),
        ("alice@host.example.com:repos/r.git", "alice@host.example.com:repos/r.git"),
        ("git@host.example.com:/srv/git/r.git", "git@host.example.com:/srv/git/r.git"),
        ("git@github.com:r.git", "git@github.com:r.git"),
        ("git@github.com:o/r/", "https://github.com/o/r/"),
        # A long path that fails to match, read once (it took 14 s when every split of it
        # was tried).
        ("git@github.com:o" + "/r" * 20000 + " x", "git@github.com:o" + "/r" * 20000 + " x"),
        (
            "ssh://git@h.example/o" + "/r" * 20000 + "//",
            "ssh://git@h.example/o" + "/r" * 20000 + "//",
        ),
    ],
)
def test_ssh_remotes_of_forges_become_https_urls(remote, repo):
    rec = records("real_committed_0x736e_loc_bug_git_ssh_remote_pem_header.jsonl")[1]
    rec["SourceMetadata"]["Data"]["Git"]["repository"] = remote
    (obs,) = run(lines(rec))
    assert obs.repo == repo


def test_a_whole_private_key_from_a_custom_detector_is_still_the_value():
    rec = records("real_committed_0x736e_loc_bug_git_ssh_remote_pem_header.jsonl")[1]
    key = (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n"
        "-----END RSA PRIVATE KEY-----"
    )
    rec["Raw"] = key
    (obs,) = run(lines(rec))
    assert (obs.secret_value, obs.secret_type) == (key, "private-key")


def test_real_webgoat_history_scan_with_two_detectors_on_one_value():
    snyk, postgres, jdbc, npm, uri, jdbc_no_password = run(
        load("real_committed_bootlabs_webgoat_git_snyk_npm_overlap.jsonl")
    )
    # SnykKey and NpmToken both report the UUID on line 69: one value, two API credentials
    # (the CamelCase detector name "SnykKey" names a key, as "NpmToken" names a token).
    assert (snyk.rule, npm.rule) == ("SnykKey", "NpmToken")
    assert snyk.secret_type == npm.secret_type == "api-key"
    assert snyk.secret_value == npm.secret_value == "12345678-1234-4123-8123-123456789abc"
    assert (snyk.path, snyk.line) == (npm.path, npm.line) == (".github/workflows/action.yml", 69)
    assert snyk.validity == npm.validity == "unknown"  # verification was turned off (overlap)
    assert snyk.repo == "https://github.com/bootlabs-solutions/WebGoat.git"
    # Postgres: Raw and RawV2 alike, no Redacted; JDBC with and without a password.
    assert (postgres.secret_type, postgres.line) == ("database-credential", 19)
    assert postgres.secret_value == "postgresql://webgoat:webgoat@webgoat_db:5432"
    assert jdbc.secret_type == jdbc_no_password.secret_type == "database-credential"
    assert jdbc_no_password.secret_value == "jdbc:mysql://localhost/authority"
    assert jdbc_no_password.path == "webgoat-5.4/doc/attic/Eclipse-Workspace.zip"
    # URI: the value is Raw (without the path RawV2 adds); a git-svn author address.
    assert (uri.secret_type, uri.secret_value) == (
        "generic-password",
        "http://guest:guest@127.0.0.1",
    )
    assert uri.author == (
        "mayhew64@gmail.com <mayhew64@gmail.com@4033779f-a91e-0410-96ef-6bf7bf53c507>"
    )
    assert uri.committed_at == datetime(2012, 9, 9, 21, 53, 44, tzinfo=UTC)
    assert_no_leak([snyk, postgres, jdbc, npm, uri], [snyk.secret_value, "webgoat@webgoat_db"])


@pytest.mark.parametrize(
    ("detector", "secret_type"),
    [
        ("SnykKey", "api-key"),
        ("SquareAppSecret", "api-key"),
        ("OpenAIAdminKeys", "api-key"),
        ("Mailgun", "generic-secret"),  # no credential word: left generic
        ("Monkey", "generic-secret"),  # "key" inside a word is no CamelCase credential
    ],
)
def test_camel_case_detector_names_ending_in_a_credential_word(detector, secret_type):
    rec = records("real_committed_bootlabs_webgoat_git_snyk_npm_overlap.jsonl")[0]
    rec["DetectorName"] = detector
    (obs,) = run(lines(rec))
    assert obs.secret_type == secret_type


@pytest.mark.parametrize(
    ("detector", "detector_type", "raw", "raw_v2"),
    [
        # Twilio's Raw is the API key (or account) SID, RawV2 the SID and its secret.
        (
            "Twilio",
            26,
            "SK0f3c9a51d2e84b7c96a1e0d5b4c3f2a1",
            "SK0f3c9a51d2e84b7c96a1e0d5b4c3f2a1Zq8Rk2Lm5Np7Tx3Vw9Yb4Cd6Fg1Hj0K",
        ),
        ("HuggingFace", 1066, "hf_kQ7mZr2VxB9pLc4NtW8yHd3FsJ6gAe5UoR", ""),
    ],
)
def test_service_named_detectors_are_api_keys(detector, detector_type, raw, raw_v2):
    # Named for the service alone: nothing in the name for the keyword guess to read.
    rec = records("real_committed_bootlabs_webgoat_git_snyk_npm_overlap.jsonl")[0]
    rec.update(DetectorName=detector, DetectorType=detector_type, Raw=raw, RawV2=raw_v2)
    rec.update(Verified=True, VerificationError="")
    (obs,) = run(lines(rec))
    assert (obs.rule, obs.secret_type, obs.validity) == (detector, "api-key", "valid")


# --- detectors whose Raw names the account, not the credential --------------------------------

# A service account key file's shape (private key body made up: nothing here parses keys).
_KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" + "q" * 60
_PEMS = [f"-----BEGIN PRIVATE KEY-----\n{_KEY_BODY}{n}\n-----END PRIVATE KEY-----\n" for n in "AB"]
_SA = "deployer@acme-prod.iam.gserviceaccount.com"
_GCLOUD_CLIENT = "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur"  # gcloud's own OAuth client
_TOKENS = ["1//0gAlice" + "a" * 93, "1//0gBob" + "b" * 95]


def _gcp_records() -> list[dict]:
    """What TruffleHog's detectors write (pkg/detectors/gcp: Raw is the key's client_email,
    RawV2 the key as JSON, ExtraData project and private_key_id; privatekey: Raw is the key,
    normalized, Redacted its first 64 characters; gcpapplicationdefaultcredentials: Raw is the
    client id before its first dot, RawV2 that id and the refresh token, Redacted the token's
    first 3 characters, "..." and the rest from its 48th), through pkg/output/json.go."""
    rec = records("real_committed_bootlabs_webgoat_git_snyk_npm_overlap.jsonl")[0]
    out = []
    for n, (pem, key_id) in enumerate(zip(_PEMS, ("3f2a9c1e" * 5, "8e7d6c5b" * 5), strict=True)):
        key = {
            "type": "service_account",
            "project_id": "acme-prod",
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": _SA,
            "client_id": "104829375610293847561",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/x",
        }
        gcp = dict(rec, DetectorType=6, DetectorName="GCP", Raw=_SA, Redacted=_SA)
        gcp.update(RawV2=json.dumps(key, separators=(",", ":")), Verified=False)
        gcp["ExtraData"] = {
            "private_key_id": key_id,
            "project": "acme-prod",
            "rotation_guide": "https://howtorotate.com/docs/tutorials/gcp/",
        }
        gcp["SourceMetadata"] = {"Data": {"Git": {"file": f"keys/sa-{n}.json", "line": 6}}}
        out.append(gcp)
    key = dict(out[0], DetectorType=15, DetectorName="PrivateKey", Raw=_PEMS[0], RawV2="")
    key.update(Redacted=_PEMS[0][:64], ExtraData={})
    key["SourceMetadata"] = {"Data": {"Git": {"file": "keys/sa-0.json", "line": 1}}}
    out.append(key)
    for user, token in zip(("alice", "bob"), _TOKENS, strict=True):
        adc = dict(rec, DetectorType=983, DetectorName="GCPApplicationDefaultCredentials")
        adc.update(Raw=_GCLOUD_CLIENT, RawV2=_GCLOUD_CLIENT + token, ExtraData=None)
        adc.update(Redacted=token[:3] + "..." + token[47:], Verified=False)
        path = f"home/{user}/.config/gcloud/application_default_credentials.json"
        adc["SourceMetadata"] = {"Data": {"Git": {"file": path, "line": 1}}}
        out.append(adc)
    return out


def test_gcp_keys_of_one_service_account_are_different_secrets():
    first, second, key, _, _ = run(lines(*_gcp_records()))
    assert (first.rule, first.secret_type) == ("GCP", "gcp-key")
    # Each key is its private key: two keys of one service account are two secrets, and the
    # GCP and PrivateKey detectors' findings in one key file are one secret.
    assert (first.secret_value, second.secret_value) == tuple(_PEMS)
    assert key.secret_value == first.secret_value
    assert [(r.kind, r.value) for r in first.references] == [
        ("other", f"client_email={_SA}"),
        ("other", "private_key_id=" + "3f2a9c1e" * 5),
        ("other", "project_id=acme-prod"),
    ]
    assert first.redacted == ""  # the service account's address is no mask of the key
    assert_no_leak([first, second, key], [*_PEMS, _KEY_BODY])


def test_gcp_key_without_its_json_keeps_raw():
    gcp = _gcp_records()[0]
    for raw_v2 in ("", "not json", "[" * 100_000, '{"private_key": 1}', '"x"'):
        gcp["RawV2"] = raw_v2
        (obs,) = run(lines(gcp))
        assert obs.secret_value == _SA


def test_application_default_credentials_are_each_users_refresh_token():
    *_, alice, bob = run(lines(*_gcp_records()))
    assert (alice.rule, alice.secret_type) == ("GCPApplicationDefaultCredentials", "gcp-key")
    # Raw is gcloud's client id, the same in every user's file: each token is its own secret.
    assert (alice.secret_value, bob.secret_value) == tuple(_TOKENS)
    assert alice.redacted == ""  # Redacted shows most of the token
    assert_no_leak([alice, bob], [*_TOKENS, *(t[47:] for t in _TOKENS)])


def test_staged_changes_name_no_commit():
    """The git source scans staged changes (`git diff --cached`, pkg/sources/git ScanStaged)
    with the commit "Staged" and a diff parsed without a commit header: no author, Go's zero
    time. The change is in the work tree: no commit, no date."""
    rec = records("real_committed_bootlabs_webgoat_git_snyk_npm_overlap.jsonl")[0]
    git = rec["SourceMetadata"]["Data"]["Git"]
    git.update(commit="Staged", email="", timestamp="0001-01-01 00:00:00 +0000", line=3)
    (obs,) = run(lines(rec))
    assert (obs.commit, obs.author, obs.committed_at) == ("", "", None)
    assert obs.tool_ids["staged"] == "true"
    assert obs.tool_ids["detector_type"] == str(rec["DetectorType"])
    assert (obs.path, obs.line) == (git["file"], 3)


@pytest.mark.parametrize(
    "name", ["real_pdso_th3_79_git_with_logs.jsonl", "real_defectdojo_v3_github.jsonl"]
)
def test_output_piped_through_jq_gives_the_same_findings(name):
    # `trufflehog git … --json | jq .`: each line's object over many lines (log records too).
    lines = load(name).splitlines()
    pretty = b"".join(json.dumps(json.loads(line), indent=2).encode() + b"\n" for line in lines)
    assert list(parse(io.BytesIO(pretty))) == list(parse(io.BytesIO(load(name))))
    with pytest.raises(ImportFormatError) as exc:
        list(parse(io.BytesIO(pretty.replace(b'"DetectorName"', b'"DetectorName": [', 1))))
    assert "malformed" in exc.value.message and "byte" in exc.value.location
