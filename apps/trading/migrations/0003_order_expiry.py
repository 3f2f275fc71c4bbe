from datetime import timedelta

from django.conf import settings
from django.db import migrations, models

WORKING = ["accepted", "partially_filled", "pending_approval"]


def backfill_expire_at(apps, schema_editor):
    """Orders working before expiry existed get the expire_at their time in force gave them when
    they were submitted, so that the first expiry pass ends the day and ioc/fok orders that
    have been counted as working ever since (gtc stays None: it never expires)."""
    from apps.core.calendars import calendar_code, session_close_for_order

    Order = apps.get_model("trading", "Order")
    grace = timedelta(seconds=settings.IOC_GRACE_SECONDS)
    rows = (
        Order.objects.filter(status__in=WORKING, time_in_force__in=["day", "ioc", "fok"])
        .select_related("instrument")
        .only("id", "time_in_force", "created_at", "instrument__calendar", "instrument__mic")
    )
    batch = []
    for order in rows.iterator(chunk_size=1000):
        if order.time_in_force == "day":
            code = calendar_code(order.instrument.calendar, order.instrument.mic)
            order.expire_at = session_close_for_order(code, order.created_at)
        else:
            order.expire_at = order.created_at + grace
        batch.append(order)
        if len(batch) >= 1000:
            Order.objects.bulk_update(batch, ["expire_at"])
            batch = []
    Order.objects.bulk_update(batch, ["expire_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0002_daily_activity_and_checks"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="expire_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the order expires if still working: its session's close (day), "
                "the gate's time plus the grace (ioc, fok), the given time (gtd); empty for gtc.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="time_in_force",
            field=models.CharField(
                choices=[
                    ("day", "Day"),
                    ("gtc", "Good till canceled"),
                    ("ioc", "Immediate or cancel"),
                    ("fok", "Fill or kill"),
                    ("gtd", "Good till date"),
                ],
                default="day",
                max_length=4,
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                condition=models.Q(("status__in", WORKING)),
                fields=["expire_at"],
                name="order_expiry_due",
            ),
        ),
        migrations.RunPython(backfill_expire_at, migrations.RunPython.noop, elidable=True),
    ]
