"""The people and teams that findings, secrets and secret references name are checked by
triggers instead of foreign keys (PostgreSQL). A foreign key queues a check for every inserted
row, NULL or not, run at commit: an import of 100,000 findings queued 600,000 of them (0.5 s of
server time) for columns it leaves empty. A constraint trigger's WHEN clause is evaluated
before anything is queued, so these check only rows that name someone, as the foreign key did:
at commit (deferred), locking the named row (FOR KEY SHARE) so that it can't go meanwhile; and
deleting a user or a team still named anywhere fails at commit, as with NO ACTION (Django's
deletion sets those columns to NULL first)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# (table, column, referenced table) of the references checked by triggers.
REFERENCES = [
    ("hygiene_finding", "assignee_id", "auth_user"),
    ("hygiene_finding", "resolved_by_id", "auth_user"),
    ("hygiene_finding", "proposed_by_id", "auth_user"),
    ("hygiene_finding", "team_id", "hygiene_team"),
    ("hygiene_secret", "team_id", "hygiene_team"),
    ("hygiene_secretreference", "added_by_id", "auth_user"),
]

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION hygiene_reference_exists() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE  -- TG_ARGV: the referenced table, the referencing column
        ref bigint := (to_jsonb(NEW) ->> TG_ARGV[1])::bigint;
        found_id bigint;
    BEGIN
        EXECUTE format('SELECT id FROM %I WHERE id = $1 FOR KEY SHARE', TG_ARGV[0])
            INTO found_id USING ref;
        IF found_id IS NULL THEN
            RAISE EXCEPTION 'insert or update on table "%" violates foreign key: %=% is not in %',
                TG_TABLE_NAME, TG_ARGV[1], ref, TG_ARGV[0]
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    *(
        f"CREATE CONSTRAINT TRIGGER {table}_{column}_exists AFTER INSERT OR UPDATE OF {column} "
        f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.{column} IS NOT NULL) "
        f"EXECUTE FUNCTION hygiene_reference_exists('{referenced}', '{column}')"
        for table, column, referenced in REFERENCES
    ),
    # The referenced side: one pass over findings for the two unindexed user columns (a user is
    # rarely deleted; imports never fill them, and an index would cost every bulk resolve).
    """
    CREATE OR REPLACE FUNCTION hygiene_user_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM hygiene_finding WHERE assignee_id = OLD.id)
           OR EXISTS (SELECT 1 FROM hygiene_finding
                      WHERE resolved_by_id = OLD.id OR proposed_by_id = OLD.id)
           OR EXISTS (SELECT 1 FROM hygiene_secretreference WHERE added_by_id = OLD.id) THEN
            RAISE EXCEPTION 'user % is still named by a finding or a secret reference', OLD.id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION hygiene_team_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM hygiene_finding WHERE team_id = OLD.id)
           OR EXISTS (SELECT 1 FROM hygiene_secret WHERE team_id = OLD.id) THEN
            RAISE EXCEPTION 'team % is still named by a finding or a secret', OLD.id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    *(
        statement
        for table, what in (("auth_user", "user"), ("hygiene_team", "team"))
        for statement in (
            f"CREATE CONSTRAINT TRIGGER {what}_deleted_unreferenced AFTER DELETE ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION hygiene_{what}_unreferenced()",
            f"CREATE CONSTRAINT TRIGGER {what}_renumbered_unreferenced AFTER UPDATE OF id "
            f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"WHEN (OLD.id IS DISTINCT FROM NEW.id) "
            f"EXECUTE FUNCTION hygiene_{what}_unreferenced()",
        )
    ),
]

BACKWARD = [
    *(f"DROP TRIGGER IF EXISTS {t}_{c}_exists ON {t}" for t, c, _ in REFERENCES),
    *(
        f"DROP TRIGGER IF EXISTS {what}_{event}_unreferenced ON {table}"
        for table, what in (("auth_user", "user"), ("hygiene_team", "team"))
        for event in ("deleted", "renumbered")
    ),
    "DROP FUNCTION IF EXISTS hygiene_reference_exists()",
    "DROP FUNCTION IF EXISTS hygiene_user_unreferenced()",
    "DROP FUNCTION IF EXISTS hygiene_team_unreferenced()",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("hygiene", "0012_finding_sightings"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The triggers go in before the foreign keys go (and, undone, after they are back).
        migrations.RunPython(forward, backward),
        migrations.AlterField(
            model_name="finding",
            name="assignee",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="assigned_findings",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="finding",
            name="proposed_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="finding",
            name="resolved_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="finding",
            name="team",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="findings",
                to="hygiene.team",
            ),
        ),
        migrations.AlterField(
            model_name="secret",
            name="team",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="secrets",
                to="hygiene.team",
            ),
        ),
        migrations.AlterField(
            model_name="secretreference",
            name="added_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
