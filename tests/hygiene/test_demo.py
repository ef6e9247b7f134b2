"""The demo data `make run` offers: loads once, and tells a consistent story — every incident's
steps, deadlines, escalations and timeline read as if the app had been used for weeks."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hygiene import demo, metrics
from hygiene.metrics import MetricFilters
from hygiene.models import Finding
from incidents import services
from incidents.models import (
    EscalationState,
    Incident,
    IncidentStatus,
    Notification,
    NotificationStatus,
    Step,
    TimelineEvent,
)
from incidents.timers import sweep

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def now(django_db_setup, django_db_blocker):
    """The demo, loaded once for this module (it takes seconds) and rolled back after it; each
    test runs in a savepoint inside. Returns the moment the demo's history ends."""
    with django_db_blocker.unblock(), transaction.atomic():
        now = timezone.now()
        assert demo.seed(now=now) is True
        yield now
        transaction.set_rollback(True)


def _events(incident, kind=None):
    events = TimelineEvent.objects.filter(incident=incident).order_by("created_at", "id")
    return [e for e in events if kind is None or e.kind == kind]


def test_demo_data_loads_once_and_its_history_is_consistent(now):
    counts = (TimelineEvent.objects.count(), Notification.objects.count(), Step.objects.count())
    assert demo.seed() is False  # idempotent: a second run changes nothing
    assert counts == (
        TimelineEvent.objects.count(),
        Notification.objects.count(),
        Step.objects.count(),
    )
    assert Finding.objects.exists() and Incident.objects.count() > 5
    # Exposed no later than opened, revoked no earlier than opened.
    assert not Incident.objects.filter(exposed_since__gt=F("opened_at")).exists()
    assert not Incident.objects.filter(contained_at__lt=F("opened_at")).exists()
    exposure = metrics.exposure(MetricFilters())
    assert exposure["revoked"]["n"] > 0 and exposure["revoked"]["min"] >= 0
    # Some of everything an evaluator should see.
    statuses = set(Incident.objects.values_list("status", flat=True))
    assert {IncidentStatus.CLOSED, IncidentStatus.OPEN} <= statuses
    assert Step.objects.filter(completed_at__gt=F("due_at")).exists()  # some done late
    # A closed incident's findings were resolved as it closed (the metrics' closed findings and
    # times to fix have a history); an open one's are not.
    for incident in Incident.objects.filter(status=IncidentStatus.CLOSED):
        findings = Finding.objects.filter(secret__incidentsecret__incident=incident)
        assert findings.exists()
        assert set(findings.values_list("status", "resolved_at")) == {
            ("resolved", incident.closed_at)
        }
    # Each step a close skipped says so in the timeline, by whom (as incident_close writes).
    skipped_by_close = Step.objects.filter(skipped_reason="incident closed")
    assert skipped_by_close.exists()
    for step in skipped_by_close:
        (entry,) = TimelineEvent.objects.filter(step=step, kind="step_skipped")
        assert entry.actor is not None and entry.created_at == step.skipped_at
    still_open = Incident.objects.exclude(status=IncidentStatus.CLOSED)
    assert Finding.objects.filter(
        secret__incidentsecret__incident__in=still_open, status__in=("open", "triaged")
    ).exists()


def test_steps_are_done_in_order_by_whom_the_timeline_says(now):
    for incident in Incident.objects.all():
        steps = {s.position: s for s in incident.steps.all()}
        completed = {e.step_id: e for e in _events(incident, "step_completed")}
        assigned = {e.step_id: e for e in _events(incident, "step_assigned")}
        for step in steps.values():
            label = f"{incident.reference} step {step.position}"
            if step.assignee_id:
                event = assigned.get(step.pk)
                assert event and event.data["assignee"] == step.assignee_id, label
                assert event.created_at >= incident.opened_at, label
            if not step.completed_at:
                assert step.pk not in completed, label
                continue
            # Its dependencies were done (or skipped) before it.
            for dep in step.depends_on:
                dep_done = steps[dep].completed_at or steps[dep].skipped_at
                assert dep_done and dep_done <= step.completed_at, f"{label} before step {dep}"
            # The timeline says who did it, when, and whether it was late.
            event = completed.get(step.pk)
            assert event is not None, f"{label} done without a timeline entry"
            assert event.created_at == step.completed_at, label
            assert event.actor_id == step.completed_by_id, label
            assert event.message.endswith("(late)") == (step.completed_at > step.due_at), label
            # By someone the app lets work on it, after it was assigned.
            assert services.can_work(step.completed_by, incident), label
            if step.pk in assigned:
                assert assigned[step.pk].created_at <= step.completed_at, label


def test_each_timeline_tells_the_incident_from_opening_to_close(now):
    for incident in Incident.objects.all():
        events = _events(incident)
        ref = incident.reference
        # Opened first (the app's own event is written a moment after the opening instant).
        assert events[0].kind == "opened", ref
        assert timedelta(0) <= events[0].created_at - incident.opened_at < timedelta(seconds=5)
        assert all(incident.opened_at <= e.created_at <= timezone.now() for e in events), ref
        steps = list(incident.steps.all())
        revokes = [s.completed_at or s.skipped_at for s in steps if s.action == "revoke"]
        assert incident.contained_at == min(filter(None, revokes), default=None), ref
        # The status changes chain from open to the status the incident has.
        changes = [(e.data["old"], e.data["new"]) for e in events if e.kind == "status_changed"]
        status = IncidentStatus.OPEN
        for old, new in changes:
            assert old == status, ref
            status = new
        if incident.status == IncidentStatus.CLOSED:
            assert status == IncidentStatus.REMEDIATED, ref
            assert events[-1].kind == "closed" and events[-1].created_at == incident.closed_at
            assert all(s.is_done for s in steps), ref
            for s in steps:
                if s.skipped_at:
                    assert (s.skipped_at, s.skipped_reason) == (
                        incident.closed_at,
                        "incident closed",
                    )
            assert incident.remediated_at <= incident.closed_at, ref
        else:
            assert status == incident.status, ref
            assert not [e for e in events if e.kind == "closed"], ref


def test_deadlines_are_recent_and_escalated_as_the_sweep_would(now):
    period = timedelta(minutes=settings.LEAKLINE_NAG_PERIOD_MINUTES)
    open_steps = Step.objects.filter(
        completed_at__isnull=True, skipped_at__isnull=True, incident__paused_at__isnull=True
    ).exclude(incident__status=IncidentStatus.CLOSED)
    overdue = list(open_steps.filter(due_at__lte=now))
    # A few steps overdue, recently: not weeks of neglect nobody was told about.
    assert 0 < len(overdue) <= 10
    for step in overdue:
        label = f"{step.incident.reference} step {step.position}"
        assert now - step.due_at < timedelta(days=1), label
        assert step.escalation == EscalationState.OVERDUE, label
        kinds = {e.kind: e for e in TimelineEvent.objects.filter(step=step)}
        assert kinds["step_overdue"].created_at == step.due_at, label
        if step.due_at + period <= now:  # past the escalation threshold: the leads were told
            assert step.escalation_level == 2, label
            assert "step_escalated" in kinds, label
    # Every step done late was overdue before it was done, and the sweep said so then.
    for step in Step.objects.filter(completed_at__gt=F("due_at")):
        event = TimelineEvent.objects.get(step=step, kind="step_overdue")
        assert event.created_at == step.due_at <= step.completed_at
        assert event.actor_label == "timer sweep"
    # The escalations are the sweep's own: running it at the demo's "now" has nothing to add.
    counts = sweep(now=now)
    assert [counts[k] for k in ("due_soon", "overdue", "escalated", "nagged")] == [0, 0, 0, 0]
    # ...and what it told people was sent back then, not queued for the evaluator's inbox.
    assert Notification.objects.exists()
    assert not Notification.objects.exclude(status=NotificationStatus.SENT).exists()
    assert not Notification.objects.filter(sent_at__gt=now).exists()


def _shape(event) -> tuple:
    message = re.sub(r"“[^”]*”", "“…”", event.message)
    message = re.sub(r"\d+", "N", message)
    message = re.sub(r"assigned to .*", "assigned to X", message)
    message = re.sub(r"→ \w+", "→ S", re.sub(r"Status \w+", "Status S", message))
    message = re.sub(r"done \(late\)$", "done", message)
    if event.kind == "comment":
        message = "(what they wrote)"
    return (
        event.kind,
        message,
        tuple(sorted(event.data)),
        event.actor_label,
        event.actor_id is None,
    )


def test_demo_timeline_entries_read_like_the_apps(now):
    """The demo writes its history the way incidents/services.py does: the same kinds,
    messages and data as an incident worked through the real services."""
    lead = User.objects.get(username="lead")
    engineer = User.objects.get(username="engineer")
    closed = Incident.objects.filter(status=IncidentStatus.CLOSED).order_by("pk").first()
    incident = services.incident_open(secrets=list(closed.secrets.all()), opened_by=lead)
    for step in incident.steps.all():
        services.step_assign(step=step, by=lead, assignee=engineer)
        services.step_complete(step=step, by=engineer, note="Done, see the ticket.")
    services.incident_comment(incident=incident, by=engineer, text="All done.")
    services.incident_close(incident=incident, by=lead, summary="Revoked and rotated.")
    app = {_shape(e) for e in _events(incident)}
    demo_kinds = {"step_assigned", "step_completed", "status_changed", "comment", "closed"}
    demo_events = TimelineEvent.objects.filter(incident__isnull=False, kind__in=demo_kinds)
    shapes = {_shape(e) for e in demo_events.exclude(incident=incident)}
    assert {s[0] for s in shapes} == demo_kinds
    assert shapes - app == set()
