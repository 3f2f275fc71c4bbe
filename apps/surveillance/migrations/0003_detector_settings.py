"""Every detector's settings row, so that staff find them all in the back office from the start
(the run also creates any that are missing)."""

from django.db import migrations

DETECTORS = [
    "wash_trade",
    "spoofing",
    "layering",
    "rapid_fire",
    "concentration",
    "marking_close",
    "gate_reconciliation",
]


def create(apps, schema_editor):
    DetectorConfig = apps.get_model("surveillance", "DetectorConfig")
    for name in DETECTORS:
        DetectorConfig.objects.get_or_create(
            detector=name,
            defaults={"critical_action": "halted" if name == "gate_reconciliation" else "none"},
        )


class Migration(migrations.Migration):
    dependencies = [("surveillance", "0002_occurrences")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
