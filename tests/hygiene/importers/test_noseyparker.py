"""Nosey Parker report --format jsonl (0.16 and 0.17+), and --format json."""

import base64
import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers import get_parser
from hygiene.importers.base import ImportFormatError, Observation
from hygiene.importers.noseyparker import parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HERE = FIXTURES / "noseyparker"
SAMPLE = HERE / "noseyparker_many_vul.jsonl"
NEW_JSONL = HERE / "generated_report_v0_20.jsonl"
NEW_JSON = HERE / "generated_report_v0_20.json"
RULE_NAMES = {
    "Generic API Key",
    "Generic Username and Password (unquoted)",
    "Generic Password (double quoted)",
    "GitHub Personal Access Token",
    "AWS API Credentials",
}
GHP = "ghp_R4nd0mF4k3T0k3nV4lu3F0rT3st1ngAbCd"


def run(data: bytes | str) -> list:
    if isinstance(data, str):
        data = data.encode()
    return list(parse(io.BytesIO(data)))


def texts_of(obs: Observation, skip=("secret_value", "secret_type", "category")):
    for f in dataclasses.fields(obs):
        if f.name in skip:
            continue
        value = getattr(obs, f.name)
        if isinstance(value, str):
            yield f.name, value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield f"{f.name}.{k}", f"{k} {v}"
        elif isinstance(value, list):
            for ref in value:
                if ref.kind == "aws-access-key-id" and ref.value == obs.secret_value:
                    continue  # a key id is an identifier: rotation events are matched by it
                yield f.name, f"{ref.kind} {ref.value}"


def assert_secret_only_in_value(items, secrets=()):
    for obs in items:
        candidates = [s for s in (obs.secret_value, *secrets) if s]
        for name, text in texts_of(obs):
            if name in ("rule", "title") and text in RULE_NAMES:
                continue  # the tool's rule name is constant text, not the input's
            for secret in candidates:
                assert secret not in text, f"secret leaked into {name}"


def test_sample_one_observation_per_match():
    items = list(parse(SAMPLE.open("rb")))
    assert len(items) == 6  # 1 + 1 + 1 + 2 + 1 matches
    assert [o.rule for o in items] == [
        "Generic API Key",
        "Generic Username and Password (unquoted)",
        "Generic Username and Password (unquoted)",
        "Generic Password (double quoted)",
        "Generic Password (double quoted)",
        "Generic API Key",
    ]
    assert [o.secret_type for o in items] == [
        "api-key",
        "generic-password",
        "generic-password",
        "generic-password",
        "generic-password",
        "api-key",
    ]
    assert [o.secret_value for o in items] == [
        "32ui1ffdasfhu239b4df2ac6609a9919",
        "secret",
        "secret",
        "Password",
        "Password",
        "32ui1ffdasfhu239b4df2ac6609a9919",
    ]
    first = items[0]
    assert (first.path, first.line) == ("app/schema/config.py", 16)
    assert first.commit == "0ee84b84c29924b210e3576fe9d1e8632948bedc"
    assert first.author == "Princess Leia <leia@test.com>"
    assert first.committed_at == datetime.fromtimestamp(1685495256, tz=UTC)
    assert first.repo == ""  # "./.git": a scan of the working directory names no repository
    assert first.tool_ids["blob_id"] == "0ee84b84c29924b210e3576fe9d1e8632948bedc"
    assert items[3].path == "references/Microsoft.json"
    assert items[3].line == 161
    assert items[5].commit == "0ef84b84c29924b210e3576f69d1e8632948bedc"
    assert all(o.validity == "unknown" and o.severity is None for o in items)
    assert_secret_only_in_value(items)


def test_snippet_context_is_never_kept():
    items = list(parse(SAMPLE.open("rb")))
    for obs in items:
        for _name, text in texts_of(obs):
            assert "testwebsite" not in text
            assert "API_KEY =" not in text


@pytest.mark.parametrize("path", [NEW_JSONL, NEW_JSON], ids=lambda p: p.name)
def test_new_format_groups_are_base64(path):
    items = list(get_parser("noseyparker")(path.open("rb")))
    assert len(items) == 3
    git, file_match, aws = items
    assert git.secret_value == GHP
    assert git.secret_type == "github-token"
    assert git.rule == "GitHub Personal Access Token"
    assert git.repo == "/src/payments"
    assert (git.path, git.line) == ("scripts/release.sh", 7)
    assert git.commit == "3c9a1e7d5b2f4a6c8e0d1b3f5a7c9e1d3b5f7a9c"
    assert git.author == "Mina Park <mina@example.com>"
    assert git.committed_at == datetime.fromtimestamp(1709827200, tz=UTC)
    # Not finding_id: Nosey Parker digests the matched groups into it (unkeyed).
    assert git.tool_ids == {
        "rule_text_id": "np.github.1",
        "blob_id": "bef17e1f92978931020b423cfcfb6f1e7381d559",
        "structural_id": "155cdfa3e16d6abc09ecb8a2f659c2f84f7b91fc",
    }
    assert git.tool_resolution == ""
    assert file_match.path == "/src/payments/docs/setup.md"
    assert file_match.tool_resolution == "false_positive"  # status "reject"
    assert aws.secret_type == "aws-secret-key"
    assert aws.secret_value == "AKIAZ7EXAMPLEKEY1234"  # the key id, as other tools report it
    assert aws.path == "s3://ops-backups/env/prod.env"
    assert_secret_only_in_value(items, [GHP, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"])


def test_snippet_matching_is_the_last_resort():
    finding = json.loads(NEW_JSONL.read_text().splitlines()[0])
    for match in finding["matches"]:
        del match["groups"]
    del finding["groups"]
    items = run(json.dumps(finding))
    assert items[0].secret_value == GHP  # snippet.matching


def test_text_groups_from_older_versions():
    finding = json.loads(NEW_JSONL.read_text().splitlines()[0])
    finding["matches"][0]["groups"] = ["not base64!"]
    assert run(json.dumps(finding))[0].secret_value == "not base64!"


def test_binary_group_is_decoded_safely():
    finding = json.loads(NEW_JSONL.read_text().splitlines()[0])
    finding["matches"][0]["groups"] = [base64.b64encode(b"\xff\xfe\x00abc").decode()]
    value = run(json.dumps(finding))[0].secret_value
    assert value.endswith("abc")
    value.encode("utf-8")


def test_non_finding_records_are_skipped():
    # Another kind of Nosey Parker record (it names a rule); another tool's typed object is
    # refused (test_another_tools_records_with_a_type_are_refused_not_skipped).
    assert run('{"type": "summary", "rule_name": "AWS API Key", "count": 3}\n') == []


def test_blank_lines_are_ignored():
    data = SAMPLE.read_bytes().replace(b"\n", b"\n\n")
    assert len(run(data)) == 6


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n\n  \n",
        b"\x00\x00\x00binary",
        b"\xff\xfe{\x00",
        b"{}",
        b'{"rule_name": "x"}',
        b'{"rule_name": "x", "matches": {}}',
        b'{"rule_name": "x", "matches": [1]}',
        b"[1]",
        b"not json",
        b'{"rule_name": "x", "matches": []}\n{bad',
        b"[" * 100000,
        b"{" + b'"a":[' * 50000,
        b'{"rule_name": "x", "matches": [], "a": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    ],
)
def test_bad_input(data):
    with pytest.raises(ImportFormatError):
        run(data)


def test_error_names_the_line_and_hides_secret():
    lines = SAMPLE.read_text().splitlines()
    lines[2] = lines[2][:120]  # truncated third line, after the secret
    with pytest.raises(ImportFormatError) as info:
        run("\n".join(lines))
    assert "line 3" in str(info.value)
    assert "32ui1ffdasfhu239b4df2ac6609a9919" not in str(info.value)


def test_invalid_utf8_line():
    data = SAMPLE.read_bytes().splitlines()
    data[1] = data[1].replace(b"Princess", b"Prin\xffcess")
    with pytest.raises(ImportFormatError) as info:
        run(b"\n".join(data))
    assert "line 2" in str(info.value)


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES / "github-secret-scanning" / "github_secrets_detection_report_many_vul.json",
        FIXTURES / "gitlab-secret-detection" / "gitlab_secret_detection_report_1_vuln_v15.json",
        FIXTURES / "sarif" / "sarif_simple.sarif",
        FIXTURES / "leakline" / "findings_and_events.json",
    ],
    ids=lambda p: p.name,
)
def test_other_tools_reports_are_refused(path):
    with pytest.raises(ImportFormatError):
        run(path.read_bytes())


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda f: f.update(rule_name=["x"]), "line 1.rule_name"),
        (lambda f: f["matches"][0].update(provenance="x"), "line 1.matches[0].provenance"),
        (lambda f: f["matches"][0].update(provenance=["x"]), "line 1.matches[0].provenance[0]"),
        (
            lambda f: f["matches"][0]["location"]["source_span"]["start"].update(line="x"),
            "line 1.matches[0].location.source_span.start.line",
        ),
        (lambda f: f["matches"][0].update(groups="abc"), "line 1.matches[0].groups"),
        (lambda f: f["matches"][0].update(groups=[1]), "line 1.matches[0].groups[0]"),
        (lambda f: f["matches"][0].update(snippet=[]), "line 1.matches[0].snippet"),
        (
            lambda f: f["matches"][0]["provenance"][0]["first_commit"].update(commit_metadata=1),
            "line 1.matches[0].provenance[0].first_commit.commit_metadata",
        ),
    ],
)
def test_wrong_field_types(mutate, where):
    finding = json.loads(NEW_JSONL.read_text().splitlines()[0])
    mutate(finding)
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(finding))
    assert where in str(info.value)
    assert GHP not in str(info.value)


# --- real reports (tests/fixtures/README.md says where each comes from) -------------------


def _other_texts(obs: Observation) -> list[str]:
    out = [
        v
        for f in dataclasses.fields(obs)
        if f.name != "secret_value"
        for v in [getattr(obs, f.name)]
        if isinstance(v, str)
    ]
    out += list(obs.tool_ids.values())
    out += [r.value for r in obs.references if r.kind != "aws-access-key-id"]
    return out


def test_real_git_history_report_v0_17():
    creds, key, bucket = run((HERE / "real_noseyparker_appmaker_git_v0_17.json").read_bytes())
    assert creds.rule == "AWS API Credentials"
    assert creds.secret_type == "aws-secret-key"
    assert creds.secret_value == "AKIAJUZPLTNMY2JSXLYA"  # the key id, not "id:secret"
    assert [(r.kind, r.value) for r in creds.references] == [
        ("aws-access-key-id", "AKIAJUZPLTNMY2JSXLYA")
    ]
    assert creds.repo == "<REPO>"  # the snapshot's placeholder for the clone's path
    assert (creds.path, creds.line) == ("my.env", 9)
    assert creds.commit == "9ba2c5654ef78e49ce0173b81f1bcf8f25fcb36a"
    assert creds.author == "David Ascher <david.ascher@gmail.com>"
    assert creds.committed_at == datetime(2013, 9, 2, 12, 47, 18, tzinfo=UTC)
    assert "finding_id" not in creds.tool_ids
    assert creds.tool_ids["rule_text_id"] == "np.aws.6"

    assert key.secret_type == "aws-access-key"
    assert key.secret_value == "AKIAJEEUOSJXYB2BKLMA"
    assert [(r.kind, r.value) for r in key.references] == [("aws-access-key-id", key.secret_value)]
    assert (key.path, key.line) == ("tmp.env", 1)
    assert key.committed_at == datetime(2013, 11, 11, 8, 11, 47, tzinfo=UTC)

    # A bucket name is no credential: not an AWS access key, and only informational.
    assert bucket.rule == "AWS S3 Bucket (path style)"
    assert bucket.secret_type == "generic-secret"
    assert bucket.severity == "info"
    assert bucket.secret_value == "s3-us-west-2.amazonaws.com/makerstrap"
    assert bucket.path == "public/vendor/webmaker-auth-client/example/index.html"

    # The snippets' context carries another secret (S3_SECRET=...) and commit messages.
    for obs in (creds, key, bucket):
        for text in _other_texts(obs):
            assert "DvHxHLMsO0fSnNqI82efq4sO8QefdMSz3l2q2Xk1" not in text
            assert "S3_KEY" not in text and "fix both" not in text
        assert obs.description == ""


def test_real_v0_16_match_content_and_file_provenance():
    (obs,) = run((HERE / "real_noseyparker_scan_secrets1_v0_16.json").read_bytes())
    assert obs.rule == "AWS API Key"
    assert obs.secret_value == "AKIADEADBEEFDEADBEEF"
    assert obs.secret_type == "aws-access-key"
    assert (obs.path, obs.line, obs.repo, obs.commit) == ("<ROOT>/input.txt", 3, "", "")
    assert [(r.kind, r.value) for r in obs.references] == [("aws-access-key-id", obs.secret_value)]
    assert "the_dude" not in " ".join(_other_texts(obs))


def test_real_v0_22_extended_provenance_payload_string():
    (obs,) = run((HERE / "real_noseyparker_string_provenance_v0_22.json").read_bytes())
    assert obs.secret_value == "ghp_XIxB7KMNdAr3zqWtQqhE94qglHqOzn1D1stg"
    assert obs.secret_type == "github-token"
    assert (obs.path, obs.line) == ("input.txt", 3)
    assert "finding_id" not in obs.tool_ids
    assert obs.tool_ids["structural_id"] == "155cdfa3e16d6abc09ecb8a2f659c2f84f7b91fc"
    assert all(obs.secret_value not in t for t in _other_texts(obs))


def test_real_extended_provenance_beside_kind_with_filename():
    # Before 0.22 an enumerator's provenance object was written beside "kind" (no "payload"),
    # with whatever keys the enumerator chose: here Nosey Parker's own "filename".
    (obs,) = run((HERE / "real_noseyparker_enumerator_extended_provenance_flat.json").read_bytes())
    assert obs.secret_value == "ghp_XIxB7KMNdAr3zqWtQqhE94qglHqOzn1D1stg"
    assert obs.secret_type == "github-token"
    assert (obs.path, obs.line, obs.repo, obs.commit) == ("input.txt", 3, "", "")
    assert obs.tool_ids["structural_id"] == "155cdfa3e16d6abc09ecb8a2f659c2f84f7b91fc"
    assert all(obs.secret_value not in t for t in _other_texts(obs))


def test_extended_provenance_keys_of_other_types_are_no_path():
    doc = json.loads(
        (HERE / "real_noseyparker_enumerator_extended_provenance_flat.json").read_bytes()
    )
    doc[0]["matches"][0]["provenance"] = [{"kind": "extended", "filename": ["a", "b"], "path": 3}]
    (obs,) = run(json.dumps(doc))
    assert obs.path == ""
    payload = {"kind": "extended", "payload": {"repo": {"url": "x"}, "path": "src/app.py"}}
    doc[0]["matches"][0]["provenance"] = [payload]
    (obs,) = run(json.dumps(doc))
    assert (obs.repo, obs.path) == ("", "src/app.py")


def test_real_v0_22_git_history_of_the_working_directory():
    items = run((HERE / "real_defectdojo_0_22_git.jsonl").read_bytes())
    assert [(o.rule, o.secret_type) for o in items] == [
        ("AWS API Credentials", "aws-secret-key")
    ] * 4
    first, second, wip, setup = items
    assert first.secret_value == "AKIASP2TPHJS4XUU3EPJ"
    assert [(r.kind, r.value) for r in first.references] == [
        ("aws-access-key-id", "AKIASP2TPHJS4XUU3EPJ")
    ]
    # repo_path "./.git" (`noseyparker scan .`) names no repository; blob_path is the path.
    assert first.repo == ""
    assert (first.path, first.line) == ("src/main/resources/explanations/challenge15.adoc", 25)
    assert first.commit == "43d6429098e4d3acdf6938dfc159172c4dd99220"
    assert first.author == "Jeroen Willemsen <jeroenwillemsen2001@gmail.com>"
    assert first.committed_at == datetime(2023, 3, 9, 22, 33, 36, tzinfo=UTC)  # "... +0100"
    assert first.tool_ids == {
        "rule_text_id": "np.aws.6",
        "blob_id": "1590fc5b5b352fd538a6372946b04120bc2b5649",
        "structural_id": "f7532bb5152f116bf4d4ca4230255303b75433c6",
    }
    assert (second.line, second.secret_value) == (15, "AKIASP2TPHJS6R72AFU2")
    # One finding, two matches: the same credentials first seen in two commits.
    assert wip.secret_value == setup.secret_value
    assert wip.tool_ids["rule_text_id"] == setup.tool_ids["rule_text_id"]
    assert (wip.commit, wip.line) == ("47d1e638af75ff2ecbc19ca70cf2aaccaa0bcd6b", 55)
    assert (setup.commit, setup.line) == ("2c2c0b1231212321f19ee02a392f7193524c1195", 47)
    assert setup.committed_at == datetime(2022, 3, 14, 6, 47, 7, tzinfo=UTC)
    # Snippets quote other canary keys and commit messages: none of it is kept.
    for obs in items:
        for text in _other_texts(obs):
            assert "CU0oKt4Gt1lHDtJjnRLfdBUZWadmYIHevq/TyUz/" not in text  # first's secret half
            assert "YEPnqlLqzXRD84OTrqTHVzNjarO+6LdPumcGCa7e" not in text
            assert "canarytokens" not in text and "challenge 15" not in text.lower()


def test_real_v0_22_file_provenance_without_git_history():
    items = run((HERE / "real_defectdojo_0_22_without_githistory.jsonl").read_bytes())
    assert [(o.rule, o.secret_type, o.secret_value, o.path, o.line) for o in items] == [
        (
            "Generic Password",
            "generic-password",
            "DefaultLoginPasswordDoNotChange!",
            "src/main/java/org/owasp/wrongsecrets/challenges/docker/WrongSecretsConstants.java",
            9,
        ),
        (
            "Generic Password",
            "generic-password",
            "YjNCbGJpQnpaWE5oYldVPQo=",  # the group decodes to base64 text: kept as it is
            "src/main/java/org/owasp/wrongsecrets/challenges/docker/authchallenge/Challenge37.java",
            23,
        ),
        ("Generic Password", "generic-password", "an3UzRg=", "js/index.js", 3),
        ("Generic Password", "generic-password", "default", "Dockerfile", 3),
        (
            "Generic Secret",
            "generic-secret",
            "0x8b72f7cbAD50620c46219ad676Ad9d3a5A273587",
            "src/main/resources/explanations/challenge25.adoc",
            5,
        ),
    ]
    for obs in items:
        assert (obs.repo, obs.commit, obs.author, obs.committed_at) == ("", "", "", None)
        assert obs.tool_ids["rule_text_id"] in ("np.generic.5", "np.generic.1")
        assert obs.tool_resolution == "" and obs.validity == "unknown"
        for text in _other_texts(obs):
            assert obs.secret_value not in text
            assert "mISydD0En55Fq8FXbUfX720K8Vc6" not in text  # the snippet's next line


def test_real_v0_17_json_with_file_provenance_and_null_status():
    # The scan_secrets1 snapshot once finding_id, base64 groups, rule_structural_id, score,
    # status null and statuses [] came in (praetorian-inc/noseyparker commit 736b6b16).
    path = HERE / "real_noseyparker_scan_secrets1_file_provenance_v0_17.json"
    (obs,) = run(path.read_bytes())
    assert obs.rule == obs.title == "GitHub Personal Access Token"
    assert obs.secret_type == "github-token"
    assert obs.secret_value == "ghp_XIxB7KMNdAr3zqWtQqhE94qglHqOzn1D1stg"
    assert (obs.path, obs.line, obs.repo, obs.commit) == ("<ROOT>/input.txt", 3, "", "")
    assert obs.tool_resolution == ""  # status null, statuses []
    assert obs.tool_ids == {
        "rule_text_id": "np.github.1",
        "blob_id": "bef17e1f92978931020b423cfcfb6f1e7381d559",
        "structural_id": "155cdfa3e16d6abc09ecb8a2f659c2f84f7b91fc",
    }
    assert "d551329ba5578559646aa49467be47e9d496578d" not in obs.tool_ids.values()  # finding_id
    assert "the_dude" not in " ".join(_other_texts(obs))


def test_real_before_0_14_a_match_has_one_provenance_object():
    """Nosey Parker's changelog (0.14.0): "the .matches[].provenance field is now an array of
    objects instead of a single object". Its own snapshot from before that, then the same
    match with a git repository as its one provenance."""
    path = HERE / "real_noseyparker_scan_secrets1_single_provenance_pre_v0_14.json"
    (obs,) = run(path.read_bytes())
    assert (obs.rule, obs.secret_type) == ("AWS API Key", "aws-access-key")
    assert obs.secret_value == "AKIADEADBEEFDEADBEEF"
    assert (obs.path, obs.line, obs.repo, obs.commit) == ("<ROOT>/input.txt", 3, "", "")
    assert obs.tool_ids == {"blob_id": "7980f2571d9c04d65eb338f65f21edbff4469a11"}
    assert [(r.kind, r.value) for r in obs.references] == [("aws-access-key-id", obs.secret_value)]
    assert "the_dude" not in " ".join(_other_texts(obs))
    finding = json.loads(path.read_bytes())[0]
    finding["matches"][0]["provenance"] = {"kind": "git_repo", "repo_path": "/src/payments/.git"}
    (obs,) = run(json.dumps(finding))
    assert (obs.repo, obs.path, obs.commit) == ("/src/payments", "", "")
    finding["matches"][0]["provenance"] = {"kind": "git_repo", "repo_path": ["x"]}
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(finding))
    assert "line 1.matches[0].provenance.repo_path" in str(info.value)


def test_clone_in_the_datastore_gives_the_url_it_was_cloned_from():
    """A --git-url / --github-* scan records the clone's path in Nosey Parker's datastore
    (`<datastore>/clones/https/<host>/<path>`, noseyparker's clone_destination): the repository
    is the URL, not a path on the scanning machine. The appmaker snapshot's <REPO> stands for
    that path."""
    data = (HERE / "real_noseyparker_appmaker_git_v0_17.json").read_bytes()
    for clone, repo in (
        (
            "/home/ci/np.datastore/clones/https/github.com/appland/appmaker",
            "https://github.com/appland/appmaker",
        ),
        ("datastore.np/clones/https/github.com/appland/appmaker.git", REPO_URL),
        ("/d/clones/https/gitlab.example.com/group/sub/appmaker.git/", GITLAB_URL),
        ("/d/clones/https/github.com/appland/appmaker/.git", REPO_URL),
    ):
        creds, key, bucket = run(data.replace(b"<REPO>", clone.encode()))
        assert creds.repo == key.repo == bucket.repo == repo
        assert (creds.path, creds.commit) == ("my.env", "9ba2c5654ef78e49ce0173b81f1bcf8f25fcb36a")
    # Other paths are kept as they are (without /.git); "clones" elsewhere is just a name.
    for path, repo in (
        ("/src/clones/appmaker/.git", "/src/clones/appmaker"),
        ("/x/myclones/https/github.com/a/b", "/x/myclones/https/github.com/a/b"),
        ("/x/clones/https/hostonly", "/x/clones/https/hostonly"),
    ):
        creds, _, _ = run(data.replace(b"<REPO>", path.encode()))
        assert creds.repo == repo


REPO_URL = "https://github.com/appland/appmaker"
GITLAB_URL = "https://gitlab.example.com/group/sub/appmaker"


def test_clone_url_without_credentials_and_long_paths_in_linear_time():
    data = (HERE / "real_noseyparker_appmaker_git_v0_17.json").read_bytes()
    clone = "/d/clones/https/ci:ghp_token@github.com/appland/appmaker/"
    creds, _, _ = run(data.replace(b"<REPO>", clone.encode()))
    assert creds.repo == REPO_URL
    # 200,000 slashes: a lazy pattern before "/*$" took minutes on such a path.
    clone = "/d/clones/https/h/x" + "/" * 200_000 + "a"
    creds, _, _ = run(data.replace(b"<REPO>", clone.encode()))
    assert creds.repo.startswith("https://h/x/") and creds.repo.endswith("/a")


def test_real_v0_22_renamed_bucket_rule_is_no_credential():
    """Nosey Parker 0.19 renamed "AWS S3 Bucket (path style)" to "AWS S3 Bucket" (and the
    Google Cloud Storage bucket rules likewise); a bucket name is still no AWS access key."""
    creds, bucket = run((HERE / "real_noseyparker_appmaker_git_v0_22.json").read_bytes())
    assert (creds.secret_type, creds.severity) == ("aws-secret-key", None)
    assert (bucket.rule, bucket.tool_ids["rule_text_id"]) == ("AWS S3 Bucket", "np.s3.2")
    assert (bucket.secret_type, bucket.severity) == ("generic-secret", "info")
    assert bucket.secret_value == "s3-us-west-2.amazonaws.com/makerstrap"
    assert bucket.references == []


@pytest.mark.parametrize(
    ("rule_name", "rule_text_id", "value"),
    [
        # Nosey Parker's np.assets ruleset: identifiers, public keys and bucket names.
        ("Google Cloud Storage Bucket", "np.gcs.1", "acme-backups.storage.googleapis.com"),
        ("AWS Account ID", "np.aws.3", "324320755747"),
        ("Google Client ID", "np.google.1", "231545488769-4d1mcev9vifvlncrern52id2pqqf5u5l"),
        ("GitHub Client ID", "np.github.5", "Iv1.8a61f9b3a7aba766"),
        ("Amazon Resource Name", "np.arn.1", "arn:aws:iam::123456789012:user/ci"),
        # Known by its text id under a name a later release may give it.
        ("S3 Bucket Name", "np.s3.1", "acme-backups.s3.amazonaws.com"),
        # Known by its name in reports without text ids (before 0.17).
        ("AWS S3 Bucket", "", "acme-backups.s3.amazonaws.com"),
    ],
)
def test_identifier_rules_are_no_credentials(rule_name, rule_text_id, value):
    finding = json.loads((HERE / "real_noseyparker_appmaker_git_v0_22.json").read_bytes())[1]
    group = base64.b64encode(value.encode()).decode()
    finding.update(rule_name=rule_name, rule_text_id=rule_text_id, groups=[group])
    match = finding["matches"][0]
    match.update(rule_name=rule_name, rule_text_id=rule_text_id, groups=[group])
    (obs,) = run(json.dumps(finding))
    assert (obs.secret_type, obs.severity) == ("generic-secret", "info")
    assert obs.secret_value == value
    # An AWS access key id alone (np.aws.1) is still the key, as other tools report it.
    finding.update(rule_name="AWS API Key", rule_text_id="np.aws.1")
    match.update(rule_name="AWS API Key", rule_text_id="np.aws.1")
    match["groups"] = [base64.b64encode(b"AKIAJEEUOSJXYB2BKLMA").decode()]
    (obs,) = run(json.dumps(finding))
    assert (obs.secret_type, obs.severity) == ("aws-access-key", None)


def test_a_match_status_is_its_own_not_its_findings():
    """`statuses` is "the unique statuses assigned to matches in the group" (Nosey Parker's
    FindingMetadata): a match left unannotated (status null) beside a rejected one is open.
    Nosey Parker 0.16 wrote one `status` for the finding, none per match: it holds for all."""
    lines = (HERE / "real_defectdojo_0_22_git.jsonl").read_text().splitlines()
    finding = json.loads(lines[2])  # one finding, two matches
    finding["matches"][0]["status"] = "reject"
    finding["statuses"] = ["reject"]
    rejected, unannotated = run(json.dumps(finding))
    assert rejected.tool_resolution == "false_positive"
    assert unannotated.tool_resolution == ""
    finding["matches"][1]["status"] = "accept"
    finding["statuses"] = ["reject", "accept"]
    assert [o.tool_resolution for o in run(json.dumps(finding))] == ["false_positive", ""]
    for match in finding["matches"]:
        del match["status"]
    finding.update(status="reject", statuses=None)
    assert [o.tool_resolution for o in run(json.dumps(finding))] == ["false_positive"] * 2


def test_a_blob_seen_in_several_places_is_a_finding_at_each():
    """Nosey Parker scans a blob once and lists every place it was seen as a provenance entry
    (one repository and one name each: 0.20+ reports a blob "with all names" it first appeared
    with in a commit, and a scan of several repositories lists each that holds it). Each is a
    place of the secret; a file entry beside them is the work tree's copy."""
    finding = json.loads((HERE / "real_noseyparker_appmaker_git_v0_22.json").read_bytes())[0]
    match = finding["matches"][0]
    git = match["provenance"][0]
    fork = json.loads(json.dumps(git))
    fork["repo_path"] = "/scan/clones/https/github.com/acme/appmaker-fork.git"
    copy = json.loads(json.dumps(git))
    copy["first_commit"]["blob_path"] = "config/my.env"
    match["provenance"] = [git, fork, copy, {"kind": "file", "path": "<REPO>/my.env"}]
    items = run(json.dumps(finding))
    commit = "9ba2c5654ef78e49ce0173b81f1bcf8f25fcb36a"
    assert [(o.repo, o.path, o.commit) for o in items] == [
        ("<REPO>", "my.env", commit),
        ("https://github.com/acme/appmaker-fork", "my.env", commit),
        ("<REPO>", "config/my.env", commit),
    ]
    assert len({o.secret_value for o in items}) == 1
    assert all(o.author == "David Ascher <david.ascher@gmail.com>" for o in items)
    assert all(o.line == 9 for o in items)
    # The same blob in two files of a directory scan: two places.
    match["provenance"] = [
        {"kind": "file", "path": "./svc-a/.env"},
        {"kind": "file", "path": "./svc-b/.env"},
        {"kind": "file", "path": "./svc-a/.env"},
    ]
    assert [(o.repo, o.path) for o in run(json.dumps(finding))] == [
        ("", "svc-a/.env"),
        ("", "svc-b/.env"),
    ]
    # A repository named without commits (--git-blob-provenance=minimal) and a file entry.
    match["provenance"] = [
        {"kind": "git_repo", "repo_path": "/src/appmaker/.git", "first_commit": None},
        {"kind": "file", "path": "/src/appmaker/my.env"},
    ]
    assert [(o.repo, o.path, o.commit) for o in run(json.dumps(finding))] == [
        ("/src/appmaker", "/src/appmaker/my.env", "")
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # `report` in its default human format (Nosey Parker's scan_secrets1 snapshot).
        (b"Finding 1/1: AWS API Key\nMatch: AKIADEADBEEFDEADBEEF\n", "line 1: not a Nosey"),
        # `summarize --format json` (its FindingSummaryEntry fields): counts, no findings.
        (
            b'[{"rule_name": "AWS API Key", "distinct_count": 1, "total_count": 1, '
            b'"accept_count": 0, "reject_count": 0, "mixed_count": 0, "unlabeled_count": 1}]',
            "$[0]: not a Nosey Parker finding: 'rule_name' and 'matches' are required (this "
            "looks like `summarize` output; send `report --format json`)",
        ),
        ((FIXTURES / "sarif" / "sarif_simple.sarif").read_bytes(), "use format sarif"),
        (
            (FIXTURES / "trufflehog" / "README_example_output.jsonl").read_bytes(),
            "use format trufflehog",
        ),
    ],
)
def test_other_outputs_are_named(data, expected):
    with pytest.raises(ImportFormatError) as info:
        run(data)
    assert expected in str(info.value)
    assert "AKIADEADBEEFDEADBEEF" not in str(info.value)


@pytest.mark.parametrize(
    "other",
    [
        # A Vault audit log sent as noseyparker: entries typed "request"/"response".
        (FIXTURES / "vault-audit" / "generated_audit.log").read_bytes(),
        # `az storage account list` as JSON lines, each typed Microsoft.Storage/storageAccounts.
        b"".join(
            json.dumps(account).encode() + b"\n"
            for account in json.loads(
                (
                    FIXTURES / "azure-storage-accounts" / "generated_az_storage_account_list.json"
                ).read_text()
            )
        ),
    ],
)
def test_another_tools_records_with_a_type_are_refused_not_skipped(other):
    """Skipped as "other record kinds", another tool's report read as an empty scan and marked
    every finding of the source missing."""
    with pytest.raises(ImportFormatError) as error:
        run(other)
    assert error.value.message.startswith("not a Nosey Parker finding")
    assert error.value.location in ("line 1", "$[0]")


def test_jsonl_piped_through_jq_gives_the_same_findings():
    data = (HERE / "real_defectdojo_0_22_git.jsonl").read_bytes()
    pretty = b"".join(
        json.dumps(json.loads(line), indent=2).encode() + b"\n" for line in data.splitlines()
    )
    assert list(parse(io.BytesIO(pretty))) == list(parse(io.BytesIO(data)))
    with pytest.raises(ImportFormatError) as exc:
        list(parse(io.BytesIO(pretty + b"[\n  1\n]\n")))
    assert (exc.value.message, exc.value.location) == (
        "expected an object, found an array",
        f"object {len(data.splitlines()) + 1}",
    )


def test_a_broken_report_of_ours_is_not_told_to_use_our_format():
    data = (HERE / "real_defectdojo_0_22_git.jsonl").read_bytes()
    first, rest = data.split(b"\n", 1)
    with pytest.raises(ImportFormatError) as exc:  # its first line cut short
        list(parse(io.BytesIO(first[:200] + b"\n" + rest)))
    assert exc.value.location.startswith("line 1")
    assert "use format noseyparker" not in exc.value.message
    assert exc.value.message.startswith("malformed JSON")
