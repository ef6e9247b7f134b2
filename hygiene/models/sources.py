import hashlib
import secrets as pysecrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class SourceKind(models.TextChoices):
    SCANNER = "scanner", "Secret scanner"
    AUDITOR = "auditor", "Cloud auditor"
    ROTATOR = "rotator", "Secret rotator"


class Source(models.Model):
    """A configured integration: one scanner, auditor or rotator that sends us reports."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    default_format = models.CharField(max_length=40, blank=True)
    # Imports from this source are full scans: what a scan no longer reports is marked gone.
    full_scan = models.BooleanField(default=True)
    # GitHub webhook secret (X-Hub-Signature-256). Ours, not a leaked one; needed in clear to
    # verify signatures.
    webhook_secret = models.CharField(max_length=128, blank=True)
    default_team = models.ForeignKey(
        "hygiene.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The repository a scanner's reports are of, for the findings whose report doesn't name one
    # (a detect-secrets baseline, a ggshield or Nosey Parker scan of a directory, a GitLab
    # report): they are placed there, as another tool's findings of the same repository are,
    # instead of counting as a place of their own (a secret would look reused).
    repo = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_sources", "Can configure sources, tokens and imports")]

    def __str__(self):
        return self.name


def hash_token(raw: str) -> str:
    # Tokens are 256-bit random strings, so a plain SHA-256 is enough (no stretching needed).
    return hashlib.sha256(raw.encode()).hexdigest()


class _TokenBase(models.Model):
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    PREFIX = "ll_"

    class Meta:
        abstract = True

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        raw = cls.PREFIX + pysecrets.token_urlsafe(32)
        return raw, raw[:12], hash_token(raw)

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class SourceToken(_TokenBase):
    """Lets one source import into itself, and nothing else. Shown once, stored hashed."""

    PREFIX = "lls_"
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="tokens")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The token a rotation made in its place: a replaced token (kept working a day when rotated
    # with an overlap) is not rotated again, which would make a third token.
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.source})"


class UserToken(_TokenBase):
    """A person's API token for reading findings, incidents and metrics with their role."""

    PREFIX = "llu_"
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.user})"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """One report received. The report's bytes are never stored: only its digest (for
    idempotency), its size, and what came of it."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="imports")
    format = models.CharField(max_length=40)
    via = models.CharField(max_length=16, default="api")  # api | cli | webhook | upload
    token = models.ForeignKey(
        SourceToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload_sha256 = models.CharField(max_length=64)
    # The source's latest run (not failed) when this one came in, 0 for none: the same report
    # right after itself is a duplicate; after another report it is news again (a leak that
    # comes back makes the very report that first found it).
    follows_run = models.BigIntegerField(default=0)
    payload_bytes = models.BigIntegerField(default=0)
    full_scan = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    received = models.PositiveIntegerField(default=0)
    # An auditor's checks that passed (resources it found nothing wrong with): received, and
    # not findings; each resolves the same check's open finding on that resource, if any.
    passed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)  # no longer reported by this full scan
    dismissed = models.PositiveIntegerField(default=0)  # dismissed by the tool's own triage
    events = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    error_location = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    parse_ms = models.PositiveIntegerField(null=True, blank=True)
    reconcile_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["source", "-created_at"])]
        constraints = [
            # The same report again returns the earlier run; a failed run can be retried.
            models.UniqueConstraint(
                fields=["source", "payload_sha256", "follows_run"],
                condition=~models.Q(status="failed"),
                name="importrun_once_per_payload",
            )
        ]

    def __str__(self):
        return f"Import #{self.pk} {self.format} from {self.source} ({self.status})"

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None
