from django.urls import path

from apps.rbac import apis

urlpatterns = [
    path("auth/token/", apis.TokenObtainApi.as_view(), name="auth-token"),
    path("auth/token/revoke/", apis.TokenRevokeApi.as_view(), name="auth-token-revoke"),
    path("auth/me/", apis.MeApi.as_view(), name="auth-me"),
]
