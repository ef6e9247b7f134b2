from django.db import models


class StagedFinding(models.Model):
    """One parsed observation, already fingerprinted and redacted, waiting for its import's
    reconcile job. Holds nothing the finished Finding won't hold; deleted when the run ends.
    (This is how the API can answer 202 at once without the raw report ever being stored.)"""

    # No database constraint: a 100,000-row import would queue as many deferred checks for
    # rows that live a minute; the run exists (it is created first) and cleanup deletes them.
    run = models.ForeignKey(
        "hygiene.ImportRun",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # staged_run
        db_constraint=False,
    )
    location_key = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64, blank=True)  # "" for posture
    category = models.CharField(max_length=10)
    rule = models.CharField(max_length=200)
    secret_type = models.CharField(max_length=40)
    severity = models.CharField(max_length=10)
    validity = models.CharField(max_length=10)
    preview = models.CharField(max_length=80, blank=True)
    analysis = models.JSONField(default=dict)
    repo = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=1000, blank=True)
    line = models.IntegerField(null=True)
    commit = models.CharField(max_length=64, blank=True)
    url = models.CharField(max_length=1000, blank=True)
    author = models.CharField(max_length=300, blank=True)
    committed_at = models.DateTimeField(null=True)
    title = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    resource = models.CharField(max_length=500, blank=True)
    account = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=50, blank=True)
    tool_ids = models.JSONField(default=dict)
    tool_resolution = models.CharField(max_length=20, blank=True)
    passed = models.BooleanField(default=False)

    class Meta:
        # The run only: every import writes 100,000s of staged rows, a location key index would
        # cost each of them a random insert (reconcile joins on location_key by hashing).
        indexes = [models.Index(fields=["run"], name="staged_run")]

    def __str__(self):
        return f"staged {self.rule} for run {self.run_id}"


class StagedReference(models.Model):
    run = models.ForeignKey(
        "hygiene.ImportRun",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # stagedref_run
        db_constraint=False,  # as StagedFinding.run
    )
    fingerprint = models.CharField(max_length=64)
    kind = models.CharField(max_length=24)
    display = models.CharField(max_length=300)
    value_hash = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["run"], name="stagedref_run")]

    def __str__(self):
        return f"staged {self.kind} for run {self.run_id}"
