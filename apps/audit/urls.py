from django.urls import path

from apps.audit import apis

urlpatterns = [
    path("audit/events/", apis.AuditEventListApi.as_view(), name="audit-events"),
    path("audit/events/<int:seq>/proof/", apis.AuditEventProofApi.as_view(), name="audit-proof"),
    path("audit/verify/", apis.AuditVerifyApi.as_view(), name="audit-verify"),
    path("audit/export/", apis.AuditExportApi.as_view(), name="audit-export"),
    path(
        "audit/checkpoints/latest/",
        apis.CheckpointLatestApi.as_view(),
        name="audit-checkpoint-latest",
    ),
    path(
        "audit/checkpoints/consistency/",
        apis.ConsistencyProofApi.as_view(),
        name="audit-consistency",
    ),
    path("audit/purge/", apis.AuditPurgeApi.as_view(), name="audit-purge"),
]
