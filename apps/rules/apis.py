"""The order API: submit (gated), dry run, list, detail, fills, cancel, amend (gated again)."""

import re
from collections.abc import Mapping

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from apps.core.errors import NotFound, PermissionDenied, PlatformError, ValidationFailed
from apps.core.fields import AmountField, Rfc3339Field
from apps.core.serializers import (
    StrictInputSerializer,
    UnknownField,
    refuse_body,
)
from apps.core.time import rfc3339
from apps.core.types import decimal_str
from apps.rbac import refcache
from apps.rbac.roles import Role
from apps.rules import gate
from apps.rules.basket import basket_key, order_basket_submit
from apps.trading import selectors
from apps.trading.expiry import expire_at_checked
from apps.trading.filters import OrderFilter
from apps.trading.models import Liquidity, OrderType, Side, TimeInForce
from apps.trading.pricing import fill_price_bound
from apps.trading.services import (
    metadata_checked,
    order_cancel,
    order_fill,
    order_locate_check,
    order_terms_resolve,
)

_CLIENT_ID = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no spaces

EXAMPLE_ORDER = {
    "client_order_id": "strat7-000123",
    "account": "ACC-001",
    "instrument": "AAPL",
    "side": "buy",
    "order_type": "limit",
    "quantity": "100",
    "limit_price": "189.50",
    "time_in_force": "day",
    "metadata": {
        "strategy": "mean-rev-7",
        "signal_id": "sig-991",
        "risk_check_id": "rc-17",
        "risk_score": "0.42",
        "decision_source": "algo",
        "decision": "enter_long",
    },
}
EXAMPLE_GTD_ORDER = {
    **EXAMPLE_ORDER,
    "client_order_id": "strat7-000124",
    "time_in_force": "gtd",
    "expire_at": "2026-12-11T21:00:00Z",
}
# A short sale of a US equity names its locate (GET/POST /api/v1/locates/).
EXAMPLE_SHORT_SALE = {
    **EXAMPLE_ORDER,
    "client_order_id": "strat7-000125",
    "side": "sell_short",
    "metadata": {**EXAMPLE_ORDER["metadata"], "decision": "enter_short", "locate_id": 42},
}
EXAMPLE_ANSWER = {
    "id": 4711,
    "client_order_id": "strat7-000123",
    "status": "accepted",
    "checks": [
        {
            "rule": "PX-COLLAR-1",
            "rule_type": "price_collar",
            "status": "pass",
            "observed": "0.8",
            "threshold": "5",
            "message": "Limit 189.5 is 0.8% from the reference 188; the collar is 5%.",
            "regulation": "SEC 15c3-5(c)(1)(ii)",
            "code": "ok",
            "action": "reject",
        }
    ],
    "approval": None,
}


class OrderInputSerializer(StrictInputSerializer):
    """The shape of an order: types, required fields, choices, decimal formats, plain-JSON
    metadata. What the values mean (the account, the instrument, the price for the order type,
    the notional) is trading's to check (`order_terms_resolve`)."""

    client_order_id = serializers.CharField(max_length=64)
    account = serializers.CharField(max_length=32)
    instrument = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=Side.choices)
    order_type = serializers.ChoiceField(choices=OrderType.choices)
    quantity = AmountField(positive=True)
    limit_price = AmountField(positive=True, required=False, allow_null=True)
    time_in_force = serializers.ChoiceField(choices=TimeInForce.choices, default="day")
    expire_at = Rfc3339Field(
        required=False,
        allow_null=True,
        default=None,
        help_text="gtd only (required there, refused otherwise): when the order expires, in "
        "the future. A day order expires at its session's close, ioc/fok just after the gate.",
    )
    metadata = serializers.JSONField(required=False, default=dict)

    def validate_client_order_id(self, value: str) -> str:
        if not _CLIENT_ID.match(value):
            raise serializers.ValidationError("Printable characters without spaces, 1 to 64.")
        return value

    def validate_metadata(self, value):
        try:
            return metadata_checked(value)
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.details["metadata"]) from None

    def validate(self, data):
        try:
            expire_at_checked(time_in_force=data["time_in_force"], expire_at=data["expire_at"])
        except ValidationFailed as exc:
            raise serializers.ValidationError(exc.details) from None
        return data


def order_request(data: dict, user) -> gate.OrderRequest:
    """The gate's request from an order the serializer found well formed, once trading has
    checked that `user` may trade the account (a 403 `not_entitled` otherwise), its terms and
    the locate a short sale names (a 400 otherwise), before anything is evaluated."""
    account, instrument = order_terms_resolve(
        account=data["account"],
        instrument=data["instrument"],
        order_type=data["order_type"],
        quantity=data["quantity"],
        limit_price=data.get("limit_price"),
        user=user,
    )
    order_locate_check(
        account=account, instrument=instrument, side=data["side"], metadata=data["metadata"]
    )
    body = {
        "client_order_id": data["client_order_id"],
        "account": data["account"],
        "instrument": data["instrument"],
        "side": data["side"],
        "order_type": data["order_type"],
        "quantity": decimal_str(data["quantity"]),
        "limit_price": decimal_str(data.get("limit_price")),
        "time_in_force": data["time_in_force"],
        "metadata": data["metadata"],
    }
    if data["expire_at"] is not None:  # gtd only: other orders' digests stay as they were
        body["expire_at"] = rfc3339(data["expire_at"])
    return gate.OrderRequest(
        account=account,
        instrument=instrument,
        client_order_id=data["client_order_id"],
        side=data["side"],
        order_type=data["order_type"],
        quantity=data["quantity"],
        limit_price=data.get("limit_price"),
        time_in_force=data["time_in_force"],
        metadata=data["metadata"],
        body=body,
        expire_at=data["expire_at"],
        submitter_entitled=account.entitled,
    )


def _check_public(check: dict) -> dict:
    return {
        k: check.get(k)
        for k in (
            "rule",
            "rule_type",
            "status",
            "observed",
            "threshold",
            "message",
            "regulation",
            "code",
            "action",
        )
    } | ({"shadow": True} if check.get("shadow") else {})


def _approval(order) -> dict | None:
    if order is None:
        return None
    # Only a held order has one: skip the query for the others unless it was loaded anyway.
    if order.status != "pending_approval" and "approval" not in order._state.fields_cache:
        return None
    approval = getattr(order, "approval", None)
    if approval is None:
        return None
    return {
        "id": approval.pk,
        "status": approval.status,
        "expires_at": approval.expires_at.isoformat().replace("+00:00", "Z"),
    }


def decision_body(answer: gate.GateAnswer) -> dict:
    order = answer.order
    return {
        "id": order.pk if order is not None else None,
        "client_order_id": order.client_order_id if order is not None else None,
        "status": answer.status,
        "checks": [_check_public(c) for c in answer.checks],
        "approval": _approval(order),
    }


class OrderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client_order_id = serializers.CharField()
    account = serializers.CharField(source="account.code")
    instrument = serializers.CharField(source="instrument.symbol")
    side = serializers.CharField()
    order_type = serializers.CharField()
    time_in_force = serializers.CharField()
    expire_at = serializers.DateTimeField(allow_null=True)
    quantity = AmountField()
    limit_price = AmountField(allow_null=True)
    status = serializers.CharField()
    filled_quantity = AmountField()
    avg_fill_price = AmountField(allow_null=True)
    reference_price = AmountField(allow_null=True)
    market_band_pct = AmountField(
        allow_null=True, help_text="A market order's protection band (%), from the price collar."
    )
    protected_price = serializers.SerializerMethodField(
        help_text="A market order's worst price (reference moved by the band against it): its "
        "fills may not be beyond it. Null for a limit order."
    )
    submitted_by = serializers.CharField(
        source="submitted_by.username", default=None, allow_null=True
    )
    metadata = serializers.JSONField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_protected_price(self, instance) -> str | None:
        if instance.limit_price is not None:
            return None
        return decimal_str(fill_price_bound(instance))

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["checks"] = [_check_public(c) for c in instance.checks]
        data["approval"] = _approval(instance)
        return data


class DecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    client_order_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(
        choices=[
            "accepted",
            "rejected",
            "pending_approval",
            "partially_filled",
            "filled",
            "canceled",
            "expired",
        ]
    )
    checks = serializers.ListField(child=serializers.DictField())
    approval = serializers.DictField(allow_null=True)


class CheckedInBatch:
    """A view whose POST reads the reference data's version inside the gate's own batch
    (apps.rbac.refcache): its token, user, account and instrument come from the process's
    cache without a statement. What was decided on them is verified there: when the version
    moved (`Stale`), or when the request was refused on what the cache held (a 4xx before the
    gate), it runs once more on fresh reads, from authentication on."""

    reference_checked_in_batch = frozenset({"POST"})

    def submitting(self, request, submit):
        try:
            return submit()
        except refcache.Stale:
            pass  # moved under the request (a basket's later order, say): once more
        except PlatformError:
            if not refcache.unverified():
                raise
        self._read_afresh(request)
        return submit()

    def permission_denied(self, request, message=None, code=None):
        """A role refused on what the cache held is asked again on fresh reads first."""
        if request.method in self.reference_checked_in_batch and refcache.unverified():
            self._read_afresh(request)
            return
        super().permission_denied(request, message=message, code=code)

    def _read_afresh(self, request) -> None:
        refcache.fresh()
        request._authenticate()
        self.check_permissions(request)


class OrderListCreateApi(CheckedInBatch, ListAPIView):
    """GET: orders (filter by account, instrument, status, date). POST: submit through the gate.

    The decision is data: 201 with the status and every rule's result; 200 when the same
    client_order_id and body were sent before; 409 when the id was used with another body;
    403 `not_entitled` on an account the user may not trade. The list shows the orders of the
    accounts the user is entitled to (Risk Manager and above: every account).
    """

    required_roles = {"GET": Role.VIEWER, "POST": Role.TRADER}
    filterset_class = OrderFilter
    serializer_class = OrderOutputSerializer

    def get_queryset(self):
        return selectors.order_list(user=self.request.user).select_related("approval")

    @extend_schema(
        request=OrderInputSerializer,
        responses={201: DecisionSerializer, 200: DecisionSerializer},
        examples=[
            OpenApiExample("Limit order", value=EXAMPLE_ORDER, request_only=True),
            OpenApiExample("Good till date", value=EXAMPLE_GTD_ORDER, request_only=True),
            OpenApiExample("Short sale with a locate", value=EXAMPLE_SHORT_SALE, request_only=True),
            OpenApiExample("Accepted", value=EXAMPLE_ANSWER, response_only=True),
        ],
    )
    def post(self, request):
        serializer = OrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        def submit():
            req = order_request(serializer.validated_data, request.user)
            return gate.order_submit(req=req, user=request.user)

        answer = self.submitting(request, submit)
        code = status.HTTP_200_OK if answer.replayed else status.HTTP_201_CREATED
        return Response(decision_body(answer), status=code)


class PretradeCheckApi(APIView):
    """The same evaluation as submitting, as a dry run: nothing is stored."""

    required_role = Role.TRADER

    @extend_schema(
        request=OrderInputSerializer,
        responses={200: DecisionSerializer},
        examples=[
            OpenApiExample("Limit order", value=EXAMPLE_ORDER, request_only=True),
            OpenApiExample("Good till date", value=EXAMPLE_GTD_ORDER, request_only=True),
        ],
    )
    def post(self, request):
        serializer = OrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answer = gate.order_check(
            req=order_request(serializer.validated_data, request.user), user=request.user
        )
        return Response(decision_body(answer))


def _order_or_404(request, order_id: int, action: str = "view"):
    """The order, if the user may `action` its account: else 404, revealing nothing."""
    order = (
        selectors.order_list(user=request.user, action=action)
        .select_related("approval")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound("No such order.", code="order_not_found")
    return order


class OrderDetailApi(APIView):
    """One order, with its status and, when held, its approval (`id`, `status`,
    `expires_at`). 404 for an order of an account the user is not entitled to (as for its
    fills, cancel and amend)."""

    required_role = Role.VIEWER

    @extend_schema(responses={200: OrderOutputSerializer})
    def get(self, request, order_id: int):
        return Response(OrderOutputSerializer(_order_or_404(request, order_id)).data)


class OrderFillApi(APIView):
    """Report an execution: the order, the position and the day's counters follow."""

    required_role = Role.TRADER

    class InputSerializer(StrictInputSerializer):
        exec_id = serializers.CharField(max_length=64)
        quantity = AmountField(positive=True)
        price = AmountField(positive=True)
        venue = serializers.RegexField(r"^[A-Z0-9]{4}$", max_length=4)
        executed_at = serializers.DateTimeField()
        liquidity = serializers.ChoiceField(choices=Liquidity.choices)
        commission = AmountField(required=False, default="0")
        counterparty_lei = serializers.CharField(
            max_length=20,
            required=False,
            default="",
            allow_blank=True,
            help_text="The counterparty's LEI (ISO 17442): required for an off-venue (XOFF) "
            "execution of a MiFIR-reportable instrument, which the MiFIR report names.",
        )

    class OutputSerializer(serializers.Serializer):
        fill_id = serializers.IntegerField(source="fill.pk")
        exec_id = serializers.CharField(source="fill.exec_id")
        order = OrderOutputSerializer()
        position = serializers.DictField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, order_id: int):
        order = _order_or_404(request, order_id, "trade")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fill, position = order_fill(order=order, actor=request.user, **serializer.validated_data)
        order.refresh_from_db()
        body = {
            "fill_id": fill.pk,
            "exec_id": fill.exec_id,
            "order": OrderOutputSerializer(order).data,
            "position": {
                "account": order.account.code,
                "instrument": order.instrument.symbol,
                "quantity": decimal_str(position.quantity),
                "average_cost": decimal_str(position.average_cost),
                "realised_pnl": decimal_str(position.realised_pnl),
            },
        }
        return Response(body, status=status.HTTP_201_CREATED)


class OrderCancelApi(APIView):
    required_role = Role.TRADER

    @extend_schema(request=None, responses={200: OrderOutputSerializer})
    def post(self, request, order_id: int):
        refuse_body(request)
        # A held order's approval request closes with it (trading's held_order_ended hook).
        order = order_cancel(
            order=_order_or_404(request, order_id, "trade"), actor=request.user, reason="api"
        )
        return Response(OrderOutputSerializer(_order_or_404(request, order.pk)).data)


class OrderAmendApi(APIView):
    """Change quantity and/or limit price; the amended order goes through the gate again."""

    required_role = Role.TRADER

    class InputSerializer(StrictInputSerializer):
        quantity = AmountField(positive=True, required=False)
        limit_price = AmountField(positive=True, required=False)

        def validate(self, data):
            if not data:
                raise serializers.ValidationError("Give quantity, limit_price or both.")
            return data

    @extend_schema(
        request=InputSerializer,
        responses={200: OpenApiResponse(description="The order and the decision")},
    )
    def post(self, request, order_id: int):
        order = _order_or_404(request, order_id, "trade")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        answer = gate.order_amend_gated(order=order, user=request.user, **serializer.validated_data)
        fresh = _order_or_404(request, order.pk)
        return Response(
            {
                "amended": answer.status == "accepted",
                "decision": answer.status,
                "checks": [_check_public(c) for c in answer.checks],
                "order": OrderOutputSerializer(fresh).data,
            }
        )


# --- baskets ----------------------------------------------------------------------------------

EXAMPLE_BASKET = {
    "orders": [
        {**EXAMPLE_ORDER, "client_order_id": "rebal-0001"},
        {
            **EXAMPLE_ORDER,
            "client_order_id": "rebal-0002",
            "instrument": "MSFT",
            "side": "sell",
            "quantity": "40",
            "limit_price": "410.25",
        },
    ]
}
EXAMPLE_BASKET_ANSWER = {
    "orders": [
        {**EXAMPLE_ANSWER, "client_order_id": "rebal-0001"},
        {
            "id": 4712,
            "client_order_id": "rebal-0002",
            "status": "pending_approval",
            "checks": [
                {
                    "rule": "APPROVAL-1",
                    "rule_type": "approval_threshold",
                    "status": "fail",
                    "observed": "16410",
                    "threshold": "10000",
                    "message": "Notional 16410 is above 10000: held for approval.",
                    "regulation": "SEC 15c3-5(c)(1)(i)",
                    "code": "approval_required",
                    "action": "hold",
                }
            ],
            "approval": {
                "id": 88,
                "status": "pending",
                "expires_at": "2026-12-07T15:30:00Z",
            },
        },
    ]
}


class OrderBasketSubmitApi(CheckedInBatch, APIView):
    """Submit a basket of orders (1 to `ORDER_BASKET_MAX_ORDERS`, 500): each is decided as if
    sent alone right after the one before it (a later order sees what the earlier ones did to
    positions, exposure, open orders, message counts and duplicates), all are stored in one
    transaction, and the answer lists each order's decision in request order, in the shape
    `POST /api/v1/orders/` answers.

    201 when any order was new, 200 when every one was a replay (the same client_order_id and
    body sent before: its stored decision). An order that would be a 400 alone makes the
    basket a 400 whose details name it (`orders[3].quantity`), as does a client_order_id used
    twice in the basket; an account the user may not trade is a 403 `not_entitled` naming the
    orders; a client_order_id already used with another body is a 409 naming the order
    (`details.index`). In every one of these cases nothing of the basket is stored.
    """

    required_role = Role.TRADER

    class InputSerializer(StrictInputSerializer):
        """A basket: the orders, each as `POST /api/v1/orders/` takes one, in the order they
        are to be decided."""

        orders = serializers.ListField(
            child=OrderInputSerializer(),
            min_length=1,
            max_length=settings.ORDER_BASKET_MAX_ORDERS,
        )

    class EnvelopeSerializer(StrictInputSerializer):
        """What the door reads first: an object with `orders`, a list, and nothing else. Each
        order is then read as `POST /api/v1/orders/` reads one (`basket_requests`), so that an
        error can name the order (`orders[3].quantity`)."""

        orders = serializers.ListField(child=serializers.JSONField())

    class OutputSerializer(serializers.Serializer):
        """Each order's decision, in request order."""

        orders = DecisionSerializer(many=True)

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer},
        examples=[
            OpenApiExample("Basket of two orders", value=EXAMPLE_BASKET, request_only=True),
            OpenApiExample(
                "One accepted, one held", value=EXAMPLE_BASKET_ANSWER, response_only=True
            ),
        ],
    )
    def post(self, request):
        envelope = self.EnvelopeSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)

        def submit():
            reqs = basket_requests(envelope.validated_data["orders"], request.user)
            return order_basket_submit(reqs=reqs, user=request.user)

        answers = self.submitting(request, submit)
        replayed = all(answer.replayed for answer in answers)
        code = status.HTTP_200_OK if replayed else status.HTTP_201_CREATED
        return Response({"orders": [decision_body(a) for a in answers]}, status=code)


def _basket_size_checked(orders: list) -> None:
    limit = settings.ORDER_BASKET_MAX_ORDERS
    if not 1 <= len(orders) <= limit:
        raise ValidationFailed(
            details={"orders": [f"From 1 to {limit} orders; {len(orders)} sent."]}
        )


def _keyed(index: int, details: dict) -> dict:
    """An order's error details keyed by its place in the basket."""
    out = {}
    for field, messages in details.items():
        inner = None if field in ("non_field_errors", api_settings.NON_FIELD_ERRORS_KEY) else field
        out[basket_key(index, inner)] = messages
    return out


def basket_requests(orders: list, user) -> list[gate.OrderRequest]:
    """The gate's requests of a basket, each order checked as `POST /api/v1/orders/` checks
    one, before anything is evaluated. Every order that would be a 400 alone is named in one
    400 (`orders[3].quantity`), as is a client_order_id sent twice in the basket; else every
    order on an account the user may not trade is named in one 403 `not_entitled`."""
    _basket_size_checked(orders)
    invalid: dict[str, list] = {}
    unknown_only = True
    refused: dict[str, list] = {}
    refused_code = "not_entitled"
    first_seen: dict[str, int] = {}
    reqs: list[gate.OrderRequest] = []
    for index, item in enumerate(orders):
        if not isinstance(item, Mapping):
            invalid[basket_key(index)] = ["An order is a JSON object."]
            unknown_only = False
            continue
        serializer = OrderInputSerializer(data=item)
        try:
            valid = serializer.is_valid()
        except UnknownField as exc:
            invalid.update(_keyed(index, exc.details))
            continue
        if not valid:
            invalid.update(_keyed(index, serializer.errors))
            unknown_only = False
            continue
        client_order_id = serializer.validated_data["client_order_id"]
        if client_order_id in first_seen:
            invalid[basket_key(index, "client_order_id")] = [
                f"Also the client_order_id of {basket_key(first_seen[client_order_id])}: "
                "each order of a basket has its own."
            ]
            unknown_only = False
            continue
        first_seen[client_order_id] = index
        try:
            reqs.append(order_request(serializer.validated_data, user))
        except ValidationFailed as exc:
            invalid.update(_keyed(index, exc.details or {"non_field_errors": [exc.message]}))
            unknown_only = False
        except PermissionDenied as exc:
            refused.update(_keyed(index, exc.details))
            refused_code = exc.code
    if invalid:
        if unknown_only:
            raise UnknownField(
                "An order of the basket names a field orders do not take.", details=invalid
            )
        raise ValidationFailed(
            "The basket holds orders that cannot be orders; nothing was stored.", details=invalid
        )
    if refused:
        raise PermissionDenied(
            "The basket holds orders on accounts you may not trade; nothing was stored.",
            code=refused_code,
            details=refused,
        )
    return reqs
