"""Fold one run's staged rows into the inventory, set-based: a fixed number of SQL statements
per import, whatever its size (never one query per finding). Runs in one transaction.

Semantics (see docs/ARCHITECTURE.md): one Secret per fingerprint across all sources; one Finding
per (source, location_key); a resolved finding seen again reopens; a dismissed one stays
dismissed; a full scan marks what it no longer reports as missing (posture findings resolve);
an auditor's PASS resolves the same check on the same resource.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import OperationalError, connection, transaction

from hygiene import search_terms
from hygiene.importers import FORMATS
from hygiene.models import OwnershipRule
from hygiene.ownership import FIELDS, enabled_in_order, glob_to_regex

SEVERITY_RANK_SQL = (
    "CASE {col} WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 "
    "WHEN 'low' THEN 1 ELSE 0 END"
)
SEVERITY_FROM_RANK_SQL = (
    "CASE {col} WHEN 4 THEN 'critical' WHEN 3 THEN 'high' WHEN 2 THEN 'medium' "
    "WHEN 1 THEN 'low' ELSE 'info' END"
)
DISMISSALS = ("false_positive", "used_in_tests", "accepted_risk", "revoked", "wont_fix")
# The resolution comment of a finding the reporting tool itself closed (and may reopen).
TOOL_COMMENT = "Resolved in the reporting tool"
LAST_SEEN_GRANULARITY = timedelta(hours=1)
# Staged rows come and go within minutes, so the tables' statistics never describe a large run:
# without fresh ones the planner expects a few dozen rows and probes an index 100,000 times
# where one hash join would do. The columns its statements filter and join on are analysed
# (run_id from a small sample, migration 0003), and so, after the upserts, are those of the
# secrets and findings the run wrote.
ANALYZE_FROM_ROWS = 2000
# pg_advisory_xact_lock(RECONCILE_LOCK, source id mod 2**31-1): one reconcile per source at a
# time (ids past 2**31 share a key with a smaller one: they would wait for each other, no more).
RECONCILE_LOCK = 0x4C4C  # "LL"
RECONCILE_WORK_MEM = "64MB"
# A re-scan's secrets that may change, passed to the upsert as constants up to this many
# (Reconciler.secret_candidates).
SECRET_CANDIDATES = 5000
STAGING_TABLES = ("hygiene_stagedfinding", "hygiene_stagedreference")


def _rank(col: str) -> str:
    return SEVERITY_RANK_SQL.format(col=col)


def place_sql(alias: str, pg: bool, *, source: bool = True) -> str:
    """Where a finding is, for counting a secret's places (two or more: reused): its
    repository whatever the tool called it, lower-cased without scheme and host (gitleaks
    names one by its URL, https://github.com/acme/app, GitHub's alerts acme/app); without a
    repository, its source (``source``) or the same place. String functions, not a regex: a
    regex cost 0.6 s per 100,000 rows."""
    find = "strpos" if pg else "instr"
    repo = f"{alias}.repo"
    after = f"{find}({repo}, '://') + 3"
    path = f"substr({repo}, {after} + {find}(substr({repo}, {after}), '/'))"
    normal = f"lower(CASE WHEN {find}({repo}, '://') > 0 THEN {path} ELSE {repo} END)"
    elsewhere = f"'source:' || {alias}.source_id" if source else "''"
    return f"CASE WHEN {repo} <> '' THEN {normal} ELSE {elsewhere} END"


@dataclass
class ReconcileCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    reopened: int = 0
    resolved: int = 0
    missing: int = 0
    dismissed: int = 0
    secret_ids: list[int] = field(default_factory=list)
    reopened_ids: list[tuple[int, int | None, str]] = field(default_factory=list)
    dismissed_ids: list[tuple[int, int | None, str]] = field(default_factory=list)


# Formats that report rotation events only; cloud auditors' formats.
_ROTATORS = {key: fmt.kind == "rotator" for key, fmt in FORMATS.items()}
_AUDITORS = {key for key, fmt in FORMATS.items() if fmt.kind == "auditor"}


@dataclass(frozen=True)
class Sightings:
    """What the known secrets of a run need besides their changes (Reconciler.sight_secrets):
    whether some has a sighting an hour old, and whether some has none."""

    stale: bool
    unsighted: bool


def is_no_scan(format_key: str, events: int, findings: int) -> bool:
    """Whether a run is no scan (``findings``: the findings and passed checks it reported): a
    report of rotation events alone (a rotator's, or a leakline document without findings)
    says nothing of what the source's scanner would find, nor does a rotator's log without
    events (a CloudTrail digest, an hour of nothing). It marks nothing missing."""
    return bool(events or _ROTATORS.get(format_key, False)) and not findings


# Set (transaction-local) around an INSERT whose rows' teams this run has locked itself: their
# team triggers pass over them (migration 0028, which spells the same name).
TEAMS_LOCKED = "leakline.teams_locked"


class SourceGone(Exception):
    pass


class Reconciler:
    def __init__(self, run, now: datetime):
        self.run = run
        self.now = now
        self.pg = connection.vendor == "postgresql"
        adapt = connection.ops.adapt_datetimefield_value
        self.p = {
            "run": run.pk,
            "source": run.source_id,
            "now": adapt(now),
            # last_seen_at is refreshed at most hourly when nothing else changed: re-scans then
            # leave unchanged rows (and all their index entries) alone.
            "stale": adapt(now - LAST_SEEN_GRANULARITY),
            "format": run.format,
        }
        # Whether the source has findings (staged_kinds, under the lock).
        self.known = True
        # Ownership rules as SQL (owners): [([(column, parameter), ...], team id), ...].
        self.owner_rules: list[tuple[list[tuple[str, str]], int]] = []
        self.owner_params: dict[str, str] = {}
        # Whether the teams those give are locked by this transaction (owners): then the
        # team triggers pass over the rows of its INSERTs (TEAMS_LOCKED).
        self.teams_locked = False

    def sql(self, statement: str, params: dict | None = None) -> int:
        with connection.cursor() as cursor:
            cursor.execute(statement, {**self.p, **(params or {})})
            return cursor.rowcount

    def rows(self, statement: str, params: dict | None = None) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(statement, {**self.p, **(params or {})})
            return cursor.fetchall()

    @property
    def least(self) -> str:
        return "LEAST" if self.pg else "MIN"

    @property
    def regex_op(self) -> str:
        return "~" if self.pg else "REGEXP"

    @property
    def empty_json(self) -> str:
        return "'{}'::jsonb" if self.pg else "'{}'"

    def run_all(self) -> ReconcileCounts:
        counts = ReconcileCounts()
        # Findings reference their source without a database constraint: hold the source until
        # commit, so that deleting it (services.sources.source_delete, FOR UPDATE) waits for
        # this run's findings and collects them too.
        lock = "SELECT 1 FROM hygiene_source WHERE id = %(source)s FOR KEY SHARE"
        if self.pg and not self.rows(lock):
            raise SourceGone(f"source #{self.run.source_id} was deleted")
        large = self.pg and (self.run.received or 0) >= ANALYZE_FROM_ROWS
        if self.pg:
            # One statement: runs of one source reconcile one after the other (two workers, or
            # the CLI next to a worker): the upserts leave out rows that look unchanged in their
            # snapshot, so a run must see what an earlier run of the source committed. Until
            # commit.
            # For this transaction only (set_config's is_local), no JIT: a join of the run's
            # rows with the source's findings is estimated at millions of rows (the planner
            # can't tell that location keys match one to one), past jit_above_cost, and
            # compiling it took 0.6 to 1.4 s for a statement that runs in 0.1 s (a small run's
            # too, on a large inventory). A large run gets room for its fingerprints and keys
            # in memory: hash joins and aggregates of 100,000 rows otherwise spill to disk.
            work_mem = ", set_config('work_mem', %(work_mem)s, true)" if large else ""
            self.sql(
                "SELECT pg_advisory_xact_lock(%(lock)s, mod(%(source)s, 2147483647)::int),"
                f" set_config('jit', 'off', true){work_mem}",
                {"lock": RECONCILE_LOCK, "work_mem": RECONCILE_WORK_MEM},
            )
        if large:
            self.sql(
                "ANALYZE hygiene_stagedfinding (run_id, category, passed, fingerprint),"
                " hygiene_stagedreference (run_id)"
            )
        has = self.staged_kinds()
        self.owners()
        secrets_written = self.upsert_secrets()
        if large and secrets_written:
            # The statistics predate this run: to the planner, no secret has first_seen_at =
            # now (or few are critical) although thousands were just inserted, and it would
            # nest a scan of the run's staged rows inside each of them. Sampled again, with
            # this transaction's rows, for the statements below.
            self.sql("ANALYZE hygiene_secret (first_seen_at, severity, validity)")
        if self.known:  # triage can close findings meanwhile (no lock), not create them
            counts.reopened_ids = self.reopen_resolved(has["tool_says_open"])
            counts.reopened = len(counts.reopened_ids)
        if has["passed"]:
            counts.resolved += self.resolve_passed()
        written = self.upsert_findings(counts, has["findings"])
        if large and written:
            self.sql("ANALYZE hygiene_finding (first_seen_at, source_id, category, missing_since)")
        if has["tool_resolution"]:
            counts.dismissed_ids = self.apply_tool_dismissals()
            counts.dismissed = len(counts.dismissed_ids)
        if has["placeholder"]:
            if self.known:
                self.adopt_values()
            self.drop_unused_new_secrets()
        no_scan = is_no_scan(self.run.format, self.run.events, has["findings"] + has["passed"])
        if self.run.full_scan and not no_scan:
            counts.missing, resolved = self.mark_missing(has["findings"])
            counts.resolved += resolved
        if has["references"]:
            self.insert_references()
        self.refresh_secret_stats()
        counts.secret_ids = self.policy_candidates()
        return counts

    def staged_kinds(self) -> dict[str, int]:
        """Which optional steps this run needs (skipping a statement beats running it idle),
        and how many findings (not passes) it staged. Also whether the source has findings
        yet: a first scan has nothing to reopen, update or mark missing, and
        its insert is planned as such (_insert_new). Read after the lock, in a statement of
        its own: this snapshot has what an earlier run of the source committed."""
        # One pass over the run's rows (separate EXISTS would each read all of them when the
        # answer is no, which is the usual answer).
        row = self.rows(
            """
            SELECT COALESCE(MAX(CASE WHEN passed THEN 1 ELSE 0 END), 0),
                   COALESCE(MAX(CASE WHEN tool_resolution NOT IN ('', 'open', 'reopened')
                       THEN 1 ELSE 0 END), 0),
                   COALESCE(MAX(CASE WHEN tool_resolution IN ('open', 'reopened')
                       THEN 1 ELSE 0 END), 0),
                   EXISTS(SELECT 1 FROM hygiene_stagedreference WHERE run_id = %(run)s),
                   COALESCE(SUM(CASE WHEN passed THEN 0 ELSE 1 END), 0),
                   EXISTS(SELECT 1 FROM hygiene_finding WHERE source_id = %(source)s)
            FROM hygiene_stagedfinding WHERE run_id = %(run)s
            """
        )[0]
        self.known = bool(row[5])
        return {
            "passed": bool(row[0]),
            "tool_resolution": bool(row[1]),
            "tool_says_open": bool(row[2]),
            "references": bool(row[3]),
            "placeholder": self.run.format == "github-secret-scanning",
            "findings": row[4],
        }

    # -- secrets -------------------------------------------------------------------------

    def _secret_changes(self, old: str, new: str, exposed: str = "") -> str:
        """When a known secret (``old``) takes something from a reported one (``new``; its
        exposure start is ``exposed``, by default its ``exposed_since``)."""
        generic = "('generic-secret', 'generic-password', 'api-key')"
        return f"""({_rank(new + ".severity")} > {_rank(old + ".severity")}
               OR ({new}.validity <> 'unknown' AND {old}.validity <> {new}.validity
                   AND ({old}.validity <> 'revoked' OR {new}.validity = 'valid'))
               OR {exposed or new + ".exposed_since"} < {old}.exposed_since
               OR ({old}.preview = '' AND {new}.preview <> '')
               OR ({old}.secret_type IN {generic} AND {old}.secret_type <> {new}.secret_type))"""

    def upsert_secrets(self) -> int:
        """Insert new secrets, update known ones from this run; returns how many it wrote."""
        # Known secrets that take nothing from this run are left out before the upsert: ON
        # CONFLICT would lock each of them (a WAL record and a dirty page per row) only to find
        # that there is nothing to update, which is every secret of a re-scan.
        # A source's re-scan first picks, row by row, the secrets a row could change
        # (secret_candidates) and aggregates only theirs: grouping every row of the run, to
        # find nothing to do, was half of a re-scan's reconcile (0.45 s per 100,000). A first
        # scan's secrets are mostly new: it aggregates them all at once.
        only, params = "", {}
        sightings = None  # unknown: a first scan of the source aggregates all its secrets
        if self.known:
            candidates, sightings = self.secret_candidates()
            if candidates == []:
                self.sight_secrets(sightings, 0, candidates)
                return 0
            if candidates:
                only, params = "AND fingerprint = ANY(%(candidates)s)", {"candidates": candidates}
        run_place = place_sql("hygiene_stagedfinding", self.pg, source=False)
        # A new secret's team is its findings' (all new: owner_sql), the lowest id as
        # before; a known secret keeps its own (refresh_secret_stats).
        team = self.owner_sql("hygiene_stagedfinding")
        team = f"MIN({team})" if self.has_owners else team
        with self.teams_checked_here():
            written = self._upsert_secrets(only, params, run_place, team)
        self.sight_secrets(sightings, written, candidates if self.known else None)
        return written

    def sight_secrets(
        self, sightings: Sightings | None, written: int, candidates: list[str] | None
    ) -> None:
        """The run's secrets were seen now: new ones get their sighting, known ones whose
        sighting is due (an hour old, or the secret changed now) are refreshed, and those
        without one (made by other means than an import: the ORM) get one. A re-scan of the
        source (``sightings`` from secret_candidates) UPDATEs: a daily one refreshes every
        secret it reports, and an upsert's ON CONFLICT would insert each speculatively first.
        A first scan of the source (None: its secrets are mostly new) upserts the few that
        other sources found before, in one join. The known secrets the upsert changed are
        sighted now too: by their fingerprints when the candidates were passed as constants
        (an unchanged re-scan that only offered a few a change reads no more), else in the
        join."""
        if written:
            self.sql(
                """
                INSERT INTO hygiene_secretsighting (secret_id, last_seen_at)
                SELECT id, %(now)s FROM hygiene_secret
                WHERE first_seen_at = %(now)s AND first_run_id = %(run)s
                """
            )
        # Known secrets only (first seen before this run): the new ones were just sighted.
        reported = """(SELECT DISTINCT sec.id, sec.updated_at FROM hygiene_stagedfinding r
                       JOIN hygiene_secret sec ON sec.fingerprint = r.fingerprint
                       WHERE r.run_id = %(run)s AND r.category = 'secret'
                         AND sec.first_seen_at <> %(now)s) rs"""
        if sightings is None:
            self.sql(
                f"""
                INSERT INTO hygiene_secretsighting (secret_id, last_seen_at)
                SELECT rs.id, %(now)s FROM {reported}
                WHERE true  -- (SQLite reads ON CONFLICT after a FROM as a join's ON otherwise)
                ON CONFLICT (secret_id) DO UPDATE SET last_seen_at = excluded.last_seen_at
                WHERE hygiene_secretsighting.last_seen_at < %(stale)s
                   OR EXISTS (SELECT 1 FROM hygiene_secret changed
                              WHERE changed.id = hygiene_secretsighting.secret_id
                                AND changed.updated_at = %(now)s)
                """
            )
            return
        if sightings.stale or (written and candidates is None):
            self.sql(
                f"""
                UPDATE hygiene_secretsighting SET last_seen_at = %(now)s
                FROM {reported}
                WHERE hygiene_secretsighting.secret_id = rs.id
                  AND (hygiene_secretsighting.last_seen_at < %(stale)s
                       OR rs.updated_at = %(now)s)
                """
            )
        elif written and candidates:
            self.sql(
                """
                UPDATE hygiene_secretsighting SET last_seen_at = %(now)s
                WHERE secret_id IN (SELECT id FROM hygiene_secret
                                    WHERE fingerprint = ANY(%(candidates)s)
                                      AND updated_at = %(now)s AND first_seen_at <> %(now)s)
                """,
                {"candidates": candidates},
            )
        if sightings.unsighted:
            self.sql(
                f"""
                INSERT INTO hygiene_secretsighting (secret_id, last_seen_at)
                SELECT rs.id, %(now)s FROM {reported}
                WHERE NOT EXISTS (SELECT 1 FROM hygiene_secretsighting sg
                                  WHERE sg.secret_id = rs.id)
                -- Another source's run may sight the same secret at the same moment.
                ON CONFLICT (secret_id) DO NOTHING
                """
            )

    def _upsert_secrets(self, only: str, params: dict, run_place: str, team: str) -> int:
        return self.sql(
            f"""
            INSERT INTO hygiene_secret (fingerprint, secret_type, preview, severity, validity,
                analysis, place_count, reused, finding_count, first_seen_at, first_run_id,
                exposed_since, created_at, updated_at, team_id)
            SELECT n.fingerprint, n.secret_type, n.preview, n.severity, n.validity, n.analysis,
                   n.place_count, n.reused, n.finding_count, %(now)s, %(run)s,
                   n.exposed_since, %(now)s, %(now)s, n.team
            FROM (
                SELECT s.fingerprint, s.secret_type, s.preview, agg.team,
                       {SEVERITY_FROM_RANK_SQL.format(col="agg.sev")} AS severity,
                       CASE agg.val WHEN 2 THEN 'valid' WHEN 1 THEN 'invalid' ELSE 'unknown' END
                           AS validity,
                       s.analysis, agg.places AS place_count, agg.places >= 2 AS reused,
                       agg.n AS finding_count, COALESCE(agg.committed, %(now)s) AS exposed_since
                FROM (
                    SELECT fingerprint, MIN(id) AS first_id, MAX({_rank("severity")}) AS sev,
                           MAX(CASE validity WHEN 'valid' THEN 2 WHEN 'invalid' THEN 1 ELSE 0 END)
                               AS val,
                           MIN(committed_at) AS committed,
                           COUNT(*) AS n,
                           COUNT(DISTINCT {run_place}) AS places,
                           {team} AS team
                    FROM hygiene_stagedfinding
                    WHERE run_id = %(run)s AND category = 'secret' {only}
                    GROUP BY fingerprint
                ) agg JOIN hygiene_stagedfinding s ON s.id = agg.first_id
            ) n
            LEFT JOIN hygiene_secret cur ON cur.fingerprint = n.fingerprint
            WHERE cur.id IS NULL OR {self._secret_changes("cur", "n")}
            ON CONFLICT (fingerprint) DO UPDATE SET
                severity = CASE
                    WHEN {_rank("excluded.severity")} > {_rank("hygiene_secret.severity")}
                    THEN excluded.severity ELSE hygiene_secret.severity END,
                validity = CASE
                    WHEN excluded.validity = 'valid' THEN 'valid'
                    WHEN hygiene_secret.validity = 'revoked' THEN 'revoked'
                    WHEN excluded.validity = 'unknown' THEN hygiene_secret.validity
                    ELSE excluded.validity END,
                exposed_since = {self.least}(hygiene_secret.exposed_since, excluded.exposed_since),
                preview = CASE WHEN hygiene_secret.preview = '' THEN excluded.preview
                    ELSE hygiene_secret.preview END,
                secret_type = CASE
                    WHEN hygiene_secret.secret_type IN ('generic-secret', 'generic-password',
                        'api-key') THEN excluded.secret_type
                    ELSE hygiene_secret.secret_type END,
                analysis = CASE WHEN hygiene_secret.analysis = {self.empty_json}
                    THEN excluded.analysis ELSE hygiene_secret.analysis END,
                updated_at = excluded.updated_at
            WHERE {self._secret_changes("hygiene_secret", "excluded")}
            """,
            {**params, **self.owner_params},
        )

    @contextlib.contextmanager
    def teams_checked_here(self):
        """Around an INSERT whose rows' teams owners() locked: their triggers pass over them."""
        if not self.teams_locked:
            yield
            return
        self.sql(f"SELECT set_config('{TEAMS_LOCKED}', 'on', true)")
        yield
        self.sql(f"SELECT set_config('{TEAMS_LOCKED}', 'off', true)")

    def secret_candidates(self) -> tuple[list[str] | None, Sightings]:
        """The fingerprints of the secrets that this run's rows could change, each row judged
        alone: new ones, and known ones a row offers one of the changes of _secret_changes
        (whatever a secret takes from the run's aggregate, some row of it offers). A superset:
        the upsert decides from the aggregate. ``[]`` when there are none (an unchanged
        re-scan: one hash join, no grouping); None when there are more than SECRET_CANDIDATES
        (a first scan), or on SQLite: then every secret of the run is aggregated. As
        constants, the planner sizes the aggregate's joins by their number (through a
        subquery it guessed all the run's rows, and hashed them all twice).
        The same join says whether some known secret's sighting is an hour old or missing
        (sight_secrets), over all the run's rows and apart from the candidates: a re-scan a
        day later sights every secret and changes few, which still go as constants."""
        if not self.pg:
            return None, Sightings(stale=True, unsighted=True)
        writes = f"""(cur.id IS NULL
               OR {self._secret_changes("cur", "r", "COALESCE(r.committed_at, %(now)s)")})"""
        # The rows listed once (a CTE read twice is materialised): whether a known secret
        # among them has an old sighting, or none, over all of them; then the candidates.
        found = self.rows(
            f"""
            WITH listed AS (
                SELECT r.fingerprint, {writes} AS writes, cur.id IS NOT NULL AS known,
                       sg.last_seen_at < %(stale)s AS old, sg.secret_id IS NULL AS unsighted
                FROM hygiene_stagedfinding r
                LEFT JOIN hygiene_secret cur ON cur.fingerprint = r.fingerprint
                LEFT JOIN hygiene_secretsighting sg ON sg.secret_id = cur.id
                WHERE r.run_id = %(run)s AND r.category = 'secret'
                  AND ({writes} OR sg.secret_id IS NULL OR sg.last_seen_at < %(stale)s))
            SELECT NULL::text, COALESCE(bool_or(known AND old), FALSE),
                   COALESCE(bool_or(known AND unsighted), FALSE)
            FROM listed
            UNION ALL
            (SELECT DISTINCT fingerprint::text, NULL::boolean, NULL::boolean
             FROM listed WHERE writes LIMIT {SECRET_CANDIDATES + 1})
            """
        )
        ((_, stale, unsighted),) = [row for row in found if row[0] is None]
        sightings = Sightings(stale=bool(stale), unsighted=bool(unsighted))
        candidates = [fp for fp, _, _ in found if fp is not None]
        if len(candidates) > SECRET_CANDIDATES:
            return None, sightings
        return candidates, sightings

    # -- findings ------------------------------------------------------------------------

    def reopen_resolved(self, tool_says_open: bool) -> list[tuple[int, int | None, str]]:
        """A resolved finding reported again is a regression: it reopens (not where its secret
        is revoked and the tool doesn't say the value works). Dismissed ones stay,
        unless the tool reopened the alert (a webhook's "reopened"), or says it is open and the
        dismissal was its own (GitHub's list after an alert was reopened there). Returns (id,
        secret id, how) of each: "reported" again, or "tool" (the tool reopened it).
        ``tool_says_open``: whether any staged row says so."""
        # A join with the source's closed findings (the partial index finding_closed_at): when
        # there are none, as in most re-scans, it ends before reading the run's rows (0.11 s
        # per 100,000 for IN (…) of them). Staged location keys are unique per run.
        staged = """(SELECT location_key, tool_resolution, validity FROM hygiene_stagedfinding
                  WHERE run_id = %(run)s AND passed = FALSE
                    AND tool_resolution IN ('', 'reopened', 'open')) s"""
        by_tool = f"""(s.tool_resolution = 'reopened'
                   OR (s.tool_resolution = 'open'
                       AND hygiene_finding.resolution_comment = '{TOOL_COMMENT}'))"""
        # Where its secret is revoked, the same place reported again is no regression: a scan
        # of git history reports every commit it ever saw, and the credential is dead. (After
        # an incident closed, each scheduled history scan put its findings back in the queue.)
        # Unless the tool says the value works: then the revoke didn't take.
        revoked = """(s.validity <> 'valid' AND EXISTS (
                        SELECT 1 FROM hygiene_secret
                        WHERE hygiene_secret.id = hygiene_finding.secret_id
                          AND hygiene_secret.validity = 'revoked'))"""
        reopened_by_tool: set[int] = set()
        if tool_says_open:
            # Which of them the tool reopened: dismissed ones, and resolved ones it had closed
            # (GitHub's pattern_edited) (RETURNING can't say what a row was before, and
            # SQLite's can't read the joined rows).
            reopened_by_tool = {
                row[0]
                for row in self.rows(
                    f"""SELECT hygiene_finding.id FROM hygiene_finding JOIN {staged}
                          ON hygiene_finding.location_key = s.location_key
                        WHERE hygiene_finding.source_id = %(source)s
                          AND hygiene_finding.status IN ('dismissed', 'resolved')
                          AND {by_tool}"""
                )
            }
        rows = self.rows(
            f"""
            UPDATE hygiene_finding SET status = 'open', resolution = '', resolved_at = NULL,
                resolved_by_id = NULL, missing_since = NULL, updated_at = %(now)s,
                resolution_comment = CASE
                    WHEN hygiene_finding.resolution_comment = '{TOOL_COMMENT}' THEN ''
                    ELSE hygiene_finding.resolution_comment END
            FROM {staged}
            WHERE hygiene_finding.source_id = %(source)s
              AND hygiene_finding.status IN ('resolved', 'dismissed')
              AND hygiene_finding.location_key = s.location_key
              AND ((hygiene_finding.status = 'resolved' AND NOT {revoked}) OR {by_tool})
            RETURNING hygiene_finding.id, hygiene_finding.secret_id
            """
        )
        return [
            (pk, secret, "tool" if pk in reopened_by_tool else "reported") for pk, secret in rows
        ]

    def resolve_passed(self) -> int:
        return self.sql(
            """
            UPDATE hygiene_finding SET status = 'resolved', resolution = 'passed',
                resolved_at = %(now)s, updated_at = %(now)s
            WHERE source_id = %(source)s AND category = 'posture'
              AND status IN ('open', 'triaged')
              AND location_key IN (SELECT location_key FROM hygiene_stagedfinding
                                   WHERE run_id = %(run)s AND passed = TRUE)
            """
        )

    @staticmethod
    def _finding_changes(old: str, new: str) -> str:
        """When a known finding (``old``) is updated from a reported one (``new``); its
        sighting is refreshed then too (``_sighting_due``)."""
        return f"""({old}.missing_since IS NOT NULL
               OR {old}.severity <> {Reconciler._severity(old, new)}
               OR ({new}.validity <> 'unknown' AND {old}.validity <> {new}.validity)
               OR ({new}.url <> '' AND {old}.url <> {new}.url)
               OR {old}.title <> {new}.title
               OR ({new}.description <> '' AND {old}.description <> {new}.description)
               OR ({old}.path = '' AND {new}.path <> ''))"""

    @staticmethod
    def _severity(old: str, new: str) -> str:
        """A known finding's severity from a report: the report's, which staging raised a
        level when the report said the secret is valid. A report that doesn't say (a GitHub
        location delivery) keeps the finding's validity: when that is "valid", the level it
        raises is kept too (one level above the report's, not whatever was stored)."""
        bump = (
            f"CASE {new}.severity WHEN 'low' THEN 'medium' WHEN 'medium' THEN 'high' "
            f"WHEN 'high' THEN 'critical' ELSE {new}.severity END"
        )
        return f"""(CASE WHEN {new}.validity = 'unknown' AND {old}.validity = 'valid'
                THEN {bump} ELSE {new}.severity END)"""

    def _sighting_due(self, finding: str, sighting: str, new: str) -> str:
        """When a known finding's sighting (``sighting``) moves to now: hourly at most
        (LAST_SEEN_GRANULARITY), or whenever the finding changes or reopens; a missing one
        (LEFT JOINed, NULL) is due too."""
        return f"""({sighting}.finding_id IS NULL OR {sighting}.last_seen_at < %(stale)s
               OR {finding}.updated_at = %(now)s OR {self._finding_changes(finding, new)})"""

    def upsert_findings(self, counts: ReconcileCounts, total: int) -> int:
        """Update known findings, insert new ones; sets the counts, returns how many it wrote.
        Two statements, not an upsert: ON CONFLICT would probe and lock each known finding
        (a re-scan's every one) and insert each new one speculatively, for a conflict that
        can't happen (one reconcile per source at a time, and only reconciles add findings).
        Known findings with nothing to update are left alone (their index entries too).
        One join of the run's rows with the source's findings counts first what each
        statement would do: a statement with nothing to do is not run (a re-scan within the
        hour updates nothing, and one that reports nothing new inserts nothing: 0.36 s of
        joins per 100,000 otherwise)."""
        # Staged location keys are unique per run (the stager drops repeats).
        staged = "SELECT * FROM hygiene_stagedfinding WHERE run_id = %(run)s AND passed = FALSE"
        if not self.known:
            counts.created = self._insert_new(staged, anti_join=False)
            return counts.created
        changes = f"""f.severity <> {self._severity("f", "s")} OR f.missing_since IS NOT NULL
                       OR (s.validity <> 'unknown' AND f.validity <> s.validity)
                       OR (f.path = '' AND s.path <> '')"""
        # Reopened ones (reopen_resolved, just now) count as reopened, not unchanged too.
        known, stale, sighted, unsighted, changed, reopened = self.rows(
            f"""
            SELECT COUNT(*),
                   COALESCE(SUM(CASE WHEN {self._finding_changes("f", "s")} THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN {self._sighting_due("f", "sg", "s")} THEN 1 ELSE 0 END),
                       0),
                   COALESCE(SUM(CASE WHEN sg.finding_id IS NULL THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN {changes} THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN f.updated_at = %(now)s AND NOT ({changes})
                       THEN 1 ELSE 0 END), 0)
            FROM ({staged}) s
            JOIN hygiene_finding f
              ON f.source_id = %(source)s AND f.location_key = s.location_key
            LEFT JOIN hygiene_findingsighting sg ON sg.finding_id = f.id
            """
        )[0]
        refreshed = created = 0
        if sighted:  # before the findings change: whether they do is part of the condition
            self._refresh_sightings(staged, add_missing=unsighted > 0)
        if stale:
            refreshed = self._refresh_known(staged)
        if known < total:
            created = self._insert_new(staged, anti_join=known > 0)
        counts.created, counts.updated = created, changed
        counts.unchanged = total - created - changed - reopened
        return created + refreshed

    def _refresh_sightings(self, staged: str, add_missing: bool) -> None:
        """An UPDATE (an upsert's speculative inserts took 0.9 s per 100,000 more), then, when
        some known findings have no sighting (written by other means than an import: the ORM),
        their sightings."""
        joined = f"""FROM ({staged}) s
            JOIN hygiene_finding f
              ON f.source_id = %(source)s AND f.location_key = s.location_key"""
        self.sql(
            f"""
            UPDATE hygiene_findingsighting SET last_seen_at = %(now)s
            {joined}
            WHERE hygiene_findingsighting.finding_id = f.id
              AND {self._sighting_due("f", "hygiene_findingsighting", "s")}
            """
        )
        if add_missing:
            self.sql(
                f"""
                INSERT INTO hygiene_findingsighting (finding_id, last_seen_at)
                SELECT f.id, %(now)s {joined}
                WHERE NOT EXISTS (SELECT 1 FROM hygiene_findingsighting sg
                                  WHERE sg.finding_id = f.id)
                """
            )

    def _refresh_known(self, staged: str) -> int:
        severity = self._severity("hygiene_finding", "s")
        if self.pg:
            # Paths a known finding takes now (it had none): search terms are added by a
            # trigger on INSERT only (hygiene.search_terms), so these are added here.
            self.sql(
                f"""
                INSERT INTO hygiene_searchterm (value)
                SELECT DISTINCT s.path FROM ({staged}) s
                JOIN hygiene_finding f
                  ON f.source_id = %(source)s AND f.location_key = s.location_key
                WHERE f.path = '' AND s.path <> ''
                  AND NOT EXISTS (SELECT 1 FROM hygiene_searchterm t WHERE t.value = s.path)
                """
            )
        return self.sql(
            f"""
            UPDATE hygiene_finding SET
                missing_since = NULL,
                severity = {severity},
                validity = CASE WHEN s.validity = 'unknown' THEN hygiene_finding.validity
                    ELSE s.validity END,
                url = CASE WHEN s.url <> '' THEN s.url ELSE hygiene_finding.url END,
                title = s.title,
                description = CASE WHEN s.description <> '' THEN s.description
                    ELSE hygiene_finding.description END,
                -- A finding known without a place (a GitHub alert first seen in a webhook
                -- delivery without one) takes the first one reported.
                path = CASE WHEN hygiene_finding.path = '' THEN s.path
                    ELSE hygiene_finding.path END,
                line = CASE WHEN hygiene_finding.path = '' AND s.path <> '' THEN s.line
                    ELSE hygiene_finding.line END,
                "commit" = CASE WHEN hygiene_finding.path = '' AND s.path <> '' THEN s."commit"
                    ELSE hygiene_finding."commit" END,
                updated_at = CASE WHEN hygiene_finding.severity <> {severity}
                    OR hygiene_finding.missing_since IS NOT NULL
                    THEN %(now)s ELSE hygiene_finding.updated_at END
            FROM ({staged}) s
            WHERE hygiene_finding.source_id = %(source)s
              AND hygiene_finding.location_key = s.location_key
              AND {self._finding_changes("hygiene_finding", "s")}
            """
        )

    def _insert_new(self, staged: str, anti_join: bool) -> int:
        """``anti_join``: whether some of the rows are known findings, to leave out. When none
        are, the planner isn't asked to look for them: it estimates from statistics that may
        predate the source's findings, and with none (a new source) it probed the source's
        findings once per row, as the statement added to them (2.8 s per 10,000)."""
        dismissals = ", ".join(f"'{d}'" for d in DISMISSALS)
        known = (
            """WHERE NOT EXISTS (SELECT 1 FROM hygiene_finding cur
                              WHERE cur.source_id = %(source)s
                                AND cur.location_key = s.location_key)"""
            if anti_join
            else ""
        )
        insert = f"""
            INSERT INTO hygiene_finding (secret_id, source_id, location_key, category, rule,
                secret_type, severity, status, resolution, resolution_comment, resolved_at,
                proposed_resolution, proposed_comment, repo, path, line, "commit", url, author,
                committed_at, title, description, resource, account, region, validity, tool_ids,
                first_seen_at, missing_since, created_at, updated_at, team_id, format)
            SELECT sec.id, %(source)s, s.location_key, s.category, s.rule, s.secret_type,
                s.severity,
                CASE WHEN s.tool_resolution IN ({dismissals}) THEN 'dismissed'
                     WHEN s.tool_resolution = 'resolved' THEN 'resolved' ELSE 'open' END,
                CASE WHEN s.tool_resolution = 'resolved' THEN 'fixed'
                     WHEN s.tool_resolution IN ({dismissals}) THEN s.tool_resolution
                     ELSE '' END,
                CASE WHEN s.tool_resolution IN ({dismissals}, 'resolved')
                     THEN '{TOOL_COMMENT}' ELSE '' END,
                CASE WHEN s.tool_resolution IN ({dismissals}, 'resolved') THEN %(now)s END,
                '', '', s.repo, s.path, s.line, s."commit", s.url, s.author, s.committed_at,
                s.title, s.description, s.resource, s.account, s.region, s.validity, s.tool_ids,
                %(now)s, NULL, %(now)s, %(now)s, {self.owner_sql("s")}, %(format)s
            FROM ({staged}) s
            LEFT JOIN hygiene_secret sec
              ON s.category = 'secret' AND sec.fingerprint = s.fingerprint
            {known}
            """
        sighting = "INSERT INTO hygiene_findingsighting (finding_id, last_seen_at)"
        if self.pg:
            # One statement: the new findings' ids straight into their sightings, and their
            # distinct values into the search terms, the trigger told to skip this INSERT's
            # rows, and only its (search_terms).
            self.sql(f"SELECT set_config('{search_terms.SKIP_SETTING}', 'on', true)")
            terms = search_terms.add_terms_sql("SELECT repo, path, rule, resource FROM new")
            with self.teams_checked_here():
                created = self._insert_with_terms(insert, terms, sighting)
            self.sql(f"SELECT set_config('{search_terms.SKIP_SETTING}', 'off', true)")
            return created
        with self.teams_checked_here():
            created = self.sql(insert, self.owner_params)
        self.sql(
            f"""{sighting} SELECT f.id, %(now)s FROM hygiene_finding f
            WHERE f.source_id = %(source)s AND f.first_seen_at = %(now)s
              AND NOT EXISTS (SELECT 1 FROM hygiene_findingsighting sg
                              WHERE sg.finding_id = f.id)"""
        )
        return created

    def _insert_with_terms(self, insert: str, terms: str, sighting: str) -> int:
        return self.sql(
            f"""
            WITH new AS ({insert} RETURNING id, repo, path, rule, resource),
            terms AS ({terms})
            {sighting} SELECT id, %(now)s FROM new
            """,
            self.owner_params,
        )

    def apply_tool_dismissals(self) -> list[tuple[int, int | None, str]]:
        """The tool's own triage (GitHub resolved as used_in_tests, detect-secrets audited
        false positive) applies to open findings it reports. Returns (id, secret id,
        resolution) of each finding it closed, for their timelines."""
        dismissals = ", ".join(f"'{d}'" for d in DISMISSALS)
        return self.rows(
            f"""
            UPDATE hygiene_finding SET
                status = CASE WHEN s.tool_resolution = 'resolved' THEN 'resolved'
                    ELSE 'dismissed' END,
                resolution = CASE WHEN s.tool_resolution = 'resolved' THEN 'fixed'
                    ELSE s.tool_resolution END,
                resolution_comment = '{TOOL_COMMENT}',
                resolved_at = %(now)s, updated_at = %(now)s
            FROM hygiene_stagedfinding s
            WHERE s.run_id = %(run)s AND s.passed = FALSE
              AND s.tool_resolution IN ({dismissals}, 'resolved')
              AND hygiene_finding.source_id = %(source)s
              AND hygiene_finding.location_key = s.location_key
              AND hygiene_finding.status IN ('open', 'triaged')
              AND hygiene_finding.first_seen_at <> %(now)s
            RETURNING hygiene_finding.id, hygiene_finding.secret_id, hygiene_finding.resolution
            """
        )

    def adopt_values(self) -> None:
        """A GitHub alert first known from a webhook delivery (never with the value) has a
        stand-in secret, known by its place; when a list of alerts brings the value, the
        finding becomes the value's secret, the one other scanners find it as. A stand-in
        whose value is new (no finding has it yet) takes the value's fingerprint and preview
        (it keeps its id, and so its incidents and timeline); when the value's secret has
        findings already (another scanner's, another alert of this list), the finding moves
        to it, and the stand-in goes, its incidents and history going to that secret
        (_merge_into). A few rows: alerts are hundreds, not hundreds of thousands."""
        pairs = self.rows(
            """
            SELECT f.id, old.id, new.id,
                   new.first_seen_at = %(now)s
                   AND NOT EXISTS (SELECT 1 FROM hygiene_finding nf WHERE nf.secret_id = new.id)
            FROM hygiene_stagedfinding s
            JOIN hygiene_finding f ON f.source_id = %(source)s AND f.location_key = s.location_key
            JOIN hygiene_secret old ON old.id = f.secret_id AND old.preview = ''
            JOIN hygiene_secret new ON new.fingerprint = s.fingerprint AND new.id <> old.id
            WHERE s.run_id = %(run)s AND s.category = 'secret' AND s.preview <> ''
              AND NOT EXISTS (SELECT 1 FROM hygiene_finding other
                              WHERE other.secret_id = old.id AND other.id <> f.id)
            """
        )
        if not pairs:
            return
        # The value's secret → the secret that has the value now: of several stand-ins of one
        # value (the same token in two repositories, both alerts first known from
        # deliveries), the first adopts it and the others' findings join that one.
        holder: dict[int, int] = {}
        recount: set[int] = set()
        for finding, old, new, is_new in pairs:
            if is_new and new not in holder:
                self._adopt(old, new)
                holder[new] = old
                continue
            target = holder.get(new, new)
            self.sql(
                "UPDATE hygiene_finding SET secret_id = %(target)s, updated_at = %(now)s"
                " WHERE id = %(finding)s",
                {"target": target, "finding": finding},
            )
            self._merge_into(old, target)
            recount.add(target)
        for secret in sorted(recount):
            self._recount(secret)

    def _adopt(self, old: int, new: int) -> None:
        """The stand-in ``old`` takes what the value gave the new secret ``new``, then its
        fingerprint (the new row goes first: fingerprints are unique)."""
        params = {"old": old, "new": new}
        self.sql(
            f"""
            UPDATE hygiene_secret SET preview = n.preview, secret_type = n.secret_type,
                analysis = n.analysis,
                severity = CASE WHEN {_rank("n.severity")} > {_rank("hygiene_secret.severity")}
                    THEN n.severity ELSE hygiene_secret.severity END,
                validity = CASE WHEN n.validity = 'valid' OR (n.validity <> 'unknown'
                    AND hygiene_secret.validity <> 'revoked')
                    THEN n.validity ELSE hygiene_secret.validity END,
                updated_at = %(now)s
            FROM hygiene_secret n
            WHERE hygiene_secret.id = %(old)s AND n.id = %(new)s
            """,
            params,
        )
        self.sql("DELETE FROM hygiene_secretsighting WHERE secret_id = %(new)s", params)
        (fingerprint,) = self.rows(
            "DELETE FROM hygiene_secret WHERE id = %(new)s RETURNING fingerprint", params
        )[0]
        self.sql(
            "UPDATE hygiene_secret SET fingerprint = %(fp)s WHERE id = %(old)s",
            {**params, "fp": fingerprint},
        )
        # The value was reported now: so was the stand-in that has it now.
        self.sql(
            "INSERT INTO hygiene_secretsighting (secret_id, last_seen_at)"
            " VALUES (%(old)s, %(now)s)"
            " ON CONFLICT (secret_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
            params,
        )

    def _merge_into(self, old: int, target: int) -> None:
        """The stand-in ``old`` is the value's secret ``target``: its incidents (an incident
        opened for the alert's delivery), references, events and timeline go to ``target``,
        then it goes. An incident that holds both keeps its link to ``target``."""
        params = {"old": old, "target": target, "empty": "{}"}
        # An incident of the stand-in whose secret another open incident tracks already (one
        # open incident per secret): it keeps the secret as an inactive link, and says so.
        self.sql(
            """
            INSERT INTO incidents_timelineevent (incident_id, secret_id, kind, actor_label,
                message, data, created_at)
            SELECT i.incident_id, %(target)s, 'secret_merged', 'import',
                   'Its secret is the one INC-' || t.incident_id
                   || ' tracks (the same value): INC-' || t.incident_id
                   || ' tracks it from now on', %(empty)s,
                   %(now)s
            FROM incidents_incidentsecret i
            JOIN incidents_incidentsecret t ON t.secret_id = %(target)s AND t.active
                AND t.incident_id <> i.incident_id
            WHERE i.secret_id = %(old)s AND i.active
            """,
            params,
        )
        for statement in (
            """UPDATE incidents_incidentsecret SET secret_id = %(target)s,
                   active = active AND NOT EXISTS (
                       SELECT 1 FROM incidents_incidentsecret t
                       WHERE t.secret_id = %(target)s AND t.active)
               WHERE secret_id = %(old)s AND NOT EXISTS (
                   SELECT 1 FROM incidents_incidentsecret o
                   WHERE o.incident_id = incidents_incidentsecret.incident_id
                     AND o.secret_id = %(target)s)""",
            "DELETE FROM incidents_incidentsecret WHERE secret_id = %(old)s",
            """UPDATE hygiene_secretreference SET secret_id = %(target)s
               WHERE secret_id = %(old)s AND NOT EXISTS (
                   SELECT 1 FROM hygiene_secretreference o
                   WHERE o.secret_id = %(target)s AND o.kind = hygiene_secretreference.kind
                     AND o.value_hash = hygiene_secretreference.value_hash)""",
            "DELETE FROM hygiene_secretreference WHERE secret_id = %(old)s",
            "UPDATE hygiene_rotationevent SET secret_id = %(target)s WHERE secret_id = %(old)s",
            "UPDATE incidents_timelineevent SET secret_id = %(target)s WHERE secret_id = %(old)s",
            "DELETE FROM hygiene_secretsighting WHERE secret_id = %(old)s",
            "DELETE FROM hygiene_secret WHERE id = %(old)s",
        ):
            self.sql(statement, params)

    def _recount(self, secret: int) -> None:
        place = place_sql("f", self.pg)
        self.sql(
            f"""
            UPDATE hygiene_secret SET finding_count = agg.n, place_count = agg.places,
                reused = agg.places >= 2
            FROM (SELECT COUNT(*) AS n, COUNT(DISTINCT {place}) AS places
                  FROM hygiene_finding f WHERE f.secret_id = %(secret)s) agg
            WHERE hygiene_secret.id = %(secret)s
            """,
            {"secret": secret},
        )

    def drop_unused_new_secrets(self) -> None:
        """A value-less report of a finding we already know (a GitHub webhook for an alert
        imported with its value) stays attached to the known secret: drop the stand-in."""
        unused = """SELECT id FROM hygiene_secret WHERE first_seen_at = %(now)s
              AND fingerprint IN (SELECT fingerprint FROM hygiene_stagedfinding
                                  WHERE run_id = %(run)s AND category = 'secret')
              AND NOT EXISTS (SELECT 1 FROM hygiene_finding f
                              WHERE f.secret_id = hygiene_secret.id)"""
        self.sql(f"DELETE FROM hygiene_secretsighting WHERE secret_id IN ({unused})")
        self.sql(f"DELETE FROM hygiene_secret WHERE id IN ({unused})")

    def owners(self) -> None:
        """Read the ownership rules once: a new finding (or secret) gets its team as it is
        written (owner_sql), not by an UPDATE per rule afterwards, which rewrote every new
        finding and secret (team_id is in their metrics indexes: no HOT update) and made a
        100,000-finding first import with three rules and a default team four times as slow
        (25.8 s instead of 6)."""
        rules = enabled_in_order(list(OwnershipRule.objects.order_by("position", "id")))
        self.owner_rules = []
        for i, rule in enumerate(rules):
            tests = []
            for attr, column in FIELDS:
                pattern = getattr(rule, attr)
                if pattern:
                    tests.append((column, f"owner_{i}_{column}"))
                    self.owner_params[f"owner_{i}_{column}"] = glob_to_regex(pattern)
            self.owner_rules.append((tests, int(rule.team_id)))
        teams = {team for _, team in self.owner_rules} | {self.run.source.default_team_id}
        teams.discard(None)
        if self.pg and teams:
            # What each new row's team trigger would do at commit (migration 0028), once per
            # team: lock it, so that it can't be deleted before this run commits. A team
            # deleted meanwhile (its rules with it) leaves the rows to their triggers.
            locked = self.rows(
                "SELECT id FROM hygiene_team WHERE id = ANY(%(teams)s) ORDER BY id FOR KEY SHARE",
                {"teams": sorted(teams)},
            )
            self.teams_locked = len(locked) == len(teams)

    @property
    def has_owners(self) -> bool:
        """Whether a new finding may get a team (owners() has read the rules)."""
        return bool(self.owner_rules or self.run.source.default_team_id)

    def owner_sql(self, row: str) -> str:
        """The team of a new finding at staged row ``row``: the first enabled ownership rule,
        in order, whose patterns all match (the same fnmatch semantics as re-applying rules:
        hygiene.ownership.glob_to_regex), else the source's default team, else none."""
        default = self.run.source.default_team_id
        fallback = str(int(default)) if default else "CAST(NULL AS bigint)"
        whens = [
            "WHEN "
            + " AND ".join(f"{row}.{column} {self.regex_op} %({key})s" for column, key in tests)
            + f" THEN {team}"
            for tests, team in self.owner_rules
        ]
        return f"CASE {' '.join(whens)} ELSE {fallback} END" if whens else fallback

    def mark_missing(self, reported: int) -> tuple[int, int]:
        """A full scan's findings of the source that it no longer reports: secrets are marked
        missing, posture findings resolve. ``reported``: the run's staged findings (not
        passes), each now one finding of the source (staged keys are unique per run)."""
        # When the source has no other finding (its first scan, or a re-scan that reports all
        # it ever did), nothing is missing: one index count instead of two anti-joins of every
        # finding of the source with the run's rows (0.18 s per 100,000), or none.
        if not self.known:
            return 0, 0
        (known,) = self.rows("SELECT COUNT(*) FROM hygiene_finding WHERE source_id = %(source)s")[0]
        if known == reported:
            return 0, 0
        # GitHub's alert lists are an organization's or one repository's: what a list no
        # longer reports is missing in the repositories it lists alerts of (a repository's
        # list says nothing of the organization's other repositories).
        # An auditor's secrets (Prowler's iac and image scans: Trivy's secret scanner) are
        # missing in the accounts its run reports, as its posture findings resolve there: a
        # cloud account's scan says nothing of a repository's (account "iac" or the
        # --provider-uid given).
        scope = ""
        if self.run.format == "github-secret-scanning":
            scope = """AND repo IN (SELECT s.repo FROM hygiene_stagedfinding s
                                    WHERE s.run_id = %(run)s)"""
        elif self.run.format in _AUDITORS:
            scope = """AND account IN (SELECT s.account FROM hygiene_stagedfinding s
                                       WHERE s.run_id = %(run)s)"""
        # And a tool's full scan says nothing of what another tool reported to the same
        # source: only the findings its format found (or found before formats were kept).
        missing = self.sql(
            f"""
            UPDATE hygiene_finding SET missing_since = %(now)s
            WHERE source_id = %(source)s AND category = 'secret' AND missing_since IS NULL
              AND format IN (%(format)s, '')
              {scope}
              AND NOT EXISTS (SELECT 1 FROM hygiene_stagedfinding s WHERE s.run_id = %(run)s
                              AND s.location_key = hygiene_finding.location_key)
            """
        )
        # An auditor's report covers the accounts it has results for (Prowler scans one
        # account a run): what it no longer reports resolves in those accounts only.
        resolved = self.sql(
            """
            UPDATE hygiene_finding SET missing_since = %(now)s, status = 'resolved',
                resolution = 'no_longer_seen', resolved_at = %(now)s, updated_at = %(now)s
            WHERE source_id = %(source)s AND category = 'posture'
              AND status IN ('open', 'triaged') AND format IN (%(format)s, '')
              AND account IN (SELECT s.account FROM hygiene_stagedfinding s
                              WHERE s.run_id = %(run)s AND s.category = 'posture')
              AND NOT EXISTS (SELECT 1 FROM hygiene_stagedfinding s WHERE s.run_id = %(run)s
                              AND s.location_key = hygiene_finding.location_key
                              AND s.passed = FALSE)
            """
        )
        return missing, resolved

    # -- references and statistics ---------------------------------------------------------

    def insert_references(self) -> None:
        """The run's references of its secrets that aren't stored yet. Known ones are left out
        before ON CONFLICT (one hash anti-join), which would otherwise probe the unique index
        for each of a re-scan's references to skip it (0.19 s per 25,000, 0.07 s now)."""
        self.sql(
            """
            INSERT INTO hygiene_secretreference (secret_id, kind, display, value_hash,
                created_at, added_by_id)
            SELECT sec.id, r.kind, MIN(r.display), r.value_hash, %(now)s, NULL
            FROM hygiene_stagedreference r
            JOIN hygiene_secret sec ON sec.fingerprint = r.fingerprint
            WHERE r.run_id = %(run)s
              AND NOT EXISTS (SELECT 1 FROM hygiene_secretreference cur
                              WHERE cur.secret_id = sec.id AND cur.kind = r.kind
                                AND cur.value_hash = r.value_hash)
            GROUP BY sec.id, r.kind, r.value_hash
            ON CONFLICT (secret_id, kind, value_hash) DO NOTHING
            """
        )

    def refresh_secret_stats(self) -> None:
        """New secrets got their counts at insert; recount only known secrets that gained a
        finding in this run (in a re-scan, none)."""
        place = place_sql("f", self.pg)
        self.sql(
            f"""
            UPDATE hygiene_secret SET finding_count = agg.n, place_count = agg.places,
                reused = agg.places >= 2, team_id = COALESCE(hygiene_secret.team_id, agg.team)
            FROM (SELECT f.secret_id, COUNT(*) AS n, COUNT(DISTINCT {place}) AS places,
                         MIN(f.team_id) AS team
                  FROM hygiene_finding f WHERE f.secret_id IN (
                      SELECT nf.secret_id FROM hygiene_finding nf
                      JOIN hygiene_secret ns ON ns.id = nf.secret_id
                      WHERE nf.source_id = %(source)s AND nf.first_seen_at = %(now)s
                        AND ns.first_seen_at <> %(now)s)
                  GROUP BY f.secret_id) agg
            WHERE hygiene_secret.id = agg.secret_id
            """
        )
        # A secret without a team takes that of its new findings (a new one got it as it was
        # written: upsert_secrets). With no ownership rule and no default team, no new
        # finding has one.
        if not self.has_owners:
            return
        self.sql(
            """
            UPDATE hygiene_secret SET team_id = owned.team
            FROM (SELECT secret_id, MIN(team_id) AS team FROM hygiene_finding
                  WHERE source_id = %(source)s AND first_seen_at = %(now)s
                    AND team_id IS NOT NULL AND secret_id IS NOT NULL
                  GROUP BY secret_id) owned
            WHERE hygiene_secret.id = owned.secret_id AND hygiene_secret.team_id IS NULL
            """
        )

    def policy_candidates(self) -> list[int]:
        """Secrets of this run the incident policy may act on: reported valid, or critical,
        without an active incident, and still open somewhere (a secret whose every finding
        the tool itself resolved or dismissed, a GitHub false positive say, needs none).
        Usually a handful, whatever the report's size."""
        # The run's valid or critical secrets first (one hash join), and only theirs probed
        # for incidents and open findings. Left to the planner, which has no statistics on
        # findings' status, it read every open finding of the inventory and probed a secret
        # for each (0.3 s per 100,000 for no candidate at all).
        return [
            row[0]
            for row in self.rows(
                """
                WITH run_secrets AS MATERIALIZED (
                    SELECT sec.id FROM hygiene_secret sec
                    WHERE (sec.validity = 'valid' OR sec.severity = 'critical')
                      AND sec.fingerprint IN (SELECT fingerprint FROM hygiene_stagedfinding
                                              WHERE run_id = %(run)s AND category = 'secret')
                )
                SELECT c.id FROM run_secrets c
                WHERE NOT EXISTS (SELECT 1 FROM incidents_incidentsecret i
                                  WHERE i.secret_id = c.id AND i.active)
                  AND EXISTS (SELECT 1 FROM hygiene_finding f WHERE f.secret_id = c.id
                              AND f.status IN ('open', 'triaged'))
                """
            )
        ]

    def cleanup(self) -> None:
        """Drop the run's staged rows (in the caller's transaction)."""
        if self.pg and self._staging_is_ours_alone():
            # Deleted rows would stay in the table until autovacuum comes by (a minute or
            # more): the next run's every scan of it would read them again (0.2 s more for a
            # re-scan of 100,000 right after the first import). Emptied, the files go.
            self.sql(f"TRUNCATE {', '.join(STAGING_TABLES)}")
            return
        self.sql("DELETE FROM hygiene_stagedfinding WHERE run_id = %(run)s")
        self.sql("DELETE FROM hygiene_stagedreference WHERE run_id = %(run)s")

    def _staging_is_ours_alone(self) -> bool:
        """Whether no other run uses the staging tables: locked at once (or not at all:
        another import staging or reconciling right now keeps its rows and we delete ours),
        then holding no other run's rows (runs waiting for their reconcile)."""
        try:
            with transaction.atomic():  # a savepoint: a lock not granted ends only it
                self.sql(f"LOCK TABLE {', '.join(STAGING_TABLES)} IN ACCESS EXCLUSIVE MODE NOWAIT")
        except OperationalError:
            return False
        others = " OR ".join(
            f"EXISTS (SELECT 1 FROM {table} WHERE run_id < %(run)s OR run_id > %(run)s)"
            for table in STAGING_TABLES
        )
        return not self.rows(f"SELECT {others}")[0][0]
