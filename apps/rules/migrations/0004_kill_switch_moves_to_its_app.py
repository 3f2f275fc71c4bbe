# The kill switch is now the killswitch app's model (killswitch 0001). Only the state changes:
# the table "rules_killswitch" and its rows stay where they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("rules", "0003_portfolio_rule_types"),
        ("killswitch", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="KillSwitch")],
            database_operations=[],
        ),
    ]
