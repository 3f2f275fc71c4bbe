from django.db import migrations, models

from apps.rbac import refcache

# What token authentication reads: the token, its user (active, password), the user's roles.
TABLES = ["rbac_apitoken", "auth_user", "auth_user_groups", "auth_group"]


def install(apps, schema_editor):
    refcache.install_triggers(schema_editor, TABLES)


def remove(apps, schema_editor):
    refcache.remove_triggers(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("rbac", "0004_staff_identity"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReferenceVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(install, remove),
    ]
