"""The pieces the contact and order imports share: a mapping sent as JSON text, and safe CSV cells."""

from __future__ import annotations

import pytest

from contacts.import_mapping import parse_mapping
from contacts.spreadsheet_cells import neutralise_formula
from core.errors import ValidationFailed


def test_a_mapping_is_a_json_object_of_strings() -> None:
    assert parse_mapping(None) is None and parse_mapping("") is None
    assert parse_mapping('{"Tel": "phone", "Prix": "unit_price"}') == {"Tel": "phone", "Prix": "unit_price"}
    for wrong, said in (("{Tel: phone}", "not JSON"), ('["phone"]', "JSON object"), ('{"Tel": 3}', "JSON object")):
        with pytest.raises(ValidationFailed, match=said) as caught:
            parse_mapping(wrong)
        assert caught.value.errors == [{"field": "mapping"}]


def test_formulas_are_neutralised_and_signed_numbers_kept() -> None:
    assert neutralise_formula("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert neutralise_formula("@SUM(A1)") == "'@SUM(A1)" and neutralise_formula("-2+cmd|x") == "'-2+cmd|x"
    assert neutralise_formula("+33 6 12 34 56 78") == "+33 6 12 34 56 78" and neutralise_formula("-4") == "-4"
    assert neutralise_formula("Luc") == "Luc" and neutralise_formula("") == ""
