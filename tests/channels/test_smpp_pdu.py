"""SMPP bodies without a socket: UDH building and reading, decoding, receipts, validity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.base import ConcatInfo
from channels.smpp_pdu import (
    decode_text,
    encode_text,
    parse_receipt,
    relative_validity,
    split_udh,
)


def test_single_part_has_no_udh() -> None:
    encoded = encode_text("Hello", ref=9)
    assert encoded.parts == (b"Hello",) and encoded.esm_class == 0 and encoded.data_coding == 0


def test_multi_part_round_trip_through_udh() -> None:
    text = "Ж" * 150
    encoded = encode_text(text, ref=300)  # reference wraps to one octet
    assert (encoded.encoding, encoded.data_coding, encoded.esm_class, len(encoded.parts)) == ("UCS-2", 8, 0x40, 3)
    decoded = []
    for index, part in enumerate(encoded.parts, start=1):
        concat, payload = split_udh(part, encoded.esm_class)
        assert concat == ConcatInfo(ref=str(300 % 256), part=index, total=3)
        decoded.append(decode_text(payload, encoded.data_coding))
    assert "".join(decoded) == text


def test_sixteen_bit_reference_and_other_ies() -> None:
    udh = bytes((0x0A, 0x24, 0x01, 0x00, 0x08, 0x04, 0x12, 0x34, 0x05, 0x02, 0x0B, 0x00))  # lang IE + concat16
    concat, payload = split_udh(bytes(udh[:11]) + b"hi", 0x40)
    assert concat == ConcatInfo(ref=str(0x1234), part=2, total=5)
    assert payload == b"hi"
    assert split_udh(b"plain", 0x00) == (None, b"plain")


@pytest.mark.parametrize(
    ("data", "coding", "expected"),
    [(b"\x1b\x65 5", 0, "€ 5"), ("é".encode("latin-1"), 3, "é"), (b"ok", 1, "ok"), ("😀".encode("utf-16-be"), 8, "😀")],
)
def test_decode_text(data: bytes, coding: int, expected: str) -> None:
    assert decode_text(data, coding) == expected


def test_receipt_text_and_tlvs() -> None:
    text = "id:ABC123 sub:001 dlvrd:001 submit date:2510091200 done date:251009120130 stat:DELIVRD err:000 text:hello"
    receipt = parse_receipt(text)
    assert (receipt.message_id, receipt.status, receipt.stat, receipt.error) == ("ABC123", "delivered", "DELIVRD", None)
    assert receipt.done_at == datetime(2025, 10, 9, 12, 1, 30, tzinfo=UTC)
    overridden = parse_receipt(text, receipted_message_id="XYZ", message_state=3)
    assert (overridden.message_id, overridden.status, overridden.stat) == ("XYZ", "expired", "EXPIRED")
    rejected = parse_receipt("id:1 stat:REJECTD err:0x0B done date:garbage")
    assert (rejected.status, rejected.error, rejected.done_at) == ("rejected", "0x0B", None)
    assert parse_receipt("id:1 stat:WHATEVER").status == "unknown"
    with pytest.raises(ValueError, match="without a message id"):
        parse_receipt("stat:DELIVRD")


def test_relative_validity() -> None:
    assert relative_validity(3_600) == "000000010000000R"
    assert relative_validity(2 * 86_400 + 3_661) == "000002010101000R"
    assert relative_validity(10**9)[4:6] == "99"
