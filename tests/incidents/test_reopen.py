"""Reopening a step: a confirmation with a reason (kept in the timeline) and a fresh deadline.

Reopened days after its first deadline, a step kept that deadline: "overdue 3d" at once, and the
next sweep escalated it. ``Step.deadline`` is the time the step gets, so it now gets it again,
counted from the reopening.
"""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from incidents.models import Step, TimelineEvent
from incidents.services import (
    IncidentError,
    incident_change_severity,
    incident_open,
    incident_pause,
    incident_resume,
    step_complete,
    step_reopen,
    step_skip,
)
from incidents.timers import sweep
from tests.incidents.conftest import T0, make_secret

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
D = timedelta(days=1)
HTMX = {"HTTP_HX_REQUEST": "true"}


def at(offset: timedelta):
    return time_machine.travel(T0 + offset, tick=False)


def step(incident, position) -> Step:
    return Step.objects.select_related("incident").get(incident=incident, position=position)


@pytest.fixture
def remediated(lead, team):
    """A critical incident opened at T0, every required step done within the hour."""
    with at(timedelta(0)):
        incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    with at(30 * timedelta(minutes=1)):
        for s in incident.steps.order_by("position"):
            if s.required:
                step_complete(step=s, by=lead, note=f"did {s.position}")
            else:
                step_skip(step=s, by=lead, reason="not needed")
    incident.refresh_from_db()
    assert incident.status == "remediated"
    return incident


def test_a_reopened_step_gets_a_fresh_deadline_and_the_sweep_leaves_it_alone(lead, remediated):
    revoke = step(remediated, 1)
    assert revoke.deadline == H  # critical: revoke within the hour
    with at(3 * D):
        reopened = step_reopen(step=revoke, by=lead, reason="key still works in eu-west-1")
        assert reopened.started_at == T0 + 3 * D
        assert reopened.due_at == T0 + 3 * D + H
        assert reopened.due_soon_at == T0 + 3 * D + 45 * timedelta(minutes=1)
        assert step(remediated, 1).state() == "on_track"
    with at(3 * D + 10 * timedelta(minutes=1)):
        counts = sweep()
    assert counts["overdue"] == 0 and counts["due_soon"] == 0
    assert step(remediated, 1).escalation == "none"
    remediated.refresh_from_db()
    assert remediated.status == "contained"  # step 4 revoked too: no longer remediated
    event = TimelineEvent.objects.filter(incident=remediated, kind="step_reopened").get()
    assert (
        event.message
        == "Step 1 “Deactivate the leaked access key” reopened: key still works in eu-west-1"
    )
    assert event.data["reason"] == "key still works in eu-west-1"
    assert event.actor == lead
    # Still late past the fresh deadline: then the sweep escalates it.
    with at(3 * D + 2 * H):
        assert sweep()["overdue"] == 1


def test_a_severity_change_counts_a_reopened_steps_deadline_from_its_reopening(lead, remediated):
    """A new severity recomputes the open steps' deadlines: a reopened step's from when its
    clock started again, not from the opening (days ago: overdue at once, and escalated)."""
    with at(3 * D):
        step_reopen(step=step(remediated, 1), by=lead, reason="key still works")
    with at(3 * D + 5 * timedelta(minutes=1)):
        remediated.refresh_from_db()
        incident_change_severity(incident=remediated, by=lead, severity="high")
        revoke = step(remediated, 1)
        assert revoke.deadline == 4 * H  # high: revoke within four hours
        assert revoke.due_at == T0 + 3 * D + 4 * H
        assert revoke.state() == "on_track"


def test_reopen_needs_a_reason(lead, remediated):
    with pytest.raises(IncidentError, match="A reason is required"):
        step_reopen(step=step(remediated, 1), by=lead, reason="   ")
    assert step(remediated, 1).is_done


def test_a_step_reopened_while_paused_gets_its_time_from_the_resume(lead, remediated):
    with at(D):
        incident_pause(incident=remediated, by=lead, reason="waiting on AWS support")
    with at(2 * D):
        step_reopen(step=step(remediated, 1), by=lead, reason="wrong key deactivated")
    with at(5 * D):
        remediated.refresh_from_db()
        incident_resume(incident=remediated, by=lead)
    assert step(remediated, 1).due_at == T0 + 5 * D + H


def test_the_page_asks_for_a_reason_before_reopening(client, lead, remediated):
    client.force_login(lead)
    revoke = step(remediated, 1)
    target = reverse("step_reopen", args=[remediated.pk, revoke.pk])
    html = client.get(reverse("incident_detail", args=[remediated.pk])).content.decode()
    # Behind a disclosure, with what it does and a required reason; no one-click button.
    assert '<details class="reopen" data-testid="reopen-1"><summary>Reopen…</summary>' in html
    assert '<label>Reason for reopening <input name="reason" maxlength="500" required>' in html
    assert "the incident is no longer remediated. It gets a fresh deadline: 1 h from now" in html
    assert '<button type="submit">Reopen</button>' not in html

    with at(3 * D):
        response = client.post(target, {}, **HTMX)
        assert response.status_code == 400
        assert "Reason is required." in response.content.decode()
        assert step(remediated, 1).is_done
        response = client.post(target, {"reason": "key still works"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "reopened: key still works" in html
    assert step(remediated, 1).due_at == T0 + 3 * D + H
