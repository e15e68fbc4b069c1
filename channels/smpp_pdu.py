"""SMPP message bodies: text → ``short_message`` parts with UDH, and back; delivery receipts.

Pure functions over bytes, separate from the connection handling in :mod:`channels.smpp` so they
can be tested without a socket. Parts come from :func:`channels.encoding.split_segments`, the same
splitter that counts segments for users, so an escape pair or a surrogate pair is never cut (which
``smpplib.gsm.make_parts`` may do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from channels.base import ConcatInfo, DeliveryStatus, Encoding
from channels.encoding import detect_encoding, gsm7_decode, gsm7_encode, split_segments

DATA_CODING_GSM7 = 0x00  # SMSC default alphabet
DATA_CODING_LATIN1 = 0x03
DATA_CODING_UCS2 = 0x08
ESM_UDHI = 0x40
ESM_TYPE_MASK = 0x3C
ESM_DELIVERY_RECEIPT = 0x04
ESM_INTERMEDIATE_NOTIFICATION = 0x20
_IEI_CONCAT_8 = 0x00
_IEI_CONCAT_16 = 0x08

#: ``stat:`` words of SMSC delivery receipts (SMPP 3.4 appendix B).
RECEIPT_STATES: dict[str, DeliveryStatus] = {
    "DELIVRD": "delivered",
    "EXPIRED": "expired",
    "DELETED": "failed",
    "UNDELIV": "failed",
    "ACCEPTD": "sent",
    "ENROUTE": "sent",
    "UNKNOWN": "unknown",
    "REJECTD": "rejected",
}
#: ``message_state`` TLV values (SMPP 3.4 §5.2.28).
MESSAGE_STATES: dict[int, tuple[str, DeliveryStatus]] = {
    1: ("ENROUTE", "sent"),
    2: ("DELIVRD", "delivered"),
    3: ("EXPIRED", "expired"),
    4: ("DELETED", "failed"),
    5: ("UNDELIV", "failed"),
    6: ("ACCEPTD", "sent"),
    7: ("UNKNOWN", "unknown"),
    8: ("REJECTD", "rejected"),
}
_RECEIPT_FIELD = re.compile(r"(id|sub|dlvrd|submit date|done date|stat|err):(\S*)", re.IGNORECASE)


@dataclass(frozen=True)
class EncodedText:
    """``short_message`` bodies to submit, one per segment, with the PDU fields they need."""

    parts: tuple[bytes, ...]
    data_coding: int
    esm_class: int
    encoding: Encoding


def encode_text(text: str, *, ref: int) -> EncodedText:
    """Encode ``text`` for submit_sm; several parts get a concatenation UDH with reference ``ref``.

    GSM-7 travels unpacked (one septet per octet, ``data_coding=0``), UCS-2 as UTF-16-BE
    (``data_coding=8``).
    """
    encoding = detect_encoding(text)
    chunks = split_segments(text, encoding)
    encoded = [gsm7_encode(c) if encoding == "GSM-7" else c.encode("utf-16-be") for c in chunks]
    data_coding = DATA_CODING_GSM7 if encoding == "GSM-7" else DATA_CODING_UCS2
    if len(encoded) == 1:
        return EncodedText(parts=(encoded[0],), data_coding=data_coding, esm_class=0, encoding=encoding)
    if len(encoded) > 255:
        raise ValueError("text needs more than 255 segments")
    total = len(encoded)
    parts = tuple(
        bytes((0x05, _IEI_CONCAT_8, 0x03, ref & 0xFF, total, index)) + body
        for index, body in enumerate(encoded, start=1)
    )
    return EncodedText(parts=parts, data_coding=data_coding, esm_class=ESM_UDHI, encoding=encoding)


def split_udh(short_message: bytes, esm_class: int) -> tuple[ConcatInfo | None, bytes]:
    """Separate a UDH (when ``esm_class`` has UDHI) from the payload; read its concatenation IE."""
    if not esm_class & ESM_UDHI or not short_message:
        return None, short_message
    length = short_message[0]
    header, payload = short_message[1 : 1 + length], short_message[1 + length :]
    concat = None
    pos = 0
    while pos + 2 <= len(header):
        iei, ie_len = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + ie_len]
        if iei == _IEI_CONCAT_8 and ie_len == 3:
            concat = ConcatInfo(ref=str(value[0]), part=value[2], total=value[1])
        elif iei == _IEI_CONCAT_16 and ie_len == 4:
            concat = ConcatInfo(ref=str(int.from_bytes(value[:2], "big")), part=value[3], total=value[2])
        pos += 2 + ie_len
    return concat, payload


def decode_text(payload: bytes, data_coding: int) -> str:
    """Decode a ``short_message`` payload by its data coding (unknown codings read as Latin-1)."""
    coding = data_coding & 0xFF
    if coding == DATA_CODING_GSM7:
        return gsm7_decode(payload)
    if coding == DATA_CODING_UCS2:
        return payload.decode("utf-16-be", errors="replace")
    if coding == 0x01:
        return payload.decode("ascii", errors="replace")
    return payload.decode("latin-1")


@dataclass(frozen=True)
class Receipt:
    """A parsed SMSC delivery receipt."""

    message_id: str
    status: DeliveryStatus
    stat: str
    error: str | None
    done_at: datetime | None


def _receipt_time(value: str | None) -> datetime | None:
    if not value or not value.isdigit() or len(value) not in (10, 12):
        return None
    fmt = "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M"
    try:
        return datetime.strptime(value, fmt).replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_receipt(text: str, *, receipted_message_id: str | None = None, message_state: int | None = None) -> Receipt:
    """Read ``id:... sub:... dlvrd:... submit date:... done date:... stat:DELIVRD err:000 text:...``.

    The ``receipted_message_id`` and ``message_state`` TLVs win over the text when present.

    Raises:
        ValueError: no message id in either place.
    """
    fields = {key.lower(): value for key, value in _RECEIPT_FIELD.findall(text)}
    message_id = receipted_message_id or fields.get("id")
    if not message_id:
        raise ValueError("delivery receipt without a message id")
    if message_state in MESSAGE_STATES:
        stat, status = MESSAGE_STATES[message_state]
    else:
        stat = fields.get("stat", "").upper()
        status = RECEIPT_STATES.get(stat, "unknown")
    error = fields.get("err")
    return Receipt(
        message_id=message_id,
        status=status,
        stat=stat,
        error=None if error in (None, "", "000", "0") else error,
        done_at=_receipt_time(fields.get("done date")),
    )


def relative_validity(seconds: int) -> str:
    """SMPP relative time ``YYMMDDhhmmss000R`` for a validity period (days capped at 99)."""
    days, rest = divmod(max(seconds, 0), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    return f"0000{min(days, 99):02d}{hours:02d}{minutes:02d}{secs:02d}000R"
