"""A country column read as people fill it: codes, names in the product's languages, the usual short forms."""

from __future__ import annotations

import pytest

from channels.countries import region_code


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("FR", "FR"), ("fr", "FR"), (" be ", "BE"), ("France", "FR"), ("FRANCE", "FR"), ("Espagne", "ES"),
        ("España", "ES"), ("espana", "ES"), ("Spain", "ES"), ("Allemagne", "DE"), ("Deutschland", "DE"),
        ("Germania", "DE"), ("Italie", "IT"), ("Italia", "IT"), ("Royaume-Uni", "GB"), ("United Kingdom", "GB"),
        ("UK", "GB"), ("U.K.", "GB"), ("England", "GB"), ("États-Unis", "US"), ("USA", "US"), ("U.S.A.", "US"),
        ("Suisse", "CH"), ("Schweiz", "CH"), ("Belgique", "BE"), ("België", "BE"), ("Pays-Bas", "NL"),
        ("Holland", "NL"), ("Nederland", "NL"), ("Brésil", "BR"), ("Brasil", "BR"), ("Portugal", "PT"),
        ("Luxembourg", "LU"), ("Maroc", "MA"), ("Canada", "CA"), ("La Réunion", "RE"), ("Guadeloupe", "GP"),
        ("Czech Republic", "CZ"), ("Jersey", "JE"),
    ],
)  # fmt: skip
def test_codes_and_names_give_the_region(cell: str, code: str) -> None:
    assert region_code(cell) == code


@pytest.mark.parametrize("cell", ["", "XX", "Narnia", "Europe", "France métropolitaine et DOM", "12"])
def test_anything_else_is_no_region(cell: str) -> None:
    assert region_code(cell) is None
