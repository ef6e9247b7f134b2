"""An engineer follows a critical AWS key incident to the end in Chromium; a lead closes it."""

import re

import pytest
from playwright.sync_api import expect

from incidents.models import Incident
from incidents.services import incident_open
from tests.incidents.conftest import make_finding, make_secret

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def step_item(page, position):
    return page.get_by_test_id(f"step-{position}")


def complete(page, position, *, note="", url=""):
    item = step_item(page, position)
    if note:
        item.locator("textarea[name=note]").fill(note)
    if url:
        item.locator("input[name=url]").fill(url)
    item.get_by_role("button", name="Mark done").click()
    expect(page.get_by_test_id(f"evidence-{position}")).to_contain_text("Done")


def test_engineer_follows_a_critical_aws_key_incident_to_the_end(
    page, login, screenshot, live_server, lead, engineer, team, source
):
    secret = make_secret(team=team, severity="critical", validity="valid")
    make_finding(secret, source)
    incident = incident_open(secrets=[secret], opened_by=lead, owner=engineer)

    login(engineer)
    expect(page.locator("h1")).to_have_text("My steps")
    page.get_by_role("link", name=incident.reference).first.click()
    expect(page.locator("h1")).to_contain_text(incident.reference)

    # The revoke deadline counts down live (critical: 1 h).
    timer = step_item(page, 1).locator(".timer")
    expect(timer).to_have_text(re.compile(r"^00:59:\d\d left$"))
    first = timer.inner_text()
    expect(timer).not_to_have_text(first)
    expect(timer).to_have_attribute("data-state", "on_track")
    screenshot("incident-critical-aws-open")

    # Deleting the old key waits for the new one.
    expect(page.get_by_test_id("blocked-4")).to_contain_text("Waits on step 2")
    expect(step_item(page, 4).get_by_role("button", name="Mark done")).to_be_disabled()

    complete(page, 1, note="Deactivated AKIA…0001 with update-access-key at 09:12")
    expect(page.get_by_test_id("incident")).to_have_attribute("data-status", "contained")
    expect(page.get_by_test_id("evidence-1")).to_contain_text("Deactivated AKIA…0001")
    expect(step_item(page, 1).locator(".timer")).to_have_text("done on time")

    complete(page, 2, url="https://ci.example.com/payments/pipelines/4242")
    expect(page.get_by_test_id("evidence-2").get_by_role("link")).to_have_attribute(
        "href", "https://ci.example.com/payments/pipelines/4242"
    )

    # An error is shown, not swallowed: skipping needs a reason (the browser enforces it
    # first), then a real one.
    purge = step_item(page, 6)
    purge.locator("input[name=reason]").fill("Repository is private and was never mirrored")
    purge.get_by_role("button", name="Skip").click()
    expect(page.get_by_test_id("evidence-6")).to_contain_text("Skipped", timeout=5000)
    expect(page.get_by_test_id("evidence-6")).to_contain_text("never mirrored")

    complete(page, 3, note="CloudTrail: only our CI's calls from exposed-since to revocation")
    complete(page, 4, note="Deleted the old key")
    complete(page, 5, note="Told the payments owner and security@")
    complete(page, 7, note="GetCallerIdentity with the old key: InvalidClientTokenId")
    expect(page.get_by_test_id("incident")).to_have_attribute("data-status", "remediated")
    # An engineer can't close; the button isn't there.
    expect(page.get_by_role("button", name="Close incident")).to_have_count(0)
    expect(page.get_by_test_id("timeline")).to_contain_text("Status contained → remediated")
    screenshot("incident-critical-aws-remediated")

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("input[name=username]")).to_be_visible()

    login(lead)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    page.locator("textarea[name=summary]").fill(
        "Key deactivated within 10 minutes, replaced via CI; no foreign use in CloudTrail."
    )
    page.get_by_role("button", name="Close incident").click()
    expect(page.get_by_test_id("incident")).to_have_attribute("data-status", "closed")
    expect(page.get_by_test_id("summary")).to_contain_text("Key deactivated within 10 minutes")
    expect(page.get_by_test_id("timeline")).to_contain_text("Incident closed")
    screenshot("incident-critical-aws-closed")

    page.get_by_role("link", name="Playbooks").click()
    expect(page.get_by_test_id("playbook-aws-access-key")).to_contain_text("1 h")
    screenshot("playbooks")

    incident = Incident.objects.get(pk=incident.pk)
    assert incident.status == "closed"
    assert incident.steps.get(position=6).skipped_reason.startswith("Repository is private")
    assert incident.steps.get(position=2).evidence_url.endswith("/4242")


def test_an_action_error_is_shown_in_place(page, login, lead, team):
    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    page = login(lead)
    page.goto(page.url + f"incidents/{incident.pk}/")
    step_item(page, 1).get_by_role("button", name="Mark done").click()  # no evidence
    expect(page.get_by_test_id("error")).to_have_text(
        "Add evidence: a note or a link to what you did."
    )
    expect(page.locator("h1")).to_contain_text(incident.reference)


def incident_page(login, lead, team):
    """A lead on a new incident's page, in a window shorter than the page."""
    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    page = login(lead)
    page.set_viewport_size({"width": 1280, "height": 700})
    page.goto(page.url + f"incidents/{incident.pk}/")
    return page, incident


def test_a_refused_action_keeps_what_was_typed_and_says_why_beside_it(login, lead, team):
    page, _ = incident_page(login, lead, team)
    item = step_item(page, 3)
    item.locator("textarea[name=note]").fill("Rotated in Vault, see the change")
    item.locator("input[name=url]").fill("ftp://example.com/change")
    item.get_by_role("button", name="Mark done").click()
    error = page.get_by_test_id("error")
    expect(error).to_be_visible()
    expect(error).to_be_in_viewport()
    item = step_item(page, 3)
    expect(item.get_by_test_id("error")).to_have_count(1)  # in the form that was refused
    expect(item.locator("textarea[name=note]")).to_have_value("Rotated in Vault, see the change")
    expect(item.locator("input[name=url]")).to_have_value("ftp://example.com/change")
    expect(item.locator("textarea[name=note]")).to_be_focused()


def test_a_step_someone_else_just_did_says_so_in_view(login, lead, team):
    from incidents.services import step_complete

    page, incident = incident_page(login, lead, team)
    item = step_item(page, 3)
    item.locator("textarea[name=note]").fill("Rotated")
    step_complete(step=incident.steps.get(position=3), by=lead, note="done in another tab")
    item.get_by_role("button", name="Mark done").click()
    error = page.get_by_test_id("error")
    expect(error).to_have_text("Step 3 is already done (someone else may have just done it).")
    expect(error).to_be_in_viewport()
    expect(error).to_be_focused()


def test_after_an_action_the_keyboard_carries_on_from_its_step(login, lead, team):
    page, _ = incident_page(login, lead, team)
    item = step_item(page, 3)
    item.locator("textarea[name=note]").fill("Rotated")
    item.get_by_role("button", name="Mark done").click()
    expect(page.get_by_test_id("evidence-3")).to_contain_text("Done")
    expect(step_item(page, 3)).to_be_focused()


def test_a_lead_picks_which_secret_a_reference_is_for(login, screenshot, lead, team, source):
    from hygiene.models import Secret

    password = make_secret(team=team, secret_type="generic-password")
    Secret.objects.filter(pk=password.pk).update(preview="…")
    key = make_secret(team=team)
    make_finding(password, source)
    make_finding(key, source)
    incident = incident_open(secrets=[password, key], opened_by=lead)
    page = login(lead)
    page.goto(page.url + f"incidents/{incident.pk}/")
    form = page.get_by_role("form", name="Add a reference")
    chooser = form.get_by_test_id("reference-secret")
    expect(chooser).to_have_value("")  # no secret until the lead picks one
    form.get_by_test_id("reference-value").fill("AKIAQYLPMN5HHHFPZAM2")
    form.get_by_role("button", name="Add reference").click()  # the browser asks for a secret
    expect(form.get_by_test_id("reference-value")).to_have_value("AKIAQYLPMN5HHHFPZAM2")
    assert not chooser.evaluate("el => el.checkValidity()")
    # Picking the AWS key (told apart by type, preview and place) sets the kind that fits it.
    chooser.select_option(label=f"AWS access key {key.preview} — acme/payments config/prod.env:3")
    expect(form.get_by_test_id("reference-kind")).to_have_value("aws-access-key-id")
    form.get_by_role("button", name="Add reference").click()
    expect(page.get_by_test_id("references")).to_contain_text("AKIA…ZAM2")
    expect(page.get_by_test_id("timeline")).to_contain_text(
        f"Reference added to AWS access key {key.preview}"
    )
    screenshot("incident-reference-added")
    assert key.references.get().display == "AKIA…ZAM2" and not password.references.exists()


PHONE = {"width": 390, "height": 844}


def overflows_sideways(page):
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def test_on_a_phone_the_checklist_comes_first(login, screenshot, lead, team):
    """On call with a phone: the first step's "Mark done" is on the first screen, above the
    facts and the lead's actions, and nothing needs scrolling sideways."""
    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    page = login(lead)
    page.set_viewport_size(PHONE)
    page.goto(page.url + f"incidents/{incident.pk}/")
    mark_done = step_item(page, 1).get_by_role("button", name="Mark done")
    box = mark_done.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], box
    assert box["y"] < page.get_by_role("heading", name="Facts").bounding_box()["y"]
    assert box["y"] < page.get_by_role("button", name="Close incident").bounding_box()["y"]
    assert not overflows_sideways(page)
    screenshot("incident-phone")

    # And it works from there.
    step_item(page, 1).locator("textarea[name=note]").fill("Revoked at the issuer")
    mark_done.click()
    expect(page.get_by_test_id("evidence-1")).to_contain_text("Revoked at the issuer")
    assert not overflows_sideways(page)


def test_on_a_phone_my_work_shows_the_next_step_without_scrolling_sideways(
    login, screenshot, lead, engineer, team
):
    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    page = login(engineer)
    page.set_viewport_size(PHONE)
    page.goto(page.url + "my-work/")
    first = incident.steps.get(position=1)
    step = page.get_by_test_id("work-row").first.get_by_text(f"1. {first.title}")
    expect(step).to_be_in_viewport(ratio=1)  # the whole of it, not cut at the screen's edge
    assert not overflows_sideways(page)
    screenshot("my-work-phone")


def test_reopening_a_step_asks_for_a_reason_and_restarts_its_clock(
    page, login, live_server, lead, engineer, team, source
):
    """Reopening used to be one click: no reason, and the step was "overdue 3d" at once."""
    from datetime import timedelta

    from django.db.models import F

    from incidents.models import Step
    from incidents.services import step_complete, step_skip

    secret = make_secret(team=team, severity="critical", validity="valid")
    make_finding(secret, source)
    incident = incident_open(secrets=[secret], opened_by=lead, owner=engineer)
    for s in incident.steps.order_by("position"):
        if s.required:
            step_complete(step=s, by=lead, note=f"did {s.position}")
        else:
            step_skip(step=s, by=lead, reason="not needed")
    # All of it three days ago.
    ago = timedelta(days=3)
    Incident.objects.filter(pk=incident.pk).update(
        opened_at=F("opened_at") - ago, remediated_at=F("remediated_at") - ago
    )
    incident.steps.update(
        started_at=F("started_at") - ago,
        due_at=F("due_at") - ago,
        due_soon_at=F("due_soon_at") - ago,
        completed_at=F("completed_at") - ago,
    )

    login(engineer)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.get_by_test_id("incident")).to_have_attribute("data-status", "remediated")
    revoke = step_item(page, 1)
    revoke.get_by_text("Reopen…").click()
    expect(revoke.get_by_test_id("reopen-1")).to_contain_text("fresh deadline: 1 h from now")
    # No reason: the browser refuses to send it.
    revoke.get_by_role("button", name="Reopen step 1").click()
    expect(page.get_by_test_id("incident")).to_have_attribute("data-status", "remediated")
    revoke.get_by_label("Reason for reopening").fill("Key still answers in eu-west-1")
    revoke.get_by_role("button", name="Reopen step 1").click()
    expect(page.get_by_test_id("incident")).to_have_attribute("data-status", "contained")
    timer = step_item(page, 1).locator(".timer")
    expect(timer).to_have_text(re.compile(r"^00:59:\d\d left$"))
    expect(timer).to_have_attribute("data-state", "on_track")
    expect(page.get_by_test_id("timeline")).to_contain_text(
        "reopened: Key still answers in eu-west-1"
    )
    assert Step.objects.get(incident=incident, position=1).escalation == "none"
