"""The deadline sweep: ``Step.due_at`` in the database is the truth; this finds the steps whose
state changed since the last run and escalates each exactly once per state.

    on track ──due_soon_at──▶ due soon ──due_at──▶ overdue ──+1 nag period──▶ leads ──▶ nags…
    (notify)                  assignee             assignee + owner            security leads
                              (or owner)           + team webhook              + team webhook

Set-based: each transition is one SELECT of candidates, then — in one transaction — one
conditional ``UPDATE … WHERE <still in the old state> RETURNING id`` that claims them, one
INSERT of the outbox rows and one of the timeline rows; the send jobs go to Redis in one
pipeline after the commit. The claim's WHERE re-checks the state on the row itself, so when two
sweeps run at once (cron + the embedded loop, two workers) PostgreSQL makes the second wait on
the row lock and then skip the rows the first one changed: each escalation happens once.

Content is rendered before the transaction, per step: a step that fails there is logged and
skipped. If the batch write itself fails, the batch is retried one step per transaction, so one
bad row never holds up the others.

Runs from rq cron (``incidents/cron.py``), ``manage.py sweep_timers [--loop]`` and the embedded
mode's thread (``hygiene.jobs.sweep_loop``).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from incidents import notifications
from incidents.models import EscalationState, IncidentStatus, Step, TimelineEvent

log = logging.getLogger(__name__)

BATCH = 1000  # per transition and run; the next run picks up the rest
LEADS_LEVEL = 2
NONE, DUE_SOON, OVERDUE = EscalationState.NONE, EscalationState.DUE_SOON, EscalationState.OVERDUE


@dataclass
class _Run:
    now: datetime
    period: timedelta
    counts: dict = field(
        default_factory=lambda: dict.fromkeys(
            ("due_soon", "overdue", "escalated", "nagged", "reset", "requeued", "errors"), 0
        )
    )
    _leads: list | None = None

    @property
    def leads(self) -> list:
        if self._leads is None:
            self._leads = notifications.security_leads()
        return self._leads


@dataclass(frozen=True)
class Transition:
    """One kind of escalation: which steps qualify (the claim re-checks it row by row), what the
    claim writes, who is told and how it reads on the timeline."""

    name: str  # the counts key
    event: str  # notifications.STEP_EVENTS key
    timeline_kind: str
    key: str  # dedupe key stem; "{slot}" = the nag slot
    webhook: bool
    what: str  # "… is overdue"

    def where(self, run: _Run) -> tuple[str, list]:
        now = run.now
        return {
            "due_soon": ("escalation = %s AND due_soon_at <= %s AND due_at > %s", [NONE, now, now]),
            "overdue": ("escalation <> %s AND due_at <= %s", [OVERDUE, now]),
            "escalated": (
                "escalation = %s AND escalation_level < %s AND next_nag_at <= %s",
                [OVERDUE, LEADS_LEVEL, now],
            ),
            "nagged": (
                "escalation = %s AND escalation_level >= %s AND next_nag_at <= %s",
                [OVERDUE, LEADS_LEVEL, now],
            ),
        }[self.name]

    def changes(self, run: _Run) -> dict:
        later = run.now + run.period
        return {
            "due_soon": {"escalation": DUE_SOON, "escalation_level": 0},
            "overdue": {"escalation": OVERDUE, "escalation_level": 1, "next_nag_at": later},
            "escalated": {"escalation_level": LEADS_LEVEL, "next_nag_at": later},
            "nagged": {"next_nag_at": later},
        }[self.name]

    def candidates(self, run: _Run):
        now = run.now
        steps = _open_steps()
        return {
            "due_soon": steps.filter(due_soon_at__lte=now, due_at__gt=now, escalation=NONE),
            "overdue": steps.filter(due_at__lte=now).exclude(escalation=OVERDUE),
            "escalated": steps.filter(
                escalation=OVERDUE, escalation_level__lt=LEADS_LEVEL, next_nag_at__lte=now
            ),
            "nagged": steps.filter(
                escalation=OVERDUE, escalation_level__gte=LEADS_LEVEL, next_nag_at__lte=now
            ),
        }[self.name].order_by("due_at", "pk")[:BATCH]

    def recipients(self, step: Step, run: _Run) -> list:
        people = [step.assignee, step.incident.owner]
        if self.name == "escalated":
            return [*run.leads, *people]
        if self.name == "due_soon":
            people = [step.assignee or step.incident.owner]
        if self.name == "nagged":
            return people  # the leads heard at the escalation; not again every nag period
        if not notifications.reachable(people, step.incident.team, webhook=self.webhook):
            # Nobody holds the step or the incident, and its team has no address: an incident
            # the import policy opened for a critical leak. The security leads hear of it now,
            # not at the escalation a nag period past the deadline.
            return run.leads
        return people


TRANSITIONS = [
    # Overdue first: a step that skipped past "due soon" (sweep down, short deadline) gets the
    # overdue notice only.
    Transition("overdue", "overdue", "step_overdue", "overdue:1", True, "is overdue"),
    Transition("due_soon", "due_soon", "step_due_soon", "due_soon", False, "is due soon"),
    Transition(
        "escalated",
        "escalated",
        "step_escalated",
        f"overdue:{LEADS_LEVEL}",
        True,
        "is still overdue: escalated to the security leads",
    ),
    Transition("nagged", "nag", "step_nagged", "nag:{slot}", False, "is still overdue: reminder"),
]


def _open_steps():
    """Steps whose clock runs: not done or skipped, incident neither paused nor closed."""
    return (
        Step.objects.filter(
            completed_at__isnull=True,
            skipped_at__isnull=True,
            incident__paused_at__isnull=True,
        )
        .exclude(incident__status=IncidentStatus.CLOSED)
        .select_related("incident", "incident__owner", "incident__team", "assignee")
    )


def _claim(transition: Transition, ids: list[int], run: _Run) -> set[int]:
    """Conditional UPDATE of the rows still in the old state; the ids it changed. Only the
    step's own columns in the WHERE: PostgreSQL re-checks them on the latest row version after
    waiting for a concurrent sweep's lock, which a join or subquery wouldn't get."""
    changes = transition.changes(run)
    where, where_params = transition.where(run)
    table = connection.ops.quote_name(Step._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(col)} = %s" for col in changes)
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        f"UPDATE {table} SET {assignments} "
        f"WHERE id IN ({placeholders}) AND completed_at IS NULL AND skipped_at IS NULL "
        f"AND {where} RETURNING id"
    )
    params = [*changes.values(), *ids, *where_params]
    params = [
        connection.ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v
        for v in params
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _key(transition: Transition, step: Step, rounds: dict[int, int]) -> str:
    """``step:<id>:<stem>``, plus ``:r<n>`` when the step already went through this escalation n
    times (reopened, or its deadline moved) so that it escalates afresh."""
    stem = transition.key.format(slot=int(step.next_nag_at.timestamp()) if step.next_nag_at else 0)
    n = rounds.get(step.pk, 0)
    return f"step:{step.pk}:{stem}" + (f":r{n}" if n else "")


def _recipients_text(sent: list) -> str:
    people = sorted({n.recipient for n in sent if n.channel == notifications.EMAIL})
    parts = [", ".join(people)] if people else []
    if any(n.channel == notifications.WEBHOOK for n in sent):
        parts.append("the team webhook")
    return " and ".join(parts) or "nobody (no reachable recipient)"


def _apply(transition: Transition, prepared: list, run: _Run) -> int:
    """Claim, write the outbox and the timeline, in the caller's transaction. Returns how many
    steps this run escalated (the rest were claimed by a concurrent sweep or changed)."""
    claimed = _claim(transition, [step.pk for step, _ in prepared], run)
    prepared = [(step, message) for step, message in prepared if step.pk in claimed]
    if not prepared:
        return 0
    rounds = {}
    if "{slot}" not in transition.key:  # counted after the claim: serialised per step
        rounds = dict(
            TimelineEvent.objects.filter(step__in=claimed, kind=transition.timeline_kind)
            .values_list("step")
            .annotate(n=Count("id"))
        )
    rows = []
    for step, message in prepared:
        rows += notifications.step_rows(
            step=step,
            message=message,
            users=transition.recipients(step, run),
            key=_key(transition, step, rounds),
            webhook=transition.webhook,
        )
    rows, summarised = notifications.summarise_by_person(rows, transition.event)
    sent_by_step: dict[int, list] = {}
    for row in notifications.notifications_create(rows):
        for step_id in summarised.get(row.dedupe_key, [row.step_id]):
            sent_by_step.setdefault(step_id, []).append(row)
    level = transition.changes(run).get("escalation_level", LEADS_LEVEL)
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=step.incident,
            step=step,
            kind=transition.timeline_kind,
            actor_label="timer sweep",
            message=(
                f"Step {step.position} “{step.title}” {transition.what}; notified "
                f"{_recipients_text(sent_by_step.get(step.pk, []))}."
            )[:1000],
            data={
                "due_at": step.due_at.isoformat(),
                "level": level,
                "notifications": [n.pk for n in sent_by_step.get(step.pk, [])],
            },
            created_at=run.now,
        )
        for step, _ in prepared
    )
    return len(prepared)


def _run_transition(transition: Transition, run: _Run) -> None:
    counts = run.counts
    try:
        steps = list(transition.candidates(run))
    except Exception:
        log.exception("sweep: selecting %s steps failed", transition.name)
        counts["errors"] += 1
        return
    prepared = []
    for step in steps:
        try:
            message = notifications.step_message(step=step, event=transition.event, now=run.now)
            prepared.append((step, message))
        except Exception:
            log.exception("sweep: step %s failed; skipped this run", step.pk)
            counts["errors"] += 1
    if not prepared:
        return
    try:
        with transaction.atomic():
            counts[transition.name] += _apply(transition, prepared, run)
        return
    except Exception:
        log.exception("sweep: %s batch failed; retrying step by step", transition.name)
    for item in prepared:
        try:
            with transaction.atomic():
                counts[transition.name] += _apply(transition, [item], run)
        except Exception:
            log.exception("sweep: step %s failed; skipped this run", item[0].pk)
            counts["errors"] += 1


def _reset_moved_deadlines(run: _Run) -> int:
    """A deadline moved later (extended, or shifted after a pause): forget the escalation the
    old deadline earned so the new one escalates on time. Set-based; notifies nobody."""
    base = Step.objects.filter(completed_at__isnull=True, skipped_at__isnull=True)
    reset = (
        base.filter(due_soon_at__gt=run.now)
        .exclude(escalation=NONE)
        .update(escalation=NONE, escalation_level=0, next_nag_at=None)
    )
    reset += base.filter(escalation=OVERDUE, due_at__gt=run.now).update(
        escalation=DUE_SOON, escalation_level=0, next_nag_at=None
    )
    return reset


def sweep(now=None) -> dict:
    """One pass over the timers. Returns counts: due_soon, overdue, escalated (to the leads),
    nagged, reset (deadlines moved later), requeued (notification jobs), errors."""
    run = _Run(
        now=now or timezone.now(),
        period=timedelta(minutes=settings.LEAKLINE_NAG_PERIOD_MINUTES),
    )
    counts = run.counts
    # Before creating new rows, so rows this run creates aren't enqueued twice.
    try:
        counts["requeued"] = notifications.notifications_requeue(now=run.now)
    except Exception:
        log.exception("sweep: re-queueing notifications failed")
        counts["errors"] += 1
    try:
        counts["reset"] = _reset_moved_deadlines(run)
    except Exception:
        log.exception("sweep: resetting moved deadlines failed")
        counts["errors"] += 1
    for transition in TRANSITIONS:
        _run_transition(transition, run)
    if any(counts.values()):
        log.info("timer sweep: %s", counts)
    return counts
