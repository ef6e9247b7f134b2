from django.conf import settings
from django.db import models

from hygiene.taxonomy import SecretType, Severity


class Secret(models.Model):
    """One leaked credential, whatever found it. Identified by an HMAC fingerprint of the value
    (see hygiene.fingerprints); the value itself is never stored, only a redacted preview."""

    # Unique through Meta.constraints, not unique=True: no second (LIKE) index on PostgreSQL.
    fingerprint = models.CharField(max_length=64)
    secret_type = models.CharField(max_length=40, choices=SecretType.choices)
    preview = models.CharField(max_length=80, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    validity = models.CharField(max_length=10, default="unknown")  # unknown|valid|invalid|revoked
    # Derived while the value was in memory: SAS scope/permissions/expiry, storage account...
    analysis = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey(
        "hygiene.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="secrets",
        db_index=False,  # secret_team
        db_constraint=False,  # checked by a trigger, as Finding.team (migration 0013)
    )
    # How many distinct repositories/services it was seen in; ≥ 2 means reused.
    place_count = models.PositiveIntegerField(default=1)
    reused = models.BooleanField(default=False)
    finding_count = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField()
    # The import that first reported it: its timeline's first entry ("First seen by <source>",
    # hygiene.selectors.secret_timeline) is read from here rather than stored as one timeline
    # row per new secret (0.4 s of a 100,000-secret import). The id stays when the run is gone
    # (deleting a source deletes its runs), as a stored event's data did: no constraint, and
    # no index (nothing looks secrets up by it).
    first_run = models.ForeignKey(
        "hygiene.ImportRun",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    # When it was last reported: SecretSighting (``last_seen_at`` below).
    # Earliest evidence of exposure: the oldest commit time or report time.
    exposed_since = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fingerprint"], name="secret_fingerprint")]
        indexes = [
            models.Index(fields=["secret_type"], name="secret_type"),
            # Metrics (reused secrets per type), from the index alone.
            models.Index(
                fields=["first_seen_at"],
                include=["secret_type", "reused", "team", "severity"],
                name="secret_metrics",
            ),
            # New secrets have no team yet: they skip this index.
            models.Index(
                fields=["team"], condition=models.Q(team__isnull=False), name="secret_team"
            ),
        ]

    def __str__(self):
        return f"{self.get_secret_type_display()} {self.preview}"

    @property
    def last_seen_at(self):
        """When it was last reported (select_related("sighting") where listed)."""
        try:
            return self.sighting.last_seen_at
        except SecretSighting.DoesNotExist:  # none yet: seen once
            return self.first_seen_at

    @property
    def default_reference_kind(self) -> str:
        """The identifier a person most likely adds for this secret (the reference form's
        first guess): an AWS key's id, a storage account's name, else any identifier."""
        if self.secret_type.startswith("aws-"):
            return "aws-access-key-id"
        if self.secret_type in ("azure-sas", "azure-storage-key"):
            return "storage-account"
        return "other"


class SecretSighting(models.Model):
    """When a secret was last reported, by any source, kept apart from the secret as a
    finding's is (FindingSighting): a daily scan refreshes every secret it reports (hourly at
    most: hygiene.services.reconcile), which here rewrites a narrow row and its two index
    entries; on the secret it rewrote the whole row into all of its indexes (3.2 s per 90,000
    secrets). One per secret, written by the import that creates it; deleted with it."""

    secret = models.OneToOneField(
        Secret,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="sighting",
        db_constraint=False,  # written by the import right after the secret
    )
    last_seen_at = models.DateTimeField()

    class Meta:
        # The grouped triage list's order (newest seen first), read backwards.
        indexes = [
            models.Index(fields=["last_seen_at", "secret"], name="secret_sighting_last_seen")
        ]

    def __str__(self):
        return f"secret #{self.secret_id} last seen {self.last_seen_at:%Y-%m-%d %H:%M}"


class ReferenceKind(models.TextChoices):
    AWS_ACCESS_KEY_ID = "aws-access-key-id", "AWS access key id"
    ARN = "arn", "ARN"
    AWS_ACCOUNT = "aws-account", "AWS account"
    VAULT_PATH = "vault-path", "Vault path"
    STORAGE_ACCOUNT = "storage-account", "Storage account"
    URL = "url", "URL"
    OTHER = "other", "Other identifier"


class Reference(models.Model):
    """A non-secret identifier of a credential (an AWS key id, a secret's ARN, a Vault path).
    Matched by ``value_hash`` (HMAC of the normalised value) so that identifiers that were
    themselves the leaked value (an AWS key id) are matched without being stored."""

    kind = models.CharField(max_length=24, choices=ReferenceKind.choices)
    display = models.CharField(max_length=300)
    value_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class SecretReference(Reference):
    # No database constraint: imports insert references for secrets they have just joined to
    # (see Finding.secret). Looked up through secretreference_unique.
    secret = models.ForeignKey(
        Secret,
        on_delete=models.CASCADE,
        related_name="references",
        db_constraint=False,
        db_index=False,
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # secretreference_added_by
        db_constraint=False,  # checked by a trigger, as Finding.resolved_by (migration 0013)
    )

    class Meta:
        indexes = [
            models.Index(fields=["value_hash"]),
            # Imported references have no author: they skip this index.
            models.Index(
                fields=["added_by"],
                condition=models.Q(added_by__isnull=False),
                name="secretreference_added_by",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["secret", "kind", "value_hash"], name="secretreference_unique"
            )
        ]

    def __str__(self):
        return f"{self.kind}: {self.display}"


class RotationEvent(models.Model):
    """A rotator's (or auditor's) event: a rotation, revocation or failure of a credential.
    Applied to the open incident of the secret it references; kept when it matches nothing,
    so a reference added later can claim it."""

    source = models.ForeignKey("hygiene.Source", on_delete=models.CASCADE, related_name="events")
    import_run = models.ForeignKey(
        "hygiene.ImportRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=24)  # rotated|revoked|rotation_failed|...
    event_name = models.CharField(max_length=80, blank=True)
    event_id = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    actor = models.CharField(max_length=300, blank=True)
    evidence_url = models.URLField(max_length=1000, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    secret = models.ForeignKey(
        Secret, null=True, blank=True, on_delete=models.SET_NULL, related_name="rotation_events"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "event_id", "action"],
                condition=~models.Q(event_id=""),
                name="rotationevent_once",
            )
        ]
        indexes = [models.Index(fields=["secret", "-occurred_at"])]

    # What the pages call each action (the column holds the importers' words).
    ACTION_LABELS = {
        "rotated": "Rotated",
        "revoked": "Revoked",
        "rotation_failed": "Rotation failed",
        "rotation_started": "Rotation started",
        "created": "Key created",
        "verified": "Verified",
    }

    def __str__(self):
        return f"{self.event_name or self.action} at {self.occurred_at}"

    @property
    def action_label(self) -> str:
        return self.ACTION_LABELS.get(self.action, self.action.replace("_", " ").capitalize())


class EventReference(Reference):
    event = models.ForeignKey(RotationEvent, on_delete=models.CASCADE, related_name="references")

    class Meta:
        indexes = [models.Index(fields=["value_hash"])]

    def __str__(self):
        return f"{self.kind}: {self.display}"
