"""Write settings.PERIODIC_TASKS into django-celery-beat (idempotent).

Staff can pause a job or change its schedule in the admin; running this again restores the
task name and arguments but keeps an existing job's enabled flag.
"""

import json

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


class Command(BaseCommand):
    help = "Create or update the periodic Celery jobs from settings.PERIODIC_TASKS."

    @transaction.atomic
    def handle(self, *args, **options):
        for name, spec in settings.PERIODIC_TASKS.items():
            schedule = {}
            if "every" in spec:
                schedule["interval"], _ = IntervalSchedule.objects.get_or_create(
                    every=spec["every"], period=IntervalSchedule.SECONDS
                )
                schedule["crontab"] = None
            else:
                minute, hour, dom, month, dow = spec["crontab"].split()
                schedule["crontab"], _ = CrontabSchedule.objects.get_or_create(
                    minute=minute,
                    hour=hour,
                    day_of_month=dom,
                    month_of_year=month,
                    day_of_week=dow,
                    timezone=spec.get("timezone", "UTC"),
                )
                schedule["interval"] = None
            task, created = PeriodicTask.objects.update_or_create(
                name=name,
                defaults={
                    "task": spec["task"],
                    "kwargs": json.dumps(spec.get("kwargs", {})),
                    **schedule,
                },
            )
            self.stdout.write(f"{'created' if created else 'kept'}: {name} -> {task.task}")
