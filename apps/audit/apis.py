"""The audit trail over HTTP: events, verification, export, checkpoints and proofs."""

import json

from django.db import transaction
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit import selectors
from apps.audit.events import EventType
from apps.audit.filters import AuditEventFilter
from apps.audit.services import audit_purge, audit_record
from apps.core.errors import NotFound, ValidationFailed, field_errors
from apps.rbac.roles import Role


def _int_param(request, name: str, *, required: bool = False) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        if required:
            raise ValidationFailed(details=field_errors(**{name: "Required."}))
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(details=field_errors(**{name: "Must be an integer."})) from None
    if value < 1 or value > 2**62:
        raise ValidationFailed(details=field_errors(**{name: "Out of range."}))
    return value


class AuditEventListApi(ListAPIView):
    """The trail, oldest first; each item is the hashed event plus its "hash"."""

    required_role = Role.VIEWER
    filterset_class = AuditEventFilter

    class OutputSerializer(serializers.Serializer):
        def to_representation(self, instance):
            return {**json.loads(instance.record), "hash": instance.hash}

    serializer_class = OutputSerializer

    def get_queryset(self):
        return selectors.event_list(user=self.request.user).order_by("seq")


class AuditVerifyApi(APIView):
    required_role = Role.COMPLIANCE_OFFICER

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        result = selectors.audit_verify()
        with transaction.atomic():
            audit_record(
                event_type=EventType.DATA_ACCESS,
                actor=request.user,
                object_type="audit.auditevent",
                payload={
                    "action": "verify",
                    "ok": result.ok,
                    "first_bad_seq": result.first_bad_seq,
                },
            )
        return Response({**result.as_dict(), "summary": result.summary()})


class AuditExportApi(APIView):
    """The whole trail as JSON Lines (streamed), for an outside verifier."""

    required_role = Role.COMPLIANCE_OFFICER

    @extend_schema(responses={(200, "application/jsonl"): OpenApiTypes.STR})
    def get(self, request):
        with transaction.atomic():
            event = audit_record(
                event_type=EventType.DATA_ACCESS,
                actor=request.user,
                object_type="audit.auditevent",
                payload={"action": "export", "target": "api"},
            )
        response = StreamingHttpResponse(
            selectors.audit_export_lines(up_to=event.seq), content_type="application/jsonl"
        )
        response["Content-Disposition"] = 'attachment; filename="audit-trail.jsonl"'
        return response


class CheckpointLatestApi(APIView):
    required_role = Role.VIEWER

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        checkpoint = selectors.checkpoint_latest()
        if checkpoint is None:
            raise NotFound("No checkpoint has been signed yet.", code="checkpoint_not_found")
        return Response(selectors.checkpoint_as_dict(checkpoint))


class AuditEventProofApi(APIView):
    """Inclusion proof of event `seq` in the checkpoint of `tree_size` (default the latest)."""

    required_role = Role.VIEWER

    @extend_schema(
        parameters=[OpenApiParameter("tree_size", int, required=False)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, seq: int):
        return Response(
            selectors.inclusion_proof(seq=seq, tree_size=_int_param(request, "tree_size"))
        )


class ConsistencyProofApi(APIView):
    """Proof that the checkpoint of size `second` (default the latest) extends `first`."""

    required_role = Role.VIEWER

    @extend_schema(
        parameters=[
            OpenApiParameter("first", int, required=True),
            OpenApiParameter("second", int, required=False),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        return Response(
            selectors.consistency_proof(
                first=_int_param(request, "first", required=True),
                second=_int_param(request, "second"),
            )
        )


class AuditPurgeApi(APIView):
    """Purge the events past their retention period (Admin only)."""

    required_role = Role.ADMIN

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        result = audit_purge(actor=request.user)
        return Response(
            {
                "purged_from": result.purged_from,
                "purged_to": result.purged_to,
                "count": result.count,
                "anchor_hash": result.anchor_hash or None,
            }
        )
