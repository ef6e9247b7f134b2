"""Triage: what a security lead (or an engineer, for proposals and comments) does to findings.

Every bulk service takes a queryset and, in one transaction, updates the findings it selects and
writes one timeline row per changed finding: on PostgreSQL in ONE statement (``_bulk``), whatever
the number of findings, without carrying their ids through Python. Permission checks live
here (PermissionDenied), and a user who doesn't see everything only ever touches the findings
``findings_visible_to`` gives them, whatever queryset the caller passed. An action from a page
passes ``as_of`` (when the page was rendered): findings changed since are left as they are, and
the result says who changed them (see "pages out of date" below).
"""

import json
import re
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
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
    why: str = ""  # why the skipped ones were (e.g. "not open")
    # Changed by someone (or an import) after the page the action came from was rendered:
    # left as they are. ``stale_notes`` names the first few: who did what, when.
    stale: int = 0
    stale_notes: list[str] = field(default_factory=list)

    @property
    def nothing_done(self) -> bool:
        return not self.changed and not self.pending

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
            parts.append(f"{self.skipped} skipped" + (f" ({self.why})" if self.why else ""))
        text = "; ".join(parts) + "."
        if not self.stale:
            return text
        # On a finding's page (or a selection that was all out of date) "0 findings updated"
        # says nothing: the reason alone does.
        stale = " ".join(self.stale_notes)
        more = self.stale - len(self.stale_notes)
        if more > 0:
            stale += (
                f"{' ' if stale else ''}{more} more finding{'s' if more != 1 else ''} changed"
                " after you loaded this page: left as they are (reload to see them)."
            )
        if self.nothing_done and not self.skipped:
            return stale
        return f"{text} {stale}"


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(f"your role does not allow this ({perm})")


def _scoped(findings_qs: QuerySet[Finding], user) -> QuerySet[Finding]:
    if roles.sees_everything(user):
        return findings_qs
    return findings_qs.filter(pk__in=findings_visible_to(user).values("pk"))


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


@dataclass
class _Change:
    """One UPDATE of a bulk action and the timeline row each finding it changes gets.

    ``sets`` are assignments to hygiene_finding's columns (``"column = %s"``, or another column
    of the same row). Of an action's changes, the one without ``when`` takes the selected
    findings that no other's ``when`` (a Q on Finding, single-valued relations only) picks."""

    sets: list[str]
    params: list
    kind: str
    message: str
    data: dict = field(default_factory=dict)
    when: Q | None = None


def _at(now):
    """A datetime as a parameter of raw SQL (SQLite stores text)."""
    return connection.ops.adapt_datetimefield_value(now)


def _where_sql(where: Q) -> tuple[str, list]:
    """``where`` as SQL on hygiene_finding's own columns, to recheck in the UPDATE."""
    query = Finding.objects.filter(where).query
    if {a for a, n in query.alias_refcount.items() if n} != {Finding._meta.db_table}:
        raise ValueError("a bulk action's condition must be on the finding's own columns")
    sql, params = query.get_compiler(connection=connection).compile(query.where)
    return sql, list(params)


def _bulk(findings_qs, by, where: Q | None, changes: list[_Change], now) -> list[list[int]]:
    """Apply ``changes`` to the findings of ``findings_qs`` that ``by`` sees and ``where``
    selects, with one timeline row per changed finding; the ids each change changed, sorted.

    PostgreSQL: one statement, whatever the number of findings. It counts the selection (at
    most BULK_LIMIT + 1) and only then updates, so an oversized selection writes nothing; the
    UPDATEs lock the rows themselves and recheck ``where`` on the latest version of a row that
    a concurrent action changed meanwhile (a finding dismissed twice at once is dismissed once);
    the timeline rows are an INSERT … SELECT of what the UPDATEs returned. SQLite (one writer at
    a time): the same as a few statements."""
    qs = _scoped(findings_qs, by)
    if where is not None:
        qs = qs.filter(where)
    [default] = [i for i, c in enumerate(changes) if c.when is None]
    branch = Case(
        *(When(c.when, then=Value(i)) for i, c in enumerate(changes) if c.when is not None),
        default=Value(default),
        output_field=IntegerField(),
    )
    limit = BULK_LIMIT
    # The caller's queryset itself, made distinct (a filter across a to-many relation repeats
    # rows), not wrapped in "id IN (…)": for a select-all filter that semi-join costs a scan of
    # every finding. In id order, the order the UPDATEs then lock them in (as the SELECT … FOR
    # UPDATE did before), so two bulk actions on overlapping findings queue instead of
    # deadlocking.
    selected = (
        qs.annotate(bulk_change=branch)
        .order_by("pk")
        .values_list("pk", "secret_id", "bulk_change")
        .distinct()[: limit + 1]
    )
    at = _at(now)
    if connection.vendor == "postgresql":
        count, ids = _bulk_pg(selected, where, changes, by, at, limit)
    else:
        rows = list(selected)
        count = len(rows)
        ids = [sorted(fid for fid, _, b in rows if b == i) for i in range(len(changes))]
        if count <= limit:
            _bulk_sqlite(rows, changes, by, at)
    if count > limit:
        raise TriageError(
            f"That selection is more than {limit:,} findings; narrow the filter first."
        )
    return ids


def _bulk_pg(selected, where, changes, by, at, limit) -> tuple[int, list[list[int]]]:
    sel_sql, sel_params = selected.query.get_compiler(using=selected.db).as_sql()
    recheck, recheck_params = _where_sql(where) if where is not None else ("TRUE", [])
    ctes = [
        f"sel (id, secret_id, branch) AS MATERIALIZED ({sel_sql})",
        "n AS (SELECT COUNT(*) AS c FROM sel)",
    ]
    params = [*sel_params]
    for i, change in enumerate(changes):
        ctes.append(
            f"""u{i} AS (
                UPDATE hygiene_finding SET {", ".join(change.sets)} FROM sel
                WHERE hygiene_finding.id = sel.id AND sel.branch = %s
                  AND (SELECT c FROM n) <= %s AND ({recheck})
                RETURNING hygiene_finding.id, hygiene_finding.secret_id)"""
        )
        params += [*change.params, i, limit, *recheck_params]
    changed = " UNION ALL ".join(
        f"SELECT {i} AS b, id, secret_id, %s AS kind, %s AS message, CAST(%s AS jsonb) AS data "
        f"FROM u{i}"
        for i in range(len(changes))
    )
    params += [by.pk, at]
    for change in changes:
        params += [change.kind, change.message, json.dumps(change.data)]
    ctes.append(
        f"""t AS (
            INSERT INTO incidents_timelineevent (finding_id, secret_id, kind, actor_id,
                actor_label, message, data, created_at)
            SELECT x.id, x.secret_id, x.kind, %s, '', x.message, x.data, %s
            FROM ({changed}) AS x ORDER BY x.b, x.id)"""
    )
    arrays = "".join(f", ARRAY(SELECT id FROM u{i} ORDER BY id)" for i in range(len(changes)))
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} SELECT (SELECT c FROM n){arrays}", params)
        count, *ids = cursor.fetchone()
    return count, [list(i) for i in ids]


def _bulk_sqlite(rows, changes, by, at) -> None:
    with connection.cursor() as cursor:
        for i, change in enumerate(changes):
            ids = json.dumps(sorted(fid for fid, _, b in rows if b == i))
            if ids == "[]":
                continue
            cursor.execute(
                f"UPDATE hygiene_finding SET {', '.join(change.sets)} "
                "WHERE id IN (SELECT value FROM json_each(%s))",
                [*change.params, ids],
            )
            cursor.execute(
                "INSERT INTO incidents_timelineevent (finding_id, secret_id, kind, actor_id, "
                "actor_label, message, data, created_at) "
                "SELECT id, secret_id, %s, %s, '', %s, %s, %s FROM hygiene_finding "
                "WHERE id IN (SELECT value FROM json_each(%s)) ORDER BY id",
                [change.kind, by.pk, change.message, json.dumps(change.data), at, ids],
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


def _all(ids: list[list[int]]) -> list[int]:
    return sorted(fid for part in ids for fid in part)


# --- pages out of date --------------------------------------------------------------------
#
# A triage page renders an "as of" marker (the time it was rendered) and its actions send it
# back. Every person's decision on a finding sets its updated_at, and so does an import that
# reopens, dismisses or re-rates it (stamped with its run's start: a long import that began
# before the page was rendered is not seen as later; being marked missing doesn't count): a
# finding whose updated_at is later than the marker changed after the person acting last saw
# it, and the action leaves it as it is and says so (who did what, when). That is one
# condition on the row's own column, so the UPDATE rechecks it on the row it locked: a
# decision committed while the action waited for the lock counts too. "Select all matching"
# acts on the filter, not on rows: it means everything the filter matches now except what
# changed or appeared after the page was rendered (you act on what you saw; reload to act on
# the rest).

STALE_NOTES = 5  # findings named one by one in the message; the rest are counted


def _stale_q(as_of) -> Q:
    return Q(updated_at__gt=as_of)


def _fresh(where: Q | None, as_of) -> Q | None:
    """``where``, narrowed to the findings unchanged since ``as_of`` (if given)."""
    if as_of is None:
        return where
    fresh = ~_stale_q(as_of)
    return fresh if where is None else where & fresh


def _distinct_count(qs) -> int:
    return qs.order_by().values("pk").distinct()[: BULK_LIMIT + 1].count()


def _who(event, by) -> str:
    if event.actor_id is not None:
        if event.actor_id == by.pk:
            return "you"
        return event.actor.get_full_name() or event.actor.username
    return event.actor_label or "someone"


def _what(event) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    if event.kind == "finding.status":
        status = data.get("status")
        if status == FindingStatus.RESOLVED:
            return "resolved"
        if status == FindingStatus.OPEN:
            return "reopened"
        if status in FindingStatus.values:
            return f"set to {FindingStatus(status).label.lower()}"
    if event.kind == "finding.dismissed":
        reason = data.get("reason")
        if reason in Resolution.values:
            return f"dismissed as {Resolution(reason).label.lower()}"
        return "dismissed"
    if event.kind == "finding.assigned":
        # "Assigned to …" / "Unassigned": names only, never a comment.
        return event.message[:1].lower() + event.message[1:300]
    return {
        "finding.dismissal_proposed": "proposed for dismissal",
        "finding.dismissal_rejected": "kept open (proposed dismissal rejected)",
        "finding.dismissal_undone": "reopened (dismissal undone)",
        "finding.reopened": "reopened by an import",
        "finding.owner_rule": "given to a team by the ownership rules",
        "finding.first_seen": "first reported",
    }.get(event.kind, "changed")


def _stale_report(findings_qs, by, as_of) -> tuple[int, list[str]]:
    """How many selected findings changed after ``as_of``, and a sentence for each of the
    first few: "#51 was resolved by Sam at 17:02 after you loaded this page: left as it is"."""
    stale = _scoped(findings_qs, by).filter(_stale_q(as_of))
    count = _distinct_count(stale)
    if not count:
        return 0, []
    ids = list(stale.order_by("pk").values_list("pk", flat=True).distinct()[:STALE_NOTES])
    latest = {}
    events = (
        TimelineEvent.objects.filter(finding_id__in=ids, created_at__gt=as_of)
        .exclude(kind="finding.comment")
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
    for event in events:
        latest.setdefault(event.finding_id, event)
    today = timezone.localdate()
    notes = []
    for fid in ids:
        event = latest.get(fid)
        if event is None:  # e.g. an import raised its severity (no timeline entry)
            notes.append(f"#{fid} changed after you loaded this page: left as it is.")
            continue
        at = timezone.localtime(event.created_at)
        when = at.strftime("%H:%M") if at.date() == today else at.strftime("%Y-%m-%d %H:%M")
        notes.append(
            f"#{fid} was {_what(event)} by {_who(event, by)} at {when} after you loaded this"
            " page: left as it is."
        )
    return count, notes


def _outcome(findings_qs, by, as_of) -> dict:
    """Before an action from a page (``as_of`` given): what it selected and, of that, what
    changed since the page was rendered; ``_result`` turns it into the skipped counts."""
    if as_of is None:
        return {}
    stale, notes = _stale_report(findings_qs, by, as_of)
    return {"total": _distinct_count(_scoped(findings_qs, by)), "stale": stale, "notes": notes}


def _result(outcome: dict, *, why: str = "", **counts) -> BulkResult:
    result = BulkResult(**counts)
    if outcome:
        result.stale, result.stale_notes = outcome["stale"], outcome["notes"]
        done = result.changed + result.pending + result.skipped + result.stale
        # Selected, unchanged since the page, and still not applicable (e.g. already closed).
        extra = max(outcome["total"] - done, 0)
        if extra:
            result.skipped += extra
            result.why = why
    return result


@transaction.atomic
def findings_assign(
    *,
    findings_qs,
    by,
    assignee=None,
    team: Team | None = None,
    unassign: bool = False,
    as_of=None,
) -> BulkResult:
    """Assign to a person and/or a team; ``unassign``: to nobody (the team stays). Every bulk
    action takes ``as_of``: the time the page it came from was rendered (see above)."""
    _require(by, "hygiene.triage_finding")
    if unassign and assignee is not None:
        raise TriageError("Choose a person or nobody, not both.")
    if assignee is None and team is None and not unassign:
        raise TriageError("Choose a person or a team to assign to.")
    if assignee is not None and not assignee.is_active:
        raise TriageError("That person's account is disabled.")
    now = timezone.now()
    sets, params = ["updated_at = %s"], [_at(now)]
    if assignee is not None:
        sets.append("assignee_id = %s")
        params.append(assignee.pk)
    if unassign:
        sets.append("assignee_id = NULL")
    if team is not None:
        sets.append("team_id = %s")
        params.append(team.pk)
    to = " and ".join(
        x
        for x in (
            f"{assignee.get_full_name() or assignee.username}" if assignee else "",
            f"team {team.name}" if team else "",
        )
        if x
    )
    if unassign:
        message = f"Unassigned (team {team.name})" if team else "Unassigned"
    else:
        message = f"Assigned to {to}"
    change = _Change(
        sets,
        params,
        kind="finding.assigned",
        message=message,
        data={"assignee": getattr(assignee, "pk", None), "team": getattr(team, "pk", None)},
    )
    outcome = _outcome(findings_qs, by, as_of)
    [ids] = _bulk(findings_qs, by, _fresh(None, as_of), [change], now)
    return _result(outcome, changed=len(ids), ids=ids)


SETTABLE_STATUSES = (FindingStatus.OPEN, FindingStatus.TRIAGED, FindingStatus.RESOLVED)


@transaction.atomic
def findings_set_status(
    *, findings_qs, by, status: str, comment: str = "", as_of=None
) -> BulkResult:
    """Open, triaged or resolved (fixed). Dismissing goes through ``findings_dismiss``."""
    _require(by, "hygiene.triage_finding")
    if status not in SETTABLE_STATUSES:
        raise TriageError("Status must be open, triaged or resolved (dismiss with a reason).")
    comment = _clean_comment(comment, required=False)
    now = timezone.now()
    sets = ["status = %s", "updated_at = %s"]
    sets += ["resolution = %s", "resolution_comment = %s", "resolved_by_id = %s"]
    sets += ["resolved_at = %s"]
    if status == FindingStatus.RESOLVED:
        params = [status, _at(now), Resolution.FIXED, comment, by.pk, _at(now)]
    else:
        params = [status, _at(now), "", "", None, None]
    change = _Change(
        sets,
        params,
        kind="finding.status",
        message=f"Status set to {FindingStatus(status).label.lower()}"
        + (f": {comment}" if comment else ""),
        data={"status": status},
    )
    outcome = _outcome(findings_qs, by, as_of)
    [ids] = _bulk(findings_qs, by, _fresh(~Q(status=status), as_of), [change], now)
    why = f"already {FindingStatus(status).label.lower()}"
    return _result(outcome, why=why, changed=len(ids), ids=ids)


def _valid_q() -> Q:
    """Findings whose secret a tool reported valid (verified): dismissing them takes two leads."""
    return Q(validity=Validity.VALID) | Q(secret__validity=Validity.VALID)


def _leads() -> QuerySet:
    """Security leads (and superusers): a valid secret's dismissal needs two of them."""
    users = get_user_model().objects.filter(Q(groups__name=roles.LEAD) | Q(is_superuser=True))
    return users.values("pk")


_CLEAR_PROPOSAL = [
    "proposed_resolution = ''",
    "proposed_comment = ''",
    "proposed_by_id = NULL",
    "proposed_at = NULL",
]


@transaction.atomic
def findings_dismiss(*, findings_qs, by, reason: str, comment: str, as_of=None) -> BulkResult:
    """A lead dismisses. Findings of valid secrets only get a pending proposal that a DIFFERENT
    lead must confirm (two-person rule); their status doesn't change until then."""
    _require(by, "hygiene.triage_finding")
    reason, comment = _clean_reason(reason), _clean_comment(comment)
    now = timezone.now()
    label = Resolution(reason).label
    dismiss = _Change(
        [
            "status = %s",
            "resolution = %s",
            "resolution_comment = %s",
            "resolved_by_id = %s",
            "resolved_at = %s",
            *_CLEAR_PROPOSAL,
            "updated_at = %s",
        ],
        [FindingStatus.DISMISSED, reason, comment, by.pk, _at(now), _at(now)],
        kind="finding.dismissed",
        message=f"Dismissed as {label.lower()}: {comment}",
        data={"reason": reason},
    )
    propose = _propose(by=by, reason=reason, comment=comment, now=now, two_person=True)
    propose.when = _valid_q()
    outcome = _outcome(findings_qs, by, as_of)
    where = _fresh(Q(status__in=OPEN_STATUSES), as_of)
    direct, pending = _bulk(findings_qs, by, where, [dismiss, propose], now)
    return _result(
        outcome,
        why="not open",
        changed=len(direct),
        pending=len(pending),
        ids=_all([direct, pending]),
    )


def _propose(*, by, reason, comment, now, two_person: bool) -> _Change:
    why = "the secret was reported valid: a second security lead must confirm"
    return _Change(
        [
            "proposed_resolution = %s",
            "proposed_comment = %s",
            "proposed_by_id = %s",
            "proposed_at = %s",
            "updated_at = %s",
        ],
        [reason, comment, by.pk, _at(now), _at(now)],
        kind="finding.dismissal_proposed",
        message=f"Proposed dismissal as {Resolution(reason).label.lower()}: {comment}"
        + (f" ({why})" if two_person else ""),
        data={"reason": reason, "two_person": two_person},
    )


@transaction.atomic
def findings_propose_dismissal(
    *, findings_qs, by, reason: str, comment: str, as_of=None
) -> BulkResult:
    """An engineer (or anyone allowed) proposes; a security lead confirms or rejects."""
    _require(by, "hygiene.propose_dismissal")
    reason, comment = _clean_reason(reason), _clean_comment(comment)
    now = timezone.now()
    change = _propose(by=by, reason=reason, comment=comment, now=now, two_person=False)
    outcome = _outcome(findings_qs, by, as_of)
    [ids] = _bulk(findings_qs, by, _fresh(Q(status__in=OPEN_STATUSES), as_of), [change], now)
    return _result(outcome, why="not open", pending=len(ids), ids=ids, proposal=True)


@transaction.atomic
def findings_confirm_dismissal(*, findings_qs, by, as_of=None) -> BulkResult:
    """A lead confirms pending proposals made by someone else. A valid secret's dismissal needs
    two different leads: when an engineer proposed it, the first lead's confirmation becomes the
    lead proposal and a second lead confirms."""
    _require(by, "hygiene.triage_finding")
    pending = Q(status__in=OPEN_STATUSES) & ~Q(proposed_resolution="")
    scoped = _scoped(findings_qs, by).filter(pending)
    own = scoped.filter(proposed_by=by).count()
    now = timezone.now()
    confirm = _Change(
        [
            "status = %s",
            "resolution = proposed_resolution",
            "resolution_comment = proposed_comment",
            "resolved_by_id = %s",
            "resolved_at = %s",
            *_CLEAR_PROPOSAL,
            "updated_at = %s",
        ],
        [FindingStatus.DISMISSED, by.pk, _at(now), _at(now)],
        kind="finding.dismissed",
        message="Confirmed the proposed dismissal",
        data={"confirmed": True},
    )
    escalate = _Change(
        ["proposed_by_id = %s", "proposed_at = %s", "updated_at = %s"],
        [by.pk, _at(now), _at(now)],
        kind="finding.dismissal_proposed",
        message="Endorsed the proposed dismissal; the secret was reported valid, so a second "
        "security lead must confirm",
        data={"two_person": True},
        when=_valid_q() & ~Q(proposed_by__in=_leads()),
    )
    not_own = ~Q(proposed_by=by) | Q(proposed_by__isnull=True)
    outcome = _outcome(findings_qs, by, as_of)
    where = _fresh(pending & not_own, as_of)
    confirmed, escalated = _bulk(findings_qs, by, where, [confirm, escalate], now)
    if not confirmed and not escalated and own:
        raise TriageError(
            "You proposed these dismissals yourself; a different security lead must confirm them."
        )
    return _result(
        outcome,
        why="no dismissal pending, or proposed by you",
        changed=len(confirmed),
        pending=len(escalated),
        skipped=own,
        ids=_all([confirmed, escalated]),
    )


@transaction.atomic
def findings_reject_dismissal(*, findings_qs, by, comment: str = "", as_of=None) -> BulkResult:
    _require(by, "hygiene.triage_finding")
    comment = _clean_comment(comment, required=False)
    now = timezone.now()
    change = _Change(
        [*_CLEAR_PROPOSAL, "updated_at = %s"],
        [_at(now)],
        kind="finding.dismissal_rejected",
        message="Rejected the proposed dismissal" + (f": {comment}" if comment else ""),
    )
    outcome = _outcome(findings_qs, by, as_of)
    [ids] = _bulk(findings_qs, by, _fresh(~Q(proposed_resolution=""), as_of), [change], now)
    return _result(outcome, why="no dismissal proposed", changed=len(ids), ids=ids)


@transaction.atomic
def findings_undo_dismissal(*, findings_qs, by, as_of=None) -> BulkResult:
    """Dismissals are undoable: back to open, the old reason kept in the timeline."""
    _require(by, "hygiene.triage_finding")
    now = timezone.now()
    change = _Change(
        [
            "status = %s",
            "resolution = ''",
            "resolution_comment = ''",
            "resolved_by_id = NULL",
            "resolved_at = NULL",
            "updated_at = %s",
        ],
        [FindingStatus.OPEN, _at(now)],
        kind="finding.dismissal_undone",
        message="Dismissal undone",
    )
    outcome = _outcome(findings_qs, by, as_of)
    [ids] = _bulk(findings_qs, by, _fresh(Q(status=FindingStatus.DISMISSED), as_of), [change], now)
    return _result(outcome, why="not dismissed", changed=len(ids), ids=ids)


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


_ACCESS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
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
def secret_reference_add(*, secret: Secret, by, kind: str, value: str, incident=None):
    """Link an identifier to ``secret``. From an incident's page (``incident``, one of whose
    secrets this is), the timeline entry is the incident's too, and names which secret; a
    closed incident takes none (checked under the lock its actions take)."""
    from hygiene.models import ReferenceKind, SecretReference

    _require(by, "hygiene.triage_finding")
    if incident is not None:
        from incidents.models import Incident, IncidentStatus

        status = (
            Incident.objects.select_for_update()
            .filter(pk=incident.pk)
            .values_list("status", flat=True)
            .first()
        )
        if status in (None, IncidentStatus.CLOSED):
            raise TriageError(
                "This incident is closed: add the reference on the secret's page instead."
            )
    value = (value or "").strip()
    if kind not in ReferenceKind.values:
        raise TriageError("Choose a reference kind.")
    if not value or len(value) > 1000:
        raise TriageError("Enter the identifier (at most 1000 characters).")
    if kind == ReferenceKind.OTHER:
        # "Other" matches only events that call it "other": an ARN or an access key id left
        # under the default kind would never claim its rotation events.
        if _REFERENCE_SHAPES["arn"][0].match(value):
            kind = ReferenceKind.ARN
        elif _ACCESS_KEY_ID.match(value):  # not AIDA…/AROA… (a user's or role's id)
            kind = ReferenceKind.AWS_ACCESS_KEY_ID
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
    # Only the display (an access key id redacted to its ends), never the value typed.
    what = f"{ref.get_kind_display()} {ref.display}"
    if incident is None:
        message = f"Reference added: {what}"
    else:
        # Which secret, as the incident page's form labels it: a generic password's preview
        # alone ("…") doesn't tell.
        found = secret.findings.order_by("first_seen_at", "id").first()
        where = (found.location_display or found.rule) if found else ""
        message = f"Reference added to {secret}{f' ({where})' if where else ''}: {what}"
    # One entry, on the secret's timeline and (from an incident) the incident's.
    TimelineEvent.objects.create(
        secret=secret,
        incident=incident,
        kind="secret.reference_added",
        actor=by,
        message=message,
        data={"reference": ref.pk, "kind": kind},
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
