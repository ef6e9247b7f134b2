"""Findings stored before paths were read as paths in the repository for every format (a CI
checkout's /github/workspace/…, a Windows runner's D:\\a\\<r>\\<r>\\…, backslashes) get the path
and the location key an import now gives them (hygiene.importers.base.path_in_checkout), so
that the next scan finds them again instead of marking them missing and creating new ones (and,
for a finding without a value, a second secret). A secret known only by its place gets the
fingerprint of its new place.

Only rows whose stored key is the one the import gave them are rewritten (their key can be
recomputed), and only where the new key is free in the source: any other row is left as it is.
Batched: a few queries per thousand candidate rows, none per unaffected finding."""

from django.db import connections
from django.db.models import Q

from hygiene import search_terms
from hygiene.fingerprints import fingerprint_of_place, secret_location_key
from hygiene.importers.base import path_in_checkout

BATCH = 1000
# Paths path_in_checkout may change: a backslash, a drive letter, a CI checkout.
CANDIDATES = (
    Q(path__contains="\\")
    | Q(path__regex=r"^/?[A-Za-z]:")
    | Q(path__startswith="/github/workspace/")
    | Q(path__startswith="/home/runner/work/")
    | Q(path__startswith="/home/vsts/work/")
    | Q(path__startswith="/path/")
    | Q(path__startswith="/builds/")
    | Q(path__startswith="/home/gitlab-runner/builds/")
    | Q(path__iregex=r"^[A-Za-z]:/GitLab-Runner/builds/")
)


def rekey_repository_paths(Finding, Secret) -> int:
    """Rewrite the candidates; returns how many findings changed."""
    changed = 0
    rows = (
        Finding.objects.filter(CANDIDATES, category="secret", secret__isnull=False)
        .select_related("secret")
        .order_by("pk")
    )
    batch: list = []
    for finding in rows.iterator(chunk_size=BATCH):
        batch.append(finding)
        if len(batch) >= BATCH:
            changed += _rekey(Finding, Secret, batch)
            batch = []
    if batch:
        changed += _rekey(Finding, Secret, batch)
    return changed


def _rekey(Finding, Secret, findings: list) -> int:
    planned = []  # (finding, new path, new key, secret to re-fingerprint or None, new fp)
    for f in findings:
        new_path = path_in_checkout(f.path)
        if new_path == f.path:
            continue
        fp = f.secret.fingerprint
        if secret_location_key(fp, f.repo, f.path, f.line, f.commit) != f.location_key:
            continue  # keyed otherwise (a GitHub alert, a clipped value): not ours to redo
        new_fp = None
        place = (f.source_id, f.rule, f.repo)
        if fp == fingerprint_of_place(*place, f.path, f.line, f.commit):
            new_fp = fingerprint_of_place(*place, new_path, f.line, f.commit)
        key = secret_location_key(new_fp or fp, f.repo, new_path, f.line, f.commit)
        planned.append((f, new_path, key, new_fp))
    if not planned:
        return 0
    taken = set(
        Finding.objects.filter(
            location_key__in=[key for _, _, key, _ in planned],
            source_id__in={f.source_id for f, _, _, _ in planned},
        ).values_list("source_id", "location_key")
    )
    fps_taken = set(
        Secret.objects.filter(fingerprint__in=[fp for _, _, _, fp in planned if fp]).values_list(
            "fingerprint", flat=True
        )
    )
    findings_out, secrets_out = [], []
    for f, new_path, key, new_fp in planned:
        if (f.source_id, key) in taken or (new_fp and new_fp in fps_taken):
            continue
        taken.add((f.source_id, key))
        if new_fp:
            fps_taken.add(new_fp)
            f.secret.fingerprint = new_fp
            secrets_out.append(f.secret)
        f.path, f.location_key = new_path[:1000], key
        findings_out.append(f)
    Secret.objects.bulk_update(secrets_out, ["fingerprint"])
    Finding.objects.bulk_update(findings_out, ["path", "location_key"])
    _add_search_terms(Finding, [f.path for f in findings_out])
    return len(findings_out)


def _add_search_terms(Finding, paths: list[str]) -> None:
    """The new paths as search terms (hygiene.search_terms: its trigger sees inserts only)."""
    connection = connections[Finding.objects.db]
    if not paths or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            search_terms.add_terms_sql(
                "SELECT '' AS repo, p AS path, '' AS rule, '' AS resource"
                " FROM unnest(%s::text[]) AS p"
            ),
            [sorted(set(paths))],
        )
