"""Tool ids that digest a secret's value, unkeyed, and their removal from findings imported
before the importers stopped keeping them (migration 0015).

An unkeyed hash of a value is checkable offline against guesses at a weak secret, which our
HMAC fingerprints are not. The importers no longer keep them (ggshield's ``ignore_sha``, its
SARIF ``secret/v1``, GitLab's ``cve``, Nosey Parker's ``finding_id``, SARIF fingerprints whose
key says they digest the value or its line). Where a key name could be a user's own id (our
own format takes any), only findings of a source whose default format wrote it lose it.
"""

import re

# In any finding: names only those formats write.
ANYWHERE = ("ignore_sha", "secret/v1")
# SARIF fingerprints are kept as "fingerprint:<key>", partial fingerprints as "<key>".
DIGEST_KEY = r"(secret|hash|matchbased)"
BY_FORMAT = {"gitlab-secret-detection": ("cve",), "noseyparker": ("finding_id",)}

_DIGEST_KEY = re.compile(DIGEST_KEY, re.IGNORECASE)


def is_value_digest(key: str, default_format: str) -> bool:
    if key in ANYWHERE or key in BY_FORMAT.get(default_format, ()):
        return True
    if key.startswith("fingerprint:") or default_format == "sarif":
        return bool(_DIGEST_KEY.search(key))
    return False


def forget_value_digests(connection) -> int:
    """Drop those tool ids from every finding; returns how many findings changed."""
    if connection.vendor == "postgresql":
        return _forget_in_sql(connection)
    return _forget_row_by_row(connection)


def _forget_in_sql(connection) -> int:
    per_format = " OR ".join(
        f"(s.default_format = '{fmt}' AND k.key IN ({', '.join(repr(n) for n in names)}))"
        for fmt, names in BY_FORMAT.items()
    )
    digest = f"""(k.key = ANY(%(anywhere)s)
        OR ((k.key LIKE 'fingerprint:%%' OR s.default_format = 'sarif')
            AND k.key ~* %(pattern)s)
        OR {per_format})"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE hygiene_finding f
            SET tool_ids = f.tool_ids - ARRAY(
                SELECT k.key FROM jsonb_each(f.tool_ids) k WHERE {digest})
            FROM hygiene_source s
            WHERE s.id = f.source_id AND f.tool_ids <> '{{}}'::jsonb
              AND EXISTS (SELECT 1 FROM jsonb_each(f.tool_ids) k WHERE {digest})
            """,
            {"anywhere": list(ANYWHERE), "pattern": DIGEST_KEY},
        )
        return cursor.rowcount


def _forget_row_by_row(connection) -> int:
    """SQLite (make run): a small inventory, read in Python."""
    import json

    changed = 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f.id, f.tool_ids, s.default_format FROM hygiene_finding f "
            "JOIN hygiene_source s ON s.id = f.source_id WHERE f.tool_ids <> '{}'"
        )
        rows = cursor.fetchall()
        for pk, raw, default_format in rows:
            ids = json.loads(raw) if isinstance(raw, str) else raw
            kept = {k: v for k, v in ids.items() if not is_value_digest(k, default_format)}
            if kept != ids:
                cursor.execute(
                    "UPDATE hygiene_finding SET tool_ids = %s WHERE id = %s",
                    [json.dumps(kept), pk],
                )
                changed += 1
    return changed
