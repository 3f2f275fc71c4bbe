from django.db import migrations

from apps.rbac import refcache

# What an order reads of its account (with the submitter's entitlement) and its instrument.
TABLES = ["trading_account", "trading_instrument", "trading_accountentitlement"]


def install(apps, schema_editor):
    refcache.install_triggers(schema_editor, TABLES)


def remove(apps, schema_editor):
    refcache.remove_triggers(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0014_cat_identifiers"),
        ("rbac", "0005_reference_version"),
    ]

    operations = [migrations.RunPython(install, remove)]
