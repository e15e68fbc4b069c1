"""Events of many contacts on one sorted array, asked "how many, how much, when last" before a moment.

The response model needs, for every past campaign text, counts of what its recipient did *before* it
(no look at what came after) and whether they responded in the days *after* it. A loop per send over
per-contact lists is slow at a few million sends; here every event is one integer key, the group (a
contact, or a contact and a campaign) times :data:`SPAN` plus its time in whole seconds, sorted once,
and each question is two binary searches for all asked moments at once (``numpy.searchsorted``).
"""

from __future__ import annotations

import numpy as np

#: 2**34 seconds is about 544 years: any moment since 1970 fits under it, group ids up to 2**29 above it
SPAN = np.int64(1 << 34)


class Timeline:
    """Events as (group, second) with an optional value each, searchable by group and moment."""

    def __init__(self, groups: np.ndarray, seconds: np.ndarray, values: np.ndarray | None = None) -> None:
        keys = np.asarray(groups, dtype=np.int64) * SPAN + np.asarray(seconds, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        amounts = np.ones(len(keys)) if values is None else np.asarray(values, dtype=float)[order]
        self._cumulative = np.concatenate([[0.0], np.cumsum(amounts)])

    def __len__(self) -> int:
        return len(self.keys)

    def _at(self, groups: np.ndarray, seconds: np.ndarray, side: str) -> np.ndarray:
        keys = np.asarray(groups, dtype=np.int64) * SPAN + np.asarray(seconds, dtype=np.int64)
        return np.searchsorted(self.keys, keys, side=side)  # type: ignore[call-overload]

    def count(self, groups: np.ndarray, since: np.ndarray | int, until: np.ndarray) -> np.ndarray:
        """Events of each group with ``since <= second < until``."""
        low = self._at(groups, np.broadcast_to(since, np.shape(groups)), "left")
        return self._at(groups, until, "left") - low

    def total(self, groups: np.ndarray, since: np.ndarray | int, until: np.ndarray) -> np.ndarray:
        """Sum of the values of each group's events with ``since <= second < until``."""
        low = self._at(groups, np.broadcast_to(since, np.shape(groups)), "left")
        return self._cumulative[self._at(groups, until, "left")] - self._cumulative[low]

    def last_before(self, groups: np.ndarray, until: np.ndarray) -> np.ndarray:
        """Second of each group's last event strictly before ``until``; NaN when it has none."""
        groups = np.asarray(groups, dtype=np.int64)
        index = self._at(groups, until, "left") - 1
        found = np.full(len(groups), np.nan)
        if not len(self.keys):
            return found
        safe = np.clip(index, 0, None)
        same = (index >= 0) & (self.keys[safe] // SPAN == groups)
        found[same] = (self.keys[safe[same]] - groups[same] * SPAN).astype(float)
        return found

    def first_after(self, groups: np.ndarray, after: np.ndarray, until: np.ndarray) -> np.ndarray:
        """Second of each group's first event with ``after < second <= until``; NaN when none."""
        groups = np.asarray(groups, dtype=np.int64)
        index = self._at(groups, after, "right")
        found = np.full(len(groups), np.nan)
        if not len(self.keys):
            return found
        safe = np.clip(index, 0, len(self.keys) - 1)
        limit = groups * SPAN + np.asarray(until, dtype=np.int64)
        hit = (index < len(self.keys)) & (self.keys[safe] <= limit)
        found[hit] = (self.keys[safe[hit]] - groups[hit] * SPAN).astype(float)
        return found


def pair_codes(*pairs: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """One integer code per distinct (a, b) across every array pair given, so a contact-and-campaign
    pair can be a :class:`Timeline` group: the codes of each pair, in order."""
    sizes = [len(a) for a, _ in pairs]
    stacked = np.column_stack(
        [
            np.concatenate([np.asarray(a, dtype=np.int64) for a, _ in pairs]),
            np.concatenate([np.asarray(b, dtype=np.int64) for _, b in pairs]),
        ]
    )
    if not len(stacked):
        return [np.zeros(0, dtype=np.int64) for _ in pairs]
    _, codes = np.unique(stacked, axis=0, return_inverse=True)
    codes = np.asarray(codes, dtype=np.int64).reshape(-1)
    return list(np.split(codes, np.cumsum(sizes)[:-1]))
