"""Back office for the trading domain. The order book is read-only here: it changes through the
order services (the API and the admin actions call the same ones)."""

from django import forms
from django.contrib import admin, messages
from django.db import models

from apps.core.errors import PlatformError, ValidationFailed
from apps.rbac.access import has_role
from apps.rbac.admin import ReadOnlyAdminMixin, RoleAdminMixin
from apps.rbac.roles import Role
from apps.trading.models import (
    Account,
    AccountEntitlement,
    BeneficialOwner,
    DailyPrice,
    Fill,
    FxRate,
    Instrument,
    Locate,
    Order,
    OrderMessage,
    Position,
    ReferencePrice,
    WorkingExposure,
    sees_every_account,
)
from apps.trading.services import (
    account_create,
    account_update,
    beneficial_owner_create,
    beneficial_owner_name_check,
    beneficial_owner_update,
    fx_rate_record,
    instrument_create,
    instrument_update,
    order_cancel,
    reference_price_record,
)

# The account filter offers only the accounts of the rows shown (the user's entitled ones).
ENTITLED_ACCOUNT_FILTER = ("account", admin.RelatedOnlyFieldListFilter)


class ServiceSaveMixin:
    """Admin forms save through the services, so admin changes are validated and audited the
    same way as every other change."""

    create_service = None
    update_service = None
    instance_kwarg = ""

    def save_model(self, request, obj, form, change) -> None:
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            saved = type(self).update_service(
                **{self.instance_kwarg: type(obj).objects.get(pk=obj.pk)},
                actor=request.user,
                **changes,
            )
        else:
            saved = type(self).create_service(actor=request.user, **form.cleaned_data)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change) -> None:
        # No many-to-many fields or inlines on these models: nothing else to save.
        return None


class BeneficialOwnerForm(forms.ModelForm):
    class Meta:
        model = BeneficialOwner
        fields = ["name", "lei"]

    def clean_name(self) -> str:
        """One owner per name however written: "Petrov, Nadia" is "Nadia Petrov"."""
        name = self.cleaned_data["name"]
        try:
            beneficial_owner_name_check(name, exclude_pk=self.instance.pk)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.details["name"]) from None
        return name


@admin.register(BeneficialOwner)
class BeneficialOwnerAdmin(ServiceSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    create_service = staticmethod(beneficial_owner_create)
    update_service = staticmethod(beneficial_owner_update)
    instance_kwarg = "owner"
    form = BeneficialOwnerForm
    list_display = ["name", "lei", "account_codes"]
    search_fields = ["name", "lei", "accounts__code"]
    readonly_fields = ["account_codes", "created_at", "updated_at"]
    fields = ["name", "lei", "account_codes", "created_at", "updated_at"]

    def get_queryset(self, request):
        """The owners of the accounts the user may see, each with those accounts only."""
        entitled = Account.objects.restrict(request.user)
        owners = super().get_queryset(request)
        if not sees_every_account(request.user):
            owners = owners.filter(accounts__in=entitled).distinct()
        return owners.prefetch_related(models.Prefetch("accounts", queryset=entitled))

    @admin.display(description="accounts")
    def account_codes(self, obj) -> str:
        return ", ".join(a.code for a in obj.accounts.all()) or "-"


@admin.register(Account)
class AccountAdmin(ServiceSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    create_service = staticmethod(account_create)
    update_service = staticmethod(account_update)
    instance_kwarg = "account"
    list_display = [
        "code",
        "name",
        "beneficial_owner",
        "base_currency",
        "credit_limit",
        "lei",
        "is_market_maker",
        "is_active",
    ]
    list_filter = ["is_active", "is_market_maker", "base_currency"]
    search_fields = ["code", "name", "beneficial_owner__name", "lei"]
    list_select_related = ["beneficial_owner"]
    autocomplete_fields = ["beneficial_owner"]
    readonly_fields = ["created_at", "updated_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["code", "name", "beneficial_owner", "is_active"]}),
        (
            "Limits and identity",
            {"fields": ["base_currency", "credit_limit", "lei", "is_market_maker"]},
        ),
        ("Client notifications", {"fields": ["webhook_url", "webhook_secret"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]


@admin.register(Instrument)
class InstrumentAdmin(ServiceSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    create_service = staticmethod(instrument_create)
    update_service = staticmethod(instrument_update)
    instance_kwarg = "instrument"
    list_display = [
        "symbol",
        "name",
        "isin",
        "mic",
        "asset_class",
        "sector",
        "currency",
        "multiplier",
        "underlying",
        "is_active",
    ]
    list_filter = ["asset_class", "sector", "mic", "currency", "is_active"]
    search_fields = ["symbol", "isin", "name", "issuer"]
    autocomplete_fields = ["underlying"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(ReferencePrice)
class ReferencePriceAdmin(ServiceSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    create_service = staticmethod(reference_price_record)
    list_display = ["instrument", "price", "as_of", "source"]
    list_filter = ["source", "instrument__sector"]
    search_fields = ["instrument__symbol"]
    date_hierarchy = "as_of"
    list_select_related = ["instrument"]
    autocomplete_fields = ["instrument"]


@admin.register(FxRate)
class FxRateAdmin(ServiceSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    """Rates are recorded, never edited: a correction is a newer rate."""

    create_service = staticmethod(fx_rate_record)
    list_display = ["base", "quote", "rate", "as_of", "source"]
    list_filter = ["base", "quote", "source"]
    search_fields = ["base", "quote", "source"]
    date_hierarchy = "as_of"
    fields = ["base", "quote", "rate", "as_of", "source"]


@admin.register(DailyPrice)
class DailyPriceAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = ["instrument", "date", "open", "high", "low", "close", "volume"]
    list_filter = ["instrument__sector"]
    search_fields = ["instrument__symbol"]
    date_hierarchy = "date"
    list_select_related = ["instrument"]
    autocomplete_fields = ["instrument"]


class FillInline(admin.TabularInline):
    model = Fill
    extra = 0
    can_delete = False
    fields = ["exec_id", "quantity", "price", "venue", "executed_at", "liquidity", "commission"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "account",
        "instrument",
        "side",
        "order_type",
        "quantity",
        "limit_price",
        "status",
        "filled_quantity",
        "submitted_by",
    ]
    list_filter = [
        "status",
        "side",
        "order_type",
        "time_in_force",
        "instrument__sector",
        "created_at",
    ]
    search_fields = [
        "client_order_id",
        "account__code",
        "instrument__symbol",
        "submitted_by__username",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["account", "instrument", "submitted_by"]
    inlines = [FillInline]
    actions = ["cancel_orders"]

    @admin.action(description="Cancel selected working orders", permissions=["cancel"])
    def cancel_orders(self, request, queryset) -> None:
        done = 0
        for order in queryset:
            try:
                order_cancel(order=order, actor=request.user, reason="admin")
                done += 1
            except PlatformError as exc:
                self.message_user(request, f"Order {order.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} order(s) canceled.")

    def has_cancel_permission(self, request) -> bool:
        return has_role(request.user, Role.TRADER)


@admin.register(Fill)
class FillAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["exec_id", "order", "quantity", "price", "venue", "liquidity", "executed_at"]
    list_filter = ["venue", "liquidity", "executed_at"]
    search_fields = ["exec_id", "order__client_order_id", "order__account__code"]
    date_hierarchy = "executed_at"
    list_select_related = ["order"]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "account",
        "instrument",
        "quantity",
        "average_cost",
        "realised_pnl",
        "updated_at",
    ]
    list_filter = [ENTITLED_ACCOUNT_FILTER, "instrument__sector"]
    search_fields = ["account__code", "instrument__symbol"]
    list_select_related = ["account", "instrument"]


@admin.register(WorkingExposure)
class WorkingExposureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "account",
        "instrument",
        "buy_quantity",
        "buy_notional",
        "sell_quantity",
        "sell_notional",
        "updated_at",
    ]
    list_filter = [ENTITLED_ACCOUNT_FILTER]
    search_fields = ["account__code", "instrument__symbol"]
    list_select_related = ["account", "instrument"]


@admin.register(Locate)
class LocateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "account",
        "instrument",
        "quantity",
        "lender",
        "reference",
        "expires_at",
        "created_by",
        "created_at",
    ]
    list_filter = [ENTITLED_ACCOUNT_FILTER, "expires_at"]
    search_fields = ["account__code", "instrument__symbol", "lender", "reference"]
    date_hierarchy = "expires_at"
    list_select_related = ["account", "instrument", "created_by"]


@admin.register(OrderMessage)
class OrderMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The messages the message limits count (new orders, amendments, cancels)."""

    list_display = ["sent_at", "kind", "account", "user", "order"]
    list_filter = ["kind"]
    search_fields = ["account__code", "user__username"]
    date_hierarchy = "sent_at"
    list_select_related = ["account", "user"]


@admin.register(AccountEntitlement)
class AccountEntitlementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who may see and trade which account. Read-only here: grants and revocations go through
    `entitlement_grant` / `entitlement_revoke`, which record them in the audit trail."""

    list_display = ["user", "account", "granted_by", "granted_at"]
    list_filter = [("account", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "account__code"]
    list_select_related = ["user", "account", "granted_by"]
