"""Sources, their tokens and webhook secrets. Raw tokens and webhook secrets are returned once,
to be shown once; only hashes (tokens) are kept."""

import re
import secrets as pysecrets
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from hygiene.models import Finding, Source, SourceKind, SourceToken, Team, UserToken
from hygiene.services.staged_rows import normal_repo
from incidents.models import TimelineEvent


def _require(user, perm: str = "hygiene.manage_sources") -> None:
    if not user.has_perm(perm):
        raise PermissionDenied(f"your role does not allow this ({perm})")


def _log(by, kind: str, message: str, source: Source) -> None:
    TimelineEvent.objects.create(
        kind=kind, actor=by, message=message, data={"source": source.pk, "slug": source.slug}
    )


def clean_repo(repo: str) -> str:
    """A source's repository as a finding's is stored (no clone URL's credentials, no .git)."""
    return normal_repo(repo or "")[:300]


@transaction.atomic
def source_create(
    *,
    by,
    slug: str,
    name: str,
    kind: str,
    default_format: str = "",
    default_team: Team | None = None,
    full_scan: bool = True,
    repo: str = "",
) -> Source:
    _require(by)
    slug, name = (slug or "").strip().lower(), (name or "").strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", slug):
        raise ValidationError("The slug takes lowercase letters, digits, - and _ (64 at most).")
    if slug == "new":  # /sources/new/ is the creation form
        raise ValidationError("“new” can't be a source's slug.")
    if not name:
        raise ValidationError("Give the source a name.")
    if kind not in SourceKind.values:
        raise ValidationError("Kind must be scanner, auditor or rotator.")
    if Source.objects.filter(slug=slug).exists():
        raise ValidationError(f"A source called {slug!r} exists already.")
    source = Source.objects.create(
        slug=slug,
        name=name[:120],
        kind=kind,
        default_format=(default_format or "").strip()[:40],
        default_team=default_team,
        full_scan=full_scan,
        repo=clean_repo(repo),
    )
    _log(by, "source.created", f"Source {slug} created", source)
    return source


@transaction.atomic
def source_update(
    *,
    source: Source,
    by,
    name: str,
    default_format: str = "",
    default_team: Team | None = None,
    full_scan: bool = True,
    is_active: bool = True,
    repo: str = "",
) -> list[str]:
    """Change a source's settings (its slug stays: it is in tokens' scripts and webhook URLs);
    returns what changed, as words for the timeline. An inactive source's tokens and webhook
    are refused until it is active again."""
    _require(by)
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the source a name.")
    new = {
        "name": name[:120],
        "default_format": (default_format or "").strip()[:40],
        "default_team": default_team,
        "full_scan": bool(full_scan),
        "is_active": bool(is_active),
        "repo": clean_repo(repo),
    }
    locked = Source.objects.select_for_update().get(pk=source.pk)
    changed = [field for field, value in new.items() if getattr(locked, field) != value]
    if not changed:
        return []
    for field in changed:
        setattr(locked, field, new[field])
    locked.save(update_fields=changed)
    team = locked.default_team.name if locked.default_team else "none"
    words = {
        "name": f"name “{locked.name}”",
        "default_format": f"default format {locked.default_format or 'none'}",
        "default_team": f"default team {team}",
        "full_scan": "full scans" if locked.full_scan else "partial scans",
        "is_active": "active" if locked.is_active else "inactive (tokens and webhook refused)",
        "repo": f"repository {locked.repo or 'none'} (for reports that name none)",
    }
    said = [words[field] for field in changed]
    _log(by, "source.updated", f"Source {locked.slug}: {', '.join(said)}", locked)
    return said


@transaction.atomic
def source_token_create(
    *, source: Source, by, name: str, expires_at: datetime | None = None
) -> tuple[SourceToken, str]:
    _require(by)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The expiry must be in the future.")
    raw, prefix, digest = SourceToken.generate()
    token = SourceToken.objects.create(
        source=source,
        name=(name or "").strip()[:100],
        prefix=prefix,
        token_hash=digest,
        expires_at=expires_at,
        created_by=by,
    )
    _log(by, "source.token_created", f"Token {prefix}… created for {source.slug}", source)
    return token, raw


@transaction.atomic
def source_token_revoke(*, token: SourceToken, by) -> SourceToken:
    _require(by)
    updated = SourceToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db()
    if updated:
        _log(by, "source.token_revoked", f"Token {token.prefix}… revoked", token.source)
    return token


# How long an old token keeps working when rotated with an overlap: a day for the CI jobs that
# use it to get the new one.
ROTATION_OVERLAP = timedelta(hours=24)


@transaction.atomic
def source_token_rotate(
    *, token: SourceToken, by, expires_at: datetime | None = None, overlap: bool = False
) -> tuple[SourceToken, str]:
    """A new token with the same name and lifetime (a token made to last 90 days is replaced
    by one that lasts 90 days from now), or the expiry given; the old one is revoked, or, with
    ``overlap``, expires in ROTATION_OVERLAP (sooner if it was to expire before). A token is
    rotated once: its replacement is the one to rotate next."""
    _require(by)
    # Locked: two rotations of one token at once (a double click) would make two new ones.
    list(SourceToken.objects.select_for_update().filter(pk=token.pk).values_list("pk"))
    token.refresh_from_db()
    if token.replaced_by_id:
        replacement = SourceToken.objects.get(pk=token.replaced_by_id)
        raise ValidationError(
            f"That token was replaced by {replacement.prefix}… already; rotate that one instead."
        )
    if token.revoked_at or not token.is_usable():
        raise ValidationError("That token is revoked or expired already; create a new one instead.")
    new, raw = source_token_create(
        source=token.source, by=by, name=token.name, expires_at=expires_at or _lifetime(token)
    )
    SourceToken.objects.filter(pk=token.pk).update(replaced_by=new)
    token.replaced_by = new
    if not overlap:
        source_token_revoke(token=token, by=by)
        return new, raw
    until = timezone.now() + ROTATION_OVERLAP
    if token.expires_at is None or token.expires_at > until:
        SourceToken.objects.filter(pk=token.pk).update(expires_at=until)
        token.expires_at = until
    _log(
        by,
        "source.token_rotated",
        f"Token {token.prefix}… replaced by {new.prefix}…; it works until"
        f" {until:%Y-%m-%d %H:%M} UTC",
        token.source,
    )
    return new, raw


def _lifetime(token: SourceToken):
    """The same lifetime from now (none for a token that never expires)."""
    if token.expires_at is None:
        return None
    return timezone.now() + (token.expires_at - token.created_at)


@transaction.atomic
def source_webhook_secret_rotate(*, source: Source, by) -> str:
    _require(by)
    raw = pysecrets.token_urlsafe(32)
    Source.objects.filter(pk=source.pk).update(webhook_secret=raw)
    source.webhook_secret = raw
    _log(by, "source.webhook_secret_rotated", f"Webhook secret of {source.slug} rotated", source)
    return raw


@transaction.atomic
def source_delete(*, source: Source, by=None) -> int:
    """Delete a source with its findings, runs and tokens; returns how many findings went.

    The source row is locked first: a reconcile in progress holds it (FOR KEY SHARE) until it
    commits, so its findings are there to be collected rather than left behind without a
    source (findings reference their source without a database constraint)."""
    if by is not None:
        _require(by)
    locked = Source.objects.select_for_update().filter(pk=source.pk).first()
    if locked is None:
        return 0
    findings = locked.findings.count()
    slug, pk = locked.slug, locked.pk
    secret_ids = list(
        locked.findings.exclude(secret_id=None).values_list("secret_id", flat=True).distinct()
    )
    locked.delete()
    _recount_secrets(secret_ids)
    TimelineEvent.objects.create(
        kind="source.deleted",
        actor=by,
        message=f"Source {slug} deleted with its {findings} findings",
        data={"source": pk, "slug": slug},
    )
    return findings


def _recount_secrets(secret_ids: list[int], batch: int = 5000) -> None:
    """The secrets a deletion took findings from: their counts from the findings left (a
    secret this source alone had found has none, and is no longer reused)."""
    from django.db import connection

    from hygiene.services.reconcile import place_sql

    place = place_sql("f", connection.vendor == "postgresql")
    for start in range(0, len(secret_ids), batch):
        chunk = secret_ids[start : start + batch]
        marks = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE hygiene_secret SET
                    finding_count = (SELECT COUNT(*) FROM hygiene_finding f
                                     WHERE f.secret_id = hygiene_secret.id),
                    place_count = (SELECT COUNT(DISTINCT {place}) FROM hygiene_finding f
                                   WHERE f.secret_id = hygiene_secret.id)
                WHERE id IN ({marks})
                """,
                chunk,
            )
            cursor.execute(
                f"UPDATE hygiene_secret SET reused = place_count >= 2 WHERE id IN ({marks})", chunk
            )


def incidents_only_this_source_found(source: Source) -> list[str]:
    """The open incidents whose every secret this source alone has findings of: deleting the
    source leaves them about secrets nothing reports any more (they stay open)."""
    from django.db.models import Exists, OuterRef

    from incidents.models import Incident, IncidentSecret

    elsewhere = Finding.objects.filter(secret_id=OuterRef("secret_id")).exclude(source=source)
    from_here = Finding.objects.filter(secret_id=OuterRef("secret_id"), source=source)
    reported_elsewhere = IncidentSecret.objects.filter(incident=OuterRef("pk")).filter(
        Exists(elsewhere) | ~Exists(from_here)
    )
    found_here = IncidentSecret.objects.filter(incident=OuterRef("pk")).filter(Exists(from_here))
    return [
        str(incident.reference)
        for incident in Incident.objects.exclude(status="closed")
        .filter(Exists(found_here))
        .exclude(Exists(reported_elsewhere))
        .order_by("pk")[:20]
    ]


# --- personal API tokens ------------------------------------------------------------------

MAX_USER_TOKENS = 20


@transaction.atomic
def user_token_create(
    *, user, name: str, expires_at: datetime | None = None
) -> tuple[UserToken, str]:
    """A token that reads the API with ``user``'s role. Returns it and the raw value, to be
    shown once; only its hash is kept."""
    if not user.is_active:
        raise PermissionDenied("an inactive account can't have API tokens")
    name = (name or "").strip()[:100]
    if not name:
        raise ValidationError("Name the token after where it will be used (e.g. “grafana”).")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The expiry must be in the future.")
    if UserToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_USER_TOKENS:
        raise ValidationError(f"You have {MAX_USER_TOKENS} tokens; revoke one first.")
    raw, prefix, digest = UserToken.generate()
    token = UserToken.objects.create(
        user=user, name=name, prefix=prefix, token_hash=digest, expires_at=expires_at
    )
    TimelineEvent.objects.create(
        kind="user.token_created",
        actor=user,
        message=f"API token {prefix}… ({name}) created",
        data={"token": token.pk},
    )
    return token, raw


@transaction.atomic
def user_token_revoke(*, token: UserToken, by) -> UserToken:
    """Its owner revokes a token (deactivating an account stops all of its tokens)."""
    if token.user_id != by.pk:
        raise PermissionDenied("only its owner can revoke this token")
    updated = UserToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    token.refresh_from_db()
    if updated:
        TimelineEvent.objects.create(
            kind="user.token_revoked",
            actor=by,
            message=f"API token {token.prefix}… of {token.user} revoked",
            data={"token": token.pk},
        )
    return token
