# The kill switch moved here from the rules app without moving its data: this migration only
# adds the model to this app's state, over the table that rules' migrations created and keep
# ("rules_killswitch"); rules 0004 removes it from the rules app's state. The content type is
# renamed so that permissions and admin history follow the model.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def rename_content_type(apps, schema_editor, old="rules", new="killswitch"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=new, model="killswitch").exists():
        ContentType.objects.using(db).filter(app_label=old, model="killswitch").update(
            app_label=new
        )


def restore_content_type(apps, schema_editor):
    rename_content_type(apps, schema_editor, old="killswitch", new="rules")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("rules", "0003_portfolio_rule_types"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="KillSwitch",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("scope", models.CharField(choices=[("firm", "Firm"), ("account", "Account"), ("instrument", "Instrument")], max_length=16)),
                        ("target", models.CharField(blank=True, help_text="Account code or symbol.", max_length=64)),
                        ("state", models.CharField(choices=[("halted", "Halted (no new orders)"), ("reducing", "Reducing only")], max_length=16)),
                        ("reason", models.CharField(max_length=500)),
                        ("is_active", models.BooleanField(db_index=True, default=True)),
                        ("activated_by_system", models.CharField(blank=True, help_text="The automated control that activated it, if any.", max_length=64)),
                        ("activated_at", models.DateTimeField()),
                        ("deactivated_at", models.DateTimeField(blank=True, null=True)),
                        ("snapshot", models.JSONField(default=dict, help_text="Open positions and working orders.")),
                        ("canceled_orders", models.PositiveIntegerField(default=0)),
                        ("activated_by", models.ForeignKey(blank=True, help_text="Empty when an automated control (surveillance) activated it.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("deactivated_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "verbose_name_plural": "kill switches",
                        "db_table": "rules_killswitch",
                        "ordering": ["-activated_at"],
                        "constraints": [models.CheckConstraint(condition=models.Q(("scope", "firm"), models.Q(("target", ""), _negated=True), _connector="OR"), name="kill_switch_scope_has_target")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_type, restore_content_type),
    ]
