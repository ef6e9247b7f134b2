import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from hygiene.models import Source
from incidents.models import Incident, Playbook, Step
from incidents.services import incident_open, step_complete
from tests.incidents.conftest import T0, make_finding, make_secret

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, incident, step=None):
    args = [incident.pk] + ([step.pk] if step else [])
    return reverse(name, args=args)


def step(incident, position):
    return Step.objects.get(incident=incident, position=position)


def test_incident_page_shows_checklist_countdowns_markdown_and_timeline(client, lead, aws_incident):
    client.force_login(lead)
    response = client.get(url("incident_detail", aws_incident))
    assert response.status_code == 200
    html = response.content.decode()
    assert aws_incident.reference in html
    assert html.count('class="timer state-on_track"') == aws_incident.steps.count()
    assert "data-due=" in html
    # Instructions rendered from Markdown (code block), no raw script.
    assert "<pre><code>aws iam update-access-key" in html
    assert "<script>" not in html.split("</head>")[1]
    assert "Incident opened by Lena Lead" in html
    assert "js/incidents.js" in html


def test_markdown_instructions_are_sanitised(client, lead, team):
    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    Step.objects.filter(incident=incident, position=1).update(
        instructions="<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=y>"
    )
    client.force_login(lead)
    html = client.get(url("incident_detail", incident)).content.decode()
    assert "alert(1)</script>" not in html and "javascript:" not in html and "onerror" not in html


def test_engineer_completes_a_step_with_htmx_and_gets_the_partial(client, engineer, aws_incident):
    client.force_login(engineer)
    s1 = step(aws_incident, 1)
    response = client.post(
        url("step_complete", aws_incident, s1), {"note": "Deactivated in IAM"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="incident"') and "<html" not in html
    assert "Deactivated in IAM" in html and "state-done_on_time" in html
    assert step(aws_incident, 1).completed_by == engineer


def test_an_engineer_takes_an_unassigned_step_from_the_page(client, engineer, aws_incident):
    client.force_login(engineer)
    page = client.get(url("incident_detail", aws_incident)).content.decode()
    assert 'data-testid="take-step-1"' in page and 'name="assignee"' in page
    target = url("step_assign", aws_incident, step(aws_incident, 1))
    response = client.post(target, {"assignee": engineer.pk}, **HTMX)
    assert response.status_code == 200
    assert step(aws_incident, 1).assignee == engineer
    assert 'data-testid="take-step-1"' not in response.content.decode()
    # Unassigning (or giving it to someone else) is still a lead's.
    assert client.post(target, {"assignee": ""}, **HTMX).status_code == 403


def test_errors_come_back_as_400_with_the_message(client, engineer, aws_incident):
    client.force_login(engineer)
    blocked = step(aws_incident, 4)
    response = client.post(url("step_complete", aws_incident, blocked), {"note": "x"}, **HTMX)
    assert response.status_code == 400
    assert "waits on: 2. Create a new key" in response.content.decode()
    response = client.post(
        url("step_complete", aws_incident, step(aws_incident, 2)), {"url": "ftp://x"}, **HTMX
    )
    assert response.status_code == 400 and "http(s) URL" in response.content.decode()
    response = client.post(url("step_skip", aws_incident, step(aws_incident, 6)), {}, **HTMX)
    assert response.status_code == 400 and "Reason is required." in response.content.decode()


def test_without_htmx_actions_redirect_back(client, lead, aws_incident):
    client.force_login(lead)
    response = client.post(url("incident_pause", aws_incident), {"reason": "vendor"})
    assert response.status_code == 302 and response["Location"] == url(
        "incident_detail", aws_incident
    )
    assert Incident.objects.get(pk=aws_incident.pk).paused_at is not None
    response = client.post(url("incident_resume", aws_incident))
    assert Incident.objects.get(pk=aws_incident.pk).paused_at is None


def test_lead_actions_through_the_page(client, lead, engineer, aws_incident):
    client.force_login(lead)
    assert (
        client.post(url("incident_owner", aws_incident), {"owner": engineer.pk}, **HTMX).status_code
        == 200
    )
    assert (
        client.post(
            url("incident_severity", aws_incident), {"severity": "high"}, **HTMX
        ).status_code
        == 200
    )
    assert (
        client.post(
            url("step_assign", aws_incident, step(aws_incident, 2)),
            {"assignee": engineer.pk},
            **HTMX,
        ).status_code
        == 200
    )
    assert (
        client.post(
            url("incident_comment", aws_incident), {"text": "Paged AWS"}, **HTMX
        ).status_code
        == 200
    )
    aws_incident.refresh_from_db()
    assert aws_incident.owner == engineer and aws_incident.severity == "high"
    assert step(aws_incident, 2).assignee == engineer
    html = client.get(url("incident_detail", aws_incident)).content.decode()
    assert "Severity critical → high" in html and "Paged AWS" in html
    bad = client.post(url("incident_severity", aws_incident), {"severity": "nope"}, **HTMX)
    assert bad.status_code == 400


def test_close_and_review_through_the_page(client, lead, engineer, aws_incident):
    client.force_login(lead)
    response = client.post(url("incident_close", aws_incident), {"summary": "done"}, **HTMX)
    assert (
        response.status_code == 400 and "Required steps are still open" in response.content.decode()
    )
    for s in aws_incident.steps.filter(required=True).order_by("position"):
        step_complete(step=s, by=lead, note="ok")
    review = {
        "what_happened": "Key in config",
        "lessons": "OIDC",
        "fu-TOTAL_FORMS": "3",
        "fu-INITIAL_FORMS": "0",
        "fu-0-title": "Move CI to OIDC",
        "fu-0-owner": str(engineer.pk),
        "fu-0-due_at": "2026-12-01T09:00",
    }
    assert client.post(url("incident_review", aws_incident), review, **HTMX).status_code == 200
    assert aws_incident.follow_ups.get().title == "Move CI to OIDC"
    page = client.get(url("incident_detail", aws_incident)).content.decode()
    assert 'name="resolve_findings" value="1" checked' in page  # offered, ticked
    finding = make_finding(aws_incident.secrets.get(), Source.objects.create(slug="gl", name="gl"))
    close = {"summary": "All done", "resolve_findings": "1"}
    response = client.post(url("incident_close", aws_incident), close, **HTMX)
    assert response.status_code == 200
    assert Incident.objects.get(pk=aws_incident.pk).status == "closed"
    finding.refresh_from_db()
    assert finding.status == "resolved"
    follow_up = aws_incident.follow_ups.get()
    client.force_login(engineer)
    assert client.post(reverse("follow_up_done", args=[follow_up.pk]), **HTMX).status_code == 200


@pytest.mark.parametrize(
    ("name", "data", "step_pos"),
    [
        ("step_complete", {"note": "x"}, 1),
        ("step_skip", {"reason": "x"}, 6),
        ("step_reopen", {"reason": "x"}, 1),
        ("step_assign", {"assignee": ""}, 1),
        ("incident_pause", {"reason": "x"}, None),
        ("incident_severity", {"severity": "low"}, None),
        ("incident_owner", {"owner": ""}, None),
        ("incident_close", {"summary": "x"}, None),
        ("incident_comment", {"text": "x"}, None),
        ("incident_review", {"what_happened": "x"}, None),
    ],
)
@pytest.mark.parametrize("who", ["manager", "outsider", "other_engineer"])
def test_actions_refuse_who_may_not_act(
    client, request, lead, team, other_team, name, data, step_pos, who
):
    from hygiene import roles
    from tests.conftest import make_user

    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    if who == "other_engineer":
        user = make_user("otto", roles.ENGINEER)
        other_team.members.add(user)
    else:
        user = request.getfixturevalue(who)
    client.force_login(user)
    target = url(name, incident, step(incident, step_pos) if step_pos else None)
    assert client.post(target, data, **HTMX).status_code == 403
    assert client.get(url("incident_detail", incident)).status_code == (
        200 if who == "manager" else 403
    )


@pytest.mark.parametrize(
    "name", ["incident_pause", "incident_severity", "incident_owner", "incident_close"]
)
def test_engineers_may_not_do_lead_actions(client, engineer, aws_incident, name):
    client.force_login(engineer)
    data = {"reason": "x", "severity": "low", "owner": "", "summary": "x"}
    assert client.post(url(name, aws_incident), data, **HTMX).status_code == 403


def test_action_urls_refuse_get(client, lead, aws_incident):
    client.force_login(lead)
    assert client.get(url("incident_pause", aws_incident)).status_code == 405


def test_incident_list_filters_and_scopes(client, lead, engineer, team, other_team):
    with time_machine.travel(T0, tick=False):
        mine = incident_open(secrets=[make_secret(team=team)], opened_by=lead, owner=engineer)
        theirs = incident_open(
            secrets=[make_secret(team=other_team, severity="low")], opened_by=lead
        )
    client.force_login(lead)
    listing = reverse("incident_list")

    def refs(query=""):
        html = client.get(listing + query).content.decode()
        return set(re.findall(r"INC-\d+", html))

    assert refs() == {mine.reference, theirs.reference}
    assert refs("?severity=low") == {theirs.reference}
    # Teams by slug, as the findings list names them (a link by number still works).
    assert refs(f"?team={team.slug}") == {mine.reference}
    assert refs(f"?team={team.pk}") == {mine.reference}
    html = client.get(listing + f"?team={team.pk}").content.decode()
    assert f'<option value="{team.slug}" selected>' in html
    assert refs(f"?owner={engineer.pk}") == {mine.reference}
    assert refs("?status=closed") == set()
    assert refs("?status=active") == {mine.reference, theirs.reference}
    assert refs("?overdue=1") == {mine.reference, theirs.reference}  # opened at T0, long ago
    step_complete(step=step(mine, 1), by=lead, note="x")
    assert refs("?status=contained") == {mine.reference}
    assert client.get(listing + "?status=bogus&page=999&team=abc").status_code == 200
    # What it ignores it says, and an unknown status means the default (not closed), not "any".
    Incident.objects.filter(pk=theirs.pk).update(status="closed")
    html = client.get(listing + "?status=bogus&severity=dire&team=abc").content.decode()
    assert set(re.findall(r"INC-\d+", html)) == {mine.reference}
    assert "Ignored unknown status “bogus”." in html
    assert "Ignored unknown severity “dire”." in html and "Ignored unknown team “abc”." in html
    client.force_login(engineer)
    assert refs() == {mine.reference}
    assert client.get(url("incident_detail", theirs)).status_code == 403


def test_overdue_filter_ignores_incidents_not_late(client, lead, team):
    incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    client.force_login(lead)
    html = client.get(reverse("incident_list") + "?overdue=1").content.decode()
    assert "No incidents match." in html


def test_my_work_lists_my_and_my_teams_steps_soonest_first(
    client, lead, engineer, team, other_team
):
    ours = incident_open(secrets=[make_secret(team=team)], opened_by=lead, severity="low")
    other = incident_open(secrets=[make_secret(team=other_team)], opened_by=lead)
    from incidents.services import step_assign

    step_assign(step=step(other, 3), by=lead, assignee=engineer)
    client.force_login(engineer)
    response = client.get(reverse("my_work"))
    assert response.status_code == 200
    steps = list(response.context["page"])
    assert steps[0] == step(other, 3)  # critical → due sooner than any low step
    assert {s.incident_id for s in steps} == {ours.pk, other.pk}
    assert [s.due_at for s in steps] == sorted(s.due_at for s in steps)
    assert all(s.incident_id == ours.pk or s.assignee == engineer for s in steps)
    # Engineer's dashboard shows them too.
    dash = client.get(reverse("dashboard"))
    assert "My steps" in dash.content.decode() and ours.reference in dash.content.decode()
    # Narrowed to mine (one) or to my teams' unassigned ones (the rest), each view counted.
    mine = client.get(reverse("my_work") + "?who=mine")
    assert list(mine.context["page"]) == [step(other, 3)]
    team_left = list(client.get(reverse("my_work") + "?who=team").context["page"])
    assert team_left == [s for s in steps if s != step(other, 3)] and len(team_left) > 1
    html = mine.content.decode()
    assert f"All ({len(steps)})" in html and f"Unassigned, my teams ({len(team_left)})" in html
    assert 'aria-current="true" data-testid="work-view-mine">Assigned to me (1)' in html


def test_open_incident_endpoint(client, lead, engineer, team):
    secret = make_secret(team=team)
    client.force_login(engineer)
    assert client.post(reverse("incident_open"), {"secret_ids": [secret.pk]}).status_code == 403
    client.force_login(lead)
    response = client.post(
        reverse("incident_open"), {"secret_ids": [secret.pk], "severity": "high"}
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == url("incident_detail", incident)
    assert incident.severity == "high"
    again = client.post(reverse("incident_open"), {"secret_ids": [secret.pk]}, **HTMX)
    assert again.status_code == 409 and "already has an open incident" in again.content.decode()
    other = make_secret(team=team)
    response = client.post(reverse("incident_open"), {"secret_ids": [other.pk]}, **HTMX)
    assert response.status_code == 204
    assert response["HX-Redirect"] == url("incident_detail", Incident.objects.get(secrets=other))
    assert client.post(reverse("incident_open"), {}).status_code == 400
    assert client.post(reverse("incident_open"), {"secret_ids": ["abc"]}).status_code == 400
    assert client.post(reverse("incident_open"), {"secret_ids": [999999]}).status_code == 404


def test_playbook_pages_and_edit_saves_a_new_version(client, lead, engineer):
    client.force_login(engineer)
    assert client.get(reverse("playbook_list")).status_code == 200
    assert client.get(reverse("playbook_edit", args=["aws-access-key"])).status_code == 403
    client.force_login(lead)
    page = client.get(reverse("playbook_list")).content.decode()
    assert "AWS access key" in page and "Edit" in page
    edit = client.get(reverse("playbook_edit", args=["aws-access-key"]))
    assert edit.status_code == 200
    formset = edit.context["formset"]
    data = {"name": "AWS access key", "description": "tuned"}
    data.update(
        {
            f"steps-{k}": v
            for k, v in {
                "TOTAL_FORMS": str(len(formset.forms)),
                "INITIAL_FORMS": str(len(formset.initial)),
                "MIN_NUM_FORMS": "0",
                "MAX_NUM_FORMS": "40",
            }.items()
        }
    )
    for i, initial in enumerate(formset.initial):
        for key, value in initial.items():
            if key == "required":
                if value:
                    data[f"steps-{i}-required"] = "on"
            elif hasattr(value, "total_seconds"):
                data[f"steps-{i}-{key}"] = str(value)
            else:
                data[f"steps-{i}-{key}"] = value
    data["steps-0-deadline_critical"] = "0:30:00"
    data["steps-5-DELETE"] = "on"  # drop the optional purge step
    # The blank "new step" row, as a browser posts it: its selects send their first choice.
    blank = len(formset.initial)
    data[f"steps-{blank}-action"] = "revoke"
    data[f"steps-{blank}-default_role"] = "lead"
    response = client.post(reverse("playbook_edit", args=["aws-access-key"]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    new = Playbook.objects.get(slug="aws-access-key", is_current=True)
    assert new.version == 2 and new.description == "tuned"
    assert new.steps.count() == 6
    assert str(new.steps.get(position=1).deadline_critical) == "0:30:00"
    assert client.get(reverse("playbook_detail", args=[new.pk])).status_code == 200
    # Bad input: a clear 400 saying how to write one, no new version.
    for bad in ("soon", "-5h", "4x", "99999999d"):
        data["steps-0-deadline_critical"] = bad
        response = client.post(reverse("playbook_edit", args=["aws-access-key"]), data)
        assert response.status_code == 400, bad
        body = response.content.decode()
        assert (
            "Enter a duration such as 30m, 4h, 7d or 1d 12h." in body
            or "That duration is too long." in body
            or "A deadline is at most" in body
        ), bad
    assert Playbook.objects.filter(slug="aws-access-key").count() == 2
    # As people write deadlines, and shown back the same way.
    data["steps-0-deadline_critical"] = "1d 12h"
    data["steps-1-deadline_high"] = "45 min"
    response = client.post(reverse("playbook_edit", args=["aws-access-key"]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    newer = Playbook.objects.get(slug="aws-access-key", is_current=True)
    assert newer.steps.get(position=1).deadline_critical == timedelta(days=1, hours=12)
    assert newer.steps.get(position=2).deadline_high == timedelta(minutes=45)
    page = client.get(reverse("playbook_edit", args=["aws-access-key"])).content.decode()
    assert 'value="1d 12h"' in page
    # Seconds survive being shown and saved again.
    data["steps-0-deadline_critical"] = "1m 30s"
    assert client.post(reverse("playbook_edit", args=["aws-access-key"]), data).status_code == 302
    page = client.get(reverse("playbook_edit", args=["aws-access-key"])).content.decode()
    assert 'value="1m 30s"' in page


def _edit_post(formset) -> dict:
    """The editor's form as a browser posts it back unchanged."""
    data = {"name": "AWS access key", "description": ""}
    data.update(
        {
            "steps-TOTAL_FORMS": str(len(formset.initial)),
            "steps-INITIAL_FORMS": str(len(formset.initial)),
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "40",
        }
    )
    for i, initial in enumerate(formset.initial):
        for key, value in initial.items():
            if key == "required":
                if value:
                    data[f"steps-{i}-required"] = "on"
            else:
                data[f"steps-{i}-{key}"] = str(value) if hasattr(value, "total_seconds") else value
    return data


def role_options(html, i):
    select = re.search(rf'<select name="steps-{i}-default_role".*?</select>', html, re.S)
    return re.findall(r'<option value="(\w+)"( selected)?>', select.group(0))


def test_the_playbook_editor_offers_no_manager_role_and_says_why(client, lead):
    client.force_login(lead)
    edit = client.get(reverse("playbook_edit", args=["aws-access-key"]))
    html = edit.content.decode()
    # Managers review metrics: a step of theirs would wait on nobody who may do it.
    assert role_options(html, 0) == [("lead", ""), ("engineer", " selected")]
    data = _edit_post(edit.context["formset"])
    data["steps-1-default_role"] = "manager"
    response = client.post(reverse("playbook_edit", args=["aws-access-key"]), data)
    assert response.status_code == 400
    assert "Managers review metrics and can&#x27;t act on steps" in response.content.decode()
    assert Playbook.objects.filter(slug="aws-access-key").count() == 1
    data["steps-1-default_role"] = "lead"
    assert client.post(reverse("playbook_edit", args=["aws-access-key"]), data).status_code == 302
    new = Playbook.objects.get(slug="aws-access-key", is_current=True)
    assert new.steps.get(position=2).default_role == "lead"


def test_a_manager_step_saved_before_is_the_engineers(client, lead, team):
    # The editor offered "Manager" once; such rows may exist. New incidents give the step to
    # engineers, and the editor shows (and saves) what incidents get.
    playbook = Playbook.objects.get(slug="aws-access-key", is_current=True)
    playbook.steps.filter(position=1).update(default_role="manager")
    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    client.force_login(lead)
    html = client.get(url("incident_detail", incident)).content.decode()
    assert "Unassigned (Manager)" not in html
    assert step(incident, 1).get_role_display() == "Engineer"
    edit = client.get(reverse("playbook_edit", args=["aws-access-key"]))
    assert role_options(edit.content.decode(), 0) == [("lead", ""), ("engineer", " selected")]
    data = _edit_post(edit.context["formset"])
    assert client.post(reverse("playbook_edit", args=["aws-access-key"]), data).status_code == 302
    new = Playbook.objects.get(slug="aws-access-key", is_current=True)
    assert new.steps.get(position=1).default_role == "engineer"


def test_managers_and_outsiders(client, manager, outsider, aws_incident):
    client.force_login(manager)
    assert client.get(reverse("incident_list")).status_code == 200
    html = client.get(url("incident_detail", aws_incident)).content.decode()
    assert "Mark done" not in html and "Close incident" not in html
    assert ">My work<" not in html  # nothing is ever a manager's to do
    client.force_login(outsider)
    for name in ("incident_list", "my_work", "playbook_list"):
        assert client.get(reverse(name)).status_code == 403


def test_rotator_evidence_shows_who_when_and_the_link(client, lead, aws_incident, event_factory):
    from incidents.services import rotation_event_apply

    event = event_factory(
        aws_incident.secrets.get(),
        "rotated",
        actor="arn:aws:iam::123456789012:user/deploy-bot",
        event_name="CreateAccessKey",
        evidence_url="https://console.aws.amazon.com/cloudtrail/home#/events/ev-9",
    )
    rotation_event_apply(event=event)
    client.force_login(lead)
    html = client.get(url("incident_detail", aws_incident)).content.decode()
    assert (
        "Rotator event: <strong>CreateAccessKey</strong> by "
        "arn:aws:iam::123456789012:user/deploy-bot via CloudTrail" in html
    )
    assert 'href="https://console.aws.amazon.com/cloudtrail/home#/events/ev-9"' in html
    assert "— arn:aws:iam::123456789012:user/deploy-bot via CloudTrail" in html  # timeline actor


def test_the_incident_list_opens_on_what_is_still_open(client, lead, aws_incident):
    from incidents.models import Incident

    client.force_login(lead)
    assert aws_incident.reference in client.get(reverse("incident_list")).content.decode()
    Incident.objects.filter(pk=aws_incident.pk).update(status="closed")
    fresh = client.get(reverse("incident_list")).content.decode()
    assert aws_incident.reference not in fresh
    # The form says so (not "Any"), so that pressing Filter doesn't change the list.
    assert '<option value="active" selected>Active (not closed)</option>' in fresh
    everything = client.get(reverse("incident_list"), {"status": ""}).content.decode()
    assert aws_incident.reference in everything
    assert '<option value="active" selected>' not in everything
    # "Any" goes along to the next pages.
    page = client.get(reverse("incident_list"), {"status": ""})
    assert page.context["query"] == "status="


def test_an_engineer_sees_what_their_incident_work_needs(client, lead, engineer, other_team):
    """The owner of another team's incident opens its secret from the incident page; the owner
    of a follow-up sees its incident and finds the follow-up in My work, and marks it done."""
    from datetime import timedelta

    from django.utils import timezone

    from hygiene.models import Finding, Source
    from incidents.models import FollowUp
    from incidents.services import incident_assign, incident_open
    from tests.incidents.conftest import make_finding, make_secret

    secret = make_secret(team=other_team)
    elsewhere = make_finding(secret, Source.objects.create(slug="gl", name="gl", kind="scanner"))
    Finding.objects.filter(pk=elsewhere.pk).update(team=other_team, path="deploy/prod.env")
    incident = incident_open(secrets=[secret], opened_by=lead)
    client.force_login(engineer)
    assert client.get(f"/secrets/{secret.pk}/").status_code == 404
    assert client.get(f"/findings/{elsewhere.pk}/").status_code == 404
    incident_assign(incident=incident, owner=engineer, by=lead)
    # Where it leaked, to clean it up: the secret's page lists it, and its page opens.
    assert "deploy/prod.env" in client.get(f"/secrets/{secret.pk}/").content.decode()
    assert client.get(f"/findings/{elsewhere.pk}/").status_code == 200
    # The findings list stays their teams'.
    assert "deploy/prod.env" not in client.get("/findings/").content.decode()
    unowned = incident_open(secrets=[make_secret(team=None)], opened_by=lead)
    assert client.get(f"/incidents/{unowned.pk}/").status_code == 403
    follow_up = FollowUp.objects.create(
        incident=unowned,
        title="Add a pre-commit hook",
        owner=engineer,
        due_at=timezone.now() + timedelta(days=7),
    )
    assert client.get(f"/incidents/{unowned.pk}/").status_code == 200
    work = client.get(reverse("my_work")).content.decode()
    assert "Add a pre-commit hook" in work and unowned.reference in work
    assert client.post(f"/follow-ups/{follow_up.pk}/done").status_code == 302
    follow_up.refresh_from_db()
    assert follow_up.done_at is not None
    assert "Add a pre-commit hook" not in client.get(reverse("my_work")).content.decode()


def test_stored_previews_that_may_show_a_default_password_lose_the_user(lead):
    """Migration 0005: a preview made before the user was left out when it is the password."""
    import importlib

    from django.apps import apps

    from incidents.models import Incident, TimelineEvent
    from incidents.services import incident_open
    from tests.incidents.conftest import make_secret

    migration = importlib.import_module("incidents.migrations.0005_previews_without_default_users")
    guest = make_secret(secret_type="database-credential")
    type(guest).objects.filter(pk=guest.pk).update(preview="amqp://guest:…@localhost")
    guest.refresh_from_db()
    app = make_secret(secret_type="database-credential")
    type(app).objects.filter(pk=app.pk).update(preview="postgres://app:…@db.internal")
    incident = incident_open(secrets=[guest], opened_by=lead)
    TimelineEvent.objects.create(
        incident=incident, kind="comment", message="see amqp://guest:…@localhost"
    )
    migration.scrub_previews(apps, None)
    guest.refresh_from_db()
    app.refresh_from_db()
    assert (guest.preview, app.preview) == ("amqp://…:…@localhost", "postgres://app:…@db.internal")
    assert "guest" not in Incident.objects.get(pk=incident.pk).title
    assert not TimelineEvent.objects.filter(message__contains="guest:").exists()


# --- adding a reference from the incident page ---------------------------------------------

KEY_ID = "AKIAQYLPMN5HHHFPZAM2"  # fake


def two_secret_incident(lead, team, source):
    """A generic password previewed "…" and an AWS key, each found in its own file."""
    from hygiene.models import Finding, Secret
    from tests.incidents.conftest import make_finding

    password = make_secret(team=team, secret_type="generic-password")
    Secret.objects.filter(pk=password.pk).update(preview="…")
    key = make_secret(team=team)
    make_finding(password, source)
    Finding.objects.filter(secret=password).update(path="deploy/db.yml", line=12)
    make_finding(key, source)  # acme/payments config/prod.env:3
    password.refresh_from_db()
    return incident_open(secrets=[password, key], opened_by=lead), password, key


def reference_select(html):
    match = re.search(r'<select name="secret"[^>]*>(.*?)</select>', html, re.S)
    assert match, "no secret select"
    return re.findall(r'<option value="(\d*)"([^>]*)>([^<]*)</option>', match.group(1))


def test_the_reference_form_makes_the_lead_choose_among_secrets_told_apart(
    client, lead, team, source
):
    incident, password, key = two_secret_incident(lead, team, source)
    client.force_login(lead)
    html = client.get(url("incident_detail", incident)).content.decode()
    assert re.search(r'<select name="secret" required', html)
    options = reference_select(html)
    # No secret picked beforehand: a required placeholder comes first, and is the one selected.
    assert options[0][0] == "" and "selected" in options[0][1]
    assert options[0][2] == "Choose the secret…"
    assert all("selected" not in attrs for _, attrs, _ in options[1:])
    labels = {int(pk): label for pk, _, label in options[1:]}
    assert labels == {
        password.pk: "Generic password … — acme/payments deploy/db.yml:12",
        key.pk: f"AWS access key {key.preview} — acme/payments config/prod.env:3",
    }
    # Kinds differ between the two: the kind starts at "Other", and follows the secret.
    assert 'data-kind="aws-access-key-id"' in html
    assert re.search(r'<option value="other" selected>', html)


def test_one_secret_needs_no_choice(client, lead, aws_incident):
    client.force_login(lead)
    html = client.get(url("incident_detail", aws_incident)).content.decode()
    assert '<select name="secret"' not in html
    secret = aws_incident.secrets.get()
    assert f'<input type="hidden" name="secret" value="{secret.pk}">' in html
    assert re.search(r'<option value="aws-access-key-id" selected>', html)
    # And a form without the secret (as a script may post it) means the only one.
    response = client.post(
        url("incident_reference", aws_incident), {"kind": "aws-access-key-id", "value": KEY_ID}
    )
    assert response.status_code == 302
    assert secret.references.get().display == "AKIA…ZAM2"


def test_a_reference_without_a_chosen_secret_is_refused_in_the_form(client, lead, team, source):
    incident, password, key = two_secret_incident(lead, team, source)
    client.force_login(lead)
    form = {"secret": "", "kind": "aws-access-key-id", "value": KEY_ID}
    response = client.post(url("incident_reference", incident), form, **HTMX)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="error">Choose the secret this reference belongs to.</span>' in html
    assert not password.references.exists() and not key.references.exists()
    # Another incident's secret, or nonsense, is refused as well.
    other = make_secret(team=team)
    for bad in (str(other.pk), "abc", "²", "9" * 30):
        response = client.post(url("incident_reference", incident), {**form, "secret": bad})
        assert response.status_code == 400
        assert "Choose one of this incident&#x27;s secrets." in response.content.decode()
    assert not other.references.exists()


def test_adding_a_reference_writes_the_incident_timeline_naming_the_secret(
    client, lead, team, source
):
    from incidents.models import TimelineEvent

    incident, password, key = two_secret_incident(lead, team, source)
    client.force_login(lead)
    form = {"secret": key.pk, "kind": "aws-access-key-id", "value": KEY_ID}
    response = client.post(url("incident_reference", incident), form, **HTMX)
    assert response.status_code == 200
    assert key.references.get().display == "AKIA…ZAM2" and not password.references.exists()
    entry = incident.timeline.get(kind="secret.reference_added")
    assert entry.actor == lead and entry.secret_id == key.pk
    assert entry.message == (
        f"Reference added to AWS access key {key.preview} (acme/payments config/prod.env:3): "
        "AWS access key id AKIA…ZAM2"
    )
    html = response.content.decode()
    timeline = html.split('data-testid="timeline"')[1]
    assert "Reference added to AWS access key" in timeline and "AKIA…ZAM2" in timeline
    assert KEY_ID not in html  # the key id may be the leaked value itself: never shown whole
    assert not TimelineEvent.objects.filter(message__contains=KEY_ID).exists()
    # The same entry is the secret's (one entry, not two).
    assert TimelineEvent.objects.filter(secret=key, kind="secret.reference_added").count() == 1
    # Each reference says which secret it is of.
    references = html.split('data-testid="references">')[1].split("</dd>")[0]
    assert f'AKIA…ZAM2</span> <span class="muted ref-of">of AWS access key {key.preview}' in (
        references
    )


def test_a_refused_reference_says_why_without_list_brackets(client, lead, aws_incident):
    client.force_login(lead)
    secret = aws_incident.secrets.get()
    response = client.post(
        url("incident_reference", aws_incident),
        {"secret": secret.pk, "kind": "aws-account", "value": "12345"},
        **HTMX,
    )
    assert response.status_code == 400
    assert 'data-testid="error">An AWS account id is 12 digits.</span>' in (
        response.content.decode()
    )
    assert not aws_incident.timeline.filter(kind="secret.reference_added").exists()


def test_a_closed_incident_takes_no_reference(client, lead, aws_incident):
    from hygiene.services.triage import TriageError, secret_reference_add

    Incident.objects.filter(pk=aws_incident.pk).update(status="closed")
    client.force_login(lead)
    html = client.get(url("incident_detail", aws_incident)).content.decode()
    assert 'aria-label="Add a reference"' not in html
    secret = aws_incident.secrets.get()
    response = client.post(
        url("incident_reference", aws_incident),
        {"secret": secret.pk, "kind": "aws-access-key-id", "value": KEY_ID},
        **HTMX,
    )
    assert response.status_code == 400
    assert "This incident is closed: add the reference on the secret&#x27;s page instead." in (
        response.content.decode()
    )
    assert not secret.references.exists()
    assert not aws_incident.timeline.filter(kind="secret.reference_added").exists()
    # Closed while the lead was typing: the service checks again, under the incident's lock.
    with pytest.raises(TriageError, match="This incident is closed"):
        secret_reference_add(
            secret=secret, by=lead, kind="aws-access-key-id", value=KEY_ID, incident=aws_incident
        )
    assert not secret.references.exists()


def test_only_leads_add_references_from_the_incident(client, engineer, manager, aws_incident):
    secret = aws_incident.secrets.get()
    form = {"secret": secret.pk, "kind": "aws-access-key-id", "value": KEY_ID}
    client.force_login(engineer)
    assert (
        'aria-label="Add a reference"'
        not in client.get(url("incident_detail", aws_incident)).content.decode()
    )
    assert client.post(url("incident_reference", aws_incident), form).status_code == 403
    client.force_login(manager)
    assert client.post(url("incident_reference", aws_incident), form).status_code == 403
    assert not secret.references.exists()
