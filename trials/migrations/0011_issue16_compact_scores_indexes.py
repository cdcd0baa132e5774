# Compact ScoreRecord and list indexes (#16): inputs into one compact JSON, explanation re-derived on display,
# no history table for the derived record. Existing rows are converted below; the last reason
# of each record's history becomes its ``trigger``.

from django.db import migrations, models

BATCH = 500


def pack_existing(apps, schema_editor):
    from trials.services import score_inputs_pack

    ScoreRecord = apps.get_model("trials", "ScoreRecord")
    Historical = apps.get_model("trials", "HistoricalScoreRecord")
    last_reason = dict(
        Historical.objects.order_by("history_id").values_list("id", "history_change_reason")
    )
    batch = []
    for record in ScoreRecord.objects.order_by("pk").iterator(chunk_size=BATCH):
        record.explanation = score_inputs_pack(record.inputs or {}, label=record.label)
        record.trigger = (last_reason.get(record.pk) or "")[:200]
        batch.append(record)
        if len(batch) == BATCH:
            ScoreRecord.objects.bulk_update(batch, ["explanation", "trigger"])
            batch = []
    ScoreRecord.objects.bulk_update(batch, ["explanation", "trigger"])


def unpack_existing(apps, schema_editor):
    import scoring
    from trials.services import score_inputs_unpack

    ScoreRecord = apps.get_model("trials", "ScoreRecord")
    batch = []
    for record in ScoreRecord.objects.order_by("pk").iterator(chunk_size=BATCH):
        record.inputs = score_inputs_unpack(record.explanation or {}, label=record.label)
        result = scoring.calculate({k: item["value"] for k, item in record.inputs.items()})
        record.missing = result.get("missing", {})
        record.details = {
            **result.get("details", {}),
            "organ_failures": result.get("organ_failures") or [],
        }
        batch.append(record)
        if len(batch) == BATCH:
            ScoreRecord.objects.bulk_update(batch, ["inputs", "missing", "details"])
            batch = []
    ScoreRecord.objects.bulk_update(batch, ["inputs", "missing", "details"])


def trigram_drop(apps, schema_editor):
    """The contains-search's trigram indexes (0010) are dropped: numbers such as "S01-0123"
    are digit groups split by "-", so every patient shares the same few digit trigrams; the
    planner never chose them, and forced they were slower than the scan (6.9 vs 2.2 ms at
    10,000 patients, docs/scaling.md) while costing every patient write."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in ("patient_screening_number_trgm", "patient_subject_id_trgm"):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute("DROP INDEX IF EXISTS patient_initials_upper")


def trigram_restore(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in ("screening_number", "subject_id"):
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS patient_{column}_trgm ON trials_patient "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS patient_initials_upper ON trials_patient "
        "(UPPER(initials::text))"
    )


class Migration(migrations.Migration):

    dependencies = [
        ('trials', '0010_issue16_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='scorerecord',
            name='explanation',
            field=models.JSONField(blank=True, default=dict, help_text='Inputs, compact (trials.services.score_inputs_pack)'),
        ),
        migrations.AddField(
            model_name='scorerecord',
            name='trigger',
            field=models.CharField(blank=True, help_text='What recomputed it last', max_length=200),
        ),
        migrations.RunPython(pack_existing, unpack_existing),
        migrations.RemoveField(
            model_name='scorerecord',
            name='details',
        ),
        migrations.RemoveField(
            model_name='scorerecord',
            name='inputs',
        ),
        migrations.RemoveField(
            model_name='scorerecord',
            name='missing',
        ),
        migrations.DeleteModel(
            name='HistoricalScoreRecord',
        ),
        # Lists read in index order (#16): patient lists by screening number, pharmacy lists
        # and cursors by randomization number, the worklist's score gaps newest first.
        migrations.RunPython(trigram_drop, trigram_restore),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(fields=['screening_number'], name='patient_screening_number'),
        ),
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(condition=models.Q(('subject_id__isnull', False)), fields=['subject_id'], name='patient_subject_id'),
        ),
        migrations.AddIndex(
            model_name='scorerecord',
            index=models.Index(condition=models.Q(('clif_sofa__isnull', True), ('clif_c_aclf__isnull', True), _connector='OR'), fields=['-assessed_on', '-id'], name='score_record_gap_recent'),
        ),
    ]
