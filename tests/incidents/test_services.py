from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hygiene.models import Finding
from incidents import services
from incidents.models import Incident, IncidentSecret, Notification, Step, TimelineEvent
from incidents.services import (
    IncidentError,
    incident_change_severity,
    incident_close,
    incident_open,
    incident_pause,
    incident_resume,
    incidents_auto_open,
    rotation_event_apply,
    step_complete,
    step_reopen,
    step_skip,
)
from tests.incidents.conftest import T0, make_finding, make_secret

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
D = timedelta(days=1)


def step(incident, position) -> Step:
    return Step.objects.select_related("incident").get(incident=incident, position=position)


def kinds(incident):
    return list(incident.timeline.order_by("id").values_list("kind", flat=True))


def finish_required(incident, by, *, skip_optional=True):
    for s in incident.steps.order_by("position"):
        if s.is_done:
            continue
        if s.required:
            step_complete(step=s, by=by, note=f"did {s.position}")
        elif skip_optional:
            step_skip(step=s, by=by, reason="not needed")


# --- opening ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "revoke", "rotate", "notify"),
    [
        ("critical", 1 * H, 4 * H, 24 * H),
        ("high", 4 * H, 24 * H, 72 * H),
        ("medium", 24 * H, 7 * D, 14 * D),
        ("low", 7 * D, 30 * D, 30 * D),
    ],
)
def test_open_sets_deadlines_per_severity_from_opening(
    lead, team, severity, revoke, rotate, notify
):
    with time_machine.travel(T0, tick=False):
        incident = incident_open(
            secrets=[make_secret(team=team)], opened_by=lead, severity=severity
        )
    assert incident.opened_at == T0
    by_action = {s.action: s for s in incident.steps.order_by("-position")}  # first wins
    for action, deadline in (("revoke", revoke), ("rotate", rotate), ("notify", notify)):
        s = by_action[action]
        assert s.started_at == T0
        assert s.due_at == T0 + deadline
        assert s.due_soon_at == T0 + deadline * 0.75
        assert s.deadline == deadline


def test_open_copies_the_playbook_and_takes_facts_from_the_secrets(lead, team, source):
    early = T0 - 30 * D
    low = make_secret(team=None, severity="medium", exposed_since=T0 - D)
    high = make_secret(team=team, severity="high", exposed_since=early)
    finding = make_finding(high, source)
    dismissed = make_finding(high, source, status="dismissed")
    with time_machine.travel(T0, tick=False):
        incident = incident_open(secrets=[low, high], opened_by=lead)
    assert incident.severity == "high"
    assert incident.team == team
    assert incident.exposed_since == early
    assert incident.playbook.slug == "aws-access-key"
    assert incident.steps.count() == incident.playbook.steps.count()
    assert set(incident.secrets.all()) == {low, high}
    assert Finding.objects.get(pk=finding.pk).status == "triaged"
    assert Finding.objects.get(pk=dismissed.pk).status == "dismissed"
    assert kinds(incident) == ["opened"]
    assert TimelineEvent.objects.filter(secret=high, kind="incident_opened").exists()


def test_one_open_incident_per_secret(lead, team):
    secret = make_secret(team=team)
    first = incident_open(secrets=[secret], opened_by=lead)
    with pytest.raises(IncidentError, match=f"already has an open incident \\({first.reference}"):
        incident_open(secrets=[secret, make_secret(team=team)], opened_by=lead)
    assert Incident.objects.count() == 1
    finish_required(first, lead)
    incident_close(incident=first, by=lead, summary="done")
    assert not IncidentSecret.objects.filter(secret=secret, active=True).exists()
    second = incident_open(secrets=[secret], opened_by=lead)
    assert second.pk != first.pk


def test_open_rejects_bad_input(lead):
    with pytest.raises(IncidentError, match="at least one secret"):
        incident_open(secrets=[], opened_by=lead)
    with pytest.raises(IncidentError, match="Unknown severity"):
        incident_open(secrets=[make_secret()], opened_by=lead, severity="apocalyptic")


def test_auto_open_policy_valid_or_critical_without_an_incident(lead, team):
    valid = make_secret(team=team, severity="low", validity="valid")
    critical = make_secret(team=team, severity="critical")
    boring = make_secret(team=team, severity="high", validity="invalid")
    busy = make_secret(team=team, severity="critical")
    existing = incident_open(secrets=[busy], opened_by=lead)
    opened = incidents_auto_open(
        secret_ids=[valid.pk, critical.pk, boring.pk, busy.pk], actor_label="gitleaks import #4"
    )
    assert [set(i.secrets.all()) for i in opened] == [{valid}, {critical}]
    assert all(i.auto_opened and i.opened_by is None for i in opened)
    ev = opened[0].timeline.get(kind="opened")
    assert ev.actor_label == "gitleaks import #4" and "automatically" in ev.message
    assert Incident.objects.count() == 3
    assert existing.secrets.get() == busy
    # Again: nothing new.
    assert incidents_auto_open(secret_ids=[valid.pk, critical.pk], actor_label="again") == []
    assert incidents_auto_open(secret_ids=[], actor_label="none") == []


def test_the_leads_hear_of_an_automatically_opened_incident_at_once(lead, second_lead, team):
    """Nobody opened it, nobody holds it: until its first step's notices (45 minutes into a
    one-hour revoke), nobody was told."""
    team.webhook_url = "https://hooks.example.com/payments"
    team.save()
    secret = make_secret(team=team, severity="critical")
    [incident] = incidents_auto_open(secret_ids=[secret.pk], actor_label="gitleaks import #4")
    sent = Notification.objects.filter(incident=incident, kind="opened")
    assert sorted(sent.values_list("channel", "recipient")) == [
        ("email", "lena@example.com"),
        ("email", "sam@example.com"),
        ("webhook", f"team:{team.pk}"),
    ]
    email = sent.filter(channel="email").first()
    assert email.subject.startswith(f"[Leakline] Opened: {incident.reference} · 1.")
    assert f"/incidents/{incident.pk}/" in email.body and "automatically" in email.body
    # Many at once (a first import): one message per lead, listing them.
    many = [make_secret(team=team, severity="critical") for _ in range(5)]
    opened = incidents_auto_open(secret_ids=[m.pk for m in many], actor_label="import #5")
    assert not Notification.objects.filter(incident__in=opened).exists()
    summary = Notification.objects.filter(incident=None, kind="opened")
    body = summary.filter(channel="email").first().body
    assert all(i.reference in body for i in opened)
    assert summary.first().subject == "[Leakline] 5 incidents opened automatically (import #5)"
    # The team hears on its webhook too, of its own incidents.
    assert sorted(summary.values_list("channel", "recipient")) == [
        ("email", "lena@example.com"),
        ("email", "sam@example.com"),
        ("webhook", f"team:{team.pk}"),
    ]
    # No lead with an address: the teams' addresses.
    type(lead).objects.filter(pk__in=[lead.pk, second_lead.pk]).update(email="")
    more = [make_secret(team=team, severity="critical") for _ in range(4)]
    incidents_auto_open(secret_ids=[m.pk for m in more], actor_label="import #6")
    assert Notification.objects.filter(
        subject__contains="(import #6)", channel="email", recipient="payments@example.com"
    ).exists()


def test_auto_open_picks_candidates_in_one_query(team):
    secrets = [make_secret(team=team, severity="medium") for _ in range(50)]
    with CaptureQueriesContext(connection) as ctx:
        assert incidents_auto_open(secret_ids=[s.pk for s in secrets], actor_label="x") == []
    assert len(ctx.captured_queries) == 1


# --- states and timers --------------------------------------------------------------------


def test_step_states_at_0_75_and_100_percent(lead, team):
    with time_machine.travel(T0, tick=False):
        incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    revoke = step(incident, 1)  # 1 h at critical
    assert revoke.state(T0) == "on_track"
    assert revoke.state(T0 + timedelta(minutes=44)) == "on_track"
    assert revoke.state(T0 + timedelta(minutes=45)) == "due_soon"
    assert revoke.state(T0 + timedelta(minutes=59)) == "due_soon"
    assert revoke.state(T0 + H) == "overdue"
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        step_complete(step=revoke, by=lead, note="deactivated")
    assert step(incident, 1).state() == "done_on_time"
    with time_machine.travel(T0 + 5 * H, tick=False):
        step_complete(step=step(incident, 2), by=lead, url="https://ci.example.com/run/1")
        late = incident.timeline.filter(kind="step_completed").last()
    assert step(incident, 2).state() == "done_late"
    assert "(late)" in late.message
    with time_machine.travel(T0 + 5 * H, tick=False):
        step_skip(step=step(incident, 6), by=lead, reason="repo is private")
    assert step(incident, 6).state() == "skipped"


def test_pause_freezes_the_clock_and_resume_moves_open_deadlines(lead, team):
    with time_machine.travel(T0, tick=False):
        incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        step_complete(step=step(incident, 1), by=lead, note="deactivated")
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        incident_pause(incident=incident, by=lead, reason="waiting on AWS support")
        with pytest.raises(IncidentError, match="already paused"):
            incident_pause(incident=incident, by=lead, reason="again")
    paused_rotate = step(incident, 2)
    # While paused the state is frozen at the pause, however long it lasts.
    assert paused_rotate.state(T0 + 10 * H) == "on_track"
    with time_machine.travel(T0 + timedelta(minutes=20) + 3 * H, tick=False):
        incident_resume(incident=incident, by=lead)
    incident.refresh_from_db()
    assert incident.paused_total == 3 * H and incident.paused_at is None
    rotate = step(incident, 2)
    assert rotate.due_at == T0 + 4 * H + 3 * H
    assert rotate.due_soon_at == T0 + 3 * H + 3 * H
    # The done step keeps its deadline.
    assert step(incident, 1).due_at == T0 + H
    with pytest.raises(IncidentError, match="not paused"):
        incident_resume(incident=incident, by=lead)
    assert kinds(incident)[-2:] == ["paused", "resumed"]
    # A second pause adds up.
    with time_machine.travel(T0 + 4 * H, tick=False):
        incident_pause(incident=incident, by=lead, reason="vendor")
    with time_machine.travel(T0 + 5 * H, tick=False):
        incident_resume(incident=incident, by=lead)
    incident.refresh_from_db()
    assert incident.paused_total == 4 * H
    assert step(incident, 2).due_at == T0 + 8 * H


def test_changing_severity_recomputes_open_deadlines_from_opening_plus_pauses(lead, team):
    with time_machine.travel(T0, tick=False):
        incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead, severity="low")
    with time_machine.travel(T0 + H, tick=False):
        step_complete(step=step(incident, 1), by=lead, note="deactivated")
        incident_pause(incident=incident, by=lead, reason="vendor")
    with time_machine.travel(T0 + 3 * H, tick=False):
        incident_resume(incident=incident, by=lead)  # paused 2 h
    with time_machine.travel(T0 + 4 * H, tick=False):
        incident_change_severity(incident=incident, by=lead, severity="high")
    incident.refresh_from_db()
    assert incident.severity == "high"
    rotate = step(incident, 2)
    assert rotate.deadline == 24 * H
    assert rotate.due_at == T0 + 2 * H + 24 * H
    assert rotate.due_soon_at == T0 + 2 * H + 18 * H
    notify = step(incident, 5)
    assert notify.due_at == T0 + 2 * H + 72 * H
    # Done steps keep theirs.
    assert step(incident, 1).due_at == T0 + 7 * D
    ev = incident.timeline.get(kind="severity_changed")
    assert ev.message.startswith("Severity low → high;") and "recomputed" in ev.message
    with pytest.raises(IncidentError, match="already high"):
        incident_change_severity(incident=incident, by=lead, severity="high")
    with pytest.raises(IncidentError, match="Unknown severity"):
        incident_change_severity(incident=incident, by=lead, severity="info")


# --- steps and status ---------------------------------------------------------------------


def test_dependencies_block_completion_until_done_or_skipped(lead, aws_incident):
    delete_old = step(aws_incident, 4)  # depends on 2 (roll out the new key)
    with pytest.raises(IncidentError, match=r"waits on: 2\. Create a new key"):
        step_complete(step=delete_old, by=lead, note="deleted")
    step_complete(step=step(aws_incident, 2), by=lead, note="rolled out")
    step_complete(step=delete_old, by=lead, note="deleted")
    assert step(aws_incident, 4).completed_at is not None


def test_completion_needs_evidence_and_a_real_link(lead, aws_incident):
    with pytest.raises(IncidentError, match="Add evidence"):
        step_complete(step=step(aws_incident, 1), by=lead)
    with pytest.raises(IncidentError, match="http\\(s\\) URL"):
        step_complete(step=step(aws_incident, 1), by=lead, url="javascript:alert(1)")
    step_complete(step=step(aws_incident, 1), by=lead, note="ok")
    with pytest.raises(IncidentError, match="already"):
        step_complete(step=step(aws_incident, 1), by=lead, note="again")


def test_status_follows_the_steps_and_reopen_walks_it_back(lead, aws_incident):
    assert aws_incident.status == "open"
    step_complete(step=step(aws_incident, 1), by=lead, note="deactivated")
    aws_incident.refresh_from_db()
    assert aws_incident.status == "contained" and aws_incident.contained_at is not None
    finish_required(aws_incident, lead)
    aws_incident.refresh_from_db()
    assert aws_incident.status == "remediated" and aws_incident.remediated_at is not None
    step_reopen(step=step(aws_incident, 7), by=lead, reason="redo")
    aws_incident.refresh_from_db()
    assert aws_incident.status == "contained" and aws_incident.remediated_at is None
    reopened = step(aws_incident, 7)
    assert reopened.completed_at is None and reopened.evidence_note == ""
    step_reopen(step=step(aws_incident, 1), by=lead, reason="redo")
    step_reopen(step=step(aws_incident, 4), by=lead, reason="redo")
    aws_incident.refresh_from_db()
    assert aws_incident.status == "open" and aws_incident.contained_at is None
    assert "status_changed" in kinds(aws_incident)
    with pytest.raises(IncidentError, match="not done"):
        step_reopen(step=step(aws_incident, 1), by=lead, reason="redo")


def test_skip_needs_a_reason_and_engineers_skip_only_optional_steps(lead, engineer, aws_incident):
    with pytest.raises(IncidentError, match="reason is required"):
        step_skip(step=step(aws_incident, 6), by=engineer, reason="  ")
    with pytest.raises(PermissionDenied):
        step_skip(step=step(aws_incident, 5), by=engineer, reason="meh")
    step_skip(step=step(aws_incident, 6), by=engineer, reason="repo never pushed")
    step_skip(step=step(aws_incident, 5), by=lead, reason="owner is the reporter")
    assert step(aws_incident, 5).skipped_reason == "owner is the reporter"


def test_a_skipped_revoke_step_leaves_the_key_unrevoked(lead, aws_incident):
    """Skipped ("the vendor can't revoke yet") is not done: the key may still work, so its
    findings must reopen when a scan reports them again (a revoked secret's don't)."""
    secret = aws_incident.secrets.get()
    revoke = step(aws_incident, 1)
    assert revoke.action == "revoke"
    step_skip(step=revoke, by=lead, reason="the vendor can't revoke it yet")
    secret.refresh_from_db()
    assert secret.validity != "revoked"
    step_reopen(step=step(aws_incident, 1), by=lead, reason="the vendor can now")
    step_complete(step=step(aws_incident, 1), by=lead, note="deactivated in IAM")
    secret.refresh_from_db()
    assert secret.validity == "revoked"


def test_close_needs_a_summary_and_no_required_step_open(lead, aws_incident):
    with pytest.raises(IncidentError, match="summary is required"):
        incident_close(incident=aws_incident, by=lead, summary="")
    with pytest.raises(IncidentError, match=r"Required steps are still open: 1\. Deactivate"):
        incident_close(incident=aws_incident, by=lead, summary="done")
    finish_required(aws_incident, lead, skip_optional=False)
    incident_pause(incident=aws_incident, by=lead, reason="vendor")
    incident_close(incident=aws_incident, by=lead, summary="Key deactivated and replaced.")
    aws_incident.refresh_from_db()
    assert aws_incident.status == "closed" and aws_incident.closed_at is not None
    assert aws_incident.summary == "Key deactivated and replaced."
    assert aws_incident.paused_at is None
    purge = step(aws_incident, 6)  # optional, left open → skipped by the close
    assert purge.skipped_reason == "incident closed"
    with pytest.raises(IncidentError, match="is closed"):
        step_reopen(step=step(aws_incident, 1), by=lead, reason="redo")
    with pytest.raises(IncidentError, match="is closed"):
        incident_close(incident=aws_incident, by=lead, summary="again")


def test_closing_can_resolve_the_open_findings_of_its_secrets(lead, aws_incident, source):
    """The credential is revoked or rotated: what the scanners found of it, wherever, is
    fixed — asked for on the close form (the findings stayed in the triage queue)."""
    secret = aws_incident.secrets.get()
    # (Opening the incident moved the secret's open findings to triaged; these come later.)
    found = [make_finding(secret, source), make_finding(secret, source, status="triaged")]
    dismissed = make_finding(secret, source, status="dismissed")
    other = make_finding(make_secret(), source)
    finish_required(aws_incident, lead)
    incident_close(
        incident=aws_incident, by=lead, summary="Key deactivated.", resolve_findings=True
    )
    statuses = dict(Finding.objects.values_list("pk", "status"))
    assert [statuses[f.pk] for f in found] == ["resolved", "resolved"]
    assert (statuses[dismissed.pk], statuses[other.pk]) == ("dismissed", "open")
    resolved = Finding.objects.get(pk=found[0].pk)
    assert (resolved.resolution, resolved.resolved_by) == ("fixed", lead)
    assert resolved.resolution_comment == f"INC-{aws_incident.pk} closed: Key deactivated."
    assert TimelineEvent.objects.filter(finding=resolved, kind="finding.status").exists()


def test_closing_with_more_findings_than_a_bulk_action_takes_says_so(
    lead, aws_incident, source, monkeypatch
):
    from hygiene.services import triage

    monkeypatch.setattr(triage, "BULK_LIMIT", 1)
    secret = aws_incident.secrets.get()
    make_finding(secret, source), make_finding(secret, source)
    finish_required(aws_incident, lead)
    with pytest.raises(IncidentError):
        incident_close(incident=aws_incident, by=lead, summary="done", resolve_findings=True)
    aws_incident.refresh_from_db()
    assert aws_incident.status != "closed"  # nothing half-done


def test_closing_leaves_the_findings_unless_asked(lead, aws_incident, source):
    finding = make_finding(aws_incident.secrets.get(), source)
    finish_required(aws_incident, lead)
    incident_close(incident=aws_incident, by=lead, summary="Key deactivated.")
    finding.refresh_from_db()
    assert finding.status == "open"


def test_review_with_follow_ups(lead, engineer, aws_incident):
    with pytest.raises(IncidentError, match="remediated or closed"):
        services.incident_review(
            incident=aws_incident, by=lead, what_happened="x", lessons="", follow_ups=[]
        )
    finish_required(aws_incident, lead)
    services.incident_review(
        incident=aws_incident,
        by=lead,
        what_happened="Key committed in a config file",
        lessons="Use OIDC in CI",
        follow_ups=[("Move CI to OIDC", engineer, T0 + 30 * D)],
    )
    follow_up = aws_incident.follow_ups.get()
    assert (follow_up.title, follow_up.owner, follow_up.due_at) == (
        "Move CI to OIDC",
        engineer,
        T0 + 30 * D,
    )
    with pytest.raises(IncidentError, match="due date"):
        services.incident_review(
            incident=aws_incident,
            by=lead,
            what_happened="x",
            lessons="",
            follow_ups=[("No date", None, None)],
        )
    services.follow_up_done(follow_up=follow_up, by=engineer)
    follow_up.refresh_from_db()
    assert follow_up.done_at is not None
    assert {"reviewed", "follow_up_done"} <= set(kinds(aws_incident))


def test_timeline_is_append_only(aws_incident):
    event = aws_incident.timeline.first()
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


# --- rotator events -----------------------------------------------------------------------


def test_rotated_event_completes_the_rotate_step_with_the_event_as_evidence(
    lead, aws_incident, event_factory
):
    secret = aws_incident.secrets.get()
    event = event_factory(
        secret,
        "rotated",
        actor="deploy-bot",
        event_name="CreateAccessKey",
        evidence_url="https://console.aws.amazon.com/cloudtrail/ev-1",
    )
    touched = rotation_event_apply(event=event)
    assert [s.position for s in touched] == [2]
    rotate = step(aws_incident, 2)
    assert rotate.evidence_event == event and rotate.completed_by is None
    assert rotate.evidence_url == "https://console.aws.amazon.com/cloudtrail/ev-1"
    ev = aws_incident.timeline.filter(kind="step_completed").last()
    assert ev.actor is None and ev.actor_label == "deploy-bot via CloudTrail"
    event.refresh_from_db()
    assert event.applied_at is not None
    # Applying twice does nothing.
    assert rotation_event_apply(event=event) == []


def test_an_event_with_a_strange_link_still_completes_without_the_link(aws_incident, event_factory):
    event = event_factory(aws_incident.secrets.get(), "rotated", evidence_url="javascript:alert(1)")
    assert [s.position for s in rotation_event_apply(event=event)] == [2]
    assert step(aws_incident, 2).evidence_url == ""


def test_revoked_event_completes_the_revoke_step_and_contains(aws_incident, event_factory):
    event = event_factory(aws_incident.secrets.get(), "revoked", event_name="UpdateAccessKey")
    assert [s.position for s in rotation_event_apply(event=event)] == [1]
    aws_incident.refresh_from_db()
    assert aws_incident.status == "contained"


def test_revoked_event_blocked_by_dependencies_is_recorded_not_failed(
    lead, aws_incident, event_factory
):
    step_complete(step=step(aws_incident, 1), by=lead, note="deactivated")
    # Next open revoke step is "delete the old key", which waits on the rotation.
    event = event_factory(aws_incident.secrets.get(), "revoked", event_name="DeleteAccessKey")
    assert rotation_event_apply(event=event) == []
    assert step(aws_incident, 4).completed_at is None
    note = aws_incident.timeline.filter(kind="rotation_event").last()
    assert "waits on 2." in note.message
    event.refresh_from_db()
    assert event.applied_at is not None


def test_verified_event_completes_the_verify_step(lead, aws_incident, event_factory):
    step_complete(step=step(aws_incident, 1), by=lead, note="deactivated")
    event = event_factory(aws_incident.secrets.get(), "verified")
    assert [s.position for s in rotation_event_apply(event=event)] == [7]


def test_rotation_failed_sets_an_alert_and_calls_the_notification_hook(
    aws_incident, event_factory, monkeypatch
):
    calls = []
    import sys
    import types

    hook = types.ModuleType("incidents.notifications")
    hook.notify_alert = lambda *, step, message, event_key: calls.append(
        (step.pk, message, event_key)
    )
    monkeypatch.setitem(sys.modules, "incidents.notifications", hook)
    event = event_factory(aws_incident.secrets.get(), "rotation_failed", detail="AccessDenied")
    touched = rotation_event_apply(event=event)
    rotate = step(aws_incident, 2)
    assert [s.pk for s in touched] == [rotate.pk]
    assert rotate.alert == "Rotation failed: AccessDenied" and rotate.completed_at is None
    assert calls == [(rotate.pk, "Rotation failed: AccessDenied", f"rotation-event-{event.pk}")]
    assert aws_incident.timeline.filter(kind="rotation_failed").exists()


def test_rotation_failed_with_the_real_notifications_writes_an_alert(
    lead, engineer, aws_incident, event_factory
):
    from incidents.models import Notification

    services.incident_assign(incident=aws_incident, by=lead, owner=engineer)
    event = event_factory(aws_incident.secrets.get(), "rotation_failed", detail="AccessDenied")
    rotation_event_apply(event=event)
    assert step(aws_incident, 2).alert == "Rotation failed: AccessDenied"
    assert Notification.objects.filter(step=step(aws_incident, 2)).exists()


def test_events_without_an_open_incident_wait_for_one(event_factory):
    secret = make_secret(exposed_since=T0 - D)
    event = event_factory(secret, "rotated", occurred_at=T0)
    assert rotation_event_apply(event=event) == []
    event.refresh_from_db()
    assert event.applied_at is None  # left for an incident opened later
    with time_machine.travel(T0 + H, tick=False):
        incident = incident_open(secrets=[secret], opened_by=None, auto=True, actor_label="p")
    with time_machine.travel(T0 + 2 * H, tick=False):
        assert [s.position for s in rotation_event_apply(event=event)] == [2]
    # It happened before the incident: counted as done at the opening, not before it.
    assert step(incident, 2).completed_at == T0 + H


# --- permissions --------------------------------------------------------------------------


def _actions(incident, lead_user):
    """Each action as a callable taking the acting user, and whether engineers may do it."""
    s1 = step(incident, 1)
    s6 = step(incident, 6)
    return {
        "complete": (lambda u: step_complete(step=s1, by=u, note="n"), True),
        "skip_optional": (lambda u: step_skip(step=s6, by=u, reason="r"), True),
        "comment": (lambda u: services.incident_comment(incident=incident, by=u, text="t"), True),
        "pause": (lambda u: incident_pause(incident=incident, by=u, reason="r"), False),
        "severity": (
            lambda u: incident_change_severity(incident=incident, by=u, severity="low"),
            False,
        ),
        "assign": (lambda u: services.incident_assign(incident=incident, by=u, owner=u), False),
        "step_assign": (lambda u: services.step_assign(step=s1, by=u, assignee=lead_user), False),
        "close": (lambda u: incident_close(incident=incident, by=u, summary="s"), False),
        "open": (lambda u: incident_open(secrets=[make_secret()], opened_by=u), False),
    }


@pytest.mark.parametrize(
    "action",
    [
        "complete",
        "skip_optional",
        "comment",
        "pause",
        "severity",
        "assign",
        "step_assign",
        "close",
        "open",
    ],
)
@pytest.mark.parametrize("who", ["engineer", "other_engineer", "manager", "outsider"])
def test_permission_matrix(request, lead, team, other_team, action, who):
    from hygiene import roles
    from tests.conftest import make_user

    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    if who == "other_engineer":
        user = make_user("otto", roles.ENGINEER)
        other_team.members.add(user)
    else:
        user = request.getfixturevalue(who)
    run, engineers_may = _actions(incident, lead)[action]
    if who == "engineer" and engineers_may:
        run(user)
    else:
        with pytest.raises(PermissionDenied):
            run(user)


@pytest.mark.parametrize(
    "action",
    ["complete", "skip_optional", "comment", "pause", "severity", "assign", "step_assign", "open"],
)
def test_leads_may_do_everything(lead, team, action):
    incident = incident_open(secrets=[make_secret(team=team)], opened_by=lead)
    run, _ = _actions(incident, lead)[action]
    run(lead)


def test_an_engineer_assigned_a_step_may_work_an_incident_of_another_team(
    lead, other_team, engineer
):
    incident = incident_open(secrets=[make_secret(team=other_team)], opened_by=lead)
    with pytest.raises(PermissionDenied):
        step_complete(step=step(incident, 1), by=engineer, note="n")
    services.step_assign(step=step(incident, 1), by=lead, assignee=engineer)
    step_complete(step=step(incident, 1), by=engineer, note="n")


def test_an_engineer_takes_a_step_nobody_has_and_nothing_else(
    lead, engineer, second_lead, aws_incident, other_team
):
    """Leads assign anyone; an engineer of the team may take an unassigned step themselves
    (the assign button answered 403), not give steps to others or take someone's."""
    with pytest.raises(PermissionDenied, match="assign steps to others"):
        services.step_assign(step=step(aws_incident, 1), by=engineer, assignee=second_lead)
    services.step_assign(step=step(aws_incident, 1), by=engineer, assignee=engineer)
    assert step(aws_incident, 1).assignee == engineer
    services.step_assign(step=step(aws_incident, 2), by=lead, assignee=second_lead)
    with pytest.raises(IncidentError, match="someone may have just taken it"):
        services.step_assign(step=step(aws_incident, 2), by=engineer, assignee=engineer)
    with pytest.raises(PermissionDenied, match="assign steps to others"):
        services.step_assign(step=step(aws_incident, 1), by=engineer, assignee=None)
    # Not on another team's incident.
    theirs = incident_open(secrets=[make_secret(team=other_team)], opened_by=lead)
    with pytest.raises(PermissionDenied):
        services.step_assign(step=step(theirs, 1), by=engineer, assignee=engineer)


def test_managers_cant_be_assigned(lead, manager, aws_incident):
    with pytest.raises(IncidentError, match="can't"):
        services.incident_assign(incident=aws_incident, by=lead, owner=manager)


@pytest.mark.parametrize("leak_dated", [True, False])
def test_a_rotation_dated_before_the_leak_completes_nothing(event_factory, leak_dated):
    # An automatic rotation that made the leaked value, or the leaked IAM key's own creation,
    # did nothing about this leak. Known only since it was found (no commit date), the leak
    # may be older than the event: then the event counts.
    from hygiene.models import Secret

    secret = make_secret(exposed_since=T0)
    if leak_dated:  # committed at T0, found by an import an hour later
        Secret.objects.filter(pk=secret.pk).update(first_seen_at=T0 + H)
        secret.refresh_from_db()
    with time_machine.travel(T0 + H, tick=False):
        incident = incident_open(secrets=[secret], opened_by=None, auto=True, actor_label="p")
    with time_machine.travel(T0 + 2 * H, tick=False):
        before = event_factory(secret, "rotated", occurred_at=T0 - D, event_name="PutSecretValue")
        if not leak_dated:
            assert [s.position for s in rotation_event_apply(event=before)] == [2]
            return
        assert rotation_event_apply(event=before) == []
        assert step(incident, 2).completed_at is None
        said = incident.timeline.filter(kind="rotation_event").last().message
        assert "before the secret was exposed" in said and "stays open" in said
        after = event_factory(secret, "rotated", occurred_at=T0 + H, event_name="PutSecretValue")
        assert [s.position for s in rotation_event_apply(event=after)] == [2]


@pytest.mark.parametrize("older_key_active", [True, False])
def test_a_credential_report_revokes_a_leaked_key_only_if_no_older_key_is_active(
    event_factory, older_key_active
):
    # The report has no key ids: an inactive slot of the user proves the leaked key is off
    # only when no key the user created before the leak is still active.
    secret = make_secret(exposed_since=T0)
    with time_machine.travel(T0 + H, tick=False):
        incident = incident_open(secrets=[secret], opened_by=None, auto=True, actor_label="p")
    user = "credential-report:arn:aws:iam::123456789012:user/carol"
    created = T0 - 90 * D if older_key_active else T0 + H
    with time_machine.travel(T0 + 2 * H, tick=False):
        event_factory(
            secret,
            "rotated",
            occurred_at=created,
            event_name="CredentialReport",
            event_id=f"{user}:key1:active:{created:%Y-%m-%dT%H:%M:%S}",
        )
        revoked = event_factory(
            secret,
            "revoked",
            occurred_at=None,
            event_name="CredentialReport",
            event_id=f"{user}:key2:inactive:2022-01-01T00:00:00",
        )
        done = [s.position for s in rotation_event_apply(event=revoked)]
    assert done == ([] if older_key_active else [1])
    assert (step(incident, 1).completed_at is None) is older_key_active
