from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import NotAuthenticated, TooManyAttempts, ValidationFailed
from apps.core.serializers import StrictInputSerializer, refuse_body
from apps.rbac.access import user_role, user_service_role
from apps.rbac.lockout import MESSAGE
from apps.rbac.mfa import is_enrolled, mfa_required, otp_match
from apps.rbac.models import ApiToken
from apps.rbac.roles import Role, ServiceRole
from apps.rbac.services import api_token_issue, api_token_revoke, mfa_passed


class TokenObtainApi(APIView):
    """Exchange a username and password for an expiring API token.

    Roles in MFA_REQUIRED_ROLES also send `otp`: the current code of their authenticator, or
    one of their recovery codes (enrolment is at /accounts/otp/setup/, in the browser)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class InputSerializer(StrictInputSerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=256, trim_whitespace=False)
        name = serializers.CharField(max_length=100, required=False, default="api")
        otp = serializers.CharField(
            max_length=64,
            required=False,
            allow_blank=True,
            default="",
            help_text="The second factor, for roles that need one (MFA_REQUIRED_ROLES): the "
            "6-digit code of the user's authenticator app, or an unused recovery code.",
        )

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
                "Login with a second factor",
                value={"username": "compliance", "password": "…", "otp": "492039"},
                request_only=True,
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
        if mfa_required(user):
            self._second_factor(user, data["otp"])
        token, key = api_token_issue(user=user, name=data["name"])
        body = self.OutputSerializer({"token": key, "expires_at": token.expires_at}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @staticmethod
    def _second_factor(user, code: str) -> None:
        if not is_enrolled(user):
            raise NotAuthenticated(
                "This role needs a second factor: enrol at /accounts/otp/setup/ first.",
                code="otp_not_enrolled",
            )
        if not code.strip():
            raise NotAuthenticated(
                "This role needs a second factor: send `otp`.", code="otp_required"
            )
        device = otp_match(user, code)
        if device is None:
            raise NotAuthenticated("Wrong or expired second-factor code.", code="otp_invalid")
        mfa_passed(user=user, device=device)


class TokenRevokeApi(APIView):
    """Revoke the token this request is made with (a feed's token too)."""

    required_role = (Role.VIEWER, ServiceRole.FEED)

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        refuse_body(request)
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
