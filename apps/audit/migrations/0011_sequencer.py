"""Events are sequenced after their writer commits (apps/audit/sequencer.py).

The writer stores an event unsequenced (a negative placeholder in `seq`, from the arrival
sequence on PostgreSQL; no hash yet); the sequencer later sets its `seq`, `record` and `hash`,
once. The append-only triggers now let exactly that one step through and nothing else: the
placeholder becomes a positive sequence number, the record gains `seq` and `prev_hash` and is
otherwise the same, the hash (checked on PostgreSQL) is the SHA-256 of the new record, and every
other column stays as it was. A sequenced event still cannot change, and no event can be
deleted but by the purge.
"""

from django.db import migrations, models

SAME_COLUMNS = (
    "occurred_at",
    "event_type",
    "actor_type",
    "actor",
    "object_type",
    "object_id",
    "regulatory",
    "retention_class",
    "queued_at",
)


def _row(prefix: str) -> str:
    return ", ".join(f"{prefix}.{name}" for name in SAME_COLUMNS)


PG_FORWARD = f"""
CREATE SEQUENCE IF NOT EXISTS audit_event_arrival;

CREATE OR REPLACE FUNCTION audit_event_sequence_once() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sequenced jsonb;
BEGIN
  IF OLD.seq < 0 AND OLD.hash = '' AND NEW.seq > 0
     AND ({_row("NEW")}) IS NOT DISTINCT FROM ({_row("OLD")}) THEN
    sequenced := NEW.record::jsonb;
    IF sequenced ->> 'seq' = NEW.seq::text
       AND jsonb_typeof(sequenced -> 'prev_hash') = 'string'
       AND sequenced - 'seq' - 'prev_hash' = OLD.record::jsonb
       AND NEW.hash = encode(sha256(convert_to(NEW.record, 'UTF8')), 'hex') THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_auditevent is append-only: UPDATE refused (only the sequencer may '
    'place an unsequenced event in the chain, once)';
END $$;

DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
CREATE TRIGGER audit_auditevent_append_only BEFORE DELETE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_auditevent_sequence_once BEFORE UPDATE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION audit_event_sequence_once();
"""

PG_BACKWARD = """
DROP TRIGGER IF EXISTS audit_auditevent_sequence_once ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
CREATE TRIGGER audit_auditevent_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
DROP FUNCTION IF EXISTS audit_event_sequence_once();
DROP SEQUENCE IF EXISTS audit_event_arrival;
"""

_SQLITE_SAME = " AND ".join(f"NEW.{name} IS OLD.{name}" for name in SAME_COLUMNS)

SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update",
    "CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent "
    "WHEN NOT (OLD.seq < 0 AND OLD.hash = '' AND NEW.seq > 0 AND length(NEW.hash) = 64 "
    f"AND {_SQLITE_SAME} "
    "AND json_extract(NEW.record, '$.seq') = NEW.seq "
    "AND json_type(NEW.record, '$.prev_hash') = 'text' "
    "AND json_remove(NEW.record, '$.seq', '$.prev_hash') = json(OLD.record)) "
    "BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only: UPDATE refused (only the "
    "sequencer may place an unsequenced event in the chain, once)'); END",
]

SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update",
    "CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent BEGIN "
    "SELECT RAISE(ABORT, 'audit_auditevent is append-only: UPDATE refused'); END",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0010_stor_event_type")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="queued_at",
            field=models.DateTimeField(
                editable=False,
                help_text="When the writer's transaction stored the event.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("seq__lt", 0)), fields=["seq"], name="audit_event_unsequenced"
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
