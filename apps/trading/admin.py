"""Back office for the trading domain. The order book is read-only here: it changes through the
order services (the API and the admin actions call the same ones).

An account's risk limits, an instrument's economics, manual reference prices and FX rates are
proposed here, never written: saving them creates a pending configuration change
(apps.changes) that another person approves in "Configuration changes"."""

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html_join

from apps.changes.models import ChangeStatus, ConfigChange
from apps.changes.services import config_change_check, config_change_propose
from apps.core.errors import PlatformError, ValidationFailed
from apps.rbac.access import has_role
from apps.rbac.admin import ReadOnlyAdminMixin, RoleAdminMixin
from apps.rbac.roles import Role
from apps.trading.config_changes import (
    ACCOUNT_CAT_FIELDS,
    ACCOUNT_LIMIT_FIELDS,
    ENTITLEMENT,
    INSTRUMENT_ECONOMIC_FIELDS,
    Entitlement,
)
from apps.trading.models import (
    Account,
    AccountEntitlement,
    BeneficialOwner,
    ClientPerson,
    CustomerRecord,
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
    CUSTOMER_RECORD_FIELDS,
    INSTRUMENT_FIELDS,
    account_create,
    account_update,
    beneficial_owner_create,
    beneficial_owner_name_check,
    beneficial_owner_update,
    client_person_set,
    customer_record_set,
    instrument_create,
    instrument_update,
    order_cancel,
)

CHANGES_URL = "admin:changes_configchange_changelist"


def _errors_to_form(form: forms.Form, exc: PlatformError) -> None:
    """A service's error next to the form's fields (the rest above the form)."""
    if not isinstance(exc, ValidationFailed) or not exc.details:
        form.add_error(None, exc.message)
        return
    for name, msgs in exc.details.items():
        msgs = [str(m) for m in msgs] if isinstance(msgs, list) else [str(msgs)]
        if name in form.fields:
            if name not in form.errors:
                form.add_error(name, msgs)
        else:
            form.add_error(None, [f"{name}: {m}" for m in msgs])


def _proposed_message(admin_, request, change: ConfigChange) -> None:
    admin_.message_user(
        request,
        f"Proposed as configuration change #{change.pk} ({change.kind} of {change.target_key}): "
        "it takes effect when another person approves it.",
        messages.SUCCESS,
    )


# The account filter offers only the accounts of the rows shown (the user's entitled ones).
ENTITLED_ACCOUNT_FILTER = ("account", admin.RelatedOnlyFieldListFilter)


class ServiceSaveMixin:
    """Admin forms save through the services, so admin changes are validated and audited the
    same way as every other change."""

    create_service = None
    update_service = None
    instance_kwarg = ""
    # Fields that change only under maker-checker: an edit of them is proposed as a change
    # of `change_kind`; with `guarded_on_create`, a new row starts at their defaults and the
    # values given are proposed too.
    change_kind = ""
    guarded_fields: tuple[str, ...] = ()
    guarded_on_create = False

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        guarded = {}
        if change:
            saved = type(obj).objects.get(pk=obj.pk)
            direct = {n: data[n] for n in form.changed_data if n not in self.guarded_fields}
            guarded = {
                n: data[n]
                for n in form.changed_data
                if n in self.guarded_fields and data[n] != getattr(saved, n)
            }
            if direct:
                saved = type(self).update_service(
                    **{self.instance_kwarg: saved}, actor=request.user, **direct
                )
        else:
            fields = dict(data)
            if self.guarded_on_create:
                guarded = {n: fields.pop(n) for n in self.guarded_fields if n in fields}
            saved = type(self).create_service(actor=request.user, **fields)
            guarded = {n: v for n, v in guarded.items() if v != getattr(saved, n)}
        if guarded:
            try:
                proposal = config_change_propose(
                    kind=self.change_kind, target=saved, values=guarded, actor=request.user
                )
            except PlatformError as exc:
                # Checked in the form a moment ago: only a race gets here.
                self.message_user(request, f"Nothing was proposed: {exc.message}", messages.ERROR)
            else:
                _proposed_message(self, request, proposal)
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


class GuardedFieldsForm(forms.ModelForm):
    """A change of a guarded field is checked as a proposal (the kind's own checks, a change
    already pending), so that its errors show next to the field."""

    change_kind = ""
    guarded_fields: tuple[str, ...] = ()

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None or self.errors:
            return cleaned
        values = {
            n: cleaned[n]
            for n in self.changed_data
            if n in self.guarded_fields and cleaned[n] != getattr(self.instance, n)
        }
        if values:
            try:
                config_change_check(kind=self.change_kind, target=self.instance, values=values)
            except PlatformError as exc:
                _errors_to_form(self, exc)
        return cleaned


class AccountForm(GuardedFieldsForm):
    change_kind = "account_limits"
    guarded_fields = ACCOUNT_LIMIT_FIELDS

    class Meta:
        model = Account
        fields = list(ACCOUNT_LIMIT_FIELDS)  # the admin's fieldsets add the rest


class InstrumentForm(GuardedFieldsForm):
    change_kind = "instrument_economics"
    guarded_fields = INSTRUMENT_ECONOMIC_FIELDS

    class Meta:
        model = Instrument
        fields = INSTRUMENT_FIELDS


class PendingChangesMixin:
    """Shows a row's pending configuration changes on its form."""

    @admin.display(description="pending changes")
    def pending_changes(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "—"
        key = getattr(obj, self.natural_key_field)
        pending = ConfigChange.objects.filter(
            kind=self.change_kind, target_key=key, status=ChangeStatus.PENDING
        )
        if not pending:
            return "—"
        url = reverse(CHANGES_URL)
        return format_html_join(
            "",
            '<div><a href="{}?kind={}">#{}</a> proposed by {}: {}</div>',
            (
                (
                    url,
                    c.kind,
                    c.pk,
                    c.proposed_by,
                    ", ".join(f"{k} → {v}" for k, v in c.proposed.items()),
                )
                for c in pending
            ),
        )


@admin.register(Account)
class AccountAdmin(PendingChangesMixin, ServiceSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    """Saving a new credit limit, base currency or market-maker flag proposes it (kind
    `account_limits`, approved by another Risk Manager or above); the other fields save."""

    create_service = staticmethod(account_create)
    update_service = staticmethod(account_update)
    instance_kwarg = "account"
    form = AccountForm
    change_kind = "account_limits"
    guarded_fields = ACCOUNT_LIMIT_FIELDS
    guarded_on_create = True
    natural_key_field = "code"

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not has_role(request.user, Role.COMPLIANCE_OFFICER):
            # A Risk Manager proposes risk limits; the rest of an account is compliance's.
            names = [f.name for f in Account._meta.fields if f.editable and f.name != "id"]
            readonly += [n for n in names if n not in self.guarded_fields]
        return readonly

    list_display = [
        "code",
        "name",
        "beneficial_owner",
        "base_currency",
        "credit_limit",
        "lei",
        "client_category",
        "is_market_maker",
        "is_active",
    ]
    list_filter = [
        "is_active",
        "client_category",
        "is_market_maker",
        "trading_capacity",
        "base_currency",
    ]
    search_fields = ["code", "name", "beneficial_owner__name", "lei"]
    list_select_related = ["beneficial_owner"]
    autocomplete_fields = ["beneficial_owner", "decision_maker"]
    # The CAT identifiers change only through an approved `account_cat_identifiers` proposal
    # (the configuration changes page or API), never by saving this form.
    readonly_fields = ["pending_changes", *ACCOUNT_CAT_FIELDS, "created_at", "updated_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["code", "name", "beneficial_owner", "is_active"]}),
        (
            "Limits and identity",
            {
                "description": "A new credit limit, base currency or market-maker flag is "
                "proposed when saved: it takes effect when another risk manager approves it.",
                "fields": [
                    "base_currency",
                    "credit_limit",
                    "is_market_maker",
                    "pending_changes",
                    "lei",
                    "client_category",
                ],
            },
        ),
        ("MiFIR", {"fields": ["trading_capacity", "decision_maker"]}),
        (
            "FINRA CAT",
            {
                "description": "Proposed as a configuration change (kind "
                "account_cat_identifiers) and approved by a second compliance officer.",
                "fields": list(ACCOUNT_CAT_FIELDS),
            },
        ),
        ("Client notifications", {"fields": ["webhook_url", "webhook_secret"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]


class PersonIdentitySaveMixin:
    """A person's MiFIR identity saves through its service (audited without the values)."""

    set_service = None
    owner_field = ""

    def save_model(self, request, obj, form, change) -> None:
        data = dict(form.cleaned_data)
        owner = getattr(obj, self.owner_field) if change else data.pop(self.owner_field)
        data.pop(self.owner_field, None)
        changes = data if not change else {n: data[n] for n in form.changed_data if n in data}
        saved = type(self).set_service(**{self.owner_field: owner}, actor=request.user, **changes)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change) -> None:
        return None


@admin.register(ClientPerson)
class ClientPersonAdmin(PersonIdentitySaveMixin, RoleAdminMixin, admin.ModelAdmin):
    """Natural-person clients as MiFIR identifies them: Compliance Officers and above only."""

    set_service = staticmethod(client_person_set)
    owner_field = "owner"
    list_display = ["owner", "nationality", "national_id_kind", "updated_at"]
    search_fields = ["owner__name", "surnames"]
    autocomplete_fields = ["owner"]
    fields = [
        "owner",
        "first_names",
        "surnames",
        "birth_date",
        "nationality",
        "national_id",
        "national_id_kind",
        "updated_at",
    ]
    readonly_fields = ["updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # The owner is who the record is of: chosen once.
        return ["owner", "updated_at"] if obj is not None else ["updated_at"]


@admin.register(CustomerRecord)
class CustomerRecordAdmin(PersonIdentitySaveMixin, RoleAdminMixin, admin.ModelAdmin):
    """Owners' names, addresses, tax identifiers and LTIDs for the blue sheets: Compliance
    Officers and above only."""

    set_service = staticmethod(customer_record_set)
    owner_field = "owner"
    list_display = ["owner", "country", "tax_id_kind", "updated_at"]
    search_fields = ["owner__name"]
    autocomplete_fields = ["owner"]
    fields = ["owner", *CUSTOMER_RECORD_FIELDS, "updated_at"]
    readonly_fields = ["updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["owner", "updated_at"] if obj is not None else ["updated_at"]


@admin.register(Instrument)
class InstrumentAdmin(PendingChangesMixin, ServiceSaveMixin, RoleAdminMixin, admin.ModelAdmin):
    """An edit of the multiplier, currency, lot or tick size proposes it (kind
    `instrument_economics`, approved by another Compliance Officer); the other fields save. A
    new instrument is created with its economics: it has no orders, positions or prices yet."""

    create_service = staticmethod(instrument_create)
    update_service = staticmethod(instrument_update)
    instance_kwarg = "instrument"
    form = InstrumentForm
    change_kind = "instrument_economics"
    guarded_fields = INSTRUMENT_ECONOMIC_FIELDS
    natural_key_field = "symbol"
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
        "mifir_reportable",
        "is_active",
    ]
    list_filter = ["asset_class", "sector", "mic", "currency", "mifir_reportable", "is_active"]
    search_fields = ["symbol", "isin", "name", "issuer"]
    autocomplete_fields = ["underlying"]
    readonly_fields = ["pending_changes", "created_at", "updated_at"]


class ProposalForm(forms.ModelForm):
    """The add form of a row that is proposed, not written: checked as a proposal."""

    change_kind = ""

    def proposal(self) -> tuple[object, dict]:
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            target, values = self.proposal()
            try:
                config_change_check(kind=self.change_kind, target=target, values=values)
            except PlatformError as exc:
                _errors_to_form(self, exc)
        return cleaned

    def _post_clean(self) -> None:
        # Checked in clean() by the kind's own checks; the row is written only on approval.
        return None


class ReferencePriceForm(ProposalForm):
    change_kind = "reference_price"

    class Meta:
        model = ReferencePrice
        fields = ["instrument", "price", "as_of", "source"]

    def proposal(self):
        data = self.cleaned_data
        return data["instrument"], {n: data[n] for n in ("price", "as_of", "source")}


class FxRateForm(ProposalForm):
    change_kind = "fx_rate"

    class Meta:
        model = FxRate
        fields = ["base", "quote", "rate", "as_of", "source"]

    def proposal(self):
        data = self.cleaned_data
        target = f"{data['base']}/{data['quote']}"
        return target, {n: data[n] for n in ("rate", "as_of", "source")}


class ProposeOnAddMixin:
    """Adding a row proposes it: saving creates a pending configuration change, and the answer
    goes to the list of changes. Rows are never edited here: a correction is a newer row."""

    def save_model(self, request, obj, form, change) -> None:
        target, values = form.proposal()
        try:
            request._config_change = config_change_propose(
                kind=form.change_kind, target=target, values=values, actor=request.user
            )
        except PlatformError as exc:
            request._config_change_error = exc.message

    def save_related(self, request, form, formsets, change) -> None:
        return None

    def log_addition(self, request, obj, message):
        return None  # nothing was added yet; the proposal is in the audit trail

    def response_add(self, request, obj, post_url_continue=None):
        error = getattr(request, "_config_change_error", None)
        if error:
            self.message_user(request, f"Nothing was proposed: {error}", messages.ERROR)
            return HttpResponseRedirect(request.path)
        _proposed_message(self, request, request._config_change)
        return HttpResponseRedirect(reverse(CHANGES_URL))


@admin.register(ReferencePrice)
class ReferencePriceAdmin(ProposeOnAddMixin, RoleAdminMixin, admin.ModelAdmin):
    """A manual reference price is proposed (kind `reference_price`) and recorded when another
    Compliance Officer approves it."""

    form = ReferencePriceForm
    list_display = ["instrument", "price", "as_of", "source"]
    list_filter = ["source", "instrument__sector"]
    search_fields = ["instrument__symbol"]
    date_hierarchy = "as_of"
    list_select_related = ["instrument"]
    autocomplete_fields = ["instrument"]


@admin.register(FxRate)
class FxRateAdmin(ProposeOnAddMixin, RoleAdminMixin, admin.ModelAdmin):
    """A rate typed in is proposed (kind `fx_rate`) and recorded when another Risk Manager
    approves it. Rates are never edited: a correction is a newer rate."""

    form = FxRateForm
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
    fields = [
        "exec_id",
        "quantity",
        "price",
        "venue",
        "executed_at",
        "liquidity",
        "commission",
        "status",
        "version",
    ]
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
    list_display = [
        "exec_id",
        "order",
        "quantity",
        "price",
        "venue",
        "liquidity",
        "executed_at",
        "status",
        "version",
    ]
    list_filter = ["status", "venue", "liquidity", "executed_at"]
    search_fields = ["exec_id", "order__client_order_id", "order__account__code"]
    date_hierarchy = "executed_at"
    list_select_related = ["order__instrument"]  # the order's title names its symbol


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
    list_select_related = ["account", "user", "order__instrument"]


class EntitlementForm(ProposalForm):
    change_kind = "entitlement"

    class Meta:
        model = AccountEntitlement
        fields = ["user", "account"]

    def proposal(self):
        data = self.cleaned_data
        return ENTITLEMENT.key(Entitlement(data["user"], data["account"])), {"entitled": True}


@admin.register(AccountEntitlement)
class AccountEntitlementAdmin(ProposeOnAddMixin, RoleAdminMixin, admin.ModelAdmin):
    """Who may see and trade which account. Adding one proposes it, and the action below
    proposes revoking the selected ones (kind `entitlement`): it takes effect when a second
    Admin approves, never the user concerned (`entitlement_grant` / `entitlement_revoke`,
    audited)."""

    form = EntitlementForm
    list_display = ["user", "account", "granted_by", "granted_at"]
    list_filter = [("account", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "account__code"]
    list_select_related = ["user", "account", "granted_by"]
    autocomplete_fields = ["account"]
    actions = ["propose_revoke"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] if obj is not None else []

    @admin.action(description="Propose revoking the selected entitlements")
    def propose_revoke(self, request, queryset) -> None:
        for entitlement in queryset.select_related("user", "account"):
            target = ENTITLEMENT.key(Entitlement(entitlement.user, entitlement.account))
            try:
                change = config_change_propose(
                    kind="entitlement",
                    target=target,
                    values={"entitled": False},
                    actor=request.user,
                )
            except PlatformError as exc:
                self.message_user(
                    request, f"{target}: nothing proposed: {exc.message}", messages.ERROR
                )
            else:
                _proposed_message(self, request, change)
