"""The compliance status over HTTP (Risk Manager and above: firm-wide, every account)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.fields import AmountField
from apps.core.time import utcnow
from apps.monitoring import selectors
from apps.rbac.roles import Role


class SeverityCountsSerializer(serializers.Serializer):
    critical = serializers.IntegerField()
    warning = serializers.IntegerField()
    info = serializers.IntegerField()


class ComplianceStatusApi(APIView):
    required_role = Role.RISK_MANAGER

    class LastCheckSerializer(serializers.Serializer):
        started_at = serializers.DateTimeField()
        finished_at = serializers.DateTimeField()
        status = serializers.CharField(help_text='"ok" or "error".')
        duration_seconds = AmountField()
        rules_evaluated = serializers.IntegerField()
        books = serializers.IntegerField(help_text="Accounts with positions, and the firm.")
        violations_opened = serializers.IntegerField()
        violations_resolved = serializers.IntegerField()
        active_violations = serializers.IntegerField()

    class ViolationSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        rule = serializers.CharField(source="rule_code")
        rule_type = serializers.CharField()
        subject = serializers.CharField(help_text='"firm" or the account code.')
        severity = serializers.CharField()
        observed = AmountField()
        threshold = AmountField()
        worst = AmountField()
        unit = serializers.CharField()
        message = serializers.CharField()
        regulation = serializers.CharField()
        first_seen = serializers.DateTimeField()
        last_seen = serializers.DateTimeField()
        times_seen = serializers.IntegerField()

    class SummarySerializer(serializers.Serializer):
        active = serializers.IntegerField()
        opened_last_24h = serializers.IntegerField()
        resolved_last_24h = serializers.IntegerField()
        by_rule_type = serializers.DictField(child=serializers.IntegerField())
        violations = serializers.ListField(help_text="The active violations, worst first (50).")

    class OutputSerializer(serializers.Serializer):
        monitoring_active = serializers.BooleanField(
            help_text="The monitor's schedule is on and, while a venue is open, it ran in the "
            "last 3 minutes."
        )
        markets_open = serializers.BooleanField()
        total_rules = serializers.IntegerField(help_text="Active rules, order and portfolio.")
        portfolio_rules = serializers.IntegerField()
        active_violations = SeverityCountsSerializer()
        last_check = serializers.DictField(allow_null=True)
        check_count = serializers.IntegerField()
        failed_checks = serializers.IntegerField()
        violation_summary = serializers.DictField()

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request):
        status = selectors.compliance_status(now=utcnow())
        summary = status["violation_summary"]
        body = {
            **status,
            "last_check": self.LastCheckSerializer(status["last_check"]).data
            if status["last_check"] is not None
            else None,
            "violation_summary": {
                **summary,
                "violations": self.ViolationSerializer(summary["violations"], many=True).data,
            },
        }
        return Response(self.OutputSerializer(body).data)
