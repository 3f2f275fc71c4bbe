"""The one FilterSet of kill switches: the API list and the kill switch page share it."""

import django_filters

from apps.killswitch.models import KillSwitch, KillSwitchScope, KillSwitchState


class KillSwitchFilter(django_filters.FilterSet):
    active = django_filters.BooleanFilter(field_name="is_active")
    scope = django_filters.ChoiceFilter(choices=KillSwitchScope.choices)
    state = django_filters.ChoiceFilter(choices=KillSwitchState.choices)
    # Case-insensitive: "aapl" finds the AAPL switch.
    target = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = KillSwitch
        fields = ["active", "scope", "state", "target"]
