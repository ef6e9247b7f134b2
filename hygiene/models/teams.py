from fnmatch import fnmatchcase

from django.conf import settings
from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    email = models.EmailField(blank=True, help_text="Where the team's notifications go.")
    webhook_url = models.URLField(blank=True, help_text="Slack-compatible incoming webhook.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class OwnershipRule(models.Model):
    """Glob patterns on where a finding was seen → the team that owns it. Evaluated in
    ``position`` order; the first rule whose non-empty patterns all match wins."""

    position = models.PositiveIntegerField(default=100)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="ownership_rules")
    repo_pattern = models.CharField(max_length=300, blank=True)
    path_pattern = models.CharField(max_length=300, blank=True)
    resource_pattern = models.CharField(max_length=300, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        permissions = [("manage_ownership", "Can edit ownership rules")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(repo_pattern="", path_pattern="", resource_pattern=""),
                name="ownershiprule_has_a_pattern",
            )
        ]

    def __str__(self):
        parts = [p for p in (self.repo_pattern, self.path_pattern, self.resource_pattern) if p]
        return f"{' & '.join(parts)} → {self.team}"

    def matches(self, *, repo: str = "", path: str = "", resource: str = "") -> bool:
        pairs = (
            (self.repo_pattern, repo),
            (self.path_pattern, path),
            (self.resource_pattern, resource),
        )
        return all(fnmatchcase(value or "", pattern) for pattern, value in pairs if pattern)
