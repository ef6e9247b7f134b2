"""detect-secrets importer: 1.x and 0.x baselines, audit flags, bad input."""

import copy
import dataclasses
import hashlib
import io
import json
from pathlib import Path

import pytest

from hygiene.importers.base import ImportFormatError, Observation
from hygiene.importers.detect_secrets import parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DIR = FIXTURES / "detect-secrets"
SAMPLE = json.loads((DIR / "many_findings.json").read_bytes())


def run(data: bytes | dict | list) -> list[Observation]:
    if isinstance(data, dict | list):
        data = json.dumps(data).encode()
    return list(parse(io.BytesIO(data)))


def assert_no_leak(items: list[Observation], secrets: list[str]) -> None:
    for obs in items:
        assert obs.secret_value is None
        texts = [
            getattr(obs, f.name)
            for f in dataclasses.fields(obs)
            if f.name != "secret_sha1" and isinstance(getattr(obs, f.name), str)
        ]
        texts += list(obs.tool_ids.values()) + [r.value for r in obs.references]
        for value in texts:
            for secret in secrets:
                assert secret not in value


def test_baseline_1x():
    items = run((DIR / "many_findings.json").read_bytes())
    assert len(items) == 4
    assert [(o.path, o.line, o.secret_sha1) for o in items] == [
        ("modules_images", 151, "bd564db5d5cc358eb0e3523d3e03041739f230d5"),
        ("modules_images", 156, "535850f35566365fddf9eb01a0d36962c0ffed8c"),
        (
            "example/pkg/docker_registry_watcher/docker_config.go",
            109,
            "0f7a136b462b257b9996c246e2e50cbd629e7928",
        ),
        (
            "example/pkg/docker_registry_watcher/docker_registry_watcher.go",
            112,
            "b732fb611fd46a38e8667f9972e0cde777fbe37f",
        ),
    ]
    for obs in items:
        assert obs.rule == "Secret Keyword"
        assert obs.secret_type == "generic-secret"
        assert obs.secret_value is None
        assert obs.redacted == ""
        assert obs.validity == "unknown"
        assert (obs.repo, obs.commit, obs.author, obs.committed_at) == ("", "", "", None)
        assert obs.severity is None
    # is_secret: true (audited as real) stays open; is_secret: false is a false positive
    assert [o.tool_resolution for o in items] == ["", "", "", "false_positive"]
    assert_no_leak(items, [])


def test_old_format_without_filename_in_items():
    doc = copy.deepcopy(SAMPLE)
    for findings in doc["results"].values():
        for item in findings:
            del item["filename"]
    doc["version"] = "0.14.3"
    items = run(doc)
    assert [o.path for o in items] == [o.path for o in run(SAMPLE)]
    assert [o.secret_sha1 for o in items] == [o.secret_sha1 for o in run(SAMPLE)]


def test_verified_types_and_case():
    doc = {
        "results": {
            "config/aws.py": [
                {
                    "type": "AWS Access Key",
                    "hashed_secret": "25910F981E85CA04BAF359199DD0BD4A3AE738B6",
                    "is_verified": True,
                    "line_number": 3,
                },
                {"type": "Private Key", "hashed_secret": "0" * 40, "line_number": "9"},
                {"type": "JSON Web Token", "hashed_secret": "1" * 40},
                {"type": "Some Slack webhook detector", "hashed_secret": "2" * 40},
            ]
        }
    }
    aws, key, jwt, hook = run(doc)
    assert aws.secret_type == "aws-access-key"
    assert aws.validity == "valid"
    assert aws.secret_sha1 == "25910f981e85ca04baf359199dd0bd4a3ae738b6"
    assert (key.secret_type, key.line) == ("private-key", 9)
    assert (jwt.secret_type, jwt.line) == ("jwt", None)
    assert hook.secret_type == "chat-webhook"
    assert run({"results": {}}) == []


SECRETS = ["bd564db5d5cc358eb0e3523d3e03041739f230d5"]


def _bad(data: bytes | dict | list) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        run(data)
    err = info.value
    assert err.location, "the error must say where"
    assert err.location in str(err)
    for secret in SECRETS:
        assert secret not in str(err)
    return err


def _entry(**changes) -> dict:
    entry = {
        "category": "UNVERIFIED",
        "filename": "a.py",
        "lines": {"3": "x"},
        "secrets": "s3cr3t-value",
        "types": ["Secret Keyword"],
    }
    return {"results": [{**entry, **changes}]}


def _item(**changes) -> dict:
    doc = copy.deepcopy(SAMPLE)
    doc["results"]["modules_images"][0].update(changes)
    return doc


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"\n  \n", "empty"),
        (b"\x00\x00\x01\x02", "binary"),
        (b"[" * 100_000, "nested"),
        (b'{"results": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
        (b'{"results": ' + b"[" * 100 + b"]" * 100 + b"}", "nested deeper"),
        (b"[1]", "$[0]"),
        (b'[{"filename": "a"}]', "'secrets' and 'types' are required"),
        (_entry(secrets=None)["results"], "$[0].secrets"),
        (_entry(types=[None])["results"], "$[0].types[0]"),
        (_entry(lines={"0": "x"})["results"], "$[0].lines"),
        (b'{"version": "1.0"}', "no 'results'"),
        (b'{"results": 5}', "'results' should be an object"),
        (b'{"results": [1]}', "expected a report entry object"),
        (b'{"results": [{"filename": "a"}]}', "'secrets' and 'types' are required"),
        (_entry(secrets=None), "$.results[0].secrets"),
        (_entry(secrets=["x"]), "$.results[0].secrets"),
        (_entry(types=[]), "$.results[0].types"),
        (_entry(types=[None]), "$.results[0].types[0]"),
        (_entry(category="MAYBE"), "$.results[0].category"),
        (_entry(category=None), "$.results[0].category"),
        (_entry(lines=["3"]), "$.results[0].lines"),
        (_entry(lines={"three": "x"}), "not a line number"),
        (_entry(lines={"0": "x"}), "not a line number"),
        (b'{"results": {"a": {}}}', "expected an array of findings"),
        (b'{"results": {"a": [1]}}', "expected a finding object"),
        (b'{"results": {"a": [{"hashed_secret": "' + b"0" * 40 + b'"}]}}', "'type'"),
        (_item(hashed_secret=None), "'hashed_secret'"),
        (_item(hashed_secret="not-a-sha1"), "SHA-1"),
        (_item(hashed_secret=["x"]), "hashed_secret"),
        (_item(line_number="one"), "line_number"),
        (_item(line_number={"a": 1}), "line_number"),
        (_item(is_secret="maybe"), "is_secret"),
        (_item(is_verified=[True]), "is_verified"),
        (_item(type=None), "'type'"),
        (b'{"results": {"a": [' + b"1" * 5000 + b"]}}", "too long"),
    ],
)
def test_bad_input(data, expected):
    assert expected in str(_bad(data))


def test_truncated():
    data = (DIR / "many_findings.json").read_bytes()
    err = _bad(data[: len(data) // 2])
    assert "line" in err.location


@pytest.mark.parametrize(
    ("folder", "name", "hint"),
    [
        ("gitleaks", "gitleaks8_many.json", "use format gitleaks"),
        ("gitleaks", "sarif_simple.sarif", "use format sarif"),
        ("trufflehog", "README_example_output.jsonl", "use format trufflehog"),
        ("ggshield", "many_findings.json", "use format ggshield"),
        ("gitleaks", "csv_simple.csv", "expected a detect-secrets baseline"),
    ],
)
def test_wrong_format(folder, name, hint):
    assert hint in str(_bad((FIXTURES / folder / name).read_bytes()))


def test_ibm_fork_audit_report_json_is_refused_naming_the_baseline():
    """The IBM fork's ``audit --report --json`` (0.13.1+ibm.48.dss on) lists the failed checks
    only, without hashes: nothing tells its secrets apart, and a check that passed lists
    nothing. It was refused as "no 'results'", which doesn't say what to send."""
    data = (DIR / "refused" / "real_ibm_docs_audit_report_json.json").read_bytes()
    error = _bad(data)
    assert error.location == "$.secrets"
    assert "audit --report --json" in error.message and ".secrets.baseline" in error.message
    passed = {"stats": {"reviewed": 10, "live": 0, "unaudited": 0, "audited_real": 0}}
    assert "audit --report --json" in _bad({**passed, "secrets": []}).message


# --- real reports (tests/fixtures/README.md says where each comes from) -------------------


def test_real_0_14_baseline_items_without_filename():
    items = run((DIR / "real_yelp_test_data_baseline_v0_14.json").read_bytes())
    assert [(o.path, o.line, o.rule) for o in items] == [
        ("config.env", 1, "Base64 High Entropy String"),
        ("config.ini", 2, "Hex High Entropy String"),
        ("config.ini", 2, "Secret Keyword"),
        ("config.ini", 10, "Hex High Entropy String"),
        ("config.yaml", 14, "Base64 High Entropy String"),
        ("files/private_key", 1, "Private Key"),
    ]
    # One value found by two plugins on one line: the same SHA-1, so one secret.
    assert (
        items[1].secret_sha1 == items[2].secret_sha1 == "b5198bd9fe6726cf064a5b80b6dfe25ab793147f"
    )
    assert items[5].secret_type == "private-key"
    assert items[0].secret_type == "generic-secret"
    for obs in items:
        assert obs.secret_value is None
        assert obs.validity == "unknown"
        assert obs.tool_resolution == ""
        assert (obs.repo, obs.commit) == ("", "")


def test_real_1_4_baseline():
    items = run((DIR / "real_yelp_secrets_baseline_v1_4.json").read_bytes())
    assert [(o.path, o.line, o.secret_type) for o in items] == [
        ("detect_secrets/plugins/private_key.py", 45, "private-key"),
        ("detect_secrets/plugins/twilio.py", 17, "api-key"),
        ("docs/audit.md", 25, "generic-secret"),
        ("docs/audit.md", 25, "generic-secret"),
        ("docs/audit.md", 180, "jwt"),
    ]
    # The private key's hashed_secret is sha1("BEGIN DSA PRIVATE KEY"), the header the plugin
    # matched, every such key's: no identity (the place is).
    assert hashlib.sha1(b"BEGIN DSA PRIVATE KEY").hexdigest() == (
        "daefe0b4345a654580dcad25c7c11ff4c944a8c0"
    )
    assert items[0].secret_sha1 is None and items[0].secret_value is None
    assert items[1].rule == "Twilio API Key"


def test_real_ibm_fork_baseline_db2_credentials():
    # IBM's fork: "+ibm" version, "exclude", "verified_result", and its own plugin types.
    (obs,) = run((DIR / "real_ibm_fork_db2_v0_13_1_ibm18.json").read_bytes())
    assert obs.rule == "DB2 Credentials"
    assert obs.secret_type == "database-credential"
    assert (obs.path, obs.line) == ("pre-deploy-check.sh", 58)
    assert obs.secret_sha1 == "83c505306bc8a3aa4c15684f9109ac1b1b563afd"
    assert obs.validity == "unknown"  # verified_result null: not verified
    assert obs.tool_resolution == ""  # is_secret true: audited as real, still open
    assert obs.tool_ids == {"audit": "confirmed a secret"}  # said on the finding's page


@pytest.mark.parametrize(
    ("is_verified", "verified_result", "validity"),
    [
        (True, True, "valid"),  # verified live
        # --output-verified-false: a plugin checked it and it did not work. is_verified is
        # true here too (it only says that a plugin tried): not a live credential.
        (True, False, "invalid"),
        (False, None, "unknown"),
        (True, None, "unknown"),
    ],
)
def test_ibm_fork_verified_result_decides_validity(is_verified, verified_result, validity):
    doc = json.loads((DIR / "real_ibm_fork_db2_v0_13_1_ibm18.json").read_bytes())
    (item,) = doc["results"]["pre-deploy-check.sh"]
    item.update(is_verified=is_verified, verified_result=verified_result)
    (obs,) = run(doc)
    assert obs.validity == validity


def test_ibm_fork_verified_result_not_a_flag():
    doc = json.loads((DIR / "real_ibm_fork_db2_v0_13_1_ibm18.json").read_bytes())
    doc["results"]["pre-deploy-check.sh"][0]["verified_result"] = "maybe"
    with pytest.raises(ImportFormatError) as exc:
        run(doc)
    assert exc.value.message == "'verified_result' should be true or false"
    assert exc.value.location == "$.results[file 0][0].verified_result"


def test_real_0_13_1_baseline_sorted_keys_exclude_word_list():
    # Yelp 0.13.1 as gen3 commits it: keys sorted ("exclude" first, "version" last),
    # "word_list", items without "filename".
    items = run((DIR / "real_gen3_cloud_automation_v0_13_1.json").read_bytes())
    assert [(o.path, o.line, o.secret_type) for o in items] == [
        ("Chef/repo/data_bags/README.md", 45, "generic-secret"),
        ("Chef/repo/data_bags/README.md", 51, "generic-secret"),
        ("Docker/sidecar/service.key", 1, "private-key"),
        ("ansible/roles/awslogs/defaults/main.yaml", 30, "generic-password"),
        ("ansible/roles/slurm/README.md", 86, "generic-secret"),
        ("ansible/roles/slurm/README.md", 86, "generic-secret"),
        ("doc/api.md", 47, "generic-secret"),
        ("tf_files/shared/modules/k8s_configs/creds.tpl", 8, "generic-secret"),
    ]
    assert items[3].rule == "Basic Auth Credentials"
    assert items[2].secret_sha1 is None  # sha1("BEGIN PRIVATE KEY"): every such key's
    assert items[3].secret_sha1
    assert {(o.validity, o.tool_resolution) for o in items} == {("unknown", "")}


def test_real_1_5_baseline_same_hash_two_plugins():
    items = run((DIR / "real_18f_identity_idp_v1_5_0.json").read_bytes())
    assert [(o.path, o.line, o.rule) for o in items] == [
        ("Gemfile", 59, "Hex High Entropy String"),
        ("config/application.yml.default", 38, "Base64 High Entropy String"),
        ("config/application.yml.default.review_app", 26, "Hex High Entropy String"),
        ("config/application.yml.default.review_app", 26, "Secret Keyword"),
        ("config/i18n-tasks.yml", 84, "Secret Keyword"),
    ]
    assert (
        items[2].secret_sha1 == items[3].secret_sha1 == ("71bc22185eef42e7dbc5d0ba245f4674b0f57c7c")
    )
    assert all(o.tool_resolution == "" and o.validity == "unknown" for o in items)


def test_real_1_5_baseline_without_results():
    assert run((DIR / "real_18f_identity_cookbooks_v1_5_0_empty.json").read_bytes()) == []


def test_real_1_2_baseline_audited_as_not_secrets():
    # `detect-secrets audit` marked every one "is_secret": false: dismissed as false positives.
    items = run((DIR / "real_trivialscan_v1_2_0_audited_false.json").read_bytes())
    assert [(o.line, o.tool_resolution) for o in items] == [
        (601, "false_positive"),
        (602, "false_positive"),
        (873, "false_positive"),
        (82, "false_positive"),
    ]
    assert items[3].path == "src/trivialscan/exceptions.py"
    assert items[3].secret_sha1 == "c8409a15d4c1a3cee90bce5a18de495b4a275522"


def test_real_ibm_fork_audited_false_and_unverified():
    # IBM fork 0.13.1+ibm.62.dss: every item "is_secret": false, "verified_result": null.
    items = run((DIR / "real_ibm_go_sdk_core_v0_13_1_ibm62.json").read_bytes())
    assert [(o.path, o.line, o.secret_type) for o in items] == [
        ("Authentication.md", 82, "generic-secret"),
        ("core/base_service_test.go", 1537, "jwt"),
        ("core/gzip_test.go", 68, "generic-secret"),
        ("core/iam_authenticator.go", 94, "generic-secret"),
        ("core/iam_authenticator.go", 94, "generic-secret"),
    ]
    assert {(o.validity, o.tool_resolution) for o in items} == {("unknown", "false_positive")}


def test_ibm_fork_box_credentials_type():
    # IBM's BoxDetector ("Box Credentials"): an API credential, not a password.
    doc = json.loads((DIR / "real_ibm_go_sdk_core_v0_13_1_ibm62.json").read_bytes())
    doc["results"]["Authentication.md"][0]["type"] = "Box Credentials"
    assert run(doc)[0].secret_type == "api-key"


def test_real_committed_ibm_fork_0_13_1_ibm_64_baseline():
    """IBM fork 0.13.1+ibm.64.dss (a current IBM project's baseline): keys sorted, a
    verbose-regex exclude, audited `is_secret: false` everywhere, one hash on two files."""
    name = "real_committed_mcp_context_forge_ibm64_v0_13_1.json"
    doc = json.loads((DIR / name).read_bytes())
    items = run((DIR / name).read_bytes())
    assert [(o.path, o.line, o.rule) for o in items] == [
        (".env.example", 54, "Secret Keyword"),
        (".env.example", 804, "Basic Auth Credentials"),
        ("CHANGELOG.md", 2567, "Basic Auth Credentials"),
        ("README.md", 316, "Hex High Entropy String"),
        ("README.md", 452, "Secret Keyword"),
        ("README.md", 452, "Base64 High Entropy String"),
        ("README.md", 730, "Basic Auth Credentials"),
    ]
    assert {o.tool_resolution for o in items} == {"false_positive"}
    assert {o.validity for o in items} == {"unknown"}  # verified_result: null
    assert items[1].secret_type == "generic-password"
    # SHA-1 of "password" on both lines: the same secret (its hash is keyed before storage).
    assert items[2].secret_sha1 == items[6].secret_sha1
    hashes = [i["hashed_secret"] for items_ in doc["results"].values() for i in items_]
    assert_no_leak(items, hashes)


# --- detect-secrets audit --report ------------------------------------------------------

REPORT_SECRETS = [
    "q8Vt2mXp9LzR4wBn7KcY1dHs6JfGa3Te",
    "Fake-Pg-Pass-9rT2",
    "AKIAZ7FAKEEXAMPLE2QX",
    "sk_live_51FakeStripeKey000000000",
    "xoxb-123456789012-210987654321-AbCdEfGhIjKlMnOpQrStUvWx",
]


def test_tool_1_4_baseline_custom_plugin_audited():
    """A baseline of a scan with a custom plugin (``--plugin acme_plugin.py``: plugins_used
    names its file), audited: is_secret true on three types, false on one."""
    items = run((DIR / "tool_detect_secrets_1_4_0_custom_plugin_audited.json").read_bytes())
    acme = next(o for o in items if o.rule == "Acme Internal Token")
    assert (acme.path, acme.line) == ("deploy/slack.env", 2)
    assert acme.secret_type == "api-key"  # a custom plugin's token
    assert acme.secret_sha1 == "1e0095e6a15039eb86fd789d0509203cc0663a7e"
    assert acme.tool_ids == {"audit": "confirmed a secret"}
    assert acme.tool_resolution == ""
    false_positive = next(o for o in items if o.path == "acme_plugin.py")
    assert false_positive.tool_resolution == "false_positive"
    aws = next(o for o in items if o.rule == "AWS Access Key")
    assert (aws.secret_type, aws.line, aws.validity) == ("aws-access-key", 5, "unknown")
    assert_no_leak(items, REPORT_SECRETS)


def test_tool_1_4_audit_report():
    """``detect-secrets audit --report --json``: the raw value, every line it occurs on, the
    audit label; the line texts are never kept."""
    data = (DIR / "tool_detect_secrets_1_4_0_audit_report.json").read_bytes()
    items = run(data)
    assert [(o.rule, o.path, o.line, o.tool_resolution, o.tool_ids) for o in items] == [
        ("Secret Keyword", "acme_plugin.py", 7, "false_positive", {}),
        ("Base64 High Entropy String", "app/settings.py", 3, "", {}),
        ("Basic Auth Credentials", "app/settings.py", 4, "", {}),
        ("AWS Access Key", "app/settings.py", 5, "", {"audit": "confirmed a secret"}),
        ("AWS Access Key", "app/settings.py", 7, "", {"audit": "confirmed a secret"}),
        ("Stripe Access Key", "app/settings.py", 6, "", {}),
        ("Slack Token", "deploy/slack.env", 1, "", {"audit": "confirmed a secret"}),
    ]
    aws = items[3]
    assert aws.secret_value == "AKIAZ7FAKEEXAMPLE2QX"
    assert aws.secret_type == "aws-access-key"
    assert aws.secret_sha1 is None
    assert items[5].secret_type == "stripe-key"
    assert items[6].secret_type == "slack-token"
    # The same secret as the baseline's hashed_secret (its SHA-1), so the two match.
    baseline = run((DIR / "tool_detect_secrets_1_4_0_custom_plugin_audited.json").read_bytes())
    base_aws = next(o for o in baseline if o.rule == "AWS Access Key")
    assert hashlib.sha1(aws.secret_value.encode()).hexdigest() == base_aws.secret_sha1
    for obs in items:
        fields = [
            getattr(obs, f.name)
            for f in dataclasses.fields(obs)
            if f.name != "secret_value" and isinstance(getattr(obs, f.name), str)
        ]
        for secret in REPORT_SECRETS:
            assert all(secret not in value for value in fields)
        assert "AWS_ACCESS_KEY_ID" not in obs.description  # no line text


def test_audit_report_entry_without_lines_and_specific_type_first():
    (obs,) = run(_entry(lines={}, types=["Secret Keyword", "Slack Token"]))
    assert (obs.rule, obs.line, obs.secret_type) == ("Slack Token", None, "slack-token")
    assert run({"results": []}) == []


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"secrets": "\ud800abcdefgh"}, "$.results[0].secrets"),
        ({"types": ["\udc00x"]}, "$.results[0].types[0]"),
        ({"lines": {"9" * 5000: "x"}}, "$.results[0].lines"),
    ],
)
def test_audit_report_values_that_cannot_be_stored(entry, where):
    base = {
        "category": "UNVERIFIED",
        "filename": "a.py",
        "lines": {"3": "x"},
        "secrets": "abcdefghijkl",
        "types": ["Secret Keyword"],
    }
    # json.dumps keeps a lone surrogate as its \u escape, as a tool would write it.
    data = json.dumps({"results": [{**base, **entry}]}).encode()
    assert _bad(data).location == where


# --- detect-secrets 1.1-1.3: the audit report is a bare array ----------------------------

REPORT_1_1 = DIR / "tool_detect_secrets_1_1_0_audit_report.json"
AUDITED_1_3 = DIR / "tool_detect_secrets_1_3_0_audited.json"
SLACK_1_1 = "xoxb-912837465012-918273645098-Qm7Rk2Lp9Xs4Tn6Vb8Wc1Zd3"


def test_tool_1_1_audit_report_is_a_bare_array():
    """detect-secrets 1.1.0 ``audit --report --json`` (1.1-1.3 print the list of entries; only
    1.4+ wrap it in {"results": ...}): read entry by entry as the wrapped form."""
    data = REPORT_1_1.read_bytes()
    assert data.lstrip().startswith(b"[")
    items = run(data)
    assert [(o.rule, o.path, o.line, o.tool_resolution, o.tool_ids) for o in items] == [
        ("NPM tokens", ".npmrc", 1, "", {}),
        ("Base64 High Entropy String", "app/settings.py", 2, "", {}),
        ("Slack Token", "app/settings.py", 3, "", {"audit": "confirmed a secret"}),
        ("Base64 High Entropy String", "app/settings.py", 4, "false_positive", {}),
        ("Stripe Access Key", "app/settings.py", 4, "", {"audit": "confirmed a secret"}),
        ("Basic Auth Credentials", "app/settings.py", 5, "", {}),
        ("Secret Keyword", "app/settings.py", 6, "", {}),
        ("JSON Web Token", "app/settings.py", 7, "", {}),
        ("Basic Auth Credentials", "config/basic.yaml", 1, "", {}),
        ("Base64 High Entropy String", "config/basic.yaml", 2, "false_positive", {}),
        ("Mailchimp Access Key", "config/prod.env", 2, "", {}),
        ("Twilio API Key", "config/prod.env", 3, "", {"audit": "confirmed a secret"}),
        ("Square OAuth Secret", "config/prod.env", 4, "", {}),
        ("Base64 High Entropy String", "config/prod.env", 6, "false_positive", {}),
        ("Artifactory Credentials", "config/prod.env", 6, "", {}),
        ("Private Key", "deploy/id_rsa", 1, "", {"audit": "confirmed a secret"}),
    ]
    slack = items[2]
    assert (slack.secret_type, slack.secret_value, slack.secret_sha1) == (
        "slack-token",
        SLACK_1_1,
        None,
    )
    assert items[4].secret_type == "stripe-key"
    assert items[15].secret_type == "private-key"
    # What the report shows of a private key is the header the plugin matched: no value.
    assert (items[15].secret_value, items[15].secret_sha1) == (None, None)
    # The same value the baseline hashed: the report's findings match the baseline's.
    baseline = run(AUDITED_1_3.read_bytes())
    base_slack = next(o for o in baseline if o.rule == "Slack Token")
    assert hashlib.sha1(slack.secret_value.encode()).hexdigest() == base_slack.secret_sha1
    # What 1.4+ would write for the same entries reads the same.
    assert run({"results": json.loads(data)}) == items
    for obs in items[:15]:
        assert obs.secret_value
    for obs in items:
        assert obs.description == "" or obs.secret_value not in obs.description
        for field in dataclasses.fields(obs):
            value = getattr(obs, field.name)
            if field.name != "secret_value" and isinstance(value, str):
                assert SLACK_1_1 not in value
    # 1.1-1.3's report of nothing is any tool's clean scan: refused, not a clean baseline.
    with pytest.raises(ImportFormatError, match="empty array"):
        run(b"[]")


@pytest.mark.parametrize(
    ("index", "changes", "where"),
    [
        (3, {"filename": ["app/settings.py"]}, "$[3].filename"),
        (0, {"secrets": None}, "$[0].secrets"),
        (1, {"types": ["Secret Keyword", 5]}, "$[1].types[1]"),
        (5, {"category": "MAYBE"}, "$[5].category"),
        (2, {"lines": {"three": "x"}}, "$[2].lines"),
    ],
)
def test_tool_1_1_audit_report_errors_name_the_json_path(index, changes, where):
    entries = json.loads(REPORT_1_1.read_bytes())
    entries[index].update(changes)
    err = _bad(entries)
    assert err.location == where
    assert SLACK_1_1 not in str(err)


def test_audit_report_bare_array_of_non_entries():
    entries = json.loads(REPORT_1_1.read_bytes())
    entries[4] = "Stripe Access Key"
    assert _bad(entries).location == "$[4]"
    entries[4] = {"filename": "a.py", "types": ["Slack Token"]}
    err = _bad(entries)
    assert (err.location, err.message) == (
        "$[4]",
        "not a detect-secrets audit report entry: 'secrets' and 'types' are required",
    )


# --- one value, several plugins, one line: the specific plugin's item first ---------------


def _first_per_place(items: list[Observation]) -> dict[tuple, Observation]:
    """What staging keeps: the first row of each place (value, path, line)."""
    first: dict[tuple, Observation] = {}
    for obs in items:
        first.setdefault((obs.secret_sha1, obs.path, obs.line), obs)
    return first


def test_tool_1_3_audited_baseline_specific_plugin_before_entropy():
    """detect-secrets 1.3.0 sorts a line's items by type: "Base64 High Entropy String" comes
    before "Slack Token" for the same hashed value on app/settings.py line 3."""
    doc = json.loads(AUDITED_1_3.read_bytes())
    listed = [i["type"] for i in doc["results"]["app/settings.py"] if i["line_number"] == 3]
    assert listed == ["Base64 High Entropy String", "Slack Token"]
    items = run(AUDITED_1_3.read_bytes())
    assert len(items) == 20  # every item still comes through
    line_3 = [o for o in items if (o.path, o.line) == ("app/settings.py", 3)]
    assert [o.rule for o in line_3] == ["Slack Token", "Base64 High Entropy String"]
    first = _first_per_place(items)
    slack = first[("f74f548ba3ce2aa54da0b01824403fc8edef087d", "app/settings.py", 3)]
    assert (slack.rule, slack.secret_type) == ("Slack Token", "slack-token")
    assert slack.tool_ids == {"audit": "confirmed a secret"}
    aws = first[("e4fba91f312be733aa2dc644dab8ca8c1b685409", "app/settings.py", 2)]
    assert aws.secret_type == "aws-access-key"
    line_2 = [o.rule for o in items if (o.path, o.line) == ("app/settings.py", 2)]
    assert line_2 == ["AWS Access Key", "Base64 High Entropy String", "Secret Keyword"]
    # Other values on the same line are other places: left where the file lists them.
    basic = [(o.rule, o.secret_sha1[:8]) for o in items if o.path == "config/basic.yaml"]
    assert basic == [
        ("Basic Auth Credentials", "0179e240"),
        ("Base64 High Entropy String", "2a9c390a"),
        ("GitHub Token", "e175c6f5"),
    ]
    assert [o.rule for o in items if o.path == "config/prod.env"][-2:] == [
        "Base64 High Entropy String",
        "Artifactory Credentials",
    ]


@pytest.mark.parametrize(
    ("order", "specific"),
    [
        (["Secret Keyword", "Base64 High Entropy String", "Slack Token"], "Slack Token"),
        (["Hex High Entropy String", "Slack Token", "Secret Keyword"], "Slack Token"),
        (["Base64 High Entropy String", "secret keyword", "JSON Web Token"], "JSON Web Token"),
    ],
)
def test_specific_plugin_first_whatever_the_order(order, specific):
    doc = json.loads(AUDITED_1_3.read_bytes())
    template = doc["results"]["app/settings.py"][4]  # the Slack Token item on line 3
    other = doc["results"]["app/settings.py"][8]  # a keyword on line 6: another value
    doc["results"] = {}
    doc["results"]["app/settings.py"] = [
        {**template, "type": order[0]},
        other,
        {**template, "type": order[1]},
        {**template, "type": order[2]},
    ]
    items = run(doc)
    assert [o.line for o in items] == [3, 6, 3, 3]
    assert items[0].rule == specific
    assert items[1] == run({"results": {"app/settings.py": [other]}})[0]
    # The generic ones keep the file's order.
    generic = [t for t in order if t != specific]
    assert [items[2].rule, items[3].rule] == generic


def detect_secrets_source():
    from hygiene.models import Source

    return Source.objects.create(
        slug="detect-secrets",
        name="detect-secrets",
        kind="scanner",
        default_format="detect-secrets",
    )


@pytest.mark.django_db
def test_tool_1_3_audited_baseline_imports_the_slack_token_as_one(db):
    from hygiene.models import Finding
    from hygiene.services.imports import import_report

    source = detect_secrets_source()
    with AUDITED_1_3.open("rb") as stream:
        import_report(source=source, format_key="detect-secrets", stream=stream, via="cli")
    finding = Finding.objects.get(path="app/settings.py", line=3)
    assert (finding.rule, finding.secret_type) == ("Slack Token", "slack-token")
    assert finding.secret.secret_type == "slack-token"
    aws = Finding.objects.get(path="app/settings.py", line=2)
    assert aws.secret_type == "aws-access-key"


# detect-secrets 1.5's IPPublicDetector (on by default): a public IPv4 address, no credential.
# hashed_secret: SHA-1 of "203.0.113.77" (a documentation address).
PUBLIC_IP_SHA1 = hashlib.sha1(b"203.0.113.77").hexdigest()


def _baseline_1_5(*items: dict) -> dict:
    return {
        "version": "1.5.0",
        "plugins_used": [{"name": "IPPublicDetector"}, {"name": "KeywordDetector"}],
        "filters_used": [],
        "results": {"app/config.py": [{"filename": "app/config.py", **i} for i in items]},
        "generated_at": "2024-05-01T10:20:30Z",
    }


def test_public_ip_is_informational_not_a_credential():
    keyword = {"type": "Secret Keyword", "hashed_secret": "9" * 40, "line_number": 4}
    doc = _baseline_1_5(
        {"type": "Public IP (ipv4)", "hashed_secret": PUBLIC_IP_SHA1, "line_number": 2},
        {**keyword, "is_verified": False},
    )
    ip, secret = run(doc)
    assert (ip.rule, ip.secret_type, ip.severity) == ("Public IP (ipv4)", "generic-secret", "info")
    assert (ip.path, ip.line, ip.secret_sha1) == ("app/config.py", 2, PUBLIC_IP_SHA1)
    assert (secret.secret_type, secret.severity) == ("generic-secret", None)  # the type's


def test_public_ip_comes_after_a_credential_found_at_the_same_place():
    # The same value on the same line by two plugins (detect-secrets sorts a line's items by
    # type name: "Public IP" before "Secret Keyword"): staging keeps the first, the keyword's.
    same = {"hashed_secret": PUBLIC_IP_SHA1, "line_number": 7}
    items = run(
        _baseline_1_5({"type": "Public IP (ipv4)", **same}, {"type": "Secret Keyword", **same})
    )
    assert [(o.rule, o.severity) for o in items] == [
        ("Secret Keyword", None),
        ("Public IP (ipv4)", "info"),
    ]
    # An audit report names the secret by its most telling type.
    (obs,) = run(_entry(secrets="203.0.113.77", types=["Public IP (ipv4)", "Secret Keyword"]))
    assert (obs.rule, obs.severity) == ("Secret Keyword", None)
    (ip,) = run(_entry(secrets="203.0.113.77", types=["Public IP (ipv4)"]))
    assert (ip.rule, ip.secret_type, ip.severity) == ("Public IP (ipv4)", "generic-secret", "info")


@pytest.mark.django_db
def test_public_ip_is_stored_at_severity_info(db):
    from hygiene.models import Finding
    from hygiene.services.imports import import_report

    source = detect_secrets_source()
    doc = _baseline_1_5(
        {"type": "Public IP (ipv4)", "hashed_secret": PUBLIC_IP_SHA1, "line_number": 2},
        {"type": "Secret Keyword", "hashed_secret": "9" * 40, "line_number": 4},
    )
    stream = io.BytesIO(json.dumps(doc).encode())
    import_report(source=source, format_key="detect-secrets", stream=stream, via="cli")
    found = {f.rule: (f.secret_type, f.severity) for f in Finding.objects.all()}
    assert found == {
        "Public IP (ipv4)": ("generic-secret", "info"),
        "Secret Keyword": ("generic-secret", "medium"),
    }
