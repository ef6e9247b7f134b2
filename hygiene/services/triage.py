"""Triage: what a security lead (or an engineer, for proposals and comments) does to findings.

Every bulk service takes a queryset, applies ONE UPDATE to the findings it selects and writes
one timeline row per finding with ``bulk_create``, all in one transaction. Permission checks live
here (PermissionDenied), and a user who doesn't see everything only ever touches the findings
``findings_visible_to`` gives them, whatever queryset the caller passed.
"""

import re
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from hygiene import roles
from hygiene.fingerprints import redact_identifier, reference_hash
from hygiene.models import Finding, FindingStatus, OwnershipRule, ReferenceKind, Secret, Team
from hygiene.models.findings import DISMISSAL_REASONS, OPEN_STATUSES, Resolution, Validity
from hygiene.ownership import FIELDS, enabled_in_order, glob_to_regex
from hygiene.selectors import findings_visible_to
from incidents.models import TimelineEvent

# One bulk action touches at most this many findings; more must be narrowed by a filter first.
BULK_LIMIT = 50_000
COMMENT_MAX = 2000


class TriageError(ValidationError):
    """Bad input to a triage action (shown to the user as a 400 with the message)."""


@dataclass
class BulkResult:
    changed: int = 0
    pending: int = 0  # dismissals waiting for a (second) lead
    skipped: int = 0  # selected but not applicable (e.g. already dismissed)
    ids: list[int] = field(default_factory=list)
    proposal: bool = False  # an engineer's proposal: every one waits for a lead

    def summary(self, verb: str) -> str:
        if self.proposal:
            n = self.pending
            parts = [
                f"{n} finding{'s' if n != 1 else ''} proposed for dismissal, waiting for a"
                " security lead to confirm"
            ]
        else:
            parts = [f"{self.changed} finding{'s' if self.changed != 1 else ''} {verb}"]
        if self.pending and not self.proposal:
            parts.append(f"{self.pending} waiting for a second security lead")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        return "; ".join(parts) + "."


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(f"your role does not allow this ({perm})")


def _scoped(findings_qs: QuerySet[Finding], user) -> QuerySet[Finding]:
    if roles.sees_everything(user):
        return findings_qs
    return findings_qs.filter(pk__in=findings_visible_to(user).values("pk"))


def _select(findings_qs, user, *extra: Q) -> list[tuple[int, int | None]]:
    """(id, secret_id) of the findings to change, locked, at most BULK_LIMIT."""
    qs = _scoped(findings_qs, user)
    for q in extra:
        qs = qs.filter(q)
    rows = list(
        Finding.objects.filter(pk__in=qs.values("pk"))
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", "secret_id")[: BULK_LIMIT + 1]
    )
    if len(rows) > BULK_LIMIT:
        raise TriageError(
            f"That selection is more than {BULK_LIMIT:,} findings; narrow the filter first."
        )
    return rows


def _timeline(rows, *, by, kind: str, message: str, data: dict | None = None, now=None) -> None:
    now = now or timezone.now()
    TimelineEvent.objects.bulk_create(
        [
            TimelineEvent(
                finding_id=fid,
                secret_id=sid,
                kind=kind,
                actor=by,
                message=message,
                data=data or {},
                created_at=now,
            )
            for fid, sid in rows
        ],
        batch_size=5000,
    )


def _clean_comment(comment: str, *, required: bool = True) -> str:
    comment = (comment or "").strip()
    if required and not comment:
        raise TriageError("A comment is required.")
    if len(comment) > COMMENT_MAX:
        raise TriageError(f"The comment is longer than {COMMENT_MAX} characters.")
    return comment


def _clean_reason(reason: str) -> str:
    if reason not in DISMISSAL_REASONS:
        labels = ", ".join(str(Resolution(r).label).lower() for r in DISMISSAL_REASONS)
        raise TriageError(f"Choose a dismissal reason ({labels}).")
    return reason


def _ids(rows) -> list[int]:
    return [fid for fid, _ in rows]


@transaction.atomic
def findings_assign(*, findings_qs, by, assignee=None, team: Team | None = None) -> BulkResult:
    _require(by, "hygiene.triage_finding")
    if assignee is None and team is None:
        raise TriageError("Choose a person or a team to assign to.")
    if assignee is not None and not assignee.is_active:
        raise TriageError("That person's account is disabled.")
    rows = _select(findings_qs, by)
    changes = {}
    if assignee is not None:
        changes["assignee"] = assignee
    if team is not None:
        changes["team"] = team
    now = timezone.now()
    Finding.objects.filter(pk__in=_ids(rows)).update(**changes, updated_at=now)
    to = " and ".join(
        x
        for x in (
            f"{assignee.get_full_name() or assignee.username}" if assignee else "",
            f"team {team.name}" if team else "",
        )
        if x
    )
    _timeline(
        rows,
        by=by,
        kind="finding.assigned",
        message=f"Assigned to {to}",
        data={"assignee": getattr(assignee, "pk", None), "team": getattr(team, "pk", None)},
        now=now,
    )
    return BulkResult(changed=len(rows), ids=_ids(rows))


SETTABLE_STATUSES = (FindingStatus.OPEN, FindingStatus.TRIAGED, FindingStatus.RESOLVED)


@transaction.atomic
def findings_set_status(*, findings_qs, by, status: str, comment: str = "") -> BulkResult:
    """Open, triaged or resolved (fixed). Dismissing goes through ``findings_dismiss``."""
    _require(by, "hygiene.triage_finding")
    if status not in SETTABLE_STATUSES:
        raise TriageError("Status must be open, triaged or resolved (dismiss with a reason).")
    comment = _clean_comment(comment, required=False)
    rows = _select(findings_qs, by, ~Q(status=status))
    now = timezone.now()
    if status == FindingStatus.RESOLVED:
        changes = dict(
            resolution=Resolution.FIXED,
            resolution_comment=comment,
            resolved_by=by,
            resolved_at=now,
        )
    else:
        changes = dict(resolution="", resolution_comment="", resolved_by=None, resolved_at=None)
    Finding.objects.filter(pk__in=_ids(rows)).update(status=status, updated_at=now, **changes)
    _timeline(
        rows,
        by=by,
        kind="finding.status",
        message=f"Status set to {FindingStatus(status).label.lower()}"
        + (f": {comment}" if comment else ""),
        data={"status": status},
        now=now,
    )
    return BulkResult(changed=len(rows), ids=_ids(rows))


def _valid_q() -> Q:
    """Findings whose secret a tool reported valid (verified): dismissing them takes two leads."""
    return Q(validity=Validity.VALID) | Q(secret__validity=Validity.VALID)


def _lead_q(prefix: str) -> Q:
    return Q(**{f"{prefix}__groups__name": roles.LEAD}) | Q(**{f"{prefix}__is_superuser": True})


@transaction.atomic
def findings_dismiss(*, findings_qs, by, reason: str, comment: str) -> BulkResult:
    """A lead dismisses. Findings of valid secrets only get a pending proposal that a DIFFERENT
    lead must confirm (two-person rule); their status doesn't change until then."""
    _require(by, "hygiene.triage_finding")
    reason, comment = _clean_reason(reason), _clean_comment(comment)
    now = timezone.now()
    base = Q(status__in=OPEN_STATUSES)
    valid_ids = set(
        Finding.objects.filter(pk__in=_scoped(findings_qs, by).filter(base).values("pk"))
        .filter(_valid_q())
        .values_list("pk", flat=True)[: BULK_LIMIT + 1]
    )
    rows = _select(findings_qs, by, base)
    direct = [r for r in rows if r[0] not in valid_ids]
    pending = [r for r in rows if r[0] in valid_ids]
    Finding.objects.filter(pk__in=_ids(direct)).update(
        status=FindingStatus.DISMISSED,
        resolution=reason,
        resolution_comment=comment,
        resolved_by=by,
        resolved_at=now,
        proposed_resolution="",
        proposed_comment="",
        proposed_by=None,
        proposed_at=None,
        updated_at=now,
    )
    label = Resolution(reason).label
    _timeline(
        direct,
        by=by,
        kind="finding.dismissed",
        message=f"Dismissed as {label.lower()}: {comment}",
        data={"reason": reason},
        now=now,
    )
    _propose(pending, by=by, reason=reason, comment=comment, now=now, two_person=True)
    return BulkResult(changed=len(direct), pending=len(pending), ids=_ids(rows))


def _propose(rows, *, by, reason, comment, now, two_person: bool) -> None:
    Finding.objects.filter(pk__in=_ids(rows)).update(
        proposed_resolution=reason,
        proposed_comment=comment,
        proposed_by=by,
        proposed_at=now,
        updated_at=now,
    )
    why = "the secret was reported valid: a second security lead must confirm"
    _timeline(
        rows,
        by=by,
        kind="finding.dismissal_proposed",
        message=f"Proposed dismissal as {Resolution(reason).label.lower()}: {comment}"
        + (f" ({why})" if two_person else ""),
        data={"reason": reason, "two_person": two_person},
        now=now,
    )


@transaction.atomic
def findings_propose_dismissal(*, findings_qs, by, reason: str, comment: str) -> BulkResult:
    """An engineer (or anyone allowed) proposes; a security lead confirms or rejects."""
    _require(by, "hygiene.propose_dismissal")
    reason, comment = _clean_reason(reason), _clean_comment(comment)
    rows = _select(findings_qs, by, Q(status__in=OPEN_STATUSES))
    _propose(rows, by=by, reason=reason, comment=comment, now=timezone.now(), two_person=False)
    return BulkResult(pending=len(rows), ids=_ids(rows), proposal=True)


@transaction.atomic
def findings_confirm_dismissal(*, findings_qs, by) -> BulkResult:
    """A lead confirms pending proposals made by someone else. A valid secret's dismissal needs
    two different leads: when an engineer proposed it, the first lead's confirmation becomes the
    lead proposal and a second lead confirms."""
    _require(by, "hygiene.triage_finding")
    pending = Q(status__in=OPEN_STATUSES) & ~Q(proposed_resolution="")
    scoped = _scoped(findings_qs, by).filter(pending)
    own = scoped.filter(proposed_by=by).count()
    rows = _select(findings_qs, by, pending, ~Q(proposed_by=by) | Q(proposed_by__isnull=True))
    ids = _ids(rows)
    escalate = set(
        Finding.objects.filter(pk__in=ids)
        .filter(_valid_q())
        .exclude(_lead_q("proposed_by"))
        .values_list("pk", flat=True)
    )
    now = timezone.now()
    to_confirm = [r for r in rows if r[0] not in escalate]
    to_escalate = [r for r in rows if r[0] in escalate]
    Finding.objects.filter(pk__in=_ids(to_confirm)).update(
        status=FindingStatus.DISMISSED,
        resolution=F("proposed_resolution"),
        resolution_comment=F("proposed_comment"),
        resolved_by=by,
        resolved_at=now,
        proposed_resolution="",
        proposed_comment="",
        proposed_by=None,
        proposed_at=None,
        updated_at=now,
    )
    _timeline(
        to_confirm,
        by=by,
        kind="finding.dismissed",
        message="Confirmed the proposed dismissal",
        data={"confirmed": True},
        now=now,
    )
    Finding.objects.filter(pk__in=_ids(to_escalate)).update(
        proposed_by=by, proposed_at=now, updated_at=now
    )
    _timeline(
        to_escalate,
        by=by,
        kind="finding.dismissal_proposed",
        message="Endorsed the proposed dismissal; the secret was reported valid, so a second "
        "security lead must confirm",
        data={"two_person": True},
        now=now,
    )
    if not rows and own:
        raise TriageError(
            "You proposed these dismissals yourself; a different security lead must confirm them."
        )
    return BulkResult(changed=len(to_confirm), pending=len(to_escalate), skipped=own, ids=ids)


@transaction.atomic
def findings_reject_dismissal(*, findings_qs, by, comment: str = "") -> BulkResult:
    _require(by, "hygiene.triage_finding")
    comment = _clean_comment(comment, required=False)
    rows = _select(findings_qs, by, ~Q(proposed_resolution=""))
    now = timezone.now()
    Finding.objects.filter(pk__in=_ids(rows)).update(
        proposed_resolution="",
        proposed_comment="",
        proposed_by=None,
        proposed_at=None,
        updated_at=now,
    )
    _timeline(
        rows,
        by=by,
        kind="finding.dismissal_rejected",
        message="Rejected the proposed dismissal" + (f": {comment}" if comment else ""),
        now=now,
    )
    return BulkResult(changed=len(rows), ids=_ids(rows))


@transaction.atomic
def findings_undo_dismissal(*, findings_qs, by) -> BulkResult:
    """Dismissals are undoable: back to open, the old reason kept in the timeline."""
    _require(by, "hygiene.triage_finding")
    rows = _select(findings_qs, by, Q(status=FindingStatus.DISMISSED))
    now = timezone.now()
    Finding.objects.filter(pk__in=_ids(rows)).update(
        status=FindingStatus.OPEN,
        resolution="",
        resolution_comment="",
        resolved_by=None,
        resolved_at=None,
        updated_at=now,
    )
    _timeline(rows, by=by, kind="finding.dismissal_undone", message="Dismissal undone", now=now)
    return BulkResult(changed=len(rows), ids=_ids(rows))


@transaction.atomic
def finding_comment(*, finding: Finding, by, body: str) -> TimelineEvent:
    _require(by, "hygiene.comment_finding")
    if not findings_visible_to(by).filter(pk=finding.pk).exists():
        raise PermissionDenied("you can't see this finding")
    body = _clean_comment(body)
    return TimelineEvent.objects.create(
        finding=finding,
        secret_id=finding.secret_id,
        kind="finding.comment",
        actor=by,
        message=body,
    )


@transaction.atomic
def secret_comment(*, secret: Secret, by, body: str) -> TimelineEvent:
    from hygiene.selectors import secrets_visible_to

    _require(by, "hygiene.comment_finding")
    if not secrets_visible_to(by).filter(pk=secret.pk).exists():
        raise PermissionDenied("you can't see this secret")
    body = _clean_comment(body)
    return TimelineEvent.objects.create(
        secret=secret, kind="secret.comment", actor=by, message=body
    )


# --- references ---------------------------------------------------------------------------


def _reference_display(kind: str, value: str) -> str:
    value = value.strip()
    # An access key id can itself have been the leaked string: show only its ends.
    if kind == ReferenceKind.AWS_ACCESS_KEY_ID:
        return redact_identifier(value)
    return value[:300]


_REFERENCE_SHAPES = {
    "aws-access-key-id": (
        re.compile(r"^(AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{16}$"),
        "An AWS access key id is 20 characters starting with AKIA or ASIA.",
    ),
    "aws-account": (re.compile(r"^\d{12}$"), "An AWS account id is 12 digits."),
    "arn": (
        re.compile(r"^arn:[a-z0-9-]+:[a-z0-9-]*:"),
        "An ARN starts with arn:partition:service:.",
    ),
    "url": (re.compile(r"^https?://\S+$"), "A URL starts with https:// or http://."),
    "storage-account": (
        re.compile(r"^[a-z0-9]{3,24}$"),
        "A storage account name is 3 to 24 lowercase letters and digits.",
    ),
}


def _reference_problem(kind: str, value: str) -> str:
    shape = _REFERENCE_SHAPES.get(kind)
    if shape and not shape[0].match(value):
        return shape[1]
    return ""


@transaction.atomic
def secret_reference_add(*, secret: Secret, by, kind: str, value: str):
    from hygiene.models import ReferenceKind, SecretReference

    _require(by, "hygiene.triage_finding")
    value = (value or "").strip()
    if kind not in ReferenceKind.values:
        raise TriageError("Choose a reference kind.")
    if not value or len(value) > 1000:
        raise TriageError("Enter the identifier (at most 1000 characters).")
    problem = _reference_problem(kind, value)
    if problem:
        raise TriageError(problem)
    value_hash = reference_hash(kind, value)
    ref, created = SecretReference.objects.get_or_create(
        secret=secret,
        kind=kind,
        value_hash=value_hash,
        defaults={"display": _reference_display(kind, value), "added_by": by},
    )
    if not created:
        raise TriageError("That reference is already on this secret.")
    if created:
        TimelineEvent.objects.create(
            secret=secret,
            kind="secret.reference_added",
            actor=by,
            message=f"Reference added: {ref.get_kind_display()} {ref.display}",
        )
        # Rotation events that arrived before anyone knew this identifier are claimed now.
        from hygiene.services.imports import apply_events

        apply_events()
    return ref


# --- ownership ------------------------------------------------------------------------------


def _team_case(rules) -> Case | None:
    whens = []
    for rule in enabled_in_order(rules):
        q = Q()
        for attr, column in FIELDS:
            pattern = getattr(rule, attr)
            if pattern:
                q &= Q(**{f"{column}__regex": glob_to_regex(pattern)})
        whens.append(When(q, then=Value(rule.team_id)))
    if not whens:
        return None
    return Case(*whens, default=Value(None), output_field=IntegerField())


@dataclass
class OwnershipPreview:
    rows: list  # [(finding, old_team, new_team)], at most `limit`
    total: int
    by_team: list  # [(team, count)]


def _ownership_changes(rules):
    case = _team_case(rules)
    if case is None:
        return None
    return (
        Finding.objects.filter(status__in=OPEN_STATUSES)
        .annotate(new_team_id=case)
        .filter(new_team_id__isnull=False)
        .filter(Q(team_id__isnull=True) | ~Q(team_id=F("new_team_id")))
    )


def ownership_preview(*, rules=None, limit: int = 50) -> OwnershipPreview:
    """What applying the rules would change on open findings: a bounded sample and counts."""
    rules = list(OwnershipRule.objects.all()) if rules is None else list(rules)
    changes = _ownership_changes(rules)
    if changes is None:
        return OwnershipPreview(rows=[], total=0, by_team=[])
    teams = Team.objects.in_bulk()
    sample = list(changes.select_related("team").order_by("-first_seen_at", "-id")[:limit])
    counts = changes.order_by().values("new_team_id").annotate(n=Count("id")).order_by("-n")
    by_team = [(teams.get(c["new_team_id"]), c["n"]) for c in counts]
    return OwnershipPreview(
        rows=[(f, f.team, teams.get(f.new_team_id)) for f in sample],
        total=sum(n for _, n in by_team),
        by_team=by_team,
    )


@transaction.atomic
def ownership_apply(*, by) -> BulkResult:
    """Re-apply the rules to open findings: one UPDATE per target team, set-based timeline."""
    _require(by, "hygiene.manage_ownership")
    changes = _ownership_changes(list(OwnershipRule.objects.all()))
    if changes is None:
        return BulkResult()
    rows = list(changes.values_list("pk", "secret_id", "new_team_id"))
    now = timezone.now()
    teams = Team.objects.in_bulk()
    by_team: dict[int, list] = {}
    for fid, sid, tid in rows:
        by_team.setdefault(tid, []).append((fid, sid))
    for tid, team_rows in by_team.items():
        Finding.objects.filter(pk__in=_ids(team_rows)).update(team_id=tid, updated_at=now)
        _timeline(
            team_rows,
            by=by,
            kind="finding.owner_rule",
            message=f"Ownership rules gave it to team {teams[tid].name}",
            data={"team": tid},
            now=now,
        )
    return BulkResult(changed=len(rows), ids=[r[0] for r in rows])


@transaction.atomic
def ownership_rule_create(
    *,
    by,
    team: Team,
    repo_pattern="",
    path_pattern="",
    resource_pattern="",
    position: int | None = None,
) -> OwnershipRule:
    _require(by, "hygiene.manage_ownership")
    patterns = [p.strip() for p in (repo_pattern, path_pattern, resource_pattern)]
    if not any(patterns):
        raise TriageError("Give at least one pattern (repository, path or cloud resource).")
    if position is None:
        last = OwnershipRule.objects.order_by("-position").values_list("position", flat=True)
        position = (last.first() or 0) + 10
    return OwnershipRule.objects.create(
        team=team,
        repo_pattern=patterns[0],
        path_pattern=patterns[1],
        resource_pattern=patterns[2],
        position=position,
    )


@transaction.atomic
def ownership_rule_delete(*, by, rule: OwnershipRule) -> None:
    _require(by, "hygiene.manage_ownership")
    rule.delete()


@transaction.atomic
def ownership_rule_move(*, by, rule: OwnershipRule, direction: str) -> None:
    """Swap with the neighbour above ("up") or below ("down"), renumbering all in steps of 10."""
    _require(by, "hygiene.manage_ownership")
    ordered = list(OwnershipRule.objects.select_for_update().order_by("position", "id"))
    i = next(i for i, r in enumerate(ordered) if r.pk == rule.pk)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(ordered):
        ordered[i], ordered[j] = ordered[j], ordered[i]
    for n, r in enumerate(ordered, start=1):
        if r.position != n * 10:
            r.position = n * 10
            r.save(update_fields=["position"])


# --- incidents ------------------------------------------------------------------------------


def findings_open_incident(*, findings_qs, by, severity=None, owner=None):
    """Open one incident for the secret(s) of the selected findings (incidents.services)."""
    _require(by, "incidents.manage_incident")
    secret_ids = list(
        _scoped(findings_qs, by)
        .exclude(secret__isnull=True)
        .order_by()
        .values_list("secret_id", flat=True)
        .distinct()[:101]
    )
    if not secret_ids:
        raise TriageError("The selection holds no leaked secret (posture findings can't open one).")
    if len(secret_ids) > 100:
        raise TriageError("One incident covers at most 100 secrets; narrow the selection.")
    from incidents import services as incident_services  # imported lazily: another domain

    secrets = list(Secret.objects.filter(pk__in=secret_ids))
    return incident_services.incident_open(
        secrets=secrets, opened_by=by, severity=severity, owner=owner
    )
