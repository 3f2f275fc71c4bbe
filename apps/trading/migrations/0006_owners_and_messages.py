"""Message counts for the message limits, the market-maker flag, and beneficial owners as
entities: each free-text owner name becomes an owner, names of one person written differently
("Nadia Petrov", "Petrov, Nadia") becoming one."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import apps.trading.validators
from apps.trading.owners import owner_name_key, owner_name_normalised


def owners_from_names(apps, schema_editor):
    Account = apps.get_model("trading", "Account")
    BeneficialOwner = apps.get_model("trading", "BeneficialOwner")
    owners = {}
    for account in Account.objects.order_by("id"):
        name = owner_name_normalised(account.beneficial_owner) or f"Owner of {account.code}"
        key = owner_name_key(name)
        if key not in owners:  # the first account's spelling names the owner
            owners[key] = BeneficialOwner.objects.create(name=name, name_key=key)
        account.owner = owners[key]
        account.save(update_fields=["owner"])
    if schema_editor.connection.vendor == "postgresql":
        # The foreign keys are checked at commit; the table is altered below, which PostgreSQL
        # refuses while such checks are pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def names_from_owners(apps, schema_editor):
    Account = apps.get_model("trading", "Account")
    for account in Account.objects.select_related("owner"):
        account.beneficial_owner = account.owner.name
        account.save(update_fields=["beneficial_owner"])


class Migration(migrations.Migration):

    dependencies = [
        ("trading", "0005_short_sides_and_locates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="is_market_maker",
            field=models.BooleanField(
                default=False,
                help_text="Quotes both sides all session (cancels and replaces): exempt from the "
                "cancel-ratio rule, not from message limits.",
            ),
        ),
        migrations.CreateModel(
            name="OrderMessage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("new", "New order"), ("amend", "Amendment"), ("cancel", "Cancel")], max_length=8)),
                ("sent_at", models.DateTimeField()),
                ("account", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="trading.account")),
                ("order", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="messages", to="trading.order")),
                ("user", models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["-sent_at", "-id"],
                "indexes": [
                    models.Index(fields=["account", "sent_at"], name="order_message_by_account"),
                    models.Index(fields=["user", "sent_at"], name="order_message_by_user"),
                ],
            },
        ),
        migrations.CreateModel(
            name="BeneficialOwner",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=200)),
                ("name_key", models.CharField(editable=False, help_text="The name as compared (apps.trading.owners): case, spacing and a person's 'Last, First' order do not make another owner.", max_length=200, unique=True)),
                ("lei", models.CharField(blank=True, help_text="ISO 17442 Legal Entity Identifier of a firm; empty for a natural person.", max_length=20, validators=[apps.trading.validators.validate_lei], verbose_name="LEI")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["name"],
                "constraints": [models.UniqueConstraint(condition=models.Q(("lei", ""), _negated=True), fields=("lei",), name="beneficial_owner_lei_unique")],
            },
        ),
        migrations.AddField(
            model_name="account",
            name="owner",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="trading.beneficialowner"),
        ),
        # Blank allowed for the way back: the text column returns empty, then gets the names.
        migrations.AlterField(
            model_name="account",
            name="beneficial_owner",
            field=models.CharField(blank=True, db_index=True, default="", max_length=200),
        ),
        migrations.RunPython(owners_from_names, names_from_owners),
        migrations.RemoveField(model_name="account", name="beneficial_owner"),
        migrations.RenameField(model_name="account", old_name="owner", new_name="beneficial_owner"),
        migrations.AlterField(
            model_name="account",
            name="beneficial_owner",
            field=models.ForeignKey(
                help_text="Accounts with the same beneficial owner count as one (wash trades, self-trade prevention).",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="accounts",
                to="trading.beneficialowner",
            ),
        ),
    ]
