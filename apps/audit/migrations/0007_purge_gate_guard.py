"""Only the purge path opens the purge gate (PostgreSQL).

A plain `UPDATE audit_auditpurgegate SET open = true` is refused by a trigger. The gate opens
through `audit_purge_gate_open()`, which marks its own transaction (a transaction-local setting
holding the transaction id) and then opens the row; the append-only triggers accept a DELETE or
TRUNCATE only when the row is open *and* was opened in the current transaction. A gate left
open (by disabling this trigger and committing) therefore opens nothing for any later
transaction. SQLite keeps the triggers of 0002: there a row update still opens the gate.
"""

from importlib import import_module

from django.db import migrations

previous = import_module("apps.audit.migrations.0002_append_only")

PG_FORWARD = """
CREATE OR REPLACE FUNCTION audit_purge_gate_opened_here() RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN COALESCE(current_setting('audit.purge_txid', true), '') = txid_current()::text;
END $$;

CREATE OR REPLACE FUNCTION audit_purge_gate_open() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('audit.purge_txid', txid_current()::text, true);
  INSERT INTO audit_auditpurgegate (id, open) VALUES (1, true)
    ON CONFLICT (id) DO UPDATE SET open = true;
END $$;

CREATE OR REPLACE FUNCTION audit_purge_gate_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.open AND NOT audit_purge_gate_opened_here() THEN
    RAISE EXCEPTION 'the audit purge gate opens only through audit_purge_gate_open(): % refused',
      TG_OP;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER audit_auditpurgegate_guard BEFORE INSERT OR UPDATE ON audit_auditpurgegate
  FOR EACH ROW EXECUTE FUNCTION audit_purge_gate_guard();

CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE')
     AND COALESCE((SELECT open FROM audit_auditpurgegate WHERE id = 1), false)
     AND audit_purge_gate_opened_here() THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NULL;
  END IF;
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
"""

PG_BACKWARD = """
DROP TRIGGER IF EXISTS audit_auditpurgegate_guard ON audit_auditpurgegate;
DROP FUNCTION IF EXISTS audit_purge_gate_guard();
DROP FUNCTION IF EXISTS audit_purge_gate_open();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
        schema_editor.execute(previous.PG_FUNCTION, params=None)
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_purge_gate_opened_here()")


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_locate_event")]

    operations = [migrations.RunPython(forwards, backwards)]
