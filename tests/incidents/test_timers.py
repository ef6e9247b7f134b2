"""The deadline sweep, with frozen time: on track → due soon → overdue → security leads → nags,
each exactly once, even when sweeps run twice or at the same instant."""

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection

from incidents import notifications, timers
from incidents.models import (
    EscalationState,
    IncidentStatus,
    Notification,
    Step,
    TimelineEvent,
)
from incidents.timers import sweep

pytest.register_assert_rewrite("tests.incidents.conftest_timers")
from tests.incidents.conftest_timers import T0, run_worker  # noqa: E402

pytest_plugins = ["tests.incidents.conftest_timers"]


@pytest.fixture(autouse=True)
def _hourly_nags(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LEAKLINE_NAG_PERIOD_MINUTES = 60
    settings.LEAKLINE_WEBHOOK_SIGNING_KEY = "k"


def at(offset: timedelta):
    return time_machine.travel(T0 + offset, tick=False)


def nothing_happened(counts: dict) -> bool:
    return not any(counts[k] for k in ("due_soon", "overdue", "escalated", "nagged", "errors"))


def rows(step, kind=None):
    qs = Notification.objects.filter(step=step)
    if kind:
        qs = qs.filter(kind=kind)
    return sorted((n.channel, n.recipient) for n in qs)


def kinds(step):
    return list(
        TimelineEvent.objects.filter(step=step).order_by("id").values_list("kind", flat=True)
    )


def test_it_walks_a_step_through_every_escalation_exactly_once(
    make_step, engineer, lead, second_lead, team, webhook_server
):
    team.webhook_url = webhook_server.url
    team.save()
    step = make_step(assignee=engineer, owner=second_lead)
    hook = ("webhook", f"team:{team.pk}")

    with at(timedelta(hours=1)):
        assert nothing_happened(sweep())
        assert step.state() == "on_track"
        assert rows(step) == []

    with at(timedelta(hours=3)):  # 75 % of 4 h used
        first, again = sweep(), sweep()
        assert (first["due_soon"], again["due_soon"]) == (1, 0)
        assert rows(step, "due_soon") == [("email", "erik@example.com")]

    with at(timedelta(hours=4)):
        first, again = sweep(), sweep()
        assert (first["overdue"], again["overdue"]) == (1, 0)
        assert rows(step, "overdue") == sorted(
            [("email", "erik@example.com"), ("email", "sam@example.com"), hook]
        )
        step.refresh_from_db()
        assert (step.escalation, step.escalation_level) == (EscalationState.OVERDUE, 1)
        assert step.next_nag_at == T0 + timedelta(hours=5)

    with at(timedelta(hours=4, minutes=59)):
        assert sweep()["escalated"] == 0

    with at(timedelta(hours=5)):  # still overdue one nag period later → the security leads
        first, again = sweep(), sweep()
        assert (first["escalated"], again["escalated"]) == (1, 0)
        assert rows(step, "escalated") == sorted(
            [
                ("email", "lena@example.com"),
                ("email", "sam@example.com"),
                ("email", "erik@example.com"),
                hook,
            ]
        )
        step.refresh_from_db()
        assert step.escalation_level == 2

    for hour in (6, 7):
        with at(timedelta(hours=hour)):
            first, again = sweep(), sweep()
            assert (first["nagged"], again["nagged"]) == (1, 0)
    assert len(rows(step, "nag")) == 4  # two reminders, to the assignee and the owner

    step.completed_at = T0 + timedelta(hours=7, minutes=30)
    step.save()
    with at(timedelta(hours=9)):
        assert sweep()["nagged"] == 0
    assert len(rows(step, "nag")) == 4
    assert kinds(step) == [
        "step_due_soon",
        "step_overdue",
        "step_escalated",
        "step_nagged",
        "step_nagged",
    ]
    keys = set(Notification.objects.values_list("dedupe_key", flat=True))
    assert f"step:{step.pk}:due_soon:user:{engineer.pk}" in keys
    assert f"step:{step.pk}:overdue:1:user:{engineer.pk}" in keys
    assert f"step:{step.pk}:overdue:2:user:{lead.pk}" in keys


def test_it_records_who_was_told_on_the_timeline(make_step, engineer):
    step = make_step(assignee=engineer)
    with at(timedelta(hours=4)):
        sweep()
    event = TimelineEvent.objects.get(step=step)
    assert event.kind == "step_overdue"
    assert event.actor_label == "timer sweep"
    assert "erik@example.com" in event.message
    assert event.created_at == T0 + timedelta(hours=4)
    assert sorted(event.data["notifications"]) == sorted(
        Notification.objects.filter(step=step).values_list("pk", flat=True)
    )


def test_it_tells_the_owner_when_nobody_is_assigned(make_step, lead):
    step = make_step(assignee=None, owner=lead)
    with at(timedelta(hours=3)):
        sweep()
    assert rows(step, "due_soon") == [("email", "lena@example.com")]


def test_it_falls_back_to_the_team_address_when_nobody_personal_is_reachable(make_step, team):
    step = make_step(assignee=None, owner=None)
    with at(timedelta(hours=4)):
        sweep()
    assert rows(step, "overdue") == [("email", "payments@example.com")]


def test_with_nobody_reachable_the_security_leads_are_told_at_once(make_step, team, lead):
    """An incident the import policy opened has no owner and no assignee; a team made in the
    admin has no address: the timeline said "notified nobody" until the escalation, a nag
    period past the deadline."""
    team.email = ""
    team.save()
    step = make_step(assignee=None, owner=None)
    with at(timedelta(hours=3)):
        sweep()
    assert rows(step, "due_soon") == [("email", "lena@example.com")]
    with at(timedelta(hours=4)):
        sweep()
    assert rows(step, "overdue") == [("email", "lena@example.com")]
    assert "nobody" not in TimelineEvent.objects.get(step=step, kind="step_overdue").message
    # The escalation tells them again; the hourly nags after it don't (one a lead a step an hour
    # for every unowned incident, forever).
    for hours in (5, 6, 7):
        with at(timedelta(hours=hours)):
            sweep()
    assert rows(step, "escalated") == [("email", "lena@example.com")]
    assert not Notification.objects.filter(step=step, kind="nag").exists()
    # Someone to tell: the leads hear of it at the escalation, as before.
    other = make_step(assignee=None, owner=None, incident_team=team)
    team.webhook_url = "https://hooks.example.com/x"
    team.save()
    with at(timedelta(hours=4)):
        sweep()
    assert rows(other, "overdue") == [("webhook", f"team:{team.pk}")]


def test_a_person_told_of_many_steps_at_once_gets_one_message(make_step, team, lead):
    """An import that opened hundreds of incidents has their steps fall due together: one
    message per person per sweep listing them, not hundreds; each step's timeline names who
    heard of it, and the next sweep sends nothing again."""
    team.email = ""
    team.save()
    steps = [make_step(assignee=None, owner=None) for _ in range(7)]
    with at(timedelta(hours=4)):
        sweep()
        sweep()
    sent = Notification.objects.filter(kind="overdue")
    assert sent.count() == 1
    summary = sent.get()
    assert (summary.recipient, summary.step) == ("lena@example.com", None)
    assert summary.subject == "[Leakline] Overdue: 7 steps"
    assert all(f"{s.incident.reference} · {s.position}." in summary.body for s in steps)
    for s in steps:
        event = TimelineEvent.objects.get(step=s, kind="step_overdue")
        assert "lena@example.com" in event.message and event.data["notifications"] == [summary.pk]
    # A few at once: one message each, as before.
    few = [make_step(assignee=None, owner=None) for _ in range(2)]
    with at(timedelta(hours=4)):
        sweep()
    assert all(rows(s, "overdue") == [("email", "lena@example.com")] for s in few)


def test_a_step_that_skipped_past_due_soon_gets_only_the_overdue_notice(make_step, engineer):
    step = make_step(assignee=engineer)
    with at(timedelta(hours=10)):
        counts = sweep()
    assert (counts["due_soon"], counts["overdue"]) == (0, 1)
    assert kinds(step) == ["step_overdue"]


def test_paused_and_closed_incidents_dont_escalate(make_step, engineer):
    paused = make_step(assignee=engineer)
    paused.incident.paused_at = T0 + timedelta(hours=1)
    paused.incident.save()
    closed = make_step(assignee=engineer)
    closed.incident.status = IncidentStatus.CLOSED
    closed.incident.save()
    with at(timedelta(hours=12)):
        assert nothing_happened(sweep())
    assert Notification.objects.count() == 0
    for step in (paused, closed):
        step.refresh_from_db()
        assert step.escalation == EscalationState.NONE


def test_completed_and_skipped_steps_stop_nagging(make_step, engineer):
    done = make_step(assignee=engineer)
    skipped = make_step(assignee=engineer)
    with at(timedelta(hours=4)):
        assert sweep()["overdue"] == 2
    done.completed_at = T0 + timedelta(hours=4, minutes=10)
    done.save()
    skipped.skipped_at = T0 + timedelta(hours=4, minutes=10)
    skipped.skipped_reason = "not applicable"
    skipped.save()
    with at(timedelta(hours=8)):
        counts = sweep()
    assert (counts["escalated"], counts["nagged"]) == (0, 0)
    assert Notification.objects.filter(kind__in=["escalated", "nag"]).count() == 0


def test_a_deadline_moved_later_escalates_afresh(make_step, engineer):
    step = make_step(assignee=engineer)
    with at(timedelta(hours=4)):
        assert sweep()["overdue"] == 1
    # Extended by a day (what a severity change or a resumed pause does to due_at).
    Step.objects.filter(pk=step.pk).update(
        due_at=T0 + timedelta(hours=28), due_soon_at=T0 + timedelta(hours=27)
    )
    with at(timedelta(hours=5)):
        counts = sweep()
        assert (counts["reset"], counts["escalated"], counts["nagged"]) == (1, 0, 0)
    step.refresh_from_db()
    assert (step.escalation, step.next_nag_at) == (EscalationState.NONE, None)
    with at(timedelta(hours=28)):
        assert sweep()["overdue"] == 1
    assert kinds(step) == ["step_overdue", "step_overdue"]
    keys = sorted(
        Notification.objects.filter(step=step, user=engineer).values_list("dedupe_key", flat=True)
    )
    assert keys == [
        f"step:{step.pk}:overdue:1:r1:user:{engineer.pk}",
        f"step:{step.pk}:overdue:1:user:{engineer.pk}",
    ]


def test_a_reopened_step_escalates_again(make_step, engineer):
    step = make_step(assignee=engineer)
    with at(timedelta(hours=4)):
        sweep()
    # What incidents.services.step_reopen does to a completed-then-reopened step.
    Step.objects.filter(pk=step.pk).update(
        escalation=EscalationState.NONE, escalation_level=0, next_nag_at=None
    )
    with at(timedelta(hours=6)):
        assert sweep()["overdue"] == 1
    assert Notification.objects.filter(step=step, kind="overdue").count() == 4


def test_one_bad_row_is_logged_and_skipped(make_step, engineer, monkeypatch, caplog):
    good = make_step(assignee=engineer)
    bad = make_step(assignee=engineer)
    real = notifications.step_message

    def broken_for_one(*, step, **kwargs):
        if step.pk == bad.pk:
            raise RuntimeError("template exploded")
        return real(step=step, **kwargs)

    monkeypatch.setattr(notifications, "step_message", broken_for_one)
    with at(timedelta(hours=4)):
        counts = sweep()
    assert (counts["overdue"], counts["errors"]) == (1, 1)
    assert f"step {bad.pk} failed" in caplog.text
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.escalation == EscalationState.OVERDUE
    assert bad.escalation == EscalationState.NONE  # never claimed: retried next run
    assert not TimelineEvent.objects.filter(step=bad).exists()
    monkeypatch.setattr(notifications, "step_message", real)
    with at(timedelta(hours=4, minutes=1)):
        assert sweep()["overdue"] == 1


def test_a_row_that_breaks_the_batch_write_doesnt_hold_up_the_others(
    make_step, engineer, monkeypatch, caplog
):
    steps = [make_step(assignee=engineer) for _ in range(3)]
    bad = steps[1]
    real = notifications.step_rows

    def invalid_for_one(*, step, **kwargs):
        rows = real(step=step, **kwargs)
        if step.pk == bad.pk:
            for row in rows:
                row.dedupe_key = None  # NOT NULL: the INSERT fails
        return rows

    monkeypatch.setattr(notifications, "step_rows", invalid_for_one)
    with at(timedelta(hours=4)):
        counts = sweep()
    assert (counts["overdue"], counts["errors"]) == (2, 1)
    assert "overdue batch failed; retrying step by step" in caplog.text
    escalations = dict(Step.objects.values_list("pk", "escalation"))
    assert escalations == {
        steps[0].pk: EscalationState.OVERDUE,
        bad.pk: EscalationState.NONE,  # its claim rolled back with its transaction
        steps[2].pk: EscalationState.OVERDUE,
    }
    assert Notification.objects.filter(step=bad).count() == 0
    assert TimelineEvent.objects.filter(kind="step_overdue").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_the_same_instant_escalate_each_step_once(make_step, engineer, lead):
    steps = [make_step(assignee=engineer, owner=lead) for _ in range(25)]
    now = T0 + timedelta(hours=4)
    start = threading.Barrier(3)
    results, failures = [], []

    def run():
        try:
            start.wait(10)
            results.append(sweep(now=now))
        except Exception as exc:  # surfaced below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert sum(r["overdue"] for r in results) == 25
    assert sum(r["errors"] for r in results) == 0
    assert TimelineEvent.objects.filter(kind="step_overdue").count() == 25
    # Assignee and owner hear of each step once (one message a step, or a sweep's summary).
    told = []
    for step in steps:
        event = TimelineEvent.objects.get(step=step, kind="step_overdue")
        heard = Notification.objects.filter(pk__in=event.data["notifications"])
        assert sorted(heard.values_list("recipient", flat=True)) == [
            "erik@example.com",
            "lena@example.com",
        ]
        told += [(step.pk, n) for n in event.data["notifications"]]
    assert len(told) == len(set(told)) == 25 * 2
    assert Notification.objects.count() <= 25 * 2


def test_sweep_enqueues_the_sends_after_commit_and_the_worker_sends_them(
    make_step, engineer, lead, queues, mailoutbox, django_capture_on_commit_callbacks
):
    step = make_step(assignee=engineer, owner=lead)
    with at(timedelta(hours=4)):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            sweep()
        assert queues[1].count == 0  # nothing reaches Redis before the commit
        for callback in callbacks:
            callback()
        assert queues[1].count == 2
        run_worker()
    assert sorted(m.to[0] for m in mailoutbox) == ["erik@example.com", "lena@example.com"]
    assert set(Notification.objects.filter(step=step).values_list("status", flat=True)) == {"sent"}


def test_the_sweep_is_fast_enough_for_many_open_steps(make_step, engineer, playbook, team, lead):
    """A small version of bench/sweep_bench.py: 2,000 open steps, 20 newly overdue."""
    incident = make_step(assignee=engineer).incident
    future = T0 + timedelta(days=3)
    Step.objects.bulk_create(
        Step(
            incident=incident,
            position=i,
            action="rotate",
            title=f"Step {i}",
            assignee=engineer,
            deadline=timedelta(days=3),
            started_at=T0,
            due_at=T0 + timedelta(hours=4) if i < 21 else future,
            due_soon_at=T0 + timedelta(hours=3) if i < 21 else future - timedelta(hours=18),
        )
        for i in range(2, 2001)
    )
    with at(timedelta(hours=4)):
        begin = time.perf_counter()  # not frozen by time-machine
        counts = sweep()
        elapsed = time.perf_counter() - begin
    assert counts["overdue"] == 20
    assert elapsed < 1.0, elapsed


def test_batch_limit_leaves_the_rest_for_the_next_run(make_step, engineer, monkeypatch):
    monkeypatch.setattr(timers, "BATCH", 2)
    for _ in range(3):
        make_step(assignee=engineer)
    with at(timedelta(hours=4)):
        assert sweep()["overdue"] == 2
        assert sweep()["overdue"] == 1
