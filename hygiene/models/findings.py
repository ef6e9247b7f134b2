from django.conf import settings
from django.db import models

from hygiene.taxonomy import SecretType, Severity


class FindingCategory(models.TextChoices):
    SECRET = "secret", "Leaked secret"
    POSTURE = "posture", "Posture"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    TRIAGED = "triaged", "Triaged"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


OPEN_STATUSES = (FindingStatus.OPEN, FindingStatus.TRIAGED)


class Resolution(models.TextChoices):
    # Dismissals (a reason and a comment are required).
    FALSE_POSITIVE = "false_positive", "False positive"
    USED_IN_TESTS = "used_in_tests", "Used in tests"
    ACCEPTED_RISK = "accepted_risk", "Accepted risk"
    REVOKED = "revoked", "Revoked"
    WONT_FIX = "wont_fix", "Won't fix"
    # Resolutions.
    FIXED = "fixed", "Fixed"
    PASSED = "passed", "Passed a later audit"
    NO_LONGER_SEEN = "no_longer_seen", "No longer reported"


DISMISSAL_REASONS = [
    Resolution.FALSE_POSITIVE,
    Resolution.USED_IN_TESTS,
    Resolution.ACCEPTED_RISK,
    Resolution.REVOKED,
    Resolution.WONT_FIX,
]


class Validity(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    VALID = "valid", "Valid"
    INVALID = "invalid", "Invalid"
    REVOKED = "revoked", "Revoked"


class Finding(models.Model):
    """One place a source saw a secret (or, for auditors, one posture problem on a resource).
    Unique per (source, location_key): the key digests the secret's fingerprint and the place
    (repo, path, line, commit) or, for posture, the check and resource."""

    # Foreign-key indexes that a composite index already covers are left out: every index
    # costs each of an import's inserts. The import writes secret and source ids it has just
    # joined to; a database constraint would re-check (and lock) the referenced row for each
    # imported finding at commit (see ARCHITECTURE.md, "Imports"). Deletes cascade in Django.
    secret = models.ForeignKey(
        "hygiene.Secret",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="findings",
        db_index=False,  # finding_secret_source
        db_constraint=False,
    )
    source = models.ForeignKey(
        "hygiene.Source",
        on_delete=models.CASCADE,
        related_name="findings",
        db_index=False,  # finding_once
        db_constraint=False,
    )
    location_key = models.CharField(max_length=64)
    category = models.CharField(
        max_length=10, choices=FindingCategory.choices, default=FindingCategory.SECRET
    )
    rule = models.CharField(max_length=200)
    secret_type = models.CharField(max_length=40, choices=SecretType.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(
        max_length=10, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    resolution_comment = models.TextField(blank=True)
    # The people and the team a finding names are checked by triggers, not foreign keys
    # (migration 0013): a foreign key queues a check at commit for every imported row, NULL
    # or not (0.5 s per 100,000 findings); the triggers check only the rows that name one.
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    # A dismissal proposed by an engineer, or needing a second lead (two-person rule).
    proposed_resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    proposed_comment = models.TextField(blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,  # checked by a trigger (resolved_by)
    )
    proposed_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_findings",
        db_index=False,  # finding_assignee
        db_constraint=False,  # checked by a trigger (resolved_by)
    )
    team = models.ForeignKey(
        "hygiene.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="findings",
        db_index=False,  # finding_team_dates
        db_constraint=False,  # checked by a trigger (resolved_by)
    )
    # Where.
    repo = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=1000, blank=True)
    line = models.IntegerField(null=True, blank=True)
    commit = models.CharField(max_length=64, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    author = models.CharField(max_length=300, blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    # Posture.
    title = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    resource = models.CharField(max_length=500, blank=True)
    account = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=50, blank=True)
    validity = models.CharField(max_length=10, choices=Validity.choices, default=Validity.UNKNOWN)
    tool_ids = models.JSONField(default=dict, blank=True)
    # The format of the report that first found it (an import format key): a full scan of one
    # tool marks missing only what that tool found, not the findings another tool reported to
    # the same source. Empty for findings from before it was kept (any full scan's, as then).
    format = models.CharField(max_length=40, blank=True, default="")
    first_seen_at = models.DateTimeField()
    # When its source last reported it: FindingSighting (``last_seen_at`` below).
    # Set when a full scan of this source no longer reports it (never deleted).
    missing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("triage_finding", "Can assign, change status and dismiss findings"),
            ("propose_dismissal", "Can propose a dismissal for a lead to confirm"),
            ("comment_finding", "Can comment on findings"),
            ("export_findings", "Can export findings"),
            ("view_metrics", "Can view hygiene metrics"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "location_key"], name="finding_once"),
            models.CheckConstraint(
                condition=models.Q(category="posture") | models.Q(secret__isnull=False),
                name="finding_secret_has_secret",
            ),
        ]
        # Indexes a triage list reads newest first are ascending and read backwards: an import
        # appends its rows at their right end (full pages), where descending keys split pages
        # in half (twice the size, and ~50 ms more per index per 100,000 imported findings).
        indexes = [
            models.Index(fields=["status", "first_seen_at", "id"], name="finding_status_seen"),
            models.Index(fields=["severity", "status", "first_seen_at"], name="finding_sev_seen"),
            # Also a team's findings per week (metrics' trend), from the index alone.
            models.Index(
                fields=["team", "status"],
                include=["first_seen_at", "resolved_at"],
                name="finding_team_dates",
            ),
            models.Index(fields=["secret_type", "status"], name="finding_type"),
            # The secret's findings (the secret page, the grouped view's per-secret probe; the
            # secret FK has no index of its own), and whether a source reported a secret
            # (metrics' source filter on incidents), from the index alone.
            models.Index(
                fields=["secret", "status"], include=["source"], name="finding_secret_source"
            ),
            # Triage (hygiene.filters): one repository's findings (the last-seen sort reads
            # sighting_last_seen). Kept few on purpose: every bulk triage UPDATE writes each
            # index of the rows it changes.
            models.Index(fields=["repo", "first_seen_at", "id"], name="finding_repo_seen"),
            # Metrics (hygiene.metrics), answered from the index alone (index-only scans): the
            # findings first seen in a range with every column a metric groups or filters by;
            # the open ones by age (backlog); the closed ones by closing date (trend).
            # The weekly trend of all findings counts each week from this narrow index (a
            # million entries in ~100 ms; through the wide one below, twice that). An import's
            # findings share one first_seen_at: they cost it little (deduplicated keys).
            models.Index(fields=["first_seen_at"], name="finding_first_seen"),
            # And one source's findings per week (an import's rows share both columns).
            models.Index(fields=["source", "first_seen_at"], name="finding_source_seen"),
            # Read backwards, it is also the triage list's default order (newest first).
            models.Index(
                fields=["first_seen_at", "id"],
                include=[
                    "source",
                    "secret_type",
                    "rule",
                    "status",
                    "resolution",
                    "team",
                    "severity",
                ],
                name="finding_seen_metrics",
            ),
            models.Index(
                fields=["first_seen_at"],
                include=["team", "severity", "secret_type", "source"],
                condition=models.Q(status__in=["open", "triaged"]),
                name="finding_open_age",
            ),
            models.Index(
                fields=["resolved_at"],
                include=["team", "severity", "secret_type", "source"],
                condition=models.Q(status__in=["resolved", "dismissed"]),
                name="finding_closed_at",
            ),
            # Imported findings have no assignee: they skip this index.
            models.Index(
                fields=["assignee"],
                condition=models.Q(assignee__isnull=False),
                name="finding_assignee",
            ),
        ]

    def __str__(self):
        where = self.resource or ":".join(p for p in (self.repo, self.path) if p)
        return f"{self.rule} at {where}"

    @property
    def last_seen_at(self):
        """When its source last reported it (select_related("sighting") where listed)."""
        try:
            return self.sighting.last_seen_at
        except FindingSighting.DoesNotExist:  # none yet: seen once
            return self.first_seen_at

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def location_display(self) -> str:
        if self.category == FindingCategory.POSTURE:
            # The resource, in which account and region (an auditor names the account alone
            # for account-wide checks, or a bare id such as "MFA" in Prowler 2).
            parts = [self.resource]
            if self.account and self.account not in self.resource:
                parts.append(self.account)
            if self.region and self.region not in self.resource:
                parts.append(self.region)
            return " · ".join(p for p in parts if p)
        where = self.path + (f":{self.line}" if self.line else "")
        return f"{self.repo} {where}".strip()


class FindingSighting(models.Model):
    """When a finding's source last reported it, kept apart from the finding: every re-scan
    refreshes it (hourly at most: hygiene.services.reconcile), for a daily scan every finding
    it reports. Here that rewrites a narrow row and its two index entries; on the finding it
    rewrote the whole row into all of its indexes (6 s per 100,000 findings, against 0.5 s).
    One per finding, written by the import that creates it; deleted with it."""

    finding = models.OneToOneField(
        Finding,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="sighting",
        db_constraint=False,  # written by the import right after the finding (as Finding.secret)
    )
    last_seen_at = models.DateTimeField()

    class Meta:
        # The triage list's last-seen sort, read backwards (hygiene.filters).
        indexes = [models.Index(fields=["last_seen_at", "finding"], name="sighting_last_seen")]

    def __str__(self):
        return f"finding #{self.finding_id} last seen {self.last_seen_at:%Y-%m-%d %H:%M}"
