import itertools
from datetime import timedelta
from decimal import Decimal

import factory

from apps.core.time import utcnow
from apps.surveillance.models import Alert

_seq = itertools.count(1)


class AlertFactory(factory.django.DjangoModelFactory):
    """An alert as a detector raises it, without the orders behind it (lists, counts, pages)."""

    class Meta:
        model = Alert

    detector = "rapid_fire"
    severity = "warning"
    dedup_key = factory.Sequence(lambda n: f"test:{n}")
    title = factory.LazyAttribute(lambda o: f"Test finding {o.dedup_key}")
    score = Decimal("0.5")
    window_start = factory.LazyFunction(lambda: utcnow() - timedelta(seconds=5))
    window_end = factory.LazyFunction(utcnow)
    first_seq = factory.LazyFunction(lambda: next(_seq))
    evidence = factory.LazyFunction(lambda: {"orders": [], "fills": [], "executions": []})
