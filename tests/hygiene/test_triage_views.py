"""The triage pages and actions as a matrix: every action by every role, plus an engineer of
another team and an outsider who sees nothing."""

import base64
import html
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hygiene.models import Finding, OwnershipRule
from incidents.defaults import playbook_for
from incidents.models import TimelineEvent
from tests.hygiene.test_filters import make_finding, make_secret

HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "results"}
ROLES = ["lead", "engineer", "manager", "outsider"]


@pytest.fixture
def data(db, source, team, other_team):
    secret = make_secret(severity="critical", validity="unknown")
    return {
        "mine": make_finding(source, secret, team=team, severity="critical"),
        "mine2": make_finding(source, secret, team=team, severity="critical"),
        "theirs": make_finding(source, team=other_team, severity="high"),
        "secret": secret,
    }


@pytest.fixture
def as_user(client, request):
    def login(who):
        user = request.getfixturevalue(who)
        client.force_login(user)
        return user

    return login


PAGES = {
    # page: roles that may open it
    "/findings/": {"lead", "engineer", "manager"},
    "/findings/secrets/": {"lead", "engineer", "manager"},
    "/findings/export.csv": {"lead", "manager"},
    "/ownership/": {"lead", "manager"},
    "/ownership/preview/": {"lead"},
}


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("path", list(PAGES))
def test_pages_by_role(data, as_user, client, who, path):
    as_user(who)
    response = client.get(path)
    assert response.status_code == (200 if who in PAGES[path] else 403)


@pytest.mark.parametrize("who", ROLES)
def test_secret_page_by_role(data, as_user, client, who):
    as_user(who)
    response = client.get(f"/secrets/{data['secret'].pk}/")
    assert response.status_code == {"outsider": 403}.get(who, 200)


def test_engineers_see_only_their_teams(data, as_user, client):
    as_user("engineer")
    body = client.get("/findings/").content.decode()
    assert f'id="finding-{data["mine"].pk}"' in body
    assert f'id="finding-{data["theirs"].pk}"' not in body
    assert client.get(f"/secrets/{data['theirs'].secret_id}/").status_code == 404
    csv_denied = client.get("/findings/export.csv")
    assert csv_denied.status_code == 403


ACTIONS = {
    # action: (extra POST data, roles allowed)
    "assign": ({"team": "payments"}, {"lead"}),
    "status": ({"status": "triaged"}, {"lead"}),
    "dismiss": ({"reason": "used_in_tests", "comment": "fixture"}, {"lead"}),
    "propose": ({"reason": "used_in_tests", "comment": "fixture"}, {"lead", "engineer"}),
    "confirm": ({}, {"lead"}),
    "reject": ({}, {"lead"}),
    "undo": ({}, {"lead"}),
    "incident": ({}, {"lead"}),
}


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_bulk_actions_by_role(data, as_user, client, who, action):
    extra, allowed = ACTIONS[action]
    as_user(who)
    before = TimelineEvent.objects.count()
    response = client.post(
        "/findings/bulk/",
        {"action": action, "ids": [data["mine"].pk, data["mine2"].pk], "filter": "", **extra},
        **HX,
    )
    if who not in allowed:
        assert response.status_code == 403
        assert TimelineEvent.objects.count() == before
        assert "not allow" in response.content.decode() or who == "outsider"
        return
    if action == "incident":
        assert response.status_code == 204
        incident = data["secret"].incidents.get()
        assert response["HX-Redirect"] == f"/incidents/{incident.pk}/"
    else:
        assert response.status_code == 200, response.content
        assert 'id="results"' in response.content.decode()


def test_an_engineer_of_another_team_changes_nothing(data, as_user, client, other_team):
    as_user("engineer")
    response = client.post(
        "/findings/bulk/",
        {"action": "propose", "ids": [data["theirs"].pk], "reason": "revoked", "comment": "x"},
        **HX,
    )
    assert response.status_code == 200
    assert "0 findings" in response.content.decode()
    data["theirs"].refresh_from_db()
    assert data["theirs"].proposed_resolution == ""
    assert client.post(f"/findings/{data['theirs'].pk}/comment/", {"body": "hi"}).status_code == 404
    assert (
        client.post(f"/secrets/{data['theirs'].secret_id}/comment/", {"body": "hi"}).status_code
        == 404
    )


def test_select_all_matching_applies_to_the_filtered_set(data, as_user, client):
    as_user("lead")
    response = client.post(
        "/findings/bulk/",
        {"action": "assign", "team": "platform", "select_all": "1", "filter": "severity=critical"},
        **HX,
    )
    assert response.status_code == 200
    assert "2 findings assigned" in response.content.decode()
    teams = dict(Finding.objects.values_list("pk", "team__slug"))
    assert teams[data["mine"].pk] == teams[data["mine2"].pk] == "platform"


def test_grouped_selection_applies_to_the_secrets_findings(data, as_user, client):
    as_user("lead")
    response = client.post(
        "/findings/bulk/",
        {
            "action": "dismiss",
            "secret_ids": [data["secret"].pk],
            "reason": "used_in_tests",
            "comment": "test fixture",
            "view": "grouped",
            "filter": "status=open",
        },
        **HX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert f'name="secret_ids" value="{data["secret"].pk}"' not in body  # no longer open
    assert f'name="secret_ids" value="{data["theirs"].secret_id}"' in body
    assert Finding.objects.filter(secret=data["secret"], status="dismissed").count() == 2


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"action": "dismiss", "reason": "", "comment": "x"}, "dismissal reason"),
        ({"action": "dismiss", "reason": "revoked", "comment": ""}, "comment is required"),
        ({"action": "assign"}, "person or a team"),
        ({"action": "explode"}, "Unknown action"),
        ({"action": "assign", "team": "payments", "ids": ["x"]}, "invalid id"),
    ],
)
def test_bad_bulk_input_is_a_400_with_a_message(data, as_user, client, post, message):
    as_user("lead")
    post.setdefault("ids", [data["mine"].pk])
    response = client.post("/findings/bulk/", post, **HX)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response["HX-Retarget"] == "#flash"


def test_nothing_selected_is_a_400(data, as_user, client):
    as_user("lead")
    response = client.post("/findings/bulk/", {"action": "undo"}, **HX)
    assert response.status_code == 400
    assert "Select at least one" in response.content.decode()


def test_bulk_without_htmx_redirects_back_with_the_filter(data, as_user, client):
    as_user("lead")
    response = client.post(
        "/findings/bulk/",
        {"action": "status", "status": "triaged", "ids": [data["mine"].pk], "filter": "q=acme"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/findings/?q=acme"


def test_findings_page_keeps_state_in_the_url_and_pages(data, as_user, client, source):
    as_user("lead")
    for _ in range(60):
        make_finding(source, severity="low")
    page1 = client.get("/findings/?severity=low&sort=oldest")
    body = page1.content.decode()
    assert body.count('data-testid="finding-row"') == 50
    assert "60</strong> findings match" in body
    cursor = page1.context["page"].next_cursor
    assert 'data-testid="prev-page"' not in body and 'data-testid="first-page"' not in body
    page2 = client.get(f"/findings/?severity=low&sort=oldest&cursor={cursor}", **HX)
    assert page2.content.decode().count('data-testid="finding-row"') == 10
    assert "<html" not in page2.content.decode()  # an htmx fragment, not a page
    # Previous page keeps the filter and leads back to the first 50.
    back = re.search(r'href="\?([^"]*)"[^>]*data-testid="prev-page"', page2.content.decode())
    assert "severity=low" in back[1] and "sort=oldest" in back[1]
    page1_again = client.get("/findings/?" + html.unescape(back[1]))
    assert [f.pk for f in page1_again.context["page"].items] == [
        f.pk for f in page1.context["page"].items
    ]


def test_the_findings_page_runs_a_bounded_number_of_queries(data, as_user, client, source):
    as_user("lead")
    for _ in range(30):
        make_finding(source)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/findings/").status_code == 200
    assert len(ctx.captured_queries) < 20
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/findings/secrets/").status_code == 200
    assert len(ctx.captured_queries) < 20


def test_the_list_shows_and_filters_what_the_last_scan_no_longer_reported(data, as_user, client):
    Finding.objects.filter(pk=data["theirs"].pk).update(missing_since=timezone.now())
    as_user("lead")
    body = client.get("/findings/?missing=1").content.decode()
    assert body.count('data-testid="finding-row"') == 1
    assert 'data-testid="finding-missing">not in the last scan<' in body
    assert '<option value="1" selected>No longer reported</option>' in body
    body = client.get("/findings/?missing=0").content.decode()
    assert body.count('data-testid="finding-row"') == 2 and "not in the last scan" not in body
    # Its page says which tool's report found it (only that tool's full scans mark it).
    Finding.objects.filter(pk=data["theirs"].pk).update(format="trufflehog")
    page = client.get(f"/findings/{data['theirs'].pk}/").content.decode()
    assert 'data-testid="finding-format">a <code>trufflehog</code> report<' in page


def test_hidden_characters_in_a_place_are_shown_as_what_they_are(data, as_user, client):
    """A bidi override makes "deploy/<U+202E>gnp.exe" read "deploy/exe.png"; a zero-width
    space or a tab hides in a name. The pages write them out."""
    Finding.objects.filter(pk=data["theirs"].pk).update(
        path="deploy/\u202egnp.exe", author="Dana\u200b Dev", rule="aws\tkey"
    )
    as_user("lead")
    for url in ("/findings/", f"/findings/{data['theirs'].pk}/"):
        body = client.get(url).content.decode()
        assert "deploy/⟨U+202E⟩gnp.exe" in body and "\u202e" not in body
        assert "aws⟨U+0009⟩key" in body
    assert "Dana⟨U+200B⟩ Dev" in body  # the finding's page names its author


def test_bad_filters_show_a_note_and_bad_cursors_go_to_the_first_page(data, as_user, client):
    as_user("lead")
    response = client.get("/findings/?severity=apocalyptic")
    assert response.status_code == 200
    assert "Ignored unknown severity" in response.content.decode()
    # A broken page link (edited, or kept from an older version): the first page of the same
    # list and filters, saying so; htmx's page fetch gets a 400 in the flash area.
    for url in ("/findings/", "/findings/secrets/"):
        response = client.get(f"{url}?severity=high&cursor=garbage", follow=True)
        assert response.redirect_chain == [(f"{url}?severity=high", 302)]
        assert "That page link was broken: this is the first page." in response.content.decode()
        htmx = client.get(f"{url}?cursor=garbage", **HX)
        assert htmx.status_code == 400 and htmx["HX-Retarget"] == "#flash"
    # Crafted ones too: a number past any integer, JSON nested past Python's recursion limit.
    for crafted in ('["newest","2026-01-01T00:00:00+00:00",1e400]', "[" * 3000):
        cursor = base64.urlsafe_b64encode(crafted.encode()).decode().rstrip("=")
        response = client.get(f"/findings/?cursor={cursor}", follow=True)
        assert response.redirect_chain == [("/findings/", 302)]


def test_a_preview_as_the_pages_show_it_finds_its_secrets_findings(data, as_user, client):
    # The search box says "AKIA…": a reader copies a preview or a key id's label from a page.
    from hygiene.models import SecretReference

    as_user("lead")
    secret = data["secret"]
    SecretReference.objects.create(
        secret=data["theirs"].secret, kind="aws-access-key-id", display="AKIA…ZAM2", value_hash="h"
    )
    for text, expected in (
        (secret.preview, {data["mine"].pk, data["mine2"].pk}),
        (secret.preview.replace("…", "..."), {data["mine"].pk, data["mine2"].pk}),
        ("AKIA…ZAM2", {data["theirs"].pk}),
        ("AKIA…NONE", set()),
    ):
        page = client.get("/findings/", {"q": text})
        assert {f.pk for f in page.context["page"].items} == expected, text


def test_a_form_posted_without_scripts_gets_its_error_on_a_page(data, as_user, client):
    as_user("lead")
    response = client.post(
        "/findings/bulk/", {"action": "undo"}, HTTP_REFERER="http://testserver/findings/"
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Select at least one" in body and '<a href="http://testserver/findings/">Go back' in body
    assert "<nav" in body  # the app's layout, not bare text


def test_csv_export_follows_the_filter(data, as_user, client):
    as_user("manager")
    response = client.get("/findings/export.csv?severity=critical")
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0].startswith("id,severity")
    assert len(lines) == 3


def test_a_csv_export_is_named_for_when_and_what(data, as_user, client):
    """Every export was findings.csv; a search stays out of the name (a person may paste a
    secret into the search box)."""
    as_user("manager")
    with time_machine.travel(datetime(2026, 11, 29, 20, 15, tzinfo=UTC), tick=False):
        response = client.get(
            "/findings/export.csv?status=open&status=triaged&severity=critical&q=AKIAIOSFODNN7"
        )
    assert response["Content-Disposition"] == (
        'attachment; filename="leakline-findings-2026-11-29-2015'
        '-status-open+triaged-severity-critical-search.csv"'
    )


def test_secret_page_shows_occurrences_and_takes_comments_and_references(data, as_user, client):
    as_user("lead")
    secret = data["secret"]
    page = client.get(f"/secrets/{secret.pk}/").content.decode()
    assert page.count('data-testid="occurrence"') == 2
    assert secret.preview in page
    response = client.post(
        f"/secrets/{secret.pk}/comment/", {"body": "Rotating now"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "Rotating now" in response.content.decode()
    response = client.post(
        f"/secrets/{secret.pk}/references/",
        {"kind": "arn", "value": "arn:aws:iam::1:user/ci"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "arn:aws:iam::1:user/ci" in response.content.decode()
    assert client.post(f"/secrets/{secret.pk}/references/", {"kind": "arn"}).status_code == 400


COMMENT_AND_REFERENCE = [
    # (path template, data, roles allowed)
    ("/findings/{finding}/comment/", {"body": "seen"}, {"lead", "engineer"}),
    ("/secrets/{secret}/comment/", {"body": "seen"}, {"lead", "engineer"}),
    ("/secrets/{secret}/references/", {"kind": "arn", "value": "arn:aws:iam::1:user/x"}, {"lead"}),
]


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize(("path", "post", "allowed"), COMMENT_AND_REFERENCE)
def test_comments_and_references_by_role(data, as_user, client, who, path, post, allowed):
    as_user(who)
    url = path.format(finding=data["mine"].pk, secret=data["secret"].pk)
    response = client.post(url, post)
    assert response.status_code == (302 if who in allowed else 403)


OWNERSHIP_ACTIONS = [
    ("/ownership/add/", {"team": None, "repo_pattern": "acme/*"}),
    ("/ownership/{rule}/move/", {"direction": "down"}),
    ("/ownership/{rule}/delete/", {}),
    ("/ownership/apply/", {}),
]


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize(("path", "post"), OWNERSHIP_ACTIONS)
def test_ownership_actions_by_role(data, as_user, client, team, who, path, post):
    rule = OwnershipRule.objects.create(team=team, repo_pattern="acme/*")
    as_user(who)
    post = {k: (team.pk if v is None else v) for k, v in post.items()}
    response = client.post(path.format(rule=rule.pk), post)
    assert response.status_code == (302 if who == "lead" else 403)


def test_ownership_page_adds_previews_and_applies(data, as_user, client, other_team):
    as_user("lead")
    response = client.post("/ownership/add/", {"team": other_team.pk, "repo_pattern": "acme/*"})
    assert response.status_code == 302
    assert client.post("/ownership/add/", {"team": other_team.pk}).status_code == 400
    preview = client.get("/ownership/preview/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="preview-total">2<' in preview
    client.post("/ownership/apply/")
    assert set(Finding.objects.values_list("team_id", flat=True)) == {other_team.pk}


def test_lead_dashboard_counts(data, as_user, client):
    as_user("lead")
    body = client.get("/").content.decode()
    assert 'data-testid="untriaged">3<' in body
    # Past 10,000 it says so as the findings list says it, with a thousands separator.
    mine = data["mine"]
    Finding.objects.bulk_create(
        Finding(
            source=mine.source,
            secret=mine.secret,
            location_key=f"dashboard-{n}",
            rule="r",
            secret_type=mine.secret_type,
            first_seen_at=mine.first_seen_at,
        )
        for n in range(10_000)
    )
    body = client.get("/").content.decode()
    assert 'data-testid="untriaged">10,000+<' in body


def test_opening_an_incident_twice_is_a_400_with_the_reason(data, as_user, client):
    as_user("lead")
    post = {"action": "incident", "ids": [data["mine"].pk]}
    assert client.post("/findings/bulk/", post, **HX).status_code == 204
    again = client.post("/findings/bulk/", post, **HX)
    assert again.status_code == 400
    assert "already has an open incident" in again.content.decode()


def test_an_incident_over_secrets_of_other_playbooks_says_what_it_leaves_out(
    data, as_user, client, source, team
):
    as_user("lead")
    slack = make_secret(secret_type="slack-token", severity="medium", preview="xoxb-…9z")
    database = make_secret(secret_type="database-credential", severity="critical")
    ids = [make_finding(source, s, team=team).pk for s in (slack, database)]
    response = client.post("/findings/bulk/", {"action": "incident", "ids": ids}, follow=True)
    page = response.content.decode()
    incident = database.incidents.get()
    assert incident.playbook.slug == "database-credential"
    chat = playbook_for("slack-token")
    assert (
        f"{incident.reference} follows playbook {incident.playbook}, which doesn&#x27;t cover "
        f"Slack token xoxb-…9z (playbook {chat})." in page
    )
    note = incident.timeline.get(kind="note")
    assert "add steps for them here, or give them an incident of their own" in note.message
    # Secrets of one playbook, or of none but the generic one: nothing to say.
    aws = [make_secret(secret_type="aws-access-key"), make_secret(secret_type="generic-secret")]
    ids = [make_finding(source, s, team=team).pk for s in aws]
    response = client.post("/findings/bulk/", {"action": "incident", "ids": ids}, follow=True)
    assert "doesn&#x27;t cover" not in response.content.decode()
    assert not aws[0].incidents.get().timeline.filter(kind="note").exists()


@pytest.mark.parametrize(
    "query",
    ["first_to=9999-12-31", "last_to=9999-12-31", "first_from=0001-01-01", "q=a%00b"],
)
def test_absurd_filters_are_refused_or_ignored_never_a_500(data, as_user, client, query):
    as_user("lead")
    for path in ("/findings/", "/findings/secrets/", "/findings/export.csv"):
        response = client.get(f"{path}?{query}")
        if "%00" in query:
            assert response.status_code == 400, path
            assert b"NUL" in response.content
        else:
            assert response.status_code == 200, path
            if path != "/findings/export.csv":
                assert "a year from 1970 to 2999" in response.content.decode()


def test_a_lead_opens_an_incident_from_the_secret_page(data, as_user, client):
    secret = data["secret"]
    as_user("engineer")
    assert (
        'data-testid="open-incident"' not in client.get(f"/secrets/{secret.pk}/").content.decode()
    )
    as_user("lead")
    page = client.get(f"/secrets/{secret.pk}/").content.decode()
    assert 'data-testid="open-incident"' in page
    response = client.post("/incidents/open", {"secret_ids": [secret.pk]})
    assert response.status_code == 302 and response.url.startswith("/incidents/")
    page = client.get(f"/secrets/{secret.pk}/").content.decode()
    assert 'data-testid="open-incident"' not in page  # one active incident per secret


# --- the finding page ------------------------------------------------------------------------


@pytest.fixture
def posture(db, team):
    from hygiene.models import Source

    prowler = Source.objects.create(slug="prowler", name="Prowler", kind="auditor")
    return make_finding(
        prowler,
        category="posture",
        rule="iam_rotate_access_key_90_days",
        title="Ensure access keys are rotated every 90 days or less",
        description="User ci-deploy has not rotated access key 1 in over 90 days (212 days).",
        resource="arn:aws:iam::123456789012:user/ci-deploy",
        account="123456789012",
        region="us-east-1",
        repo="",
        path="",
        line=None,
        tool_ids={"finding_uid": "prowler-aws-iam_rotate_access_key_90_days-123456789012"},
        team=team,
    )


@pytest.mark.parametrize("who", ROLES)
def test_finding_page_by_role(data, posture, as_user, client, who):
    as_user(who)
    for finding in (data["mine"], posture):
        response = client.get(f"/findings/{finding.pk}/")
        assert response.status_code == {"outsider": 403}.get(who, 200)
    if who == "engineer":  # of another team: as if it didn't exist
        assert client.get(f"/findings/{data['theirs'].pk}/").status_code == 404
    if who != "outsider":
        # The source is linked for those who may open its page (not an engineer: 403).
        body = client.get(f"/findings/{posture.pk}/").content.decode()
        link = f'href="/sources/{posture.source.slug}/"'
        source_page = client.get(f"/sources/{posture.source.slug}/").status_code
        assert (link in body) == (source_page == 200)
        assert posture.source.name in body


def test_an_auditors_finding_has_a_page_with_what_the_auditor_said(posture, as_user, client):
    """A posture finding has no secret page: its own page shows the resource, the check and the
    auditor's message, and the list links to it."""
    as_user("lead")
    listing = client.get("/findings/").content.decode()
    assert f'href="/findings/{posture.pk}/"' in listing
    body = client.get(f"/findings/{posture.pk}/").content.decode()
    assert "Ensure access keys are rotated every 90 days or less" in body
    assert "arn:aws:iam::123456789012:user/ci-deploy" in body
    assert "us-east-1" in body
    assert "has not rotated access key 1 in over 90 days" in body
    assert "prowler-aws-iam_rotate_access_key_90_days-123456789012" in body
    assert "First reported by Prowler" in body
    assert 'data-testid="secret-link"' not in body


def test_a_secrets_finding_page_links_to_its_secret(data, as_user, client):
    as_user("lead")
    finding = data["mine"]
    body = client.get(f"/findings/{finding.pk}/").content.decode()
    assert f'href="/secrets/{finding.secret_id}/"' in body
    assert finding.path in body
    secret_page = client.get(f"/secrets/{finding.secret_id}/").content.decode()
    assert f'href="/findings/{finding.pk}/"' in secret_page


def test_triage_from_the_finding_page_comes_back_to_it_with_the_timeline(
    posture, as_user, client, lead
):
    as_user("lead")
    page = f"/findings/{posture.pk}/"
    back = client.post(
        "/findings/bulk/",
        {"ids": posture.pk, "return_to": "finding", "action": "assign", "assignee": lead.pk},
    )
    assert (back.status_code, back["Location"]) == (302, page)
    done = client.post(
        "/findings/bulk/",
        {"ids": posture.pk, "return_to": "finding", "action": "status", "status": "resolved"},
        HTTP_HX_REQUEST="true",
    )
    assert (done.status_code, done["HX-Redirect"]) == (204, page)
    posture.refresh_from_db()
    assert (posture.assignee_id, posture.status) == (lead.pk, "resolved")
    comment = client.post(
        f"/findings/{posture.pk}/comment/",
        {"body": "Rotated by the platform team.", "return_to": "finding"},
        HTTP_HX_REQUEST="true",
    )
    assert comment.status_code == 200
    assert "Rotated by the platform team." in comment.content.decode()
    body = client.get(page).content.decode()
    assert "Lena Lead" in body  # the assignee
    timeline = body[body.index('data-testid="timeline"') :]
    assert timeline.index("Rotated by the platform team.") < timeline.index("First reported by")
    assert TimelineEvent.objects.filter(finding=posture).count() == 3  # assigned, resolved, comment


def test_an_engineer_proposes_a_dismissal_from_the_finding_page(data, as_user, client):
    as_user("engineer")
    finding = data["mine"]
    response = client.post(
        "/findings/bulk/",
        {
            "ids": finding.pk,
            "return_to": "finding",
            "action": "propose",
            "reason": "used_in_tests",
            "comment": "a fixture key",
        },
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert (finding.status, finding.proposed_resolution) == ("open", "used_in_tests")
    body = client.get(f"/findings/{finding.pk}/").content.decode()
    assert "Dismissal proposed" in body and "a fixture key" in body
    denied = client.post(
        "/findings/bulk/",
        {"ids": finding.pk, "return_to": "finding", "action": "status", "status": "resolved"},
    )
    assert denied.status_code == 403


def test_finding_page_queries_are_bounded(data, posture, as_user, client):
    as_user("lead")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/findings/{posture.pk}/")
    for _ in range(30):
        client.post(f"/findings/{posture.pk}/comment/", {"body": "again", "return_to": "finding"})
    with CaptureQueriesContext(connection) as many:
        client.get(f"/findings/{posture.pk}/")
    assert len(many) == len(few)


def test_a_secret_with_more_findings_than_its_page_shows_links_to_all_of_them(
    data, as_user, client, source
):
    as_user("lead")
    secret = data["secret"]
    Finding.objects.bulk_create(
        Finding(
            secret=secret,
            source=source,
            location_key=f"k{i:063d}",
            rule="aws-access-token",
            secret_type=secret.secret_type,
            severity="high",
            repo="acme/monorepo",
            path=f"svc/{i}/.env",
            first_seen_at=data["mine"].first_seen_at,
        )
        for i in range(200)
    )
    page = client.get(f"/secrets/{secret.pk}/").content.decode()
    assert "Showing the 200 most recently seen of 202." in page
    assert f'href="/findings/?secret={secret.pk}" data-testid="all-findings-of-secret"' in page
    listing = client.get(f"/findings/?secret={secret.pk}&status=open").content.decode()
    assert 'data-testid="filter-secret"' in listing
    assert "<strong>202</strong> findings match" in listing
    assert 'href="?status=open">all secrets</a>' in listing


@pytest.mark.parametrize(
    ("secret_type", "kind"),
    [
        ("aws-access-key", "aws-access-key-id"),
        ("azure-sas", "storage-account"),
        ("slack-token", "other"),
        ("github-token", "other"),
    ],
)
def test_the_reference_form_first_offers_the_kind_a_secret_usually_has(
    as_user, client, source, team, secret_type, kind
):
    as_user("lead")
    secret = make_secret(secret_type=secret_type)
    make_finding(source, secret, team=team)
    page = client.get(f"/secrets/{secret.pk}/").content.decode()
    kinds = page.split('data-testid="reference-kind"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([a-z-]+)" selected>', kinds) == [kind]


def test_the_page_links_follow_the_filter_applied_with_htmx(data, as_user, client):
    """Export CSV and Group by secret sit outside the results: the results' answer carries
    them (out of band), with the filter."""
    as_user("lead")
    body = client.get("/findings/?severity=critical", **HX).content.decode()
    links = re.search(
        r'<div class="links" id="page-links" hx-swap-oob="true">(.*?)</div>', body, re.S
    )
    assert links, body[-500:]
    assert "/findings/export.csv?severity=critical" in links[1]
    assert "/findings/secrets/?severity=critical" in links[1]
    grouped = client.get("/findings/secrets/?severity=critical", **HX).content.decode()
    assert 'href="/findings/?severity=critical" data-testid="ungroup"' in grouped
    page = client.get("/findings/?severity=critical").content.decode()
    assert page.count('id="page-links"') == 1 and "hx-swap-oob" not in page


def test_a_finding_is_unassigned_from_its_page(data, as_user, client, engineer):
    as_user("lead")
    finding = data["mine"]
    Finding.objects.filter(pk=finding.pk).update(assignee=engineer)
    response = client.post(
        "/findings/bulk/",
        {"action": "assign", "ids": [finding.pk], "assignee": "none", "return_to": "finding"},
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.assignee is None and finding.team is not None
    page = client.get(f"/findings/{finding.pk}/").content.decode()
    # Unassigned: the select says so, and keeping it while choosing a team changes no person.
    assert '<option value="">Nobody</option>' in page and 'value="none"' not in page
    assert "1 finding unassigned." in page


# --- actions from an out-of-date page -----------------------------------------------------


def _as_of(body: str) -> str:
    return html.unescape(re.search(r'name="as_of" value="([^"]+)"', body).group(1))


def test_a_stale_list_doesnt_undo_a_resolve_and_says_who_did_it(data, as_user, client, second_lead):
    """Tab B resolves a finding; tab A, loaded before, sets it (and another) to triaged."""
    lead = as_user("lead")
    as_of = _as_of(client.get("/findings/").content.decode())
    mine, mine2 = data["mine"], data["mine2"]
    triage_by(second_lead, "resolved", mine)
    response = client.post(
        "/findings/bulk/",
        {"action": "status", "status": "triaged", "ids": [mine.pk, mine2.pk], "as_of": as_of},
        **HX,
    )
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert "1 finding updated." in body
    assert f"#{mine.pk} was resolved by Sam Second at " in body
    assert "after you loaded this page: left as it is." in body
    assert "flash-warning" in body  # not a green "done"
    mine.refresh_from_db()
    mine2.refresh_from_db()
    assert (mine.status, mine2.status) == ("resolved", "triaged")
    # The results came back with a new marker: acting again from them is not stale.
    again = client.post(
        "/findings/bulk/",
        {"action": "assign", "assignee": lead.pk, "ids": [mine.pk], "as_of": _as_of(body)},
        **HX,
    )
    assert "1 finding assigned." in again.content.decode()
    assert "flash-success" in again.content.decode()


def triage_by(user, status, finding):
    from hygiene.services import triage

    triage.findings_set_status(
        findings_qs=Finding.objects.filter(pk=finding.pk), by=user, status=status
    )


def test_a_stale_finding_page_doesnt_overwrite_a_dismissal(data, as_user, client, second_lead):
    from hygiene.services import triage

    as_user("lead")
    finding = data["mine"]
    page = f"/findings/{finding.pk}/"
    as_of = _as_of(client.get(page).content.decode())
    triage.findings_dismiss(
        findings_qs=Finding.objects.filter(pk=finding.pk),
        by=second_lead,
        reason="wont_fix",
        comment="legacy box, retiring",
    )
    response = client.post(
        "/findings/bulk/",
        {
            "ids": finding.pk,
            "return_to": "finding",
            "action": "status",
            "status": "resolved",
            "as_of": as_of,
        },
        follow=True,
    )
    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == ("dismissed", "wont_fix")
    body = html.unescape(response.content.decode())
    assert f"#{finding.pk} was dismissed as won't fix by Sam Second at " in body
    assert "0 findings updated" not in body
    # The page it came back to carries a new marker: from it, the action is done.
    done = client.post(
        "/findings/bulk/",
        {
            "ids": finding.pk,
            "return_to": "finding",
            "action": "undo",
            "as_of": _as_of(body),
        },
        follow=True,
    )
    assert "1 finding reopened." in done.content.decode()


def test_dismissing_from_an_out_of_date_list_says_why_nothing_changed(
    data, as_user, client, second_lead
):
    from hygiene.services import triage

    as_user("lead")
    as_of = _as_of(client.get("/findings/").content.decode())
    both = Finding.objects.filter(pk__in=[data["mine"].pk, data["mine2"].pk])
    triage.findings_dismiss(findings_qs=both, by=second_lead, reason="revoked", comment="gone")
    response = client.post(
        "/findings/bulk/",
        {
            "action": "dismiss",
            "reason": "false_positive",
            "comment": "docs",
            "ids": [data["mine"].pk, data["mine2"].pk],
            "as_of": as_of,
        },
        **HX,
    )
    body = html.unescape(response.content.decode())
    assert "flash-warning" in body and "0 findings dismissed" not in body
    assert body.count("was dismissed as revoked by Sam Second at") == 2
    assert set(both.values_list("resolution", flat=True)) == {"revoked"}
    # Select all matching the filter: what the page showed open is dismissed, the rest said.
    everything = client.post(
        "/findings/bulk/",
        {
            "action": "dismiss",
            "reason": "false_positive",
            "comment": "docs",
            "select_all": "1",
            "filter": "",
            "as_of": as_of,
        },
        **HX,
    )
    body = html.unescape(everything.content.decode())
    assert "1 finding dismissed." in body and "flash-warning" in body
    assert body.count("was dismissed as revoked by Sam Second at") == 2
    assert Finding.objects.get(pk=data["theirs"].pk).status == "dismissed"
    assert set(both.values_list("resolution", flat=True)) == {"revoked"}


def test_a_broken_as_of_is_a_400(data, as_user, client):
    as_user("lead")
    response = client.post(
        "/findings/bulk/",
        {"action": "status", "status": "triaged", "ids": [data["mine"].pk], "as_of": "yesterday"},
        **HX,
    )
    assert response.status_code == 400 and "reload it" in response.content.decode()


def test_the_bulk_bar_sends_one_request_per_click_burst(data, as_user, client):
    """A double click must not send the action twice (the second, with the rows unticked by
    the first's results, answered 400 over the success message)."""
    as_user("lead")
    body = client.get("/findings/").content.decode()
    form = re.search(r'<form id="bulk-form"[^>]*>', body).group(0)
    assert 'hx-sync="this:drop"' in form
    assert 'hx-disabled-elt="#bulk-form button.bulk"' in form
    assert re.search(r'name="as_of" value="[^"]+"', body)


def test_a_revoked_secrets_findings_read_revoked_not_what_the_scanner_said(data, as_user, client):
    """Once its secret is revoked (a playbook's revoke step, a rotator's event), a finding the
    scanner reported as unverified reads "revoked" in the list, the secret's page and its own
    page, with what the scanner said in the title; a finding of another secret is unchanged."""
    as_user("lead")
    data["secret"].validity = "revoked"
    data["secret"].save(update_fields=["validity"])
    revoked = '<span class="badge valid-revoked" title="The secret was revoked; the scanner'
    revoked += ' reported it unknown.">revoked</span>'
    unknown = '<span class="badge valid-unknown">unknown</span>'
    mine, theirs = data["mine"], data["theirs"]

    def row(body, pk):
        return body.split(f'id="finding-{pk}"', 1)[1].split("</tr>", 1)[0]

    # A key verified live, then revoked: revoked too, saying what the scanner had said.
    Finding.objects.filter(pk=data["mine2"].pk).update(validity="valid")
    verified = revoked.replace("reported it unknown", "reported it valid")
    listing = client.get("/findings/").content.decode()
    assert revoked in row(listing, mine.pk) and verified in row(listing, data["mine2"].pk)
    assert unknown in row(listing, theirs.pk)
    secret_page = client.get(f"/secrets/{data['secret'].pk}/").content.decode()
    assert revoked in secret_page and verified in secret_page and unknown not in secret_page
    assert revoked in client.get(f"/findings/{mine.pk}/").content.decode()
    assert unknown in client.get(f"/findings/{theirs.pk}/").content.decode()
