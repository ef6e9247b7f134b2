"""Everything that changes an incident goes through here: keyword-only functions that check who
may act, validate, save and append to the timeline in one transaction.

Rules decided here (docs/playbooks.md explains them to users):
- *contained*: a revoke step is done (completed, or skipped by a lead).
- *remediated*: every required step is completed or skipped. Only a lead may skip a required
  step (with a reason); engineers may skip optional ones.
- *closed*: needs a summary and no required step open; open optional steps are skipped with the
  reason "incident closed".
- A step completes only with evidence (a note, a link or a rotator event) and only once the steps
  it depends on are done or skipped.
- Leads may do everything; engineers work steps (complete/skip/reopen) and comment on incidents
  of their teams, or that they own, take part in or have a step assigned in; managers and people
  without a role change nothing.
"""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from hygiene.models import Finding, FindingStatus, RotationEvent, Secret
from hygiene.roles import role_of
from hygiene.taxonomy import SEVERITY_RANK, Severity, max_severity
from incidents.defaults import GENERIC_SLUG, playbook_for
from incidents.models import (
    EscalationState,
    FollowUp,
    Incident,
    IncidentSecret,
    IncidentStatus,
    Playbook,
    Role,
    Step,
    StepAction,
    TimelineEvent,
)

User = get_user_model()

DUE_SOON_FRACTION = 0.75
MAX_TEXT = 1000
SEVERITIES = [s for s in Severity.values if s != Severity.INFO]
# Who a playbook step is for. Managers review metrics and change nothing (hygiene.roles), so a
# step of theirs would wait on nobody who may do it.
STEP_ROLES = (Role.LEAD, Role.ENGINEER)
MANAGER_STEP_ERROR = (
    "Managers review metrics and can't act on steps: choose Security lead or Engineer."
)


class IncidentError(Exception):
    """A request that can't be done as asked; the message says why (shown to the user)."""


# --- who may act -------------------------------------------------------------------------


def can_manage(user) -> bool:
    return user is not None and user.is_active and user.has_perm("incidents.manage_incident")


def can_work(user, incident: Incident) -> bool:
    """Leads on every incident; engineers on their teams' incidents or ones they're part of."""
    if user is None or not user.is_active:
        return False
    if can_manage(user):
        return True
    if role_of(user) != "engineer" or not user.has_perm("incidents.work_incident"):
        return False
    if incident.owner_id == user.pk:
        return True
    if incident.team_id and incident.team.members.filter(pk=user.pk).exists():
        return True
    if incident.participants.filter(pk=user.pk).exists():
        return True
    return incident.steps.filter(assignee=user).exists()


def step_role(default_role: str) -> str:
    """The role an incident's step takes from its playbook step. A "manager" default, saved
    before the editor refused it, becomes the model's default, the engineer."""
    return default_role if default_role in STEP_ROLES else Role.ENGINEER


def _require_manage(user) -> None:
    if not can_manage(user):
        raise PermissionDenied("Only security leads can do this.")


def _require_work(user, incident: Incident) -> None:
    if not can_work(user, incident):
        raise PermissionDenied("You can't work on this incident.")


# --- helpers -----------------------------------------------------------------------------


def _event(incident, kind, message, *, actor=None, actor_label="", step=None, secret=None, **data):
    return TimelineEvent.objects.create(
        incident=incident,
        secret=secret,
        step=step,
        kind=kind,
        actor=actor,
        actor_label=actor_label[:200],
        message=message[:MAX_TEXT],
        data=data,
    )


def _locked(incident: Incident) -> Incident:
    """Re-read the incident under a row lock: concurrent actions on one incident serialise."""
    return (
        Incident.objects.select_for_update(of=("self",)).select_related("team").get(pk=incident.pk)
    )


def _open_or_fail(incident: Incident) -> None:
    if incident.status == IncidentStatus.CLOSED:
        raise IncidentError(f"{incident.reference} is closed.")


def _clean_text(value: str, what: str, *, required=True, limit=MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise IncidentError(f"{what} is required.")
    if len(value) > limit:
        raise IncidentError(f"{what} is too long (at most {limit} characters).")
    return value


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        return ""
    if len(url) > 1000:
        raise IncidentError("The evidence link is too long (at most 1000 characters).")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise IncidentError("The evidence link must be an http(s) URL.") from None
    return url


def _clean_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise IncidentError(f"Unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}.")
    return severity


# A playbook deadline's upper bound: longer is a typo (and a date past year 9999 a crash).
MAX_DEADLINE = timedelta(days=3660)


def _dependency_cycle(depends: dict[int, list[int]]) -> list[int]:
    """A circle of steps waiting on each other (positions, the first repeated at the end), or
    an empty list."""
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    path: list[int] = []

    def visit(position: int) -> list[int]:
        state[position] = 1
        path.append(position)
        for dep in depends.get(position, []):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep in depends and dep not in state:
                found = visit(dep)
                if found:
                    return found
        state[position] = 2
        path.pop()
        return []

    for position in sorted(depends):
        if position not in state:
            found = visit(position)
            if found:
                return found
    return []


def _deadlines(base: datetime, deadline: timedelta) -> tuple[datetime, datetime]:
    deadline = min(deadline, MAX_DEADLINE)  # a playbook saved before the bound was checked
    return base + deadline, base + deadline * DUE_SOON_FRACTION


def _user_label(user) -> str:
    return (user.get_full_name() or user.username) if user else "nobody"


def _may_be_assigned(user) -> bool:
    return user.is_active and user.has_perm("incidents.work_incident")


def _recompute_status(incident: Incident, *, actor=None, actor_label="") -> None:
    """open → contained → remediated from the steps; closed is only set by incident_close."""
    if incident.status == IncidentStatus.CLOSED:
        return
    steps = list(incident.steps.all())
    revoked = any(s.action == StepAction.REVOKE and s.is_done for s in steps)
    remediated = all(s.is_done for s in steps if s.required)
    now = timezone.now()
    if remediated:
        new = IncidentStatus.REMEDIATED
    elif revoked:
        new = IncidentStatus.CONTAINED
    else:
        new = IncidentStatus.OPEN
    # The first revoke that landed is when it was contained (steps may complete out of order).
    contained_at = min(
        (
            s.completed_at or s.skipped_at
            for s in steps
            if s.action == StepAction.REVOKE and s.is_done
        ),
        default=None,
    )
    incident.contained_at = contained_at
    if new == IncidentStatus.REMEDIATED:
        incident.remediated_at = incident.remediated_at or now
    else:
        incident.remediated_at = None
    old = incident.status
    incident.status = new
    incident.save(update_fields=["status", "contained_at", "remediated_at"])
    if any(s.action == StepAction.REVOKE and s.completed_at for s in steps):
        # A completed revoke step means the credential no longer works. A skipped one doesn't
        # ("the vendor can't revoke yet", an optional step the close skipped): the key may
        # still work, and a re-scan reporting it must reopen its resolved findings.
        Secret.objects.filter(incidentsecret__incident=incident).exclude(validity="revoked").update(
            validity="revoked"
        )
    if old != new:
        _event(
            incident,
            "status_changed",
            f"Status {old} → {new}",
            actor=actor,
            actor_label=actor_label,
            old=old,
            new=new,
        )


# --- opening -----------------------------------------------------------------------------


def _title_for(secrets: list[Secret]) -> str:
    first = secrets[0]
    title = f"{first.get_secret_type_display()} {first.preview}".strip() + " leaked"
    if len(secrets) > 1:
        title += f" (+{len(secrets) - 1} more)"
    return title[:200]


def _not_covered_by(playbook, secrets: list[Secret]) -> list[str]:
    """The secrets whose type has a playbook of its own other than ``playbook`` (not the
    generic one, which any playbook covers), as "Slack token …xy (playbook Chat token)"."""
    own: dict[str, object] = {}
    out = []
    for secret in secrets:
        if secret.secret_type not in own:
            own[secret.secret_type] = playbook_for(secret.secret_type)
        theirs = own[secret.secret_type]
        if theirs.pk != playbook.pk and theirs.slug != GENERIC_SLUG:
            name = f"{secret.get_secret_type_display()} {secret.preview}".strip()
            out.append(f"{name} (playbook {theirs})")
    return out


def incident_open(
    *,
    secrets: list[Secret],
    opened_by: User | None,
    severity: str | None = None,
    owner: User | None = None,
    auto: bool = False,
    actor_label: str = "",
) -> Incident:
    """Open one incident for ``secrets`` (none of which may have an open incident yet), with
    the steps of the current playbook for the most severe secret's type, deadlines counted from
    now. ``opened_by`` None means the system (auto-open by policy; then ``actor_label`` says
    who, e.g. "gitleaks import #4"). Their open findings move to triaged."""
    if opened_by is not None:
        _require_manage(opened_by)
    secrets = list({s.pk: s for s in secrets}.values())
    if not secrets:
        raise IncidentError("Pick at least one secret.")
    if severity is not None:
        severity = _clean_severity(severity)
    if owner is not None and not _may_be_assigned(owner):
        raise IncidentError(f"{_user_label(owner)} can't own incidents.")
    with transaction.atomic():
        # Lock the secrets so two requests can't open incidents for the same one at once.
        locked = list(Secret.objects.select_for_update().filter(pk__in=[s.pk for s in secrets]))
        if len(locked) != len(secrets):
            raise IncidentError("Some of these secrets don't exist.")
        busy = (
            IncidentSecret.objects.filter(secret__in=locked, active=True)
            .select_related("incident", "secret")
            .first()
        )
        if busy:
            raise IncidentError(
                f"Secret {busy.secret.preview or busy.secret_id} already has an open incident "
                f"({busy.incident.reference})."
            )
        locked.sort(key=lambda s: (-SEVERITY_RANK.get(s.severity, 0), s.pk))
        severity = severity or max_severity(*(s.severity for s in locked))
        if severity == Severity.INFO:
            severity = Severity.LOW
        playbook = playbook_for(locked[0].secret_type)
        team = next((s.team for s in locked if s.team_id), None)
        now = timezone.now()
        incident = Incident.objects.create(
            title=_title_for(locked),
            playbook=playbook,
            severity=severity,
            owner=owner,
            team=team,
            opened_at=now,
            opened_by=opened_by,
            auto_opened=auto,
            exposed_since=min(s.exposed_since for s in locked),
        )
        try:
            with transaction.atomic():
                IncidentSecret.objects.bulk_create(
                    IncidentSecret(incident=incident, secret=s) for s in locked
                )
        except IntegrityError:
            raise IncidentError("One of these secrets already has an open incident.") from None
        if owner:
            incident.participants.add(owner)
        steps = []
        for ps in playbook.steps.order_by("position"):
            deadline = ps.deadline_for(severity)
            due_at, due_soon_at = _deadlines(now, deadline)
            steps.append(
                Step(
                    incident=incident,
                    position=ps.position,
                    action=ps.action,
                    title=ps.title,
                    instructions=ps.instructions,
                    required=ps.required,
                    depends_on=list(ps.depends_on or []),
                    role=step_role(ps.default_role),
                    deadline=deadline,
                    started_at=now,
                    due_at=due_at,
                    due_soon_at=due_soon_at,
                )
            )
        Step.objects.bulk_create(steps)
        Finding.objects.filter(secret__in=locked, status=FindingStatus.OPEN).update(
            status=FindingStatus.TRIAGED, updated_at=now
        )
        how = "automatically by policy" if auto else f"by {_user_label(opened_by)}"
        _event(
            incident,
            "opened",
            f"Incident opened {how} ({severity}, playbook {playbook})",
            actor=opened_by,
            actor_label=actor_label,
            severity=severity,
            playbook=playbook.slug,
            playbook_version=playbook.version,
            secret_ids=[s.pk for s in locked],
        )
        uncovered = _not_covered_by(playbook, locked)
        if uncovered:
            # One incident follows one playbook: say which secrets' own playbooks it leaves
            # out (a Slack token in a database credential's incident has no Slack revoke step).
            _event(
                incident,
                "note",
                f"Playbook {playbook} doesn't cover {'; '.join(uncovered)}: add steps for "
                "them here, or give them an incident of their own.",
                actor=opened_by,
                actor_label=actor_label,
            )
        incident.uncovered = uncovered
        TimelineEvent.objects.bulk_create(
            TimelineEvent(
                secret=s,
                kind="incident_opened",
                actor=opened_by,
                actor_label=actor_label[:200],
                message=f"{incident.reference} opened",
                data={"incident": incident.pk},
            )
            for s in locked
        )
    return incident


def auto_open_candidates(secret_ids: list[int]):
    """The default policy: a secret a tool reports valid, or a critical one, without an open
    incident. One query whatever the number of ids."""
    active = IncidentSecret.objects.filter(secret=OuterRef("pk"), active=True)
    return (
        Secret.objects.filter(pk__in=secret_ids)
        .filter(Q(validity="valid") | Q(severity=Severity.CRITICAL))
        .exclude(Exists(active))
        .order_by("pk")
    )


def incidents_auto_open(*, secret_ids: list[int], actor_label: str) -> list[Incident]:
    """Open an incident for each secret among ``secret_ids`` that the policy picks. A secret
    that got an incident meanwhile (a concurrent import) is passed over, not an error."""
    if not secret_ids:
        return []
    from incidents.notifications import notify_opened

    opened = []
    for secret in auto_open_candidates(list(secret_ids)):
        try:
            with transaction.atomic():
                opened.append(
                    incident_open(
                        secrets=[secret], opened_by=None, auto=True, actor_label=actor_label
                    )
                )
        except IncidentError:
            continue
    notify_opened(opened, actor_label)
    return opened


# --- steps -------------------------------------------------------------------------------


def _blocking(step: Step) -> list[Step]:
    if not step.depends_on:
        return []
    return [s for s in step.incident.steps.filter(position__in=step.depends_on) if not s.is_done]


def _fresh_step(step: Step) -> Step:
    step = Step.objects.select_for_update().get(pk=step.pk)
    return step


def step_complete(
    *,
    step: Step,
    by: User | None,
    note: str = "",
    url: str = "",
    event: RotationEvent | None = None,
    actor_label: str = "",
) -> Step:
    """Mark a step done with its evidence. ``by`` None is the system (a rotator ``event``)."""
    note = _clean_text(note, "The note", required=False, limit=10_000)
    url = _clean_url(url)
    if not (note or url or event):
        raise IncidentError("Add evidence: a note or a link to what you did.")
    with transaction.atomic():
        incident = _locked(step.incident)
        if by is not None:
            _require_work(by, incident)
        elif event is None:
            raise PermissionDenied("Only a rotator event may complete a step on its own.")
        _open_or_fail(incident)
        step = _fresh_step(step)
        step.incident = incident
        if step.is_done:
            raise IncidentError(
                f"Step {step.position} is already {'skipped' if step.skipped_at else 'done'}"
                " (someone else may have just done it)."
            )
        blockers = _blocking(step)
        if blockers:
            names = ", ".join(f"{s.position}. {s.title}" for s in blockers)
            raise IncidentError(f"Step {step.position} waits on: {names}.")
        now = timezone.now()
        completed_at = now
        if event is not None and event.occurred_at:
            # When the rotation really happened, but not before the incident, nor before the
            # steps it waits on were done (nor in the future).
            done = [
                at
                for s in incident.steps.filter(position__in=step.depends_on or [])
                if (at := s.completed_at or s.skipped_at)
            ]
            completed_at = min(max(event.occurred_at, incident.opened_at, *done), now)
        step.completed_at = completed_at
        step.completed_by = by
        step.evidence_note = note
        step.evidence_url = url
        step.evidence_event = event
        step.alert = ""
        step.save(
            update_fields=[
                "completed_at",
                "completed_by",
                "evidence_note",
                "evidence_url",
                "evidence_event",
                "alert",
            ]
        )
        late = "" if step.state(now) == "done_on_time" else " (late)"
        _event(
            incident,
            "step_completed",
            f"Step {step.position} “{step.title}” done{late}",
            actor=by,
            actor_label=actor_label,
            step=step,
            note=note,
            url=url,
            event=event.pk if event else None,
        )
        _recompute_status(incident, actor=by, actor_label=actor_label)
    return step


def step_skip(*, step: Step, by: User, reason: str) -> Step:
    reason = _clean_text(reason, "A reason", limit=500)
    with transaction.atomic():
        incident = _locked(step.incident)
        _require_work(by, incident)
        _open_or_fail(incident)
        step = _fresh_step(step)
        step.incident = incident
        if step.is_done:
            raise IncidentError(
                f"Step {step.position} is already {'skipped' if step.skipped_at else 'done'}"
                " (someone else may have just done it)."
            )
        if step.required and not can_manage(by):
            raise PermissionDenied("Only a security lead can skip a required step.")
        step.skipped_at = timezone.now()
        step.skipped_reason = reason
        step.save(update_fields=["skipped_at", "skipped_reason"])
        _event(
            incident,
            "step_skipped",
            f"Step {step.position} “{step.title}” skipped: {reason}",
            actor=by,
            step=step,
            reason=reason,
        )
        _recompute_status(incident, actor=by)
    return step


def step_reopen(*, step: Step, by: User, reason: str) -> Step:
    """Undo a completion or skip, for a reason (kept in the timeline): evidence cleared, and a
    fresh deadline. ``Step.deadline`` is the time the step gets; counted from the opening, a
    step reopened days later would be overdue at once and escalated by the next sweep, so it
    is counted from the reopening (from the pause, while the clock is paused: resuming then
    moves it by the paused time like every open step's)."""
    reason = _clean_text(reason, "A reason", limit=500)
    with transaction.atomic():
        incident = _locked(step.incident)
        _require_work(by, incident)
        _open_or_fail(incident)
        step = _fresh_step(step)
        step.incident = incident
        if not step.is_done:
            raise IncidentError(f"Step {step.position} is not done.")
        step.completed_at = step.skipped_at = None
        step.completed_by = step.evidence_event = None
        step.evidence_note = step.evidence_url = step.skipped_reason = ""
        step.started_at = incident.paused_at or timezone.now()
        step.due_at, step.due_soon_at = _deadlines(step.started_at, step.deadline)
        # The sweep escalates it afresh against the new deadline.
        step.escalation = EscalationState.NONE
        step.escalation_level = 0
        step.next_nag_at = None
        step.save()
        _event(
            incident,
            "step_reopened",
            f"Step {step.position} “{step.title}” reopened: {reason}",
            actor=by,
            step=step,
            reason=reason,
            due_at=step.due_at.isoformat(),
        )
        _recompute_status(incident, actor=by)
    return step


def step_assign(*, step: Step, by: User, assignee: User | None) -> Step:
    """Leads assign anyone; an engineer who may work on the incident takes a step nobody has
    (assigns it to themselves), and nothing else."""
    with transaction.atomic():
        incident = _locked(step.incident)
        if not can_manage(by):
            if assignee is None or assignee.pk != by.pk:
                raise PermissionDenied("Only security leads assign steps to others.")
            _require_work(by, incident)
        _open_or_fail(incident)
        if assignee is not None and not _may_be_assigned(assignee):
            raise IncidentError(f"{_user_label(assignee)} can't work on incidents.")
        step = _fresh_step(step)
        if not can_manage(by) and step.assignee_id not in (None, by.pk):
            raise IncidentError(
                f"Step {step.position} is {_user_label(step.assignee)}'s"
                " (someone may have just taken it)."
            )
        step.assignee = assignee
        step.save(update_fields=["assignee"])
        if assignee:
            incident.participants.add(assignee)
        _event(
            incident,
            "step_assigned",
            f"Step {step.position} assigned to {_user_label(assignee)}",
            actor=by,
            step=step,
            assignee=assignee.pk if assignee else None,
        )
    return step


# --- the incident ------------------------------------------------------------------------


def incident_pause(*, incident: Incident, by: User, reason: str) -> Incident:
    """Stop the clock while waiting on a third party: paused time doesn't count."""
    reason = _clean_text(reason, "A reason", limit=300)
    with transaction.atomic():
        incident = _locked(incident)
        _require_manage(by)
        _open_or_fail(incident)
        if incident.paused_at:
            raise IncidentError(f"{incident.reference} is already paused.")
        incident.paused_at = timezone.now()
        incident.paused_reason = reason
        incident.save(update_fields=["paused_at", "paused_reason"])
        _event(incident, "paused", f"Clock paused: {reason}", actor=by, reason=reason)
    return incident


def _unpause(incident: Incident, now: datetime) -> timedelta:
    paused_for = max(now - incident.paused_at, timedelta(0))
    incident.steps.filter(completed_at__isnull=True, skipped_at__isnull=True).update(
        due_at=F("due_at") + paused_for, due_soon_at=F("due_soon_at") + paused_for
    )
    incident.paused_total += paused_for
    incident.paused_at = None
    incident.paused_reason = ""
    incident.save(update_fields=["paused_at", "paused_reason", "paused_total"])
    return paused_for


def incident_resume(*, incident: Incident, by: User) -> Incident:
    """Restart the clock: open steps' deadlines move by the time spent paused."""
    with transaction.atomic():
        incident = _locked(incident)
        _require_manage(by)
        _open_or_fail(incident)
        if not incident.paused_at:
            raise IncidentError(f"{incident.reference} is not paused.")
        paused_for = _unpause(incident, timezone.now())
        minutes = int(paused_for.total_seconds() // 60)
        _event(
            incident,
            "resumed",
            f"Clock resumed after {minutes} min paused; open deadlines moved by as much",
            actor=by,
            paused_seconds=int(paused_for.total_seconds()),
        )
    return incident


def incident_change_severity(*, incident: Incident, by: User, severity: str) -> Incident:
    """New severity → open steps' deadlines recomputed from their playbook step's deadline for
    it, each counted from when its clock started: the opening, or the step's reopening, plus
    the time paused since (its due date less its deadline)."""
    severity = _clean_severity(severity)
    with transaction.atomic():
        incident = _locked(incident)
        _require_manage(by)
        _open_or_fail(incident)
        old = incident.severity
        if old == severity:
            raise IncidentError(f"{incident.reference} is already {severity}.")
        template = {ps.position: ps for ps in incident.playbook.steps.all()}
        now = timezone.now()
        changed = []
        for step in incident.steps.filter(completed_at__isnull=True, skipped_at__isnull=True):
            ps = template.get(step.position)
            if ps is None:
                continue
            # (From the opening for most; a reopened step's clock started at its reopening.)
            base = step.due_at - step.deadline
            step.deadline = ps.deadline_for(severity)
            step.due_at, step.due_soon_at = _deadlines(base, step.deadline)
            if step.due_soon_at > now:
                # No longer due soon: the sweep may warn again when it gets there.
                step.escalation = EscalationState.NONE
                step.escalation_level = 0
                step.next_nag_at = None
            changed.append(step)
        Step.objects.bulk_update(
            changed,
            ["deadline", "due_at", "due_soon_at", "escalation", "escalation_level", "next_nag_at"],
        )
        incident.severity = severity
        incident.save(update_fields=["severity"])
        _event(
            incident,
            "severity_changed",
            f"Severity {old} → {severity}; {len(changed)} open deadline"
            f"{'s' if len(changed) != 1 else ''} recomputed",
            actor=by,
            old=old,
            new=severity,
            steps=[s.pk for s in changed],
        )
    return incident


def incident_assign(*, incident: Incident, by: User, owner: User | None) -> Incident:
    with transaction.atomic():
        incident = _locked(incident)
        _require_manage(by)
        _open_or_fail(incident)
        if owner is not None and not _may_be_assigned(owner):
            raise IncidentError(f"{_user_label(owner)} can't own incidents.")
        old = incident.owner
        incident.owner = owner
        incident.save(update_fields=["owner"])
        if owner:
            incident.participants.add(owner)
        _event(
            incident,
            "owner_changed",
            f"Owner {_user_label(old)} → {_user_label(owner)}",
            actor=by,
            owner=owner.pk if owner else None,
        )
    return incident


def incident_add_participant(*, incident: Incident, by: User, user: User) -> Incident:
    with transaction.atomic():
        incident = _locked(incident)
        _require_manage(by)
        _open_or_fail(incident)
        if not _may_be_assigned(user):
            raise IncidentError(f"{_user_label(user)} can't work on incidents.")
        incident.participants.add(user)
        _event(
            incident,
            "participant_added",
            f"{_user_label(user)} joined",
            actor=by,
            user=user.pk,
        )
    return incident


def incident_comment(*, incident: Incident, by: User, text: str) -> TimelineEvent:
    text = _clean_text(text, "A comment", limit=MAX_TEXT)
    with transaction.atomic():
        incident = _locked(incident)
        _require_work(by, incident)
        return _event(incident, "comment", text, actor=by)


def incident_close(
    *, incident: Incident, by: User, summary: str, resolve_findings: bool = False
) -> Incident:
    """Close a remediated incident. With ``resolve_findings`` the open findings of its
    secrets, wherever they were found, are resolved too (the credential is revoked or rotated:
    what the scanners found of it is fixed), each with the close on its timeline."""
    summary = _clean_text(summary, "A summary", limit=10_000)
    with transaction.atomic():
        incident = _locked(incident)
        _require_manage(by)
        _open_or_fail(incident)
        open_required = list(
            incident.steps.filter(required=True, completed_at__isnull=True, skipped_at__isnull=True)
        )
        if open_required:
            names = ", ".join(f"{s.position}. {s.title}" for s in open_required)
            raise IncidentError(f"Required steps are still open: {names}.")
        now = timezone.now()
        if incident.paused_at:
            _unpause(incident, now)
        # The optional steps still open are skipped with it, each with its timeline entry (as a
        # skip by hand has), so the page says who skipped it, when and why.
        left_open = incident.steps.filter(completed_at__isnull=True, skipped_at__isnull=True)
        for step in left_open.order_by("position"):
            step.skipped_at, step.skipped_reason = now, "incident closed"
            step.save(update_fields=["skipped_at", "skipped_reason"])
            _event(
                incident,
                "step_skipped",
                f"Step {step.position} “{step.title}” skipped: incident closed",
                actor=by,
                step=step,
                reason="incident closed",
            )
        _recompute_status(incident, actor=by)
        incident.status = IncidentStatus.CLOSED
        incident.closed_at = now
        incident.summary = summary
        incident.save(update_fields=["status", "closed_at", "summary"])
        # The secrets are free for a new incident if they leak again.
        IncidentSecret.objects.filter(incident=incident, active=True).update(active=False)
        _event(incident, "closed", "Incident closed", actor=by, summary=summary[:MAX_TEXT])
        if resolve_findings:
            from hygiene.services.triage import TriageError, findings_set_status

            try:
                findings_set_status(
                    findings_qs=Finding.objects.filter(
                        secret__in=incident.secrets.all(),
                        status__in=(FindingStatus.OPEN, FindingStatus.TRIAGED),
                    ),
                    by=by,
                    status=FindingStatus.RESOLVED,
                    comment=f"{incident.reference} closed: {summary}"[:1000],
                )
            except TriageError as exc:  # (past the bulk limit): the close is undone, said why
                raise IncidentError(" ".join(exc.messages)) from None
    return incident


def incident_review(
    *,
    incident: Incident,
    by: User,
    what_happened: str,
    lessons: str,
    follow_ups: list[tuple[str, User | None, datetime]],
) -> Incident:
    """The closing review: what happened, the lessons, follow-up actions with due dates. The
    exposure window (exposed since → contained) is computed, not typed."""
    what_happened = _clean_text(what_happened, "What happened", limit=20_000)
    lessons = _clean_text(lessons, "Lessons", required=False, limit=20_000)
    cleaned = []
    for title, owner, due_at in follow_ups:
        title = _clean_text(title, "A follow-up's title", limit=300)
        if due_at is None:
            raise IncidentError(f"Follow-up “{title}” needs a due date.")
        if owner is not None and not _may_be_assigned(owner):
            raise IncidentError(f"{_user_label(owner)} can't own follow-ups.")
        cleaned.append((title, owner, due_at))
    with transaction.atomic():
        incident = _locked(incident)
        _require_manage(by)
        if incident.status not in (IncidentStatus.REMEDIATED, IncidentStatus.CLOSED):
            raise IncidentError("Review an incident once it is remediated or closed.")
        incident.review_what_happened = what_happened
        incident.review_lessons = lessons
        incident.save(update_fields=["review_what_happened", "review_lessons"])
        FollowUp.objects.bulk_create(
            FollowUp(incident=incident, title=t, owner=o, due_at=d) for t, o, d in cleaned
        )
        window = exposure_window(incident)
        _event(
            incident,
            "reviewed",
            f"Review written with {len(cleaned)} follow-up{'s' if len(cleaned) != 1 else ''}",
            actor=by,
            exposure_seconds=int(window.total_seconds()) if window else None,
        )
    return incident


def follow_up_done(*, follow_up: FollowUp, by: User) -> FollowUp:
    with transaction.atomic():
        follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if not (can_manage(by) or (follow_up.owner_id == by.pk and by.is_active)):
            raise PermissionDenied("Only a security lead or its owner can close a follow-up.")
        if follow_up.done_at:
            raise IncidentError("This follow-up is already done.")
        follow_up.done_at = timezone.now()
        follow_up.save(update_fields=["done_at"])
        _event(
            follow_up.incident, "follow_up_done", f"Follow-up “{follow_up.title}” done", actor=by
        )
    return follow_up


def exposure_window(incident: Incident) -> timedelta | None:
    """From the earliest exposure until the secret stopped working (contained), or until now."""
    if not incident.exposed_since:
        return None
    end = incident.contained_at or incident.closed_at or timezone.now()
    return max(end - incident.exposed_since, timedelta(0))


# --- rotator events ----------------------------------------------------------------------

# Revocations that can be undone (an IAM key made inactive, not deleted): they complete only
# the playbook's first revoke step.
DEACTIVATIONS = frozenset({"UpdateAccessKey"})
EVENT_STEP_ACTION = {
    "rotated": StepAction.ROTATE,
    "revoked": StepAction.REVOKE,
    "verified": StepAction.VERIFY,
    "rotation_failed": StepAction.ROTATE,
}


def _notify_alert(step: Step, message: str, event_key: str) -> None:
    from incidents.notifications import notify_alert

    notify_alert(step=step, message=message, event_key=event_key)


def _event_url(event: RotationEvent) -> str:
    """The event's link as evidence, if it is a plain http(s) URL (tools send all sorts)."""
    try:
        return _clean_url(event.evidence_url)
    except IncidentError:
        return ""


def _no_proof(event: RotationEvent) -> str:
    """Why ``event`` can't complete a step of its secret's incident ("" when it can)."""
    if event.action not in ("rotated", "revoked"):
        return ""
    secret = event.secret
    exposed = secret.exposed_since
    # Exposed since a commit's or an alert's date: earlier than the import that first found
    # it. Without one, exposed_since is that import's time, which says nothing of the leak.
    dated = exposed is not None and exposed < secret.first_seen_at
    if dated and event.occurred_at and event.occurred_at < exposed:
        # The rotation that made the leaked value (an automatic rotation, the leaked IAM
        # key's own creation) or an earlier key's revocation: nothing done about this leak.
        return (
            f"but it is dated {event.occurred_at:%Y-%m-%d %H:%M} UTC, before the secret was "
            f"exposed ({exposed:%Y-%m-%d %H:%M} UTC)"
        )
    if event.event_name == "CredentialReport" and event.action == "revoked":
        # An inactive key slot of the user (the report has no key ids): the leaked key is off
        # only if no key of the user created before the leak (or, undated, before it was
        # found) is still active, by the latest report that said anything of each slot.
        # (Reports repeat unchanged slots, which are stored once: by the first that said so.)
        before = exposed if dated else secret.first_seen_at
        user = event.event_id.rsplit(":key", 1)[0] + ":"
        latest: dict[str, tuple] = {}
        for pk, event_id, action, at in RotationEvent.objects.filter(
            source_id=event.source_id, event_name="CredentialReport", event_id__startswith=user
        ).values_list("pk", "event_id", "action", "occurred_at"):
            slot = event_id[len(user) :].split(":", 1)[0]
            if slot not in latest or pk > latest[slot][0]:
                latest[slot] = (pk, action, at)
        if any(
            action == "rotated" and at is not None and at <= before
            for _, action, at in latest.values()
        ):
            return "but the user still has an active key created before the leak"
    return ""


def rotation_event_apply(*, event: RotationEvent) -> list[Step]:
    """Apply a rotator's event to the open incident(s) of its secret: rotated/revoked/verified
    complete the first open step of that action with the event as evidence; rotation_failed puts
    an alert on the rotate step. A step whose dependencies aren't done is left open and the
    timeline says why. Idempotent: an event is applied once (``applied_at``); an event whose
    secret has no open incident stays unapplied, for the next incident to claim."""
    touched: list[Step] = []
    with transaction.atomic():
        event = RotationEvent.objects.select_for_update().get(pk=event.pk)
        if event.applied_at or event.secret_id is None:
            return touched
        source = event.source.name
        label = (f"{event.actor} via {source}" if event.actor else source)[:200]
        what = event.event_name or event.action
        action = EVENT_STEP_ACTION.get(event.action)
        incidents = Incident.objects.filter(
            incidentsecret__secret_id=event.secret_id, incidentsecret__active=True
        ).exclude(status=IncidentStatus.CLOSED)
        incidents = list(incidents)
        if not incidents:
            # Kept unapplied: an incident opened later for this secret claims it.
            return touched
        no_proof = _no_proof(event) if action is not None else ""
        for incident in incidents:
            incident = _locked(incident)
            if action is None:
                _event(
                    incident,
                    "rotation_event",
                    f"{what} reported",
                    actor_label=label,
                    event=event.pk,
                )
                continue
            step = (
                incident.steps.filter(
                    action=action, completed_at__isnull=True, skipped_at__isnull=True
                )
                .order_by("position")
                .first()
            )
            if step is None:
                _event(
                    incident,
                    "rotation_event",
                    f"{what} reported; no open {action} step to apply it to",
                    actor_label=label,
                    event=event.pk,
                )
                continue
            if (
                event.event_name in DEACTIVATIONS
                and incident.steps.filter(action=action, position__lt=step.position).exists()
            ):
                # Deactivating is the first revocation (AWS's playbook: deactivate, rotate,
                # ..., delete the old key); a later one, "delete", takes a deletion.
                _event(
                    incident,
                    "rotation_event",
                    f"{what} reported; deactivating a key doesn't complete step "
                    f"{step.position} “{step.title}” (deleting it does)",
                    actor_label=label,
                    step=step,
                    event=event.pk,
                )
                continue
            if no_proof:
                _event(
                    incident,
                    "rotation_event",
                    f"{what} reported, {no_proof}: step {step.position} “{step.title}” stays open",
                    actor_label=label,
                    step=step,
                    event=event.pk,
                )
                continue
            step.incident = incident
            if event.action == "rotation_failed":
                message = f"Rotation failed: {event.detail or what}"[:300]
                step.alert = message
                step.save(update_fields=["alert"])
                _event(
                    incident,
                    "rotation_failed",
                    message,
                    actor_label=label,
                    step=step,
                    event=event.pk,
                )
                _notify_alert(step, message, f"rotation-event-{event.pk}")
                touched.append(step)
                continue
            blockers = _blocking(step)
            if blockers:
                names = ", ".join(f"{s.position}. {s.title}" for s in blockers)
                _event(
                    incident,
                    "rotation_event",
                    f"{what} reported, but step {step.position} “{step.title}” waits on "
                    f"{names}; complete those, then this step",
                    actor_label=label,
                    step=step,
                    event=event.pk,
                )
                continue
            touched.append(
                step_complete(
                    step=step,
                    by=None,
                    event=event,
                    url=_event_url(event),
                    actor_label=label,
                )
            )
        RotationEvent.objects.filter(pk=event.pk).update(applied_at=timezone.now())
    return touched


# --- playbooks ---------------------------------------------------------------------------


_STEP_FIELDS = (
    "position",
    "action",
    "title",
    "instructions",
    "required",
    "depends_on",
    "default_role",
    "deadline_critical",
    "deadline_high",
    "deadline_medium",
    "deadline_low",
)


def _same_playbook(current: Playbook, name: str, description: str, steps: list[dict]) -> bool:
    """Whether an edit changes nothing (a save without an edit would make an identical
    version, which every new incident would then start from as if it were news)."""

    def key(step: dict) -> tuple:
        values = {f: step.get(f) for f in _STEP_FIELDS}
        values["depends_on"] = sorted(values["depends_on"] or [])
        values["instructions"] = _lines(values["instructions"])
        values["default_role"] = values["default_role"] or Role.ENGINEER
        return tuple(values[f] for f in _STEP_FIELDS)

    stored = [
        {f: getattr(step, f) for f in _STEP_FIELDS} for step in current.steps.order_by("position")
    ]
    same_text = (name, _lines(description)) == (current.name, _lines(current.description))
    return same_text and sorted(map(key, steps)) == [key(step) for step in stored]


def _lines(text: str | None) -> str:
    """Text as compared: a browser's textarea sends CRLF line ends."""
    return (text or "").replace("\r\n", "\n").strip()


def playbook_save_version(
    *, playbook: Playbook, by: User, name: str, description: str, steps: list[dict]
) -> Playbook:
    """Save an edit as a NEW version of ``playbook`` (same slug, version + 1) and make it the
    current one. Incidents keep the version they started with. ``steps`` are dicts with
    PlaybookStep's fields (position, action, title, instructions, required, depends_on,
    default_role, deadline_critical/high/medium/low)."""
    from incidents.models import PlaybookStep

    if not by.has_perm("incidents.manage_playbook"):
        raise PermissionDenied("Only security leads can edit playbooks.")
    name = _clean_text(name, "A name", limit=120)
    if not steps:
        raise IncidentError("A playbook needs at least one step.")
    positions = [s["position"] for s in steps]
    if len(set(positions)) != len(positions):
        raise IncidentError("Two steps have the same position.")
    for s in steps:
        if s.get("default_role", Role.ENGINEER) not in STEP_ROLES:
            raise IncidentError(f"Step {s['position']}: {MANAGER_STEP_ERROR}")
        for dep in s.get("depends_on") or []:
            if dep == s["position"]:
                raise IncidentError(f"Step {dep} can't depend on itself.")
            if dep not in positions:
                raise IncidentError(f"Step {s['position']} depends on unknown step {dep}.")
        for key in ("deadline_critical", "deadline_high", "deadline_medium", "deadline_low"):
            deadline = s.get(key)
            if deadline is not None and not timedelta(0) < deadline <= MAX_DEADLINE:
                raise IncidentError(
                    f"Step {s['position']}: a deadline is between 1 second and "
                    f"{MAX_DEADLINE.days} days."
                )
    cycle = _dependency_cycle({s["position"]: s.get("depends_on") or [] for s in steps})
    if cycle:
        path = " → ".join(str(p) for p in cycle)
        raise IncidentError(f"Steps wait on each other in a circle ({path}): none could start.")
    with transaction.atomic():
        current = (
            Playbook.objects.select_for_update().filter(slug=playbook.slug, is_current=True).first()
        )
        if current is None or current.pk != playbook.pk:
            raise IncidentError("Someone saved a newer version meanwhile; reload and redo.")
        if _same_playbook(current, name, description, steps):
            raise IncidentError(
                f"Nothing changed: the playbook stays at version {current.version}."
            )
        latest = Playbook.objects.filter(slug=playbook.slug).order_by("-version").first()
        Playbook.objects.filter(pk=current.pk).update(is_current=False)
        new = Playbook.objects.create(
            slug=current.slug,
            version=latest.version + 1,
            name=name,
            description=(description or "").strip(),
            secret_types=current.secret_types,
            is_current=True,
            created_by=by,
        )
        PlaybookStep.objects.bulk_create(
            PlaybookStep(playbook=new, **s) for s in sorted(steps, key=lambda s: s["position"])
        )
    return new
