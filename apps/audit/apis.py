"""The audit trail over HTTP: events, verification, export, checkpoints and proofs."""

import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit import selectors
from apps.audit.filters import AuditEventFilter
from apps.audit.sequencer import audit_sequence, head_seq
from apps.audit.services import audit_purge, audit_read_record, read_params, seq_range
from apps.core.errors import NotFound, ValidationFailed, field_errors
from apps.core.serializers import refuse_body
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


class _RecordsReads:
    """Every read of the trail writes one DATA_ACCESS event naming the reader (after the read,
    so a list never contains its own event). A refused attempt by a signed-in user is recorded
    too, as `outcome: refused`: someone below the role probing the trail is worth knowing."""

    read_action = ""

    def permission_denied(self, request, message=None, code=None):
        if request.user and request.user.is_authenticated:
            audit_read_record(
                actor=request.user,
                action=self.read_action,
                via="api",
                outcome="refused",
                params=read_params(request.query_params),
            )
        super().permission_denied(request, message=message, code=code)


class AuditEventListApi(_RecordsReads, ListAPIView):
    """The trail, oldest first; each item is the hashed event plus its "hash"."""

    required_role = Role.COMPLIANCE_OFFICER
    filterset_class = AuditEventFilter

    class OutputSerializer(serializers.Serializer):
        def to_representation(self, instance):
            return {**json.loads(instance.record), "hash": instance.hash}

    serializer_class = OutputSerializer
    read_action = "list"

    def get_queryset(self):
        return selectors.event_list(user=self.request.user).order_by("seq")

    def list(self, request, *args, **kwargs):
        audit_sequence()  # the events committed so far, in the chain before they are listed
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        data = self.get_serializer(rows, many=True).data
        audit_read_record(
            actor=request.user,
            action=self.read_action,
            via="api",
            params=read_params(request.query_params),
            **seq_range([row.seq for row in rows]),
        )
        if page is not None:
            return self.get_paginated_response(data)
        return Response(data)


class AuditVerifyApi(_RecordsReads, APIView):
    required_role = Role.COMPLIANCE_OFFICER
    read_action = "verify"

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        result = selectors.audit_verify_for_staff()
        audit_read_record(
            actor=request.user,
            action=self.read_action,
            via="api",
            ok=result.ok,
            first_bad_seq=result.first_bad_seq,
            count=result.events_checked,
            first_seq=result.first_seq,
            last_seq=result.last_seq,
        )
        return Response({**result.as_dict(), "summary": result.summary()})


class AuditExportApi(_RecordsReads, APIView):
    """The whole trail as JSON Lines (streamed), for an outside verifier."""

    required_role = Role.COMPLIANCE_OFFICER
    read_action = "export"

    @extend_schema(responses={(200, "application/jsonl"): OpenApiTypes.STR})
    def get(self, request):
        # Recorded first: the export runs up to and includes its own event (sequenced, with
        # every event committed before it, once the sequencer's lock is ours).
        audit_read_record(actor=request.user, action=self.read_action, via="api", target="api")
        audit_sequence(wait=True)
        response = StreamingHttpResponse(
            selectors.audit_export_lines(up_to=head_seq()), content_type="application/jsonl"
        )
        response["Content-Disposition"] = 'attachment; filename="audit-trail.jsonl"'
        return response


class CheckpointLatestApi(_RecordsReads, APIView):
    required_role = Role.COMPLIANCE_OFFICER
    read_action = "checkpoint"

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        checkpoint = selectors.checkpoint_latest()
        if checkpoint is None:
            raise NotFound("No checkpoint has been signed yet.", code="checkpoint_not_found")
        audit_read_record(
            actor=request.user,
            action=self.read_action,
            via="api",
            tree_size=checkpoint.tree_size,
        )
        return Response(selectors.checkpoint_as_dict(checkpoint))


class AuditEventProofApi(_RecordsReads, APIView):
    """Inclusion proof of event `seq` in the checkpoint of `tree_size` (default the latest)."""

    required_role = Role.COMPLIANCE_OFFICER
    read_action = "inclusion_proof"

    @extend_schema(
        parameters=[OpenApiParameter("tree_size", int, required=False)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, seq: int):
        proof = selectors.inclusion_proof(seq=seq, tree_size=_int_param(request, "tree_size"))
        audit_read_record(
            actor=request.user,
            action=self.read_action,
            via="api",
            seq=seq,
            tree_size=proof["tree_size"],
        )
        return Response(proof)


class ConsistencyProofApi(_RecordsReads, APIView):
    """Proof that the checkpoint of size `second` (default the latest) extends `first`."""

    required_role = Role.COMPLIANCE_OFFICER
    read_action = "consistency_proof"

    @extend_schema(
        parameters=[
            OpenApiParameter("first", int, required=True),
            OpenApiParameter("second", int, required=False),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        first = _int_param(request, "first", required=True)
        proof = selectors.consistency_proof(first=first, second=_int_param(request, "second"))
        audit_read_record(
            actor=request.user,
            action=self.read_action,
            via="api",
            first=first,
            second=proof["second"]["tree_size"],
        )
        return Response(proof)


class AuditPurgeApi(APIView):
    """Purge the events past their retention period (Admin only)."""

    required_role = Role.ADMIN

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        refuse_body(request)
        result = audit_purge(actor=request.user)
        return Response(
            {
                "purged_from": result.purged_from,
                "purged_to": result.purged_to,
                "count": result.count,
                "anchor_hash": result.anchor_hash or None,
            }
        )
