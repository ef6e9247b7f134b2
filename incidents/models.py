from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from hygiene.taxonomy import Severity


class StepAction(models.TextChoices):
    REVOKE = "revoke", "Revoke"
    ROTATE = "rotate", "Rotate"
    NOTIFY = "notify", "Notify"
    INVESTIGATE = "investigate", "Investigate"
    PURGE = "purge", "Purge"
    VERIFY = "verify", "Verify"
    CUSTOM = "custom", "Custom"


class Role(models.TextChoices):
    LEAD = "lead", "Security lead"
    ENGINEER = "engineer", "Engineer"
    MANAGER = "manager", "Manager"


class Playbook(models.Model):
    """A response playbook for a family of secrets. Versioned: editing makes a new version row
    (same slug, version + 1); incidents keep the version they started with."""

    slug = models.SlugField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    secret_types = models.JSONField(default=list, blank=True)  # SecretType values it covers
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "-version"]
        permissions = [("manage_playbook", "Can edit playbooks")]
        constraints = [
            models.UniqueConstraint(fields=["slug", "version"], name="playbook_version_unique"),
            models.UniqueConstraint(
                fields=["slug"], condition=models.Q(is_current=True), name="playbook_one_current"
            ),
        ]

    def __str__(self):
        return f"{self.name} v{self.version}"


class PlaybookStep(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    action = models.CharField(max_length=16, choices=StepAction.choices)
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, help_text="Markdown.")
    required = models.BooleanField(default=True)
    # Positions of steps that must be done (or skipped) before this one unlocks.
    depends_on = models.JSONField(default=list, blank=True)
    default_role = models.CharField(max_length=16, choices=Role.choices, default=Role.ENGINEER)
    deadline_critical = models.DurationField()
    deadline_high = models.DurationField()
    deadline_medium = models.DurationField()
    deadline_low = models.DurationField()

    class Meta:
        ordering = ["playbook", "position"]
        constraints = [
            models.UniqueConstraint(fields=["playbook", "position"], name="playbookstep_position")
        ]

    def __str__(self):
        return f"{self.position}. {self.title}"

    def deadline_for(self, severity: str) -> timedelta:
        return {
            Severity.CRITICAL: self.deadline_critical,
            Severity.HIGH: self.deadline_high,
            Severity.MEDIUM: self.deadline_medium,
        }.get(severity, self.deadline_low)


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONTAINED = "contained", "Contained"
    REMEDIATED = "remediated", "Remediated"
    CLOSED = "closed", "Closed"


class Incident(models.Model):
    title = models.CharField(max_length=200)
    playbook = models.ForeignKey(Playbook, on_delete=models.PROTECT, related_name="incidents")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(
        max_length=12, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_incidents",
    )
    team = models.ForeignKey(
        "hygiene.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="incidents"
    )
    secrets = models.ManyToManyField(
        "hygiene.Secret", through="IncidentSecret", related_name="incidents"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    auto_opened = models.BooleanField(default=False)
    # Earliest known exposure of its secrets (copied at open; the exposure window's start).
    exposed_since = models.DateTimeField(null=True, blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    remediated_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Clock paused while waiting on a third party; paused time doesn't count against deadlines.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    paused_total = models.DurationField(default=timedelta)
    summary = models.TextField(blank=True)
    review_what_happened = models.TextField(blank=True)
    review_lessons = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        permissions = [
            ("manage_incident", "Can open, assign, change severity and close incidents"),
            ("work_incident", "Can complete, skip and comment on steps"),
        ]
        indexes = [
            models.Index(fields=["status", "-opened_at"], name="incident_status"),
            models.Index(fields=["team", "status"], name="incident_team"),
            models.Index(fields=["owner", "status"], name="incident_owner"),
            # Metrics (hygiene.metrics): incidents opened in a range, from the index alone.
            models.Index(
                fields=["opened_at"],
                include=[
                    "team",
                    "severity",
                    "status",
                    "remediated_at",
                    "closed_at",
                    "contained_at",
                    "exposed_since",
                    "paused_at",
                ],
                name="incident_metrics",
            ),
        ]

    def __str__(self):
        return f"INC-{self.pk}: {self.title}"

    @property
    def reference(self) -> str:
        return f"INC-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status != IncidentStatus.CLOSED


class IncidentSecret(models.Model):
    """Which secrets an incident handles. ``active`` is cleared when the incident closes, and a
    secret can be active in only one incident at a time."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE)
    secret = models.ForeignKey("hygiene.Secret", on_delete=models.CASCADE)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "secret"], name="incidentsecret_unique"),
            models.UniqueConstraint(
                fields=["secret"],
                condition=models.Q(active=True),
                name="one_open_incident_per_secret",
            ),
        ]

    def __str__(self):
        return f"{self.incident_id} ↔ {self.secret_id}"


class EscalationState(models.TextChoices):
    NONE = "none", "None"
    DUE_SOON = "due_soon", "Due soon notified"
    OVERDUE = "overdue", "Overdue notified"


class Step(models.Model):
    """An incident's copy of a playbook step, with its own deadline (the truth for timers)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    action = models.CharField(max_length=16, choices=StepAction.choices)
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    required = models.BooleanField(default=True)
    depends_on = models.JSONField(default=list, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ENGINEER)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_steps",
    )
    deadline = models.DurationField(help_text="From the incident's opening.")
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    due_soon_at = models.DateTimeField(help_text="When 75 % of its time is used.")
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    evidence_note = models.TextField(blank=True)
    evidence_url = models.URLField(max_length=1000, blank=True)
    evidence_event = models.ForeignKey(
        "hygiene.RotationEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    skipped_at = models.DateTimeField(null=True, blank=True)
    skipped_reason = models.CharField(max_length=500, blank=True)
    escalation = models.CharField(
        max_length=10, choices=EscalationState.choices, default=EscalationState.NONE
    )
    escalation_level = models.PositiveSmallIntegerField(default=0)
    next_nag_at = models.DateTimeField(null=True, blank=True)
    alert = models.CharField(max_length=300, blank=True)  # e.g. a rotator reported a failure

    class Meta:
        ordering = ["incident", "position"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "position"], name="step_position")
        ]
        indexes = [
            # The sweep's scans: only steps still open are ever due.
            models.Index(
                fields=["due_soon_at"],
                name="step_open_due_soon",
                condition=models.Q(completed_at__isnull=True, skipped_at__isnull=True),
            ),
            models.Index(
                fields=["due_at"],
                name="step_open_due",
                condition=models.Q(completed_at__isnull=True, skipped_at__isnull=True),
            ),
            models.Index(
                fields=["next_nag_at"],
                name="step_open_nag",
                condition=models.Q(completed_at__isnull=True, skipped_at__isnull=True),
            ),
            models.Index(fields=["assignee", "due_at"], name="step_assignee_due"),
            # Metrics (time to revoke/rotate/notify, SLA attainment), from the index alone.
            models.Index(
                fields=["incident", "action"],
                include=["completed_at", "due_at", "skipped_at"],
                name="step_metrics",
            ),
        ]

    def __str__(self):
        return f"{self.incident.reference} {self.position}. {self.title}"

    @property
    def is_done(self) -> bool:
        return self.completed_at is not None or self.skipped_at is not None

    def state(self, now=None) -> str:
        """on_track | due_soon | overdue | done_on_time | done_late | skipped — a pure function
        of the timestamps and ``now`` (paused incidents keep their state frozen)."""
        if self.skipped_at:
            return "skipped"
        if self.completed_at:
            return "done_on_time" if self.completed_at <= self.due_at else "done_late"
        now = now or timezone.now()
        if self.incident.paused_at:
            now = self.incident.paused_at
        if now >= self.due_at:
            return "overdue"
        if now >= self.due_soon_at:
            return "due_soon"
        return "on_track"


class FollowUp(models.Model):
    """A follow-up action from an incident's closing review, with its own due date."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="follow_ups")
    title = models.CharField(max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at"]

    def __str__(self):
        return self.title


class TimelineEvent(models.Model):
    """Append-only record of everything that happened to an incident, finding or secret."""

    # Few indexes: imports append these in bulk (a first-seen event per new secret). incident,
    # secret and finding are looked up through the partial indexes below (an event has one or
    # two of them); step and actor are never looked up by. No link is a database constraint:
    # imports write secret ids they have just selected (see hygiene's Finding.secret) and leave
    # the others empty, for which PostgreSQL would still queue a check per row and constraint
    # (0.17 s at the commit of 100,000 first-seen events). Django cascades deletes and sets
    # NULL; an event written as its incident, step or actor is deleted keeps a stale id (the
    # pages show it without them).
    incident = models.ForeignKey(
        Incident,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="timeline",
        db_index=False,
        db_constraint=False,
    )
    secret = models.ForeignKey(
        "hygiene.Secret",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="timeline",
        db_index=False,
        db_constraint=False,
    )
    finding = models.ForeignKey(
        "hygiene.Finding",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="timeline",
        db_index=False,
        db_constraint=False,
    )
    step = models.ForeignKey(
        Step,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    actor_label = models.CharField(max_length=200, blank=True)  # "gitleaks import #4", "sweep"
    # Whole: a triage comment may be 2,000 characters, and its message quotes it.
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["incident", "created_at"],
                name="timeline_of_incident",
                condition=models.Q(incident__isnull=False),
            ),
            models.Index(
                fields=["secret", "created_at"],
                name="timeline_of_secret",
                condition=models.Q(secret__isnull=False),
            ),
            models.Index(
                fields=["finding"],
                name="timeline_of_finding",
                condition=models.Q(finding__isnull=False),
            ),
        ]

    def __str__(self):
        return self.message

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Timeline events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Timeline events are append-only")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """Outbox row: written in the transaction that decided to notify, sent by a job after
    commit, retried with backoff, never lost. ``dedupe_key`` makes each alert happen once."""

    channel = models.CharField(max_length=10)  # email | webhook
    recipient = models.CharField(max_length=500)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=40)  # due_soon | overdue | nag | digest | alert | ...
    subject = models.CharField(max_length=300)
    body = models.TextField()
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notification_due",
                condition=models.Q(status__in=["pending", "sending"]),
            )
        ]

    def __str__(self):
        return f"{self.kind} → {self.recipient}"
