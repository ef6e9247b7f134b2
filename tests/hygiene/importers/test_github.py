"""GitHub secret scanning: REST list-alerts array, single alert, webhook deliveries."""

import copy
import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hygiene.importers import get_parser
from hygiene.importers.base import ImportFormatError, Observation
from hygiene.importers.github import parse, parse_webhook

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HERE = FIXTURES / "github-secret-scanning"
ALERTS = HERE / "github_secrets_detection_report_many_vul.json"
REOPENED = HERE / "reopened.payload.json"
SECRETS = [
    "aio_XXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
]


def run(data: bytes | str) -> list:
    if isinstance(data, str):
        data = data.encode()
    return list(parse(io.BytesIO(data)))


def texts_of(obs: Observation, skip=("secret_value", "secret_type", "category")):
    """Every string an Observation carries outside secret_value (with its field name)."""
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
                yield f.name, f"{ref.kind} {ref.value}"


def assert_secret_only_in_value(items, secrets=(), rule_names=()):
    for obs in items:
        candidates = [s for s in (obs.secret_value, *secrets) if s]
        for name, text in texts_of(obs):
            if name in ("rule", "title") and text in rule_names:
                continue
            for secret in candidates:
                assert secret not in text, f"secret leaked into {name}"


def test_rest_alerts_sample_content():
    items = list(parse(ALERTS.open("rb")))
    assert [type(o) for o in items] == [Observation] * 3
    first, second, third = items
    assert (first.rule, first.secret_type) == ("adafruit_io_key", "api-key")
    assert (second.rule, second.secret_type) == ("aws_access_key_id", "aws-access-key")
    assert (third.rule, third.secret_type) == ("github_personal_access_token", "github-token")
    assert [o.secret_value for o in items] == SECRETS
    assert [o.validity for o in items] == ["valid", "valid", "invalid"]
    assert [o.tool_resolution for o in items] == ["false_positive", "open", "revoked"]
    assert all(o.repo == "octocat/Hello-World" for o in items)
    assert [(o.path, o.line) for o in items] == [
        ("example/secrets.txt", 1),
        ("config/aws-credentials.env", 5),
        ("scripts/deploy.sh", 12),
    ]
    assert first.commit == "f14d7debf9775f957cf4f1e8176da0786431f72b"
    assert first.tool_ids["number"] == "2"
    assert first.tool_ids["html_url"] == (
        "https://github.com/owner/private-repo/security/secret-scanning/2"
    )
    assert first.url == first.tool_ids["html_url"]
    assert first.title == "Adafruit IO Key"
    assert first.severity is None  # GitHub gives no severity
    assert "public" in second.description
    assert first.redacted == ""
    assert_secret_only_in_value(items, SECRETS)


def test_registry_points_here():
    items = list(get_parser("github-secret-scanning")(ALERTS.open("rb")))
    assert len(items) == 3


@pytest.mark.parametrize(
    ("state", "resolution", "expected"),
    [
        ("open", None, "open"),
        ("", None, ""),  # older alerts without a state say nothing
        ("resolved", "false_positive", "false_positive"),
        ("resolved", "used_in_tests", "used_in_tests"),
        ("resolved", "wont_fix", "wont_fix"),
        ("resolved", "revoked", "revoked"),
        ("resolved", "pattern_edited", "resolved"),
        ("resolved", "pattern_deleted", "resolved"),
        ("resolved", None, "resolved"),
    ],
)
def test_resolution_mapping(state, resolution, expected):
    alerts = json.loads(ALERTS.read_text())
    alerts[0]["state"] = state
    alerts[0]["resolution"] = resolution
    assert run(json.dumps(alerts))[0].tool_resolution == expected


@pytest.mark.parametrize(
    ("validity", "expected"),
    [("active", "valid"), ("inactive", "invalid"), ("unknown", "unknown"), (None, "unknown")],
)
def test_validity_mapping(validity, expected):
    alerts = json.loads(ALERTS.read_text())
    alerts[1]["validity"] = validity
    assert run(json.dumps(alerts))[1].validity == expected


def test_single_alert_object():
    alert = json.loads(ALERTS.read_text())[2]
    (obs,) = run(json.dumps(alert))
    assert obs.tool_ids["number"] == "4"
    assert obs.secret_value == SECRETS[2]


def test_hidden_secret_has_no_value():
    alerts = json.loads(ALERTS.read_text())
    for alert in alerts:
        del alert["secret"]
    items = run(json.dumps(alerts))
    assert all(o.secret_value is None for o in items)
    assert items[1].secret_type == "aws-access-key"  # exact table, not the value


def test_hidden_secrets_of_two_alerts_are_two_secrets():
    """``hide_secret=true`` leaves the value out, and GitHub raises one alert per secret and
    repository: two alerts of one type whose places can't be told apart (issue comments, no
    location at all as GHES 3.4-3.6 list them) were taken as one secret, found four times."""
    alerts = json.loads((HERE / "real_ghdocs_list_org_alerts.json").read_text())
    first = alerts[0]
    del first["secret"]
    first["first_location_detected"] = {
        "issue_comment_url": "https://api.github.com/repos/octocat/Hello-World/issues/comments/1"
    }
    second = copy.deepcopy(first)
    second["number"] = first["number"] + 1
    second["first_location_detected"] = {
        "issue_comment_url": "https://api.github.com/repos/octocat/Hello-World/issues/comments/2"
    }
    third = {k: v for k, v in second.items() if k != "first_location_detected"}
    third["number"] = first["number"] + 2
    fourth = {**third, "number": first["number"] + 3}
    items = run(json.dumps([first, second, third, fourth]))
    digests = [o.secret_sha1 for o in items]
    assert all(digests) and len(set(digests)) == 4
    assert all(o.secret_value is None for o in items)
    # The same alert is the same secret: listed again, or in a webhook delivery (no value).
    assert run(json.dumps([first]))[0].secret_sha1 == digests[0]
    _action, delivered = parse_webhook(
        {"action": "validated", "alert": first, "repository": first["repository"]}
    )
    assert delivered.secret_sha1 == digests[0]
    # The same number in another repository is another alert.
    other = copy.deepcopy(first)
    other["repository"]["full_name"] = "octocat/Other"
    assert run(json.dumps([other]))[0].secret_sha1 != digests[0]
    # Shown, the value names the secret.
    shown = run(ALERTS.read_text())
    assert all(o.secret_value and o.secret_sha1 is None for o in shown)


def test_non_commit_location_uses_alert_url():
    alerts = json.loads(ALERTS.read_text())
    alerts[0]["first_location_detected"] = {
        "issue_title_url": "https://api.github.com/repos/octocat/Hello-World/issues/1347"
    }
    obs = run(json.dumps(alerts))[0]
    assert obs.path == ""
    assert obs.url == "https://github.com/owner/private-repo/security/secret-scanning/2"


# --- webhooks --------------------------------------------------------------------------------


def delivery(action: str, **alert_fields) -> dict:
    payload = json.loads(REOPENED.read_text())
    payload["action"] = action
    payload["alert"].update(alert_fields)
    return payload


def test_webhook_reopened_sample():
    action, obs = parse_webhook(json.loads(REOPENED.read_text()))
    assert action == "reopened"
    assert obs.rule == "adafruit_io_key"
    assert obs.secret_type == "api-key"
    assert obs.repo == "Codertocat/Hello-World"
    assert obs.url == "https://github.com/Codertocat/Hello-World/security/secret-scanning/191"
    assert obs.tool_ids["number"] == "191"
    assert obs.tool_resolution == ""  # no state; the webhook handler makes it "reopened"
    assert obs.secret_value is None


@pytest.mark.parametrize(
    ("action", "fields", "resolution", "validity"),
    [
        ("created", {"state": "open"}, "", "unknown"),
        ("reopened", {"state": "open"}, "", "unknown"),
        ("resolved", {"state": "resolved", "resolution": "wont_fix"}, "wont_fix", "unknown"),
        (
            "resolved",
            {"state": "resolved", "resolution": "used_in_tests"},
            "used_in_tests",
            "unknown",
        ),
        ("resolved", {}, "resolved", "unknown"),
        ("revoked", {}, "revoked", "unknown"),
        ("validated", {"validity": "active"}, "", "valid"),
        ("validated", {"validity": "inactive"}, "", "invalid"),
        ("publicly_leaked", {"publicly_leaked": True}, "", "unknown"),
        ("assigned", {}, "", "unknown"),
    ],
)
def test_webhook_actions(action, fields, resolution, validity):
    got_action, obs = parse_webhook(delivery(action, **fields))
    assert got_action == action
    assert obs.tool_resolution == resolution
    assert obs.validity == validity
    if action == "publicly_leaked":
        assert "public" in obs.description


def test_webhook_location_delivery():
    payload = delivery("created")
    payload["location"] = {
        "type": "commit",
        "details": {
            "path": "/src/app.env",
            "start_line": 7,
            "commit_sha": "0123456789abcdef0123456789abcdef01234567",
            "blob_sha": "89abcdef0123456789abcdef0123456789abcdef",
        },
    }
    _, obs = parse_webhook(payload)
    assert (obs.path, obs.line) == ("src/app.env", 7)
    assert obs.commit == "0123456789abcdef0123456789abcdef01234567"


def test_real_location_delivery_from_github_docs():
    """GitHub's own example of a secret_scanning_alert_location "created" delivery: the new
    location (leading "/" dropped), the delivery's repository, the alert URL built from it."""
    data = (HERE / "real_ghdocs_secret_scanning_alert_location_created.json").read_bytes()
    action, obs = parse_webhook(json.loads(data))
    assert action == "created"
    assert (obs.rule, obs.secret_type) == ("adafruit_io_key", "api-key")
    assert (obs.repo, obs.path, obs.line) == ("Codertocat/Hello-World", "example/secrets.txt", 1)
    assert obs.commit == "f14d7debf9775f957cf4f1e8176da0786431f72b"
    assert obs.url == "https://github.com/Codertocat/Hello-World/security/secret-scanning/191"
    assert obs.tool_ids["blob_sha"] == "af5626b4a114abcb82d63db7c8082c3c4756e51b"
    assert obs.secret_value is None
    assert [o.path for o in run(data)] == ["example/secrets.txt"]


def test_parse_accepts_one_delivery():
    (obs,) = run(REOPENED.read_text())
    assert obs.tool_ids["number"] == "191"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"action": "created"},
        {"action": "created", "alert": "nope"},
        {"action": "", "alert": {"number": 1, "secret_type": "x"}},
        {"action": 3, "alert": {"number": 1, "secret_type": "x"}},
        # a code scanning delivery
        {"action": "created", "alert": {"number": 1, "rule": {"id": "js/xss"}}},
        [],
    ],
)
def test_webhook_rejects_other_payloads(payload):
    with pytest.raises(ImportFormatError):
        parse_webhook(payload)


def test_webhook_bad_field_types():
    with pytest.raises(ImportFormatError) as info:
        parse_webhook(delivery("created", number="abc"))
    assert "$.alert.number" in str(info.value)
    with pytest.raises(ImportFormatError) as info:
        parse_webhook(delivery("created", secret_type=["x"]))
    assert "$.alert.secret_type" in str(info.value)


# --- bad input -------------------------------------------------------------------------------


def other_tool_samples():
    return [
        FIXTURES / "gitlab-secret-detection" / "gitlab_secret_detection_report_1_vuln_v15.json",
        FIXTURES / "noseyparker" / "noseyparker_many_vul.jsonl",
        FIXTURES / "sarif" / "sarif_simple.sarif",
        FIXTURES / "leakline" / "findings_and_events.json",
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n\t ",
        b"\x00\x01\x02\xff" * 20,
        b"\xff\xfe[\x00]\x00",
        b"hello",
        b"42",
        b'"x"',
        b"{}",
        b'{"foo": 1}',
        b"[1, 2]",
        b'[{"foo": 1}]',
        b"[" * 100000,
        b"[" * 100000 + b"]" * 100000,
        b'{"a":' * 50000,
    ],
)
def test_bad_input(data):
    with pytest.raises(ImportFormatError):
        run(data)


def pages_of(alerts: list, sizes: list[int]) -> list[list]:
    pages, at = [], 0
    for size in sizes:
        pages.append(alerts[at : at + size])
        at += size
    return pages


@pytest.mark.parametrize("between", [b"", b"\n"], ids=["back-to-back", "newline"])
def test_gh_api_paginate_output_is_read_page_after_page(between):
    # `gh api --paginate .../secret-scanning/alerts > alerts.json` writes each page's array
    # after the previous one: read as one list, without concatenating them first.
    alerts = json.loads(ALERTS.read_bytes())
    assert len(alerts) >= 3
    pages = pages_of(alerts, [2, 0, len(alerts) - 2])
    data = between.join(json.dumps(page).encode() for page in pages)
    assert run(data) == run(ALERTS.read_bytes())


def test_gh_api_paginate_slurp_output_is_read_page_after_page():
    alerts = json.loads(ALERTS.read_bytes())
    slurped = json.dumps(pages_of(alerts, [1, len(alerts) - 1]))
    assert run(slurped) == run(ALERTS.read_bytes())


def test_a_page_that_is_not_an_array_of_alerts_says_which():
    alerts = json.loads(ALERTS.read_bytes())
    with pytest.raises(ImportFormatError) as after:
        run(json.dumps(alerts[:2]) + json.dumps({"message": "Not Found"}))
    assert (after.value.message, after.value.location) == (
        "expected another page of alerts (an array) after the first, found an object",
        "after page 1",
    )
    with pytest.raises(ImportFormatError) as inside:
        run(json.dumps(alerts[:1]) + json.dumps([alerts[1], 7]))
    assert inside.value.location == "page 2 $[1]"
    with pytest.raises(ImportFormatError) as slurped:
        run(json.dumps([alerts[:1], [alerts[1], "x"]]))
    assert slurped.value.location == "$[1][1]"


def test_truncated_json_says_where_and_hides_secret():
    data = ALERTS.read_bytes()
    cut = data.index(b"AKIAIOSFODNN7EXAMPLE") + 8
    with pytest.raises(ImportFormatError) as info:
        run(data[:cut])
    assert "byte" in str(info.value)
    assert "AKIAIOSF" not in str(info.value)


@pytest.mark.parametrize("path", other_tool_samples(), ids=lambda p: p.name)
def test_other_tools_reports_are_refused(path):
    with pytest.raises(ImportFormatError):
        run(path.read_bytes())


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("number", "two", "$[1].number"),
        ("number", True, "$[1].number"),
        ("number", 1.5, "$[1].number"),
        ("secret_type", 5.0, None),
        ("secret_type", {"a": 1}, "$[1].secret_type"),
        ("secret", 12, "$[1].secret"),
        ("state", ["open"], "$[1].state"),
        ("first_location_detected", "x", "$[1].first_location_detected"),
        ("repository", [], "$[1].repository"),
    ],
)
def test_wrong_field_types(field, value, where):
    alerts = json.loads(ALERTS.read_text())
    alerts[1][field] = value
    if where is None:  # a number is accepted as text
        run(json.dumps(alerts))
        return
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(alerts))
    assert where in str(info.value)
    for secret in SECRETS:
        assert secret not in str(info.value)


def test_wrong_nested_types():
    alerts = json.loads(ALERTS.read_text())
    bad = copy.deepcopy(alerts)
    bad[0]["first_location_detected"]["start_line"] = "one"
    with pytest.raises(ImportFormatError) as info:
        run(json.dumps(bad))
    assert "$[0].first_location_detected.start_line" in str(info.value)


def test_the_alert_date_bounds_the_exposure_and_is_not_required():
    alerts = json.loads(ALERTS.read_text())
    # GitHub raised the alert when it found the secret: committed no later than that.
    assert run(json.dumps(alerts))[0].committed_at == datetime(2020, 11, 6, 18, 48, 51, tzinfo=UTC)
    for value in (None, "not a date", 7.5e20):
        alerts[0]["created_at"] = value
        assert run(json.dumps(alerts))[0].committed_at is None
    del alerts[0]["created_at"]
    assert run(json.dumps(alerts))[0].committed_at is None


# --- real reports (tests/fixtures/README.md says where each comes from) -------------------

AIO = "aio_XXXXXXXXXXXXXXXXXXXXXXXXXXXX"


def test_real_repository_level_list_names_the_repository_through_its_urls():
    # GET /repos/{owner}/{repo}/secret-scanning/alerts: the alerts carry no "repository".
    (obs,) = run((HERE / "real_ghdocs_list_repo_alerts.json").read_bytes())
    assert obs.repo == "owner/private-repo"
    assert obs.rule == "adafruit_io_key"
    assert obs.title == "Adafruit IO Key"
    assert obs.secret_type == "api-key"
    assert obs.secret_value == AIO
    assert obs.validity == "invalid"
    assert obs.tool_resolution == "false_positive"
    assert (obs.path, obs.line) == ("example/secrets.txt", 1)
    assert obs.commit == "f14d7debf9775f957cf4f1e8176da0786431f72b"
    assert obs.url == "https://github.com/owner/private-repo/security/secret-scanning/2"
    assert obs.tool_ids["number"] == "2"
    assert obs.tool_ids["blob_sha"] == "af5626b4a114abcb82d63db7c8082c3c4756e51b"
    assert "Push protection was bypassed." in obs.description
    assert "Example comment" not in obs.description  # free text from people is not kept
    assert all(AIO not in v for _, v in texts_of(obs))


def test_real_organization_level_list():
    (obs,) = run((HERE / "real_ghdocs_list_org_alerts.json").read_bytes())
    assert obs.repo == "octocat/Hello-World"  # the alert's repository wins over its URLs
    assert obs.validity == "valid"
    assert obs.secret_value == AIO
    assert all(AIO not in v for _, v in texts_of(obs))


def test_enterprise_api_url_names_the_repository():
    alert = json.loads((HERE / "real_ghdocs_list_repo_alerts.json").read_bytes())[0]
    del alert["html_url"]
    alert["url"] = "https://ghe.example.com/api/v3/repos/acme/payments/secret-scanning/alerts/2"
    (obs,) = run(json.dumps([alert]))
    assert obs.repo == "acme/payments"


def test_real_defectdojo_one_resolved_alert_with_validity():
    (obs,) = run((HERE / "real_defectdojo_one_vul.json").read_bytes())
    assert obs.rule == "adafruit_io_key"
    assert obs.title == "Adafruit IO Key"
    assert obs.secret_type == "api-key"
    assert obs.secret_value == "aio_XXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    # The alert's own repository object wins over the (different) repository in its URLs.
    assert obs.repo == "octocat/Hello-World"
    assert (obs.path, obs.line) == ("example/secrets.txt", 1)
    assert obs.commit == "f14d7debf9775f957cf4f1e8176da0786431f72b"
    assert obs.validity == "valid"  # "active", even though resolved as a false positive
    assert obs.tool_resolution == "false_positive"
    assert obs.committed_at == datetime(2020, 11, 6, 18, 48, 51, tzinfo=UTC)
    assert obs.url == "https://github.com/owner/private-repo/security/secret-scanning/2"
    assert obs.tool_ids["blob_sha"] == "af5626b4a114abcb82d63db7c8082c3c4756e51b"
    assert "Push protection was bypassed." in obs.description
    assert "Example comment" not in obs.description  # free text is never imported
    for _name, value in texts_of(obs):
        assert "aio_XXXX" not in value


def test_real_2022_enterprise_list_without_locations_or_validity():
    """GitHub's 2022 example of "List secret scanning alerts for an enterprise": no
    first_location_detected, no validity, no push protection fields."""
    first, second = run((HERE / "real_ghdocs_2022_list_enterprise_alerts.json").read_bytes())
    assert (first.rule, first.title, first.secret_type) == (
        "adafruit_io_key",
        "Adafruit IO Key",
        "api-key",
    )
    assert first.repo == "octocat/Hello-World"
    assert (first.path, first.line, first.commit) == ("", None, "")
    assert first.validity == "unknown"
    assert first.tool_resolution == "false_positive"
    assert first.committed_at == datetime(2020, 11, 6, 18, 48, 51, tzinfo=UTC)
    assert (second.rule, second.title) == ("mailchimp_api_key", "Mailchimp API Key")
    assert second.secret_value == "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX-us2"
    assert second.tool_resolution == "open"  # open, resolution null
    assert second.url == "https://github.com/owner/repo/security/secret-scanning/1"
    assert (
        second.tool_ids["url"] == "https://api.github.com/repos/owner/repo/secret-scanning/alerts/1"
    )
    assert_secret_only_in_value([first, second], rule_names={"adafruit_io_key"})


def test_real_go_github_alert_whose_repository_has_no_full_name():
    # go-github's test of ListAlertsForEnterprise: repository {"id", "name", "url": "url"}.
    (obs,) = run((HERE / "real_go_github_enterprise_alert_minimal_repository.json").read_bytes())
    assert obs.repo == "o/r"  # from the alert's own URLs
    assert obs.title == "mailchimp_api_key"  # no secret_type_display_name
    assert obs.secret_value == "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX-us2"
    assert obs.committed_at == datetime(1996, 6, 20, tzinfo=UTC)


# GitHub's example response of "List locations for a secret scanning alert" (the OpenAPI
# description's secret-scanning-location-list), one location of each type.
LOCATIONS = [
    ("commit", {"path": "/example/secrets.txt", "start_line": 1, "end_line": 1,
                "blob_sha": "af5626b4a114abcb82d63db7c8082c3c4756e51b",
                "commit_sha": "f14d7debf9775f957cf4f1e8176da0786431f72b",
                "commit_url": "https://api.github.com/repos/octocat/hello-world/git/commits/f14d7debf9775f957cf4f1e8176da0786431f72b"}),
    ("wiki_commit", {"path": "/example/Home.md", "start_line": 1, "end_line": 1,
                     "blob_sha": "af5626b4a114abcb82d63db7c8082c3c4756e51b",
                     "page_url": "https://github.com/octocat/Hello-World/wiki/Home/302c0b7e200761c9dd9b57e57db540ee0b4293a5",
                     "commit_sha": "302c0b7e200761c9dd9b57e57db540ee0b4293a5",
                     "commit_url": "https://github.com/octocat/Hello-World/wiki/_compare/302c0b7e200761c9dd9b57e57db540ee0b4293a5"}),
    ("issue_title", {"issue_title_url": "https://api.github.com/repos/octocat/Hello-World/issues/1347"}),
    ("issue_body", {"issue_body_url": "https://api.github.com/repos/octocat/Hello-World/issues/1347"}),
    ("issue_comment", {"issue_comment_url": "https://api.github.com/repos/octocat/Hello-World/issues/comments/1081119451"}),
    ("discussion_title", {"discussion_title_url": "https://github.com/community/community/discussions/39082"}),
    ("discussion_body", {"discussion_body_url": "https://github.com/community/community/discussions/39082#discussion-4566270"}),
    ("discussion_comment", {"discussion_comment_url": "https://github.com/community/community/discussions/39082#discussioncomment-4158232"}),
    ("pull_request_title", {"pull_request_title_url": "https://api.github.com/repos/octocat/Hello-World/pull/2846"}),
    ("pull_request_body", {"pull_request_body_url": "https://api.github.com/repos/octocat/Hello-World/pulls/2846"}),
    ("pull_request_comment", {"pull_request_comment_url": "https://api.github.com/repos/octocat/Hello-World/issues/comments/1825855898"}),
    ("pull_request_review", {"pull_request_review_url": "https://api.github.com/repos/octocat/Hello-World/pulls/2846/reviews/80"}),
    ("pull_request_review_comment", {"pull_request_review_comment_url": "https://api.github.com/repos/octocat/Hello-World/pulls/comments/12"}),
]  # fmt: skip
WHERE_FOUND = {
    "commit": None,
    "wiki_commit": "the repository's wiki",
    "issue_title": "an issue title",
    "issue_body": "an issue description",
    "issue_comment": "an issue comment",
    "discussion_title": "a discussion title",
    "discussion_body": "a discussion body",
    "discussion_comment": "a discussion comment",
    "pull_request_title": "a pull request title",
    "pull_request_body": "a pull request description",
    "pull_request_comment": "a pull request comment",
    "pull_request_review": "a pull request review",
    "pull_request_review_comment": "a pull request review comment",
}


@pytest.mark.parametrize(("kind", "details"), LOCATIONS, ids=[k for k, _ in LOCATIONS])
def test_every_location_type_as_first_location_and_as_location_delivery(kind, details):
    alert = json.loads((HERE / "real_ghdocs_list_repo_alerts.json").read_bytes())[0]
    alert["first_location_detected"] = details
    (listed,) = run(json.dumps([alert]))
    payload = json.loads(
        (HERE / "real_ghdocs_secret_scanning_alert_location_created.json").read_bytes()
    )
    payload["location"] = {"type": kind, "details": details}
    _, delivered = parse_webhook(payload)
    for obs, found in ((listed, "First found"), (delivered, "Found")):
        # The alert's page, never the API URL of an issue or comment.
        assert obs.url.endswith("/security/secret-scanning/" + obs.tool_ids["number"])
        if WHERE_FOUND[kind]:
            assert f"{found} in {WHERE_FOUND[kind]}." in obs.description
        else:
            assert "ound in" not in obs.description
        if "path" in details:
            assert obs.path == details["path"].lstrip("/")
            assert obs.commit == details["commit_sha"]
        else:
            assert (obs.path, obs.line, obs.commit) == ("", None, "")


def test_base64_encoded_alert_is_flagged():
    alert = json.loads((HERE / "real_ghdocs_list_org_alerts.json").read_bytes())[0]
    alert["is_base64_encoded"] = True
    (obs,) = run(json.dumps([alert]))
    assert "The secret was found base64-encoded." in obs.description


ELASTIC = HERE / "real_elastic_integrations_alerts_one_a_line.jsonl"
ELASTIC_SECRETS = [
    "npm_FakeNpmTok3nNotReal00000000000000A10",
    "npm_FakeNpmTok3nNotReal000000000000000B2",
    "FakeAtlassianTok3n000001",
    "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX-us2",
    "aio_XXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "custom_54fH8",
]


def test_real_alerts_one_a_line():
    """Alerts one a line (what `gh api --paginate … --jq '.[]'` writes, here Elastic's test
    input): repository-level alerts of two repositories, push protection bypasses, custom
    patterns, won't fix / revoked / false positive resolutions."""
    items = run(ELASTIC.read_bytes())
    assert [(o.repo, o.tool_ids["number"], o.rule, o.tool_resolution) for o in items] == [
        ("owner/private-repo", "2", "adafruit_io_key", "false_positive"),
        ("owner/repo", "1", "mailchimp_api_key", "open"),
        ("kcreddy-org/dummy-pub-repo", "7", "npm_access_token", "open"),
        ("kcreddy-org/dummy-pub-repo", "6", "atlassian_api_token", "open"),
        ("kcreddy-org/dummy-pub-repo", "3", "custom_pattern_2", "wont_fix"),
        ("kcreddy-org/dummy-pub-repo", "2", "custom_pattern_1", "open"),
        ("kcreddy-org/dummy-pub-repo", "1", "npm_access_token", "revoked"),
    ]
    npm = items[2]
    assert npm.secret_value == ELASTIC_SECRETS[0]
    assert npm.secret_type == "api-key"
    assert npm.title == "npm Access Token"
    assert npm.description == "Push protection was bypassed."
    assert npm.url == "https://github.com/kcreddy-org/dummy-pub-repo/security/secret-scanning/7"
    assert npm.committed_at == datetime(2022, 7, 7, 12, 56, 24, tzinfo=UTC)
    assert (npm.path, npm.line, npm.validity) == ("", None, "unknown")  # no location, validity
    custom = items[4]
    assert (custom.secret_type, custom.title) == ("generic-secret", "custom_pattern_2")
    for obs in items:
        texts = [
            getattr(obs, f.name)
            for f in dataclasses.fields(obs)
            if f.name != "secret_value" and isinstance(getattr(obs, f.name), str)
        ] + list(obs.tool_ids.values())
        for secret in ELASTIC_SECRETS:
            assert all(secret not in text for text in texts)
    # The same alerts as one array import the same.
    array = "[" + ",".join(ELASTIC.read_text().splitlines()) + "]"
    assert run(array) == items


def test_objects_one_after_another_say_which_is_wrong():
    alerts = json.loads(ALERTS.read_bytes())
    lines = [json.dumps(a) for a in alerts[:2]]
    assert len(run("\n".join(lines) + "\n")) == 2
    assert len(run("".join(lines))) == 2  # back to back
    bad = copy.deepcopy(alerts[1])
    bad["number"] = "two"
    with pytest.raises(ImportFormatError) as info:
        run(lines[0] + "\n" + json.dumps(bad))
    assert info.value.location == "object 2 $.number"
    with pytest.raises(ImportFormatError) as info:
        run(lines[0] + "\n" + json.dumps({"message": "Not Found"}))
    assert info.value.location == "object 2 $"
    with pytest.raises(ImportFormatError) as info:
        run(lines[0] + "\n[1]")
    assert (info.value.message, info.value.location) == (
        "expected another alert (an object) after the first, found an array",
        "after object 1",
    )
    with pytest.raises(ImportFormatError) as info:
        run(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])
    assert "byte" in info.value.location


def test_webhook_deliveries_one_after_another():
    delivery = REOPENED.read_text()
    first, second = run(delivery + "\n" + delivery)
    assert first == second
    payload = json.loads(delivery)
    del payload["alert"]["number"]
    with pytest.raises(ImportFormatError) as info:
        run(delivery + json.dumps(payload))
    assert info.value.location == "object 2 $.alert"  # the alert has no number
    payload = json.loads(delivery)
    payload["repository"] = []
    with pytest.raises(ImportFormatError) as info:
        run(delivery + json.dumps(payload))
    assert info.value.location == "object 2 $.repository"
