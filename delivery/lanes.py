"""What a delivery engine's sending lanes share: the claimed batches' messages, and the acceptances not
yet in the journal.

The lanes live as long as the engine (:class:`delivery.engine.DeliveryEngine`), not one batch: a worker's
send job hands its claimed batch to them and may return before the batch is sent, so the next job's claim
and the delivery reports are handled while the lanes keep the senders busy. A batch is recorded by the lane
that sends its last message.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from channels.base import ChannelError, SendResult
from delivery import store
from delivery.limiter import Grant, Write


@dataclass
class Outcome:
    message: store.Outgoing
    result: SendResult | None = None
    error: ChannelError | None = None
    defer_seconds: float | None = None
    #: a revocation marker held it before the provider call: back to ``queued``, for the authority to decide
    held: bool = False
    #: held because its deadline passed in the lanes (its window closed, it expired, its claim grew old)
    late: bool = False
    #: deferred because a provider asked its account to slow down (:meth:`delivery.limiter.RateLimiter.pause`)
    paused: bool = False


@dataclass
class BatchReport:
    """What a batch did, for logs and benchmarks."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0
    rejected: int = 0
    waiting: int = 0
    deferred: int = 0
    unknown: int = 0
    held: int = 0  # named by a revocation marker in the lanes: back to queued, for the authority
    throttled: int = 0  # refused by a provider asking to slow down: back to queued after its wait, no attempt counted
    extra: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class Batch:
    """A claimed batch in the lanes: its outcomes as they come; ``recorded`` is set once they are stored
    (``error`` when storing them failed: its rows stay ``sending`` for recovery, the journal proving sends)."""

    token: str
    size: int
    report: BatchReport
    outcomes: list[Outcome] = field(default_factory=list)
    recorded: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> bool:
        """Keep ``outcome``; True for the batch's last one (its lane then records the batch)."""
        with self._lock:
            self.outcomes.append(outcome)
            return len(self.outcomes) == self.size


#: a booked message: (message, its batch, its limiter grant, when it was booked on the monotonic clock)
Booked = tuple[store.Outgoing, Batch, Grant, float]
#: books some of the offered messages: (offered, how many to book) → a grant, or None when left, per message
Book = Callable[[list[store.Outgoing], int], list[Grant | None]]


#: a message handed to the lanes, with its batch
Item = tuple[store.Outgoing, Batch]


class BookingFailed(Exception):
    """The limiter could not be reached: ``offered`` (message, batch) were not booked, nor sent."""

    def __init__(self, offered: list[Item]) -> None:
        super().__init__(f"could not book {len(offered)} messages' slots")
        self.offered = offered


class _Pending:
    """Messages not yet booked, marketing behind the rest: a reply or a transactional text handed to lanes
    busy with a campaign is offered before the campaign's next messages, as the job queues rank them."""

    def __init__(self) -> None:
        self._urgent: deque[Item] = deque()
        self._marketing: deque[Item] = deque()

    def _of(self, item: Item) -> deque[Item]:
        return self._marketing if item[0].lane == "marketing" else self._urgent

    def __len__(self) -> int:
        return len(self._urgent) + len(self._marketing)

    def extend(self, items: Sequence[Item]) -> None:
        for item in items:
            self._of(item).append(item)

    def put_back(self, items: Sequence[Item]) -> None:
        """Return ``items`` (taken from the front, in order) to the front of their queues."""
        for item in reversed(items):
            self._of(item).appendleft(item)

    def popleft(self) -> Item:
        return self._urgent.popleft() if self._urgent else self._marketing.popleft()


class LaneQueue:
    """The messages the lanes have to send, from every batch handed to them: those already booked in slot
    order, topped up by a lane asking: it offers the first pending message of each sender and books the
    ``group`` whose slots come soonest in one command
    (:meth:`delivery.limiter.RateLimiter.reserve_soonest`); any lane may then take them, and the others go
    back to the front for the next call."""

    def __init__(self, *, group: int, offer: int) -> None:
        self.group = max(1, group)
        self.offer = max(self.group, offer)
        self._pending = _Pending()
        self._booked: deque[Booked] = deque()
        self._offered = 0  # messages out with a lane booking them
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # lanes wait here for messages
        self._taken = threading.Condition(self._lock)  # wait_until_at_most waits here
        self._stopping = False

    def add(self, batch: Batch, messages: Sequence[store.Outgoing]) -> None:
        with self._lock:
            if self._stopping:
                raise RuntimeError("the delivery engine is closed")
            self._pending.extend([(m, batch) for m in messages])
            self._work.notify(len(messages))  # a reply or two wakes a lane or two, not all of them

    def wait_until_at_most(self, count: int) -> None:
        """Return once at most ``count`` messages are left for the lanes to take."""
        with self._lock:
            self._taken.wait_for(lambda: len(self._pending) + len(self._booked) + self._offered <= count)

    def stop(self) -> None:
        """Let the lanes end once every message handed to them is taken."""
        with self._lock:
            self._stopping = True
            self._work.notify_all()

    def next(self, book: Book, *, journal_due: Callable[[], bool], write: Callable[[], None]) -> Booked | None:
        """The next booked message, waiting for one when there is none; ``None`` once stopped and empty.

        A lane whose journal entries are due (``journal_due``) books the next group even when some are
        booked (its entries go with that command); with nothing to book, ``write`` sends them alone.
        """
        with self._lock:
            while True:
                due = journal_due()
                if self._booked and not due:
                    return self._take()
                if self._pending:
                    offered = self._distinct_senders()
                    break
                if due:
                    offered = []
                    break
                if self._booked:
                    return self._take()
                if self._stopping and not self._offered:
                    return None
                self._work.wait()
        if not offered:
            write()
            return self.next(book, journal_due=journal_due, write=write)
        try:
            grants = book([m for m, _ in offered], self.group)  # outside the lock: the other lanes go on
        except Exception as exc:
            with self._lock:
                self._offered -= len(offered)
                self._work.notify_all()  # a stopping lane may be waiting for these
                self._taken.notify_all()
            raise BookingFailed(offered) from exc
        booked = time.monotonic()
        chosen = sorted(((m, g) for m, g in zip(offered, grants, strict=True) if g is not None),
                        key=lambda pair: pair[1].slot_us)
        with self._lock:
            self._offered -= len(offered)
            self._pending.put_back([m for m, g in zip(offered, grants, strict=True) if g is None])
            self._booked.extend((m, b, g, booked) for (m, b), g in chosen)
            self._work.notify(len(offered))
            if self._stopping:
                self._work.notify_all()  # lanes ending wait for the offered messages to be back
            if self._booked:
                return self._take()
        return self.next(book, journal_due=journal_due, write=write)

    def _take(self) -> Booked:
        taken = self._booked.popleft()
        self._taken.notify_all()
        return taken

    def _distinct_senders(self) -> list[Item]:
        """The first pending message of each sender, up to ``offer`` of them, among the next ``4 * offer``
        (called under the lock): two messages on the same sender never both fit the account's next slots,
        and a choice among fewer senders leaves the account holes that one of the others would have filled.
        With fewer senders than a group, the next messages top the offer up to a group (one command still
        books a group). The messages passed over keep their place."""
        offered: list[Item] = []
        passed: list[Item] = []
        seen: set[str] = set()
        for _ in range(min(4 * self.offer, len(self._pending))):
            item = self._pending.popleft()
            if item[0].sender.address in seen:
                passed.append(item)
                continue
            seen.add(item[0].sender.address)
            offered.append(item)
            if len(offered) == self.offer:
                break
        topped = max(0, self.group - len(offered))
        offered += passed[:topped]
        self._pending.put_back(passed[topped:])
        self._offered += len(offered)
        return offered


class JournalBuffer:
    """Provider acceptances waiting to be journalled, shared by the lanes: any lane's next limiter command
    carries them, so a send is journalled at most about a group's sends after the provider accepted it.

    :meth:`flush` writes what is left and waits for the commands carrying entries to finish: a batch is
    recorded (and its entries forgotten) only once every acceptance of it is in the journal.
    """

    def __init__(self, *, due_at: int) -> None:
        self._due_at = max(1, due_at)
        self._entries: list[Write] = []
        self._in_flight = 0
        self._changed = threading.Condition()

    def add(self, entry: Write) -> None:
        with self._changed:
            self._entries.append(entry)

    def due(self) -> bool:
        return len(self._entries) >= self._due_at

    def take(self) -> list[Write]:
        """The entries for the caller's command; call :meth:`written` with them once it returned (or failed)."""
        with self._changed:
            entries, self._entries = self._entries, []
            if entries:
                self._in_flight += 1
            return entries

    def written(self, entries: list[Write]) -> None:
        if entries:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def flush(self, write: Callable[[list[Write]], object]) -> None:
        """Write the entries left with ``write`` and wait until no command carrying entries is under way."""
        entries = self.take()
        try:
            if entries:
                write(entries)
        finally:
            self.written(entries)
        with self._changed:
            self._changed.wait_for(lambda: self._in_flight == 0)
