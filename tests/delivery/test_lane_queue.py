"""The lanes' shared queue: what a lane offers the limiter, in which order."""

from __future__ import annotations

from channels.senders import SenderChoice
from delivery import store
from delivery.lanes import Batch, BatchReport, LaneQueue
from delivery.limiter import Grant


def _message(n: int, *, lane: str, sender: str) -> store.Outgoing:
    return store.Outgoing(id=n, to=f"+3361234{n:04d}", text="hi", media=(), lane=lane, attempts=1,
                          sender=SenderChoice(sender, 100, "default"), account_rate=1000)


def _batch(size: int) -> Batch:
    return Batch(token="t", size=size, report=BatchReport())


def _offers(queue: LaneQueue) -> list[list[int]]:
    """Take every message, booking each offer's group in the order offered; the ids offered per call."""
    offers: list[list[int]] = []

    def book(offered: list[store.Outgoing], take: int) -> list[Grant | None]:
        offers.append([m.id for m in offered])
        return [Grant(True, 0.0, 1_000 * m.id) if i < take else None for i, m in enumerate(offered)]

    queue.stop()
    while queue.next(book, journal_due=lambda: False, write=lambda: None) is not None:
        pass
    return offers


def test_a_reply_handed_to_lanes_busy_with_a_campaign_is_offered_first() -> None:
    queue = LaneQueue(group=2, offer=4)
    campaign = [_message(n, lane="marketing", sender=f"S{n % 4}") for n in range(1, 9)]
    queue.add(_batch(8), campaign)
    queue.add(_batch(1), [_message(100, lane="conversational", sender="S1")])
    offers = _offers(queue)
    assert offers[0][0] == 100  # before the campaign's messages handed over earlier
    assert sorted(i for offer in offers for i in offer[:2]) == [*range(1, 9), 100]


def test_a_lane_offers_one_message_per_sender_and_the_passed_over_keep_their_place() -> None:
    queue = LaneQueue(group=2, offer=3)
    messages = [_message(n, lane="marketing", sender=s) for n, s in enumerate("AABBCC", start=1)]
    queue.add(_batch(6), messages)
    offers = _offers(queue)
    assert offers[0] == [1, 3, 5]  # the first of each sender
    assert offers[1] == [5, 2, 4]  # 5, offered and not booked, back in front; 2 and 4 passed over, still before 6
    assert offers[2] == [4, 6]


def test_with_fewer_senders_than_a_group_the_offer_is_topped_up() -> None:
    queue = LaneQueue(group=4, offer=16)
    queue.add(_batch(6), [_message(n, lane="transactional", sender="only") for n in range(1, 7)])
    assert _offers(queue) == [[1, 2, 3, 4], [5, 6]]
