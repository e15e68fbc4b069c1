"""The pieces the contact and order imports share: a mapping sent as JSON text, and safe CSV cells."""

from __future__ import annotations

import pytest

from contacts.import_mapping import parse_mapping
from core.errors import ValidationFailed
from core.spreadsheet import neutralise


def test_a_mapping_is_a_json_object_of_strings() -> None:
    assert parse_mapping(None) is None and parse_mapping("") is None
    assert parse_mapping('{"Tel": "phone", "Prix": "unit_price"}') == {"Tel": "phone", "Prix": "unit_price"}
    for wrong, said in (("{Tel: phone}", "not JSON"), ('["phone"]', "JSON object"), ('{"Tel": 3}', "JSON object")):
        with pytest.raises(ValidationFailed, match=said) as caught:
            parse_mapping(wrong)
        assert caught.value.errors == [{"field": "mapping"}]


def test_rejected_rows_keep_signed_numbers_and_neutralise_formulas() -> None:
    def keep(cell: str) -> str:
        return str(neutralise(cell, keep_signed_numbers=True))

    assert keep("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert keep("@SUM(A1)") == "'@SUM(A1)" and keep("-2+cmd|x") == "'-2+cmd|x"
    assert keep("+33 6 12 34 56 78") == "+33 6 12 34 56 78" and keep("-4") == "-4"
    assert keep("Luc") == "Luc" and keep("") == ""
    assert neutralise("+33 6 12 34 56 78") == "'+33 6 12 34 56 78"  # exports stay strict
