"""Migration operations for tables that are large in production.

``AddIndexConcurrently`` builds an index with ``CREATE INDEX CONCURRENTLY`` on PostgreSQL, so
that reads and imports of a table of millions of findings go on while it is built (a plain
``CREATE INDEX`` blocks every write for the whole build). A migration interrupted half-way can
simply be run again: an index it built already is kept, one it left invalid is built again.
``RemoveIndexConcurrently`` drops one with ``DROP INDEX CONCURRENTLY`` (a plain ``DROP INDEX``
waits for an exclusive lock, behind a running import, and every query queues behind it). On
SQLite (``make run``) both are the ordinary operations. A migration using them sets
``atomic = False``, and adds the new index before removing the one it replaces.
"""

from django.contrib.postgres.operations import AddIndexConcurrently as _AddConcurrently
from django.contrib.postgres.operations import RemoveIndexConcurrently as _RemoveConcurrently
from django.db.migrations import AddIndex, RemoveIndex


def _index_left(schema_editor, name: str) -> bool:
    """Whether an earlier, interrupted run of the migration left the index ``name`` built; one
    it left invalid (a failed concurrent build) is dropped, to be built again."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name])
        row = cursor.fetchone()
    if row and not row[0]:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")
        return False
    return bool(row)


class AddIndexConcurrently(_AddConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            if not _index_left(schema_editor, self.index.name):
                super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemoveIndexConcurrently(_RemoveConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            if not _index_left(schema_editor, self.name):
                super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
