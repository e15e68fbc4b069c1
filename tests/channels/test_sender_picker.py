"""SenderPicker: the sender for each message of a batch, worked out once per destination."""

from __future__ import annotations

from channels.senders import SenderPicker, create_sender
from core import db
from core.settings import Settings


def test_a_batch_shares_one_answer_per_destination_and_keeps_the_rules(runtime: Settings) -> None:
    with db.session_scope() as session:
        create_sender(session, kind="short_code", address="38100", country="FR", throughput=100)
        create_sender(session, kind="short_code", address="38101", country="FR", throughput=100)
        create_sender(session, kind="long_code", address="+33612000000", country="", throughput=10)
        picker = SenderPicker(session)
        french = [picker.pick(country="FR", contact_id=n) for n in range(500)]
        # the two French short codes in turn, the same two answers for the whole batch (the
        # senders' rows are not walked again for every message)
        assert [c.address for c in french[:4] if c] == ["38100", "38101", "38100", "38101"]
        assert len({id(c) for c in french}) == 2
        assert picker.pick(country="DE", contact_id=7).address == "+33612000000"  # type: ignore[union-attr]
        assert picker.pick(country="FR", contact_id=0, sticky="+33612000000").address == "+33612000000"  # type: ignore[union-attr]
        assert picker.pick(country="FR", mms=True) is None  # no sender has MMS
        assert picker.by_address("38101") is french[1]
