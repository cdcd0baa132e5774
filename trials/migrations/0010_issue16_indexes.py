# Issue #16: index for the dashboard's "most recent"; trigram indexes for the contains-search
# of the patient list on PostgreSQL only (the migration is a no-op for them on SQLite).

from django.db import migrations, models

# Django's icontains on PostgreSQL is UPPER(col::text) LIKE UPPER('%q%'): index that expression.
TRGM_COLUMNS = ("screening_number", "subject_id")


def trigram_create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in TRGM_COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS patient_{column}_trgm ON trials_patient "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )
    # The search ORs these with initials__iexact: without an index on that branch too, the
    # planner must scan the table whatever the trigram indexes offer.
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS patient_initials_upper ON trials_patient "
        "(UPPER(initials::text))"
    )


def trigram_drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in TRGM_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS patient_{column}_trgm")
    schema_editor.execute("DROP INDEX IF EXISTS patient_initials_upper")


class Migration(migrations.Migration):

    dependencies = [
        ('trials', '0009_access_events_logins_monitoring'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(fields=['created_at'], name='patient_created_at'),
        ),
        migrations.RunPython(trigram_create, trigram_drop),
    ]
