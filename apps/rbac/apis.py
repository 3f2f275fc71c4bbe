from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import NotAuthenticated, TooManyAttempts, ValidationFailed
from apps.rbac.access import user_role, user_service_role
from apps.rbac.lockout import MESSAGE
from apps.rbac.models import ApiToken
from apps.rbac.roles import Role, ServiceRole
from apps.rbac.services import api_token_issue, api_token_revoke


class TokenObtainApi(APIView):
    """Exchange a username and password for an expiring API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=256, trim_whitespace=False)
        name = serializers.CharField(max_length=100, required=False, default="api")

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer},
        auth=[],
        examples=[
            OpenApiExample(
                "Login", value={"username": "trader", "password": "…"}, request_only=True
            ),
            OpenApiExample(
                "Token",
                value={"token": "q7Jx…", "expires_at": "2026-11-21T21:00:00Z"},
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        django_request = request._request
        user = authenticate(django_request, username=data["username"], password=data["password"])
        if user is None:
            if getattr(django_request, "axes_locked_out", False):
                raise TooManyAttempts(MESSAGE)
            raise NotAuthenticated("Wrong username or password.", code="invalid_credentials")
        if user_role(user) is None and user_service_role(user) is None:
            raise NotAuthenticated("This user has no role in the platform.", code="no_role")
        token, key = api_token_issue(user=user, name=data["name"])
        body = self.OutputSerializer({"token": key, "expires_at": token.expires_at}).data
        return Response(body, status=status.HTTP_201_CREATED)


class TokenRevokeApi(APIView):
    """Revoke the token this request is made with (a feed's token too)."""

    required_role = (Role.VIEWER, ServiceRole.FEED)

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if not isinstance(request.auth, ApiToken):
            raise ValidationFailed("This request was not made with an API token.")
        api_token_revoke(token=request.auth, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    """Who the caller is and which role (or service identity: `feed`) they hold."""

    required_role = (Role.VIEWER, ServiceRole.FEED)

    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        role = serializers.CharField()

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request):
        role = user_role(request.user) or user_service_role(request.user)
        return Response({"username": request.user.get_username(), "role": role.slug})
