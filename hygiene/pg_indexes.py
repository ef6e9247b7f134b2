"""PostgreSQL-only indexes for the triage filters, as plain SQL for a RunSQL migration
(``migrations.RunSQL(FORWARD, REVERSE)``); skipped on SQLite.

Trigram GIN indexes make the free-text search (``icontains`` over repo, path and rule, see
hygiene.filters) an index lookup instead of a scan of every finding. Django writes
``icontains`` on PostgreSQL as ``UPPER(col::text) LIKE UPPER(%s)``, so the indexes are on that
very expression (an index on the bare column would not be used)."""

COLUMNS = ("repo", "path", "rule")

FORWARD = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"] + [
    f"CREATE INDEX IF NOT EXISTS finding_{column}_utrgm ON hygiene_finding "
    f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
    for column in COLUMNS
]

REVERSE = [f"DROP INDEX IF EXISTS finding_{column}_utrgm" for column in COLUMNS]


def apply(connection) -> None:
    """Create them on ``connection`` if it is PostgreSQL (the benchmark and tests use this)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in FORWARD:
            cursor.execute(statement)
