"""The playbooks Leakline ships with: one per family of secrets, written for the responder who
has to act at 3 a.m. Deadlines count from the incident's opening (paused time excluded).

``ensure_default_playbooks()`` creates each default whose slug doesn't exist yet (so a lead's
edits are never overwritten); ``playbook_for(secret_type)`` picks the current playbook covering
a type, falling back to the generic one.
"""

from datetime import timedelta

from django.db import transaction

from hygiene.taxonomy import SecretType

H = timedelta(hours=1)
D = timedelta(days=1)

# (critical, high, medium, low) per action — the table for revoke/rotate/notify; the
# others sized around them: you investigate while you rotate, purge and verify after.
DEADLINES = {
    "revoke": (1 * H, 4 * H, 24 * H, 7 * D),
    "rotate": (4 * H, 24 * H, 7 * D, 30 * D),
    "notify": (24 * H, 72 * H, 14 * D, 30 * D),
    "investigate": (24 * H, 72 * H, 14 * D, 30 * D),
    "purge": (72 * H, 7 * D, 14 * D, 30 * D),
    "verify": (24 * H, 72 * H, 14 * D, 30 * D),
    "custom": (72 * H, 7 * D, 14 * D, 30 * D),
}

GENERIC_SLUG = "generic-secret"

_REVIEW_LOGS = """\
Pull the access logs of the service the secret unlocks **over the whole exposure window**: from
the incident's *exposed since* (the oldest commit or report) until the revocation, not just the
last day. Look for calls from unfamiliar IPs, user agents or regions, new principals, permission
changes and data reads.

- Export what you looked at (query + time range) and attach it as evidence.
- If logs for part of the window no longer exist, say so in the note: an unknown is a finding.
"""

_NOTIFY = """\
Tell the people who need to know, with facts, not guesses:

- the **owner** of the credential and the service it belongs to;
- the **affected parties**: teams using the credential, and — if the log review shows access to
  customer or personal data — your privacy/legal contact (regulatory clocks may be running);
- what leaked (type and redacted preview only — never paste the secret), where, since when, and
  what has been done.

Link the message or ticket as evidence.
"""

_PURGE_GIT = """\
Remove the secret from where it was found so scanners stop reporting it and nobody copies it
again:

- rewrite history with `git filter-repo --replace-text` (or BFG) on every branch and tag, force
  push, and ask the hosting provider to purge cached views/PR diffs if the repository is public;
- delete forks, CI logs, build artefacts, wiki pages, tickets and chat messages that contain it.

Rewriting history is **not** a substitute for revoking: assume the value is already copied.
"""


def _step(
    position,
    action,
    title,
    instructions,
    *,
    required=True,
    depends_on=(),
    role="engineer",
    deadlines=None,
):
    # ``deadlines`` borrows another action's row: deleting the old key comes after the
    # rotation, so it can't be due before it.
    critical, high, medium, low = DEADLINES[deadlines or action]
    return {
        "position": position,
        "action": action,
        "title": title,
        "instructions": instructions.strip() + "\n",
        "required": required,
        "depends_on": list(depends_on),
        "default_role": role,
        "deadline_critical": critical,
        "deadline_high": high,
        "deadline_medium": medium,
        "deadline_low": low,
    }


AWS = {
    "slug": "aws-access-key",
    "name": "AWS access key",
    "description": "An IAM user's access key (AKIA…) and/or its secret access key leaked.",
    "secret_types": [
        SecretType.AWS_ACCESS_KEY,
        SecretType.AWS_SECRET_KEY,
        SecretType.AWS_SESSION_TOKEN,
    ],
    "steps": [
        _step(
            1,
            "revoke",
            "Deactivate the leaked access key",
            """
Make the key useless **now**; deactivating is reversible, deleting is not, so deactivate first:

```
aws iam update-access-key --user-name USER --access-key-id AKIA... --status Inactive
```

Find the user with `aws iam get-access-key-last-used --access-key-id AKIA...` if you only have
the key id. For a leaked **session token** (ASIA…), revoke the role's active sessions instead
(IAM console → role → *Revoke active sessions*, which adds an `aws:TokenIssueTime` deny).
""",
        ),
        _step(
            2,
            "rotate",
            "Create a new key and roll it out",
            """
Create the replacement and update every consumer (CI secrets, Secrets Manager/SSM, deployment
config) **before** deleting the old key:

```
aws iam create-access-key --user-name USER
```

Better: replace the long-lived key with a role (OIDC for CI, instance/task roles for workloads)
so there is no key to leak next time. Link the change (PR, pipeline run) as evidence.
""",
        ),
        _step(
            3,
            "investigate",
            "Review CloudTrail for the key over the exposure window",
            """
Search CloudTrail (Lake/Athena, or *Event history* for the last 90 days) for
`userIdentity.accessKeyId = AKIA...` from *exposed since* until deactivation, **in every
region**. Watch for `GetCallerIdentity` (the first thing an attacker runs), `ListBuckets`,
`CreateUser`/`CreateAccessKey`/`AttachUserPolicy` (persistence), `RunInstances` (mining) and
S3/Secrets Manager reads. If the attacker created principals or keys, treat them as part of this
incident.
"""
            + "\n"
            + _REVIEW_LOGS,
        ),
        _step(
            4,
            "revoke",
            "Delete the old key",
            """
Once the new key works everywhere and the CloudTrail review is done (you may need the key id's
activity for the investigation), delete it:

```
aws iam delete-access-key --user-name USER --access-key-id AKIA...
```
""",
            depends_on=[2],
            deadlines="rotate",
        ),
        _step(5, "notify", "Notify the key's owner and affected parties", _NOTIFY),
        _step(6, "purge", "Purge the key from git history and copies", _PURGE_GIT, required=False),
        _step(
            7,
            "verify",
            "Verify the old key is dead",
            """
Confirm `aws iam list-access-keys --user-name USER` no longer lists the key and that a call
with it fails with `InvalidClientTokenId`. Re-run the scanner on the repository; the finding
should resolve.
""",
            depends_on=[1],
        ),
    ],
}

GITHUB = {
    "slug": "github-token",
    "name": "GitHub token",
    "description": "A personal access token, OAuth/App token or fine-grained PAT leaked.",
    "secret_types": [SecretType.GITHUB_TOKEN, SecretType.GITLAB_TOKEN],
    "steps": [
        _step(
            1,
            "revoke",
            "Revoke the token",
            """
- PAT: the owner deletes it at *Settings → Developer settings → Personal access tokens*; an
  organisation owner can revoke fine-grained PATs under *Organisation settings → Personal
  access tokens*.
- Anyone can revoke a leaked token with the credential revocation API
  (`POST /credentials/revoke`), without knowing whose it is.
- OAuth/App tokens: `DELETE /applications/{client_id}/token`.
- GitLab: *Settings → Access tokens → Revoke* (or the `revoke` API).
""",
        ),
        _step(
            2,
            "rotate",
            "Issue a scoped replacement and roll it out",
            """
Create a replacement with the **fewest scopes and repositories** and an expiry (fine-grained
PAT, or better a GitHub App installation token / OIDC for CI). Update the consumers and link the
change.
""",
        ),
        _step(
            3,
            "investigate",
            "Review the audit log over the exposure window",
            """
Search the organisation audit log (`hashed_token:` filter, or the token's `programmatic_access`
events) and the security log of the owner from *exposed since* onwards: clones of private
repositories, new deploy keys, webhooks, OAuth apps, workflow changes, package publishes,
secrets read by workflows.
"""
            + "\n"
            + _REVIEW_LOGS,
        ),
        _step(4, "notify", "Notify the token's owner and affected parties", _NOTIFY),
        _step(5, "purge", "Purge the token from history and copies", _PURGE_GIT, required=False),
        _step(
            6,
            "verify",
            "Verify the token is rejected",
            """
`curl -H "Authorization: Bearer …" https://api.github.com/user` must answer **401**. Check
that secret scanning marks the alert as revoked.
""",
            depends_on=[1],
        ),
    ],
}

AZURE = {
    "slug": "azure-storage",
    "name": "Azure SAS token / storage account key",
    "description": (
        "A storage account key, connection string or SAS token leaked. An account SAS can only "
        "be revoked by rotating the account key that signed it."
    ),
    "secret_types": [SecretType.AZURE_SAS, SecretType.AZURE_STORAGE_KEY],
    "steps": [
        _step(
            1,
            "revoke",
            "Rotate the storage account key (the only way to revoke an account SAS)",
            """
An **account SAS** or service SAS without a stored access policy cannot be revoked on its own:
regenerate the account key that signed it (for a leaked key, that key itself). Move consumers to
the *other* key first if you can, then:

```
az storage account keys renew --account-name ACCOUNT --resource-group RG --key key1
```

A service SAS bound to a **stored access policy** can be revoked by deleting or changing that
policy instead. A **user delegation SAS** is revoked with
`az storage account revoke-delegation-keys`.
""",
        ),
        _step(
            2,
            "rotate",
            "Regenerate SAS tokens with short expiry and a stored access policy",
            """
Issue replacements that limit the next leak: **user delegation SAS** (Entra ID) where possible,
otherwise a service SAS tied to a **stored access policy** (revocable), scoped to one
container, the fewest permissions (`r`, not `racwdl`), HTTPS only, and an expiry of hours, not
years. Prefer Entra ID (RBAC) access over keys entirely.
""",
        ),
        _step(
            3,
            "custom",
            "Set the account's sasPolicy and keyPolicy; consider disabling shared key access",
            """
```
az storage account update -n ACCOUNT -g RG \\
  --sas-expiration-period 0.04:00:00 --key-expiration-period-in-days 90
```

If nothing needs keys any more, set `--allow-shared-key-access false` so account keys and SAS
signed with them stop working altogether.
""",
            required=False,
        ),
        _step(
            4,
            "investigate",
            "Review storage logs over the exposure window",
            """
Query the account's diagnostic logs (`StorageBlobLogs`, `StorageFileLogs`, … in Log Analytics)
for `AuthenticationType in ("SAS", "AccountKey")` from *exposed since* until the rotation:
list/read operations from unknown IPs, bulk downloads, deletes. If diagnostic logging was off,
record that the window is unknown and treat the data as exposed.
"""
            + "\n"
            + _REVIEW_LOGS,
        ),
        _step(5, "notify", "Notify the account's owner and affected parties", _NOTIFY),
        _step(
            6, "purge", "Purge the token or key from history and copies", _PURGE_GIT, required=False
        ),
        _step(
            7,
            "verify",
            "Verify the old key and SAS are rejected",
            """
A request with the leaked SAS URL or connection string must answer **403
AuthenticationFailed**. Re-run the scanner; the finding should resolve.
""",
            depends_on=[1],
        ),
    ],
}

PRIVATE_KEY = {
    "slug": "private-key",
    "name": "Private or signing key",
    "description": "A TLS, SSH, JWT/token-signing or code-signing private key leaked.",
    "secret_types": [SecretType.PRIVATE_KEY, SecretType.JWT],
    "steps": [
        _step(
            1,
            "revoke",
            "Revoke the key's certificates and trust",
            """
- TLS/code-signing: ask the CA to **revoke** the certificate (reason *keyCompromise*).
- SSH: remove the public key from `authorized_keys`, deploy keys and your SSH CA's trust; add it
  to `RevokedKeys`.
- Token signing (JWT/OIDC): remove the key from the JWKS / trusted issuers so tokens it signed
  stop validating — **including already-issued tokens**.
""",
        ),
        _step(
            2,
            "rotate",
            "Generate a new key pair in a key vault / HSM and roll it out",
            """
Generate the replacement where it can't be copied (Key Vault, KMS, HSM, non-exportable), publish
the new public key / certificate, and update every signer and verifier.
""",
        ),
        _step(
            3,
            "investigate",
            "Find every copy: crash dumps, debug copies, backups",
            """
Keys leak through side doors. Search **crash dumps, heap dumps, core files, debug snapshots,
support bundles, backups and CI artefacts** — and every network they were copied to (debugging
environments especially) — for the key material, and destroy those copies. Make sure crash dump
generation redacts key material from now on.
""",
        ),
        _step(
            4,
            "custom",
            "Make token validation check issuer and scope",
            """
A stolen signing key is worst when verifiers accept any token it signs. Check that every
service validating tokens from this issuer checks the **issuer**, **audience** and **scope /
key usage** (consumer vs enterprise keys, tenant), not just the signature, and pins the keys it
trusts for that issuer.
""",
        ),
        _step(
            5,
            "investigate",
            "Review sign-in and access logs over the exposure window",
            _REVIEW_LOGS
            + "\nFor signing keys: look for tokens signed by this key that your issuer never "
            "issued (compare token ids against the issuer's logs).",
        ),
        _step(6, "notify", "Notify the key's owner and affected parties", _NOTIFY),
        _step(7, "purge", "Purge the key from history and copies", _PURGE_GIT, required=False),
        _step(
            8,
            "verify",
            "Verify the old key is no longer trusted",
            """
Confirm the certificate shows as revoked (OCSP/CRL), the old `kid` is gone from the JWKS, and a
token or SSH login with the old key is refused.
""",
            depends_on=[1, 2],
        ),
    ],
}

DATABASE = {
    "slug": "database-credential",
    "name": "Database credential",
    "description": "A database user's password or a connection string with credentials leaked.",
    "secret_types": [SecretType.DATABASE_CREDENTIAL],
    "steps": [
        _step(
            1,
            "revoke",
            "Change the password / lock the user and kill its sessions",
            """
```
ALTER ROLE app_user WITH PASSWORD '…new…';   -- or NOLOGIN until the rotation is rolled out
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app_user';
```

(MySQL: `ALTER USER … IDENTIFIED BY …; KILL …`.) Also restrict network access (security group,
firewall, `pg_hba.conf`) if the database was reachable from the internet.
""",
        ),
        _step(
            2,
            "rotate",
            "Roll out the new credential from a secret store",
            """
Put the new credential in the secret store (Vault dynamic credentials, Secrets Manager rotation)
and have the application read it from there. Link the change.
""",
        ),
        _step(
            3,
            "investigate",
            "Review database audit logs over the exposure window",
            """
Check connection logs (`log_connections`, pgaudit, CloudSQL/RDS logs) for logins by the user from
unfamiliar hosts since *exposed since*, and for reads of sensitive tables, dumps, new roles and
grants.
"""
            + "\n"
            + _REVIEW_LOGS,
        ),
        _step(4, "notify", "Notify the database owner and affected parties", _NOTIFY),
        _step(
            5, "purge", "Purge the credential from history and copies", _PURGE_GIT, required=False
        ),
        _step(
            6,
            "verify",
            "Verify the old credential is refused",
            "A login with the old password must fail; re-run the scanner.",
            depends_on=[1],
        ),
    ],
}

CHAT = {
    "slug": "chat-webhook",
    "name": "Chat / webhook token",
    "description": "A Slack/Discord/Teams bot token or incoming webhook URL leaked.",
    "secret_types": [SecretType.SLACK_TOKEN, SecretType.CHAT_WEBHOOK],
    "steps": [
        _step(
            1,
            "revoke",
            "Revoke the token or delete the webhook",
            """
- Slack bot/user token: `auth.revoke`, or *Your apps → OAuth & Permissions → Revoke tokens*.
- Incoming webhook: remove it from the app's *Incoming Webhooks* (the URL is the credential).
- Discord/Teams: delete the webhook in the channel settings.
""",
        ),
        _step(
            2,
            "rotate",
            "Create a replacement and store it in the secret store",
            "Create a new webhook/token with the narrowest channel and scopes; update consumers.",
        ),
        _step(
            3,
            "investigate",
            "Review the workspace's access logs over the exposure window",
            "Look for messages posted by the app that you didn't send (phishing in your own "
            "channels is the usual abuse) and for reads of channel history.\n\n" + _REVIEW_LOGS,
        ),
        _step(4, "notify", "Notify the workspace admins and affected parties", _NOTIFY),
        _step(5, "purge", "Purge the token from history and copies", _PURGE_GIT, required=False),
        _step(
            6,
            "verify",
            "Verify the old token is rejected",
            "A post with the old webhook URL must fail (`404 no_service` / `invalid_token`).",
            depends_on=[1],
        ),
    ],
}

GENERIC = {
    "slug": GENERIC_SLUG,
    "name": "Generic secret",
    "description": "Any other credential: API keys, passwords, cloud keys without a playbook.",
    "secret_types": [],  # the fallback
    "steps": [
        _step(
            1,
            "revoke",
            "Revoke or disable the secret at its issuer",
            """
Find who issues the credential (the service's admin console or API) and revoke or disable it.
If you can't tell what it unlocks, ask the author of the commit where it was found.
""",
        ),
        _step(
            2,
            "rotate",
            "Issue a replacement and roll it out",
            "Create a replacement with the least privilege and an expiry, keep it in the secret "
            "store, and update every consumer. Link the change as evidence.",
        ),
        _step(3, "investigate", "Review access logs over the exposure window", _REVIEW_LOGS),
        _step(4, "notify", "Notify the owner and affected parties", _NOTIFY),
        _step(5, "purge", "Purge the secret from history and copies", _PURGE_GIT, required=False),
        _step(
            6,
            "verify",
            "Verify the old secret no longer works",
            "Try the old value against the service (from a safe place); it must be rejected. "
            "Re-run the scanner.",
            depends_on=[1],
        ),
    ],
}

DEFAULT_PLAYBOOKS = [AWS, GITHUB, AZURE, PRIVATE_KEY, DATABASE, CHAT, GENERIC]


def ensure_default_playbooks(**kwargs) -> int:
    """Create every default playbook whose slug doesn't exist yet. Returns how many were made.
    Connected to post_migrate; safe to run any number of times."""
    from incidents.models import Playbook, PlaybookStep

    created = 0
    existing = set(Playbook.objects.values_list("slug", flat=True))
    for spec in DEFAULT_PLAYBOOKS:
        if spec["slug"] in existing:
            continue
        with transaction.atomic():
            playbook = Playbook.objects.create(
                slug=spec["slug"],
                version=1,
                name=spec["name"],
                description=spec["description"],
                secret_types=[str(t) for t in spec["secret_types"]],
                is_current=True,
            )
            PlaybookStep.objects.bulk_create(
                PlaybookStep(playbook=playbook, **step) for step in spec["steps"]
            )
        created += 1
    return created


def playbook_for(secret_type: str):
    """The current playbook covering ``secret_type``; the generic one when none does."""
    from incidents.models import Playbook

    current = list(Playbook.objects.filter(is_current=True).order_by("slug"))
    for playbook in current:
        if secret_type in (playbook.secret_types or []):
            return playbook
    for playbook in current:
        if playbook.slug == GENERIC_SLUG:
            return playbook
    ensure_default_playbooks()
    return Playbook.objects.get(slug=GENERIC_SLUG, is_current=True)
