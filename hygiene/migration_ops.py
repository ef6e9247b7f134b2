"""Migration operations for tables that are large in production.

``AddIndexConcurrently`` builds an index with ``CREATE INDEX CONCURRENTLY`` on PostgreSQL, so
that reads and imports of a table of millions of findings go on while it is built (a plain
``CREATE INDEX`` blocks every write, and ``DROP INDEX`` every read, for the whole build); on
SQLite (``make run``) it is an ordinary ``AddIndex``. A migration using it sets
``atomic = False``, and adds the new index before removing the one it replaces.
"""

from django.contrib.postgres.operations import AddIndexConcurrently as _Concurrently
from django.db.migrations import AddIndex


class AddIndexConcurrently(_Concurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
