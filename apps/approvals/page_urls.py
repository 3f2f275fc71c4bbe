"""Page routes of approvals: the queue, its live table, one request, the history."""

from django.urls import path

from apps.approvals import views

urlpatterns = [
    path("approvals/", views.ApprovalQueueView.as_view(), name="approvals-queue"),
    path("approvals/rows/", views.ApprovalQueueRowsView.as_view(), name="approvals-queue-rows"),
    path("approvals/history/", views.ApprovalHistoryView.as_view(), name="approvals-history"),
    path("approvals/<int:pk>/", views.ApprovalDetailView.as_view(), name="approvals-detail"),
]
