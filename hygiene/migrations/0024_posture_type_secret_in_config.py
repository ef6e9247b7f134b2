"""A posture type of its own for an auditor's finding of a plaintext secret in a resource's
configuration (Prowler's "no secrets in Lambda variables / user data / task definitions"
checks, until now "other"): stored findings of those checks take it."""

from django.db import migrations, models
from django.db.models.functions import Lower

OTHER, IN_CONFIG = "posture-other", "secret-in-config"


# The taxonomy as of this migration (hygiene.taxonomy.SecretType), for both fields.
TYPE_CHOICES = [
    ("aws-access-key", "AWS access key"),
    ("aws-secret-key", "AWS secret access key"),
    ("aws-session-token", "AWS session token"),
    ("github-token", "GitHub token"),
    ("gitlab-token", "GitLab token"),
    ("azure-sas", "Azure SAS token"),
    ("azure-storage-key", "Azure storage account key"),
    ("azure-credential", "Azure client secret"),
    ("gcp-key", "Google Cloud key"),
    ("private-key", "Private or signing key"),
    ("slack-token", "Slack token"),
    ("chat-webhook", "Chat / incoming webhook"),
    ("stripe-key", "Stripe key"),
    ("database-credential", "Database credential"),
    ("jwt", "JSON Web Token"),
    ("api-key", "Generic API key"),
    ("generic-password", "Generic password"),
    ("generic-secret", "Generic secret"),
    ("key-rotation", "Key not rotated"),
    ("unused-credential", "Unused credential"),
    ("root-credential", "Root account credential"),
    ("missing-mfa", "MFA not enabled"),
    ("secret-rotation", "Secret rotation disabled"),
    ("shared-key-access", "Shared key access allowed"),
    ("sas-policy", "SAS expiration policy"),
    ("key-policy", "Key expiration policy"),
    ("secret-in-config", "Plaintext secret in configuration"),
    ("posture-other", "Other posture problem"),
]


def retype(apps, schema_editor):
    from hygiene.importers.prowler import SECRET_EXPOSURE_CHECKS

    Finding = apps.get_model("hygiene", "Finding")
    Finding.objects.annotate(check=Lower("rule")).filter(
        category="posture", secret_type=OTHER, check__in=sorted(SECRET_EXPOSURE_CHECKS)
    ).update(secret_type=IN_CONFIG)


class Migration(migrations.Migration):
    dependencies = [
        ("hygiene", "0023_repositories_without_credentials"),
    ]

    operations = [
        migrations.AlterField(
            model_name="finding",
            name="secret_type",
            field=models.CharField(
                choices=TYPE_CHOICES,
                max_length=40,
            ),
        ),
        migrations.AlterField(
            model_name="secret",
            name="secret_type",
            field=models.CharField(
                choices=TYPE_CHOICES,
                max_length=40,
            ),
        ),
        migrations.RunPython(retype, migrations.RunPython.noop, elidable=True),
    ]
