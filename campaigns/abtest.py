"""A/B tests: deterministic assignment of contacts to arms and the choice of a winner.

A campaign with ``ab = {"arms": [{"name": "A", "template_id": 1, "weight": 50}, ...],
"test_fraction": 0.2, "metric": "clicks", "winner_after_hours": 4}`` first sends to a
``test_fraction`` of its recipients split across the arms by weight; after
``winner_after_hours`` the arm with the best rate of the metric (clicks, replies or conversions
per message sent) wins and the remaining recipients get the winner. Assignment hashes
(campaign, contact), so a retried or resumed preparation puts everyone in the same place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def bucket(campaign_id: int, contact_id: int, salt: str = "") -> float:
    """A stable pseudo-random number in [0, 1) for this contact in this campaign."""
    digest = hashlib.blake2b(f"{campaign_id}:{contact_id}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def in_test_group(ab: Mapping[str, Any], campaign_id: int, contact_id: int) -> bool:
    return bucket(campaign_id, contact_id) < float(ab.get("test_fraction", 0.2))


def assign_arm(arms: Sequence[Mapping[str, Any]], campaign_id: int, contact_id: int) -> Mapping[str, Any]:
    """The arm of a contact in the test group, by the arms' weights."""
    total = sum(float(a.get("weight", 1)) for a in arms)
    point = bucket(campaign_id, contact_id, "arm") * total
    for arm in arms:
        point -= float(arm.get("weight", 1))
        if point < 0:
            return arm
    return arms[-1]


@dataclass(frozen=True)
class ArmResult:
    name: str
    sent: int
    successes: int

    @property
    def rate(self) -> float:
        return self.successes / self.sent if self.sent else 0.0


def pick_winner(results: Sequence[ArmResult]) -> ArmResult:
    """The arm with the highest success rate; ties go to the larger sample, then the first name.

    Raises:
        ValueError: no arms.
    """
    if not results:
        raise ValueError("no arms to choose from")
    return sorted(results, key=lambda r: (-r.rate, -r.sent, r.name))[0]
