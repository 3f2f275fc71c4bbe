"""How MiFIR identifies a natural person: CONCAT as ESMA's guidelines write it, and the national
client identifier by the priorities of RTS 22 Annex II."""

from datetime import date

import pytest

from apps.core.person_ids import (
    CCPT,
    CONCAT,
    NIDN,
    IdentityMissing,
    concat,
    national_client_identifier,
)


@pytest.mark.parametrize(
    ("nationality", "born", "first_names", "surnames", "expected"),
    [
        # ESMA/2016/1452's own examples: the apostrophe goes, a short name is padded with #
        ("IE", date(1980, 5, 12), "John", "O'Brian", "IE19800512JOHN#OBRIA"),
        # a title and a surname prefix are left out
        ("DE", date(1946, 4, 27), "Dr Ludwig", "Van der Rohe", "DE19460427LUDWIROHE#"),
        # only the first first name; a hyphenated name is one name; accents removed
        ("FR", date(1970, 1, 2), "Jean-Claude Marie", "Éluard", "FR19700102JEANCELUAR"),
        ("DE", date(1980, 1, 1), "Jürgen", "Groß", "DE19800101JURGEGROSS"),
        # a prefix that is the whole surname is the surname
        ("NL", date(1990, 6, 30), "Anna", "Van", "NL19900630ANNA#VAN##"),
        ("GB", date(1975, 12, 31), "Li", "Wu", "GB19751231LI###WU###"),
    ],
)
def test_concat(nationality, born, first_names, surnames, expected):
    code = concat(
        nationality=nationality, birth_date=born, first_names=first_names, surnames=surnames
    )
    assert code == expected


def test_concat_needs_every_part():
    with pytest.raises(IdentityMissing):
        concat(nationality="FR", birth_date=None, first_names="Anne", surnames="Martin")


def person(**fields):
    defaults = {
        "birth_date": date(1985, 7, 23),
        "first_names": "Amelia",
        "surnames": "Chen",
    }
    return national_client_identifier(**{**defaults, **fields})


def test_a_british_national_insurance_number_ranks_first():
    code = person(nationality="GB", national_id="qq 12 34 56 c", national_id_kind=NIDN)
    assert (code.value, code.scheme) == ("GBQQ123456C", NIDN)


def test_without_it_a_british_national_is_concat():
    code = person(nationality="GB")
    assert (code.value, code.scheme) == ("GB19850723AMELICHEN#", CONCAT)


def test_a_german_national_is_always_concat():
    """Annex II lists only CONCAT for Germany: a national id on file is not used."""
    code = person(nationality="DE", national_id="T220001293", national_id_kind=NIDN)
    assert code.scheme == CONCAT and code.value.startswith("DE19850723")


def test_a_non_eea_national_by_passport_else_concat():
    passport = person(nationality="US", national_id="X1234567", national_id_kind=CCPT)
    assert (passport.value, passport.scheme) == ("USX1234567", CCPT)
    # a national identity number is not what Annex II asks of a non-EEA national
    assert person(nationality="US", national_id="123-45-6789", national_id_kind=NIDN).scheme == (
        CONCAT
    )
    assert person(nationality="US").value == "US19850723AMELICHEN#"


def test_a_second_priority_identifier_is_taken_when_the_first_is_not_on_file():
    """Bulgaria: the personal number, else the passport, else CONCAT."""
    code = person(nationality="BG", national_id="381234567", national_id_kind=CCPT)
    assert (code.value, code.scheme) == ("BG381234567", CCPT)


@pytest.mark.parametrize("nationality", ["IT", "ES", "PL"])
def test_a_country_without_concat_needs_its_identifier(nationality):
    with pytest.raises(IdentityMissing):
        person(nationality=nationality)
    assert person(nationality=nationality, national_id="ABC123", national_id_kind=NIDN).value == (
        f"{nationality}ABC123"
    )


def test_no_nationality_no_identifier():
    with pytest.raises(IdentityMissing):
        person(nationality="")
