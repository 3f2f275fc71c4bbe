"""API routes of approvals (under /api/v1/)."""

from django.urls import path

from apps.approvals import apis

urlpatterns = [
    path("approvals/", apis.ApprovalListApi.as_view(), name="approval-list"),
    path("approvals/<int:approval_id>/", apis.ApprovalDetailApi.as_view(), name="approval-detail"),
    path(
        "approvals/<int:approval_id>/approve/",
        apis.ApprovalApproveApi.as_view(),
        name="approval-approve",
    ),
    path("approvals/<int:approval_id>/deny/", apis.ApprovalDenyApi.as_view(), name="approval-deny"),
]
