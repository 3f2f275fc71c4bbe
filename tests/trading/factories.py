from decimal import Decimal

import factory
from django.utils import timezone

from apps.trading.models import Account, BeneficialOwner, Instrument, ReferencePrice
from apps.trading.owners import owner_name_key, owner_name_normalised


def _isin(n: int) -> str:
    """A valid ISIN for test instrument number n (US + 9 digits + check digit)."""
    from apps.trading.validators import isin_is_valid

    body = f"US{n:09d}"
    for check in range(10):
        if isin_is_valid(body + str(check)):
            return body + str(check)
    raise AssertionError("no check digit")


class BeneficialOwnerFactory(factory.django.DjangoModelFactory):
    """An owner by name; the same name however written ("Petrov, Nadia") is the same owner."""

    class Meta:
        model = BeneficialOwner
        django_get_or_create = ("name_key",)

    name = factory.Sequence(lambda n: f"Owner {n}")
    name_key = factory.LazyAttribute(lambda o: owner_name_key(o.name))

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        kwargs["name"] = owner_name_normalised(kwargs["name"])
        return kwargs


class AccountFactory(factory.django.DjangoModelFactory):
    """An account; `beneficial_owner` may be given as a name (its owner is found or made)."""

    class Meta:
        model = Account
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"T-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Test account {o.code}")
    beneficial_owner = factory.LazyAttribute(lambda o: f"Owner of {o.code}")
    base_currency = "USD"
    credit_limit = Decimal("1000000")

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        if isinstance(kwargs.get("beneficial_owner"), str):
            kwargs["beneficial_owner"] = BeneficialOwnerFactory(name=kwargs["beneficial_owner"])
        return kwargs


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"TST{n}")
    isin = factory.Sequence(lambda n: _isin(n + 1))
    mic = "XNYS"
    name = factory.LazyAttribute(lambda o: f"{o.symbol} Inc.")
    asset_class = "equity"
    sector = "Technology"
    currency = "USD"
    issuer = factory.LazyAttribute(lambda o: f"{o.symbol} Inc.")
    lot_size = Decimal("1")
    tick_size = Decimal("0.01")
    # MiFIR art. 26: crypto spot is outside it, the rest of the test instruments inside.
    mifir_reportable = factory.LazyAttribute(lambda o: o.asset_class != "crypto")


class ReferencePriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferencePrice

    instrument = factory.SubFactory(InstrumentFactory)
    price = Decimal("100")
    as_of = factory.LazyFunction(timezone.now)
    source = "test"


class OptionFactory(InstrumentFactory):
    """A listed US equity option: 100 shares a contract, premium quoted per share."""

    symbol = factory.Sequence(lambda n: f"OPT{n}")
    mic = "XCBO"
    asset_class = "option"
    multiplier = Decimal("100")
    tick_size = Decimal("0.05")
